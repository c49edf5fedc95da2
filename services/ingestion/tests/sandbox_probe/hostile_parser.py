"""A parser taken over by a hostile document: what such code would try, run in the parser's
place by `test_parser_sandbox.py` (the pool's `worker`), inside the real sandbox, after the
same confinement as the real parser. The document says what to try (JSON); the findings go
back as the text of one chunk. Any other file name is parsed by the real parser."""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time

from sentra_ingestion.adapters import parse_worker


def attempt(action) -> str:
    try:
        result = action()
    except Exception as exc:  # what stopped it
        return f"refused: {type(exc).__name__}: {exc}"
    return f"succeeded: {result!r}"[:500]


def read(path: str) -> str:
    with open(path, "rb") as fh:
        return fh.read(200).decode("utf-8", "replace")


def connect(host: str, port: int) -> str:
    with socket.create_connection((host, port), timeout=3) as conn:
        conn.sendall(b"stolen")
        return "connected"


def write(path: str) -> str:
    with open(path, "w") as fh:
        fh.write("planted")
    return "written"


def probe(targets: dict) -> dict:
    """Try everything in `targets`; one finding per attempt."""
    findings = {}
    for path in targets.get("read", []):
        findings[f"read {path}"] = attempt(lambda p=path: read(p))
    for path in targets.get("list", []):
        findings[f"list {path}"] = attempt(lambda p=path: sorted(os.listdir(p)))
    for path in targets.get("write", []):
        findings[f"write {path}"] = attempt(lambda p=path: write(p))
    for host, port in targets.get("connect", []):
        findings[f"connect {host}:{port}"] = attempt(lambda h=host, p=port: connect(h, p))
    if targets.get("environment"):
        findings["environment"] = json.dumps(dict(os.environ))
    findings["identity"] = f"uid={os.getuid()} gid={os.getgid()} groups={os.getgroups()}"
    findings["root directory"] = json.dumps(sorted(os.listdir("/")))
    return findings


def eat_memory() -> dict:
    hog, step = [], 16 * 1024 * 1024
    try:
        while len(hog) < 1024:  # 16 GiB at most
            hog.append(bytearray(step))
    except MemoryError:
        return {"memory": f"stopped after {len(hog) * 16} MiB"}
    return {"memory": f"allocated {len(hog) * 16} MiB"}


def fork_bomb() -> dict:
    started = 0
    try:
        for _ in range(64):
            if os.fork() == 0:
                time.sleep(5)
                os._exit(0)
            started += 1
    except OSError as exc:
        return {"processes": f"started {started}, then refused: {exc}"}
    return {"processes": f"started {started}"}


def fill_disk() -> dict:
    written = 0
    try:
        with open("/tmp/filler", "wb") as fh:
            for _ in range(256):  # 256 MiB at most
                fh.write(b"x" * (1024 * 1024))
                fh.flush()
                written += 1024 * 1024
    except OSError as exc:
        return {"file": f"wrote {written} bytes, then refused: {exc}"}
    return {"file": f"wrote {written} bytes"}


def spin() -> dict:
    while True:
        pass


def hang() -> dict:
    time.sleep(3600)
    return {}


def crash() -> dict:
    os.kill(os.getpid(), signal.SIGSEGV)
    return {}


ACTIONS = {"memory.bin": eat_memory, "fork.bin": fork_bomb, "disk.bin": fill_disk, "spin.bin": spin,
           "hang.bin": hang, "crash.bin": crash}


def main(args: list[str]) -> None:
    parse_worker.confine(json.loads(args[0]))
    out = sys.stdout.buffer
    out.write(parse_worker.READY)
    out.flush()
    header = json.loads(sys.stdin.buffer.readline())
    data = sys.stdin.buffer.read()
    name = header["filename"]
    if name == "probe.json":
        findings = probe(json.loads(data))
    elif name in ACTIONS:
        findings = ACTIONS[name]()
    else:
        if name.startswith("slow-"):
            time.sleep(2)  # a large, legitimate document
        out.write(parse_worker.encode(parse_worker.parse_once(data, name, *_policies(header))))
        return
    out.write(json.dumps({"outcome": {"content_type": "text/plain", "page_count": 0, "title": None,
                                      "chunks": [[json.dumps(findings), 0, ""]]}}).encode())


def _policies(header):
    from sentra_ingestion.domain.parsing import ChunkingPolicy, ParseLimits

    return ParseLimits(**header["limits"]), ChunkingPolicy(**header["chunking"])
