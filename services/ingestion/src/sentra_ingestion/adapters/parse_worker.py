"""The parser process: a fork server started once per slot in its sandbox. It loads the
parsing code and every format's library, says it is ready, and then, for each document,
forks a fresh child that confines itself, parses that one document and exits. The fork
server itself never reads a document byte.

Run by `parser_pool` as `python -I -B -c BOOTSTRAP <import roots> <this module> <confinement>`:
- confinement (JSON): resource limits (`memory_mb`, `cpu_seconds`, `file_mb`, `processes`),
  `sandboxed` (bubblewrap or a plain child process) and, when the sandbox starts it as
  root, the `uid` each document's process becomes;
- stdin: the control socket (a Unix socket). The server writes `READY` and a newline once
  loaded. Each document arrives as one message carrying, as its only content, a fresh
  socket (SCM_RIGHTS) private to that document: the child reads from it one line of JSON
  (`filename`, `limits`, `chunking`), then the document's bytes until end of file, and
  writes back one JSON object, `{"outcome": {...}}` or `{"error": "<reason for the user>"}`.
  When the child has ended and its leftovers are swept (below), the server writes the
  child's exit status as a decimal line (negative: the signal that ended it).

What one document's process leaves behind cannot reach the next document: the child
applies its limits and (as root) drops to the slot's own user before it reads anything;
after it ends, every process it left is killed (all processes of that user in the
sandbox's PID namespace; without bubblewrap, its process group) and the sandbox's private
/tmp is emptied; the next document gets a new socket the previous one never saw.

It imports nothing of Sentra's outside `sentra_ingestion` (the sandbox shows nothing else)
and writes no log: whatever it could say may quote the document.
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import resource
import signal
import socket
import sys
from collections.abc import Callable

READY = b"READY\n"
MEMORY_REASON = "the document needs more memory than the parser limit allows; split it into smaller files"
SANDBOX_TMP = "/tmp"

# One document: its header (filename, limits, chunking) and bytes -> the answer's bytes.
Handler = Callable[[dict, bytes], bytes]


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
        become(uid)
        try:
            os.setresuid(0, 0, 0)
        except PermissionError:
            pass
        else:
            raise RuntimeError("the parser could become root again")


def become(uid: int) -> None:
    """Drop to `uid` (and the group of the same number), no supplementary groups; checked."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    if os.getresuid() != (uid, uid, uid) or os.getgroups():
        raise RuntimeError("the parser could not drop to its own user")


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


def parse_document_message(header: dict, data: bytes) -> bytes:
    """The real parser's handler. The values were validated by the service (its ParseLimits
    and ChunkingPolicy settings); the parsing code only reads them, so no model is built."""
    from types import SimpleNamespace

    return encode(parse_once(data, header["filename"], SimpleNamespace(**header["limits"]),
                             SimpleNamespace(**header["chunking"])))


def preload() -> None:
    """Every format's parser and library, loaded once in the fork server and shared by the
    children, which would otherwise each import theirs (most of a parse's CPU time)."""
    # openpyxl imports numpy when it is installed and reads no spreadsheet with it.
    sys.modules.setdefault("numpy", None)
    import logging

    from sentra_ingestion.domain.parsing import htmldoc, mail, markdown, pdf, spreadsheet, text, word  # noqa: F401

    logging.disable(logging.CRITICAL)  # pypdf's warnings can quote raw document bytes
    warm_up()
    # What is loaded now is shared with every child until written to; the children's
    # garbage collections would write to all of it (copying each page) without this.
    gc.freeze()


def warm_up() -> None:
    """Parse a small sample of every format (made here, not a document): the first parse of
    a format fills caches (compiled patterns, lazily built tables, codecs) that each child
    would otherwise fill again — about 15 ms of every document's CPU time."""
    from types import SimpleNamespace

    # Small fixed values: the samples are tiny (the real ones come with each document).
    limits = SimpleNamespace(max_uncompressed_bytes=1 << 20, max_compression_ratio=200.0, max_pages=10,
                             max_rows_per_sheet=100, max_attachment_depth=1, max_text_chars=100_000)
    chunking = SimpleNamespace(target_chars=700, max_chars=1000, overlap_chars=100, table_target_chars=300)
    for name, data in samples():
        parse_once(data, name, limits, chunking)


def samples():
    """(file name, bytes) of one small document per format."""
    import io

    text = "Política de vacaciones 2026. Cada empleado dispone de 23 días laborables al año (artículo 4)."
    yield "muestra.txt", text.encode()
    yield "muestra.md", f"# Vacaciones\n\n{text}\n\n## Permisos\n\n- Matrimonio: 15 días.\n".encode()
    yield "muestra.csv", "concepto;importe\ndieta;53,34\nkilómetro;0,26\n".encode()
    yield "muestra.html", (f"<html><head><title>Vacaciones</title></head><body><h1>Vacaciones</h1><p>{text}</p>"
                           "<table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2</td></tr></table></body></html>"
                           ).encode()
    yield "muestra.eml", ("From: rrhh@example.com\nTo: todos@example.com\nSubject: Vacaciones\nMIME-Version: 1.0\n"
                          f"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n{text}\n"
                          ).encode()
    from docx import Document
    from openpyxl import Workbook

    document = Document()
    document.add_heading("Vacaciones", 1)
    document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    yield "muestra.docx", out.getvalue()
    workbook = Workbook()
    workbook.active.append(["concepto", "importe"])
    workbook.active.append(["dieta", 53.34])
    out = io.BytesIO()
    workbook.save(out)
    yield "muestra.xlsx", out.getvalue()
    yield "muestra.pdf", _pdf_sample("Vacaciones 2026: 23 dias laborables al ano.")


