"""The parser process: started (in its sandbox) before its document arrives, it confines
itself, loads the parsing code, says it is ready, parses one document and exits.

Run by `parser_pool` as `python -I -B -c BOOTSTRAP <import roots> <this module> <confinement>`:
- confinement (JSON): resource limits (`memory_mb`, `cpu_seconds`, `file_mb`, `processes`)
  and, when the sandbox starts it as root, the `uid` to become; applied first, before any
  document byte is read, and checked;
- stdin: one line of JSON (`filename`, `limits`, `chunking`), then the document's bytes;
- stdout: `READY` and a newline once loaded, then one JSON object: `{"outcome": {...}}` or
  `{"error": "<reason for the user>"}`.

It imports nothing of Sentra's outside `sentra_ingestion` (the sandbox shows nothing else)
and writes no log: whatever it could say may quote the document.
"""

from __future__ import annotations

import json
import os
import resource
import sys

READY = b"READY\n"
MEMORY_REASON = "the document needs more memory than the parser limit allows; split it into smaller files"


def confine(spec: dict) -> None:
    """Resource limits, then (as root) the sandbox's own user; raises if either did not hold."""
    mib = 1024 * 1024
    limits = {
        resource.RLIMIT_CORE: 0,
        resource.RLIMIT_FSIZE: int(spec["file_mb"]) * mib,
        resource.RLIMIT_NPROC: int(spec["processes"]),
    }
    if spec["memory_mb"]:
        limits[resource.RLIMIT_AS] = int(spec["memory_mb"]) * mib
    for which, value in limits.items():
        resource.setrlimit(which, (value, value))
    # SIGXCPU at the soft limit ends the process; SIGKILL a second later if it is caught.
    cpu = int(spec["cpu_seconds"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    uid = spec.get("uid")
    if uid is not None:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
        if os.getresuid() != (uid, uid, uid) or os.getgroups():
            raise RuntimeError("the parser could not drop to its own user")
        try:
            os.setresuid(0, 0, 0)
        except PermissionError:
            pass
        else:
            raise RuntimeError("the parser could become root again")


def parse_once(data: bytes, filename: str, limits, chunking):
    """A ParseOutcome, or the user-facing reason of a ParseError (also used in-process by tests)."""
    from sentra_ingestion.domain.parsing import ParseError, chunk_sections, parse_document
    from sentra_ingestion.domain.ports import ParseOutcome

    try:
        parsed = parse_document(data, filename, limits)
        chunks = chunk_sections(parsed.sections, chunking)
    except ParseError as exc:
        return exc.reason
    except MemoryError:
        return MEMORY_REASON
    return ParseOutcome(parsed.content_type, parsed.page_count, parsed.title, chunks)


def encode(result) -> bytes:
    if isinstance(result, str):
        message = {"error": result}
    else:
        message = {"outcome": {
            "content_type": result.content_type, "page_count": result.page_count, "title": result.title,
            "chunks": [[c.text, c.page, c.heading] for c in result.chunks],
        }}
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()


def main(args: list[str]) -> None:
    confine(json.loads(args[0]))
    # openpyxl imports numpy when it is installed and reads no spreadsheet with it: 150 ms
    # of every XLSX parse's start-up, saved.
    sys.modules.setdefault("numpy", None)
    import logging
    from types import SimpleNamespace

    import sentra_ingestion.domain.parsing  # noqa: F401  (loaded before the document arrives)

    logging.disable(logging.CRITICAL)  # pypdf's warnings can quote raw document bytes
    out = sys.stdout.buffer
    out.write(READY)
    out.flush()
    header = json.loads(sys.stdin.buffer.readline())
    data = sys.stdin.buffer.read()
    try:
        # The values were validated by the service (its ParseLimits and ChunkingPolicy
        # settings); the parsing code only reads them, so no model is built here.
        result = parse_once(data, header["filename"], SimpleNamespace(**header["limits"]),
                            SimpleNamespace(**header["chunking"]))
        payload = encode(result)
    except MemoryError:
        payload = encode(MEMORY_REASON)
    out.write(payload)
    out.flush()
