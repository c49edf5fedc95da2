"""A parser taken over by a hostile document: what such code would try, run in the parser's
place by `test_parser_sandbox.py` (the pool's `worker`): the same fork server as the real
parser, inside the real sandbox, each document's process under the same confinement. The
document says what to try (JSON); the findings go back as the text of one chunk. Any other
file name is parsed by the real parser."""

from __future__ import annotations

import json
import os
import signal
import socket
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


def linger() -> dict:
    """Leave a process behind that keeps writing into /tmp, and a planted file: what the
    next document's parser (another department's, perhaps) must not find."""
    with open("/tmp/planted.txt", "w") as fh:
        fh.write("left for the next document")
    os.makedirs("/tmp/locked/inner")
    with open("/tmp/locked/inner/secret.txt", "w") as fh:
        fh.write("left")
    os.chmod("/tmp/locked", 0)
    pid = os.fork()
    if pid == 0:
        os.setsid()
        while True:
            with open("/tmp/still-here.txt", "w") as fh:
                fh.write("alive")
            time.sleep(0.05)
    time.sleep(0.2)
    return {"lingering": pid}


def leftovers(data: bytes) -> dict:
    """What a document's parser finds of the one before it."""
    pid = json.loads(data)["pid"]
    alive = attempt(lambda: os.kill(pid, 0))
    time.sleep(0.2)  # a survivor would have written again meanwhile
    return {"alive": alive, "tmp": sorted(os.listdir("/tmp"))}


ACTIONS = {"memory.bin": eat_memory, "fork.bin": fork_bomb, "disk.bin": fill_disk, "spin.bin": spin,
           "hang.bin": hang, "crash.bin": crash, "linger.bin": linger}


def handle(header: dict, data: bytes) -> bytes:
    name = header["filename"]
    if name == "probe.json":
        findings = probe(json.loads(data))
    elif name == "leftovers.json":
        findings = leftovers(data)
    elif name in ACTIONS:
        findings = ACTIONS[name]()
    else:
        if name.startswith("slow-"):
            time.sleep(2)  # a large, legitimate document
        return parse_worker.encode(parse_worker.parse_once(data, name, *_policies(header)))
    return json.dumps({"outcome": {"content_type": "text/plain", "page_count": 0, "title": None,
                                   "chunks": [[json.dumps(findings), 0, ""]]}}).encode()


def main(args: list[str]) -> None:
    parse_worker.serve(json.loads(args[0]), handle)


def _policies(header):
    from sentra_ingestion.domain.parsing import ChunkingPolicy, ParseLimits

    return ParseLimits(**header["limits"]), ChunkingPolicy(**header["chunking"])