def _pdf_sample(line: str) -> bytes:
    """A one-page PDF with one line of Helvetica text (ASCII, no parentheses)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({line}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def serve(spec: dict, handle: Handler) -> None:
    """The fork server's loop (see the module's docstring); returns when the pool closes
    the control socket."""
    control = socket.socket(fileno=os.dup(0))
    os.close(0)  # children must not hold the control socket
    # What /tmp holds before any document: the directories bubblewrap made for an
    # installation that lives under /tmp (a CI checkout, a virtual environment) and that
    # installation, bound read-only. The sweep keeps these and removes everything else.
    baseline = snapshot(SANDBOX_TMP) if spec["sandboxed"] else set()
    control.sendall(READY)
    server = os.getpid()
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(control, 16, 1)
        except ConnectionError:
            return
        if not message:
            return
        if len(fds) != 1:
            for fd in fds:
                os.close(fd)
            raise SystemExit("the control message carried no document socket")
        child = os.fork()
        if child == 0:
            control.detach()  # the child's copy, closed below without a shutdown
            _run_child(fds[0], spec, handle, server)
        os.close(fds[0])
        _, status = os.waitpid(child, 0)
        sweep(spec, child, baseline)
        control.sendall(f"{os.waitstatus_to_exitcode(status)}\n".encode())


def _run_child(conn_fd: int, spec: dict, handle: Handler, server: int) -> None:
    """One document's process: confined before it reads a byte; never returns."""
    code = 1
    try:
        os.closerange(3, conn_fd)  # the control socket's descriptor, among others
        os.closerange(conn_fd + 1, 1 << 16)
        if not spec["sandboxed"]:
            # Its own process group, swept with it; and it dies with the server (which the
            # pool kills on a time-out), as bubblewrap's PID namespace ensures otherwise.
            os.setpgid(0, 0)
            _die_with_parent(server)
        confine(spec)
        conn = socket.socket(fileno=conn_fd)
        with conn.makefile("rb") as reader:
            header = json.loads(reader.readline())
            data = reader.read()
        try:
            payload = handle(header, data)
        except MemoryError:
            payload = encode(MEMORY_REASON)
        conn.sendall(payload)
        conn.shutdown(socket.SHUT_WR)
        code = 0
    finally:
        os._exit(code)


def _die_with_parent(server: int) -> None:
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != server:  # it ended before the request took effect
        raise SystemExit


def snapshot(root: str) -> set[str]:
    """Every path under `root`, not descending into other file systems (bound directories)."""
    device = os.lstat(root).st_dev
    paths: set[str] = set()
    for directory, subdirectories, files in os.walk(root):
        kept = []
        for name in subdirectories:
            path = os.path.join(directory, name)
            paths.add(path)
            if os.lstat(path).st_dev == device and not os.path.islink(path):
                kept.append(name)
        subdirectories[:] = kept
        paths.update(os.path.join(directory, name) for name in files)
    return paths


def sweep(spec: dict, child: int, baseline: set[str]) -> None:
    """Kill whatever the document's process left running and remove what it left in the
    private /tmp (everything not in `baseline`)."""
    if not spec["sandboxed"]:
        try:
            os.killpg(child, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        return
    uid = spec.get("uid")
    if uid is None:
        # A user namespace: this server and its children share one user, and kill(-1)
        # reaches every process of the sandbox's PID namespace but init and the caller.
        _kill_all_and_clear(baseline)
        return
    # As root (with no capability but setuid/setgid) this server may not signal or delete
    # what the document's user owns: a short-lived process of that user does.
    reaper = os.fork()
    if reaper == 0:
        code = 1
        try:
            become(uid)
            _kill_all_and_clear(baseline)
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(reaper, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("could not sweep after a parser process")


def _kill_all_and_clear(baseline: set[str]) -> None:
    try:
        os.kill(-1, signal.SIGKILL)
    except ProcessLookupError:
        pass  # nothing left
    _clear(SANDBOX_TMP, baseline, os.lstat(SANDBOX_TMP).st_dev)


def _clear(directory: str, baseline: set[str], device: int) -> None:
    """Remove what is under `directory` and not in `baseline`; look inside what is (on
    this file system only: a bound installation is read-only and left alone)."""
    for name in os.listdir(directory):
        path = os.path.join(directory, name)
        is_dir = os.path.isdir(path) and not os.path.islink(path)
        if path in baseline:
            if is_dir and os.lstat(path).st_dev == device:
                _clear(path, baseline, device)
        elif is_dir:
            os.chmod(path, 0o700)  # a parser may have made it unreadable
            _clear(path, set(), device)
            os.rmdir(path)
        else:
            os.unlink(path)


def main(args: list[str]) -> None:
    preload()
    serve(json.loads(args[0]), parse_document_message)
