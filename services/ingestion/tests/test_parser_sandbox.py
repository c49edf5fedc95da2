"""The parser sandbox, for real (bubblewrap, installed by scripts/setup.sh): code that
took over a parser tries to read the platform's keys and other files, to reach a port
listening on 127.0.0.1, to read the service's secrets from its environment, to exhaust
memory, CPU, disk and processes, and fails at each; a time-out or a crash fails only its
own document. The hostile code is `sandbox_probe/hostile_parser.py`, run in the parser's
place with the same confinement."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import re
import shutil
import socket
import sys
import time
from pathlib import Path

import pytest
from sentra_ingestion.adapters.parser_pool import ParserPool, output_limit
from sentra_ingestion.adapters.sandbox import BWRAP, Confinement, ParserSandbox
from sentra_ingestion.app import build_parser, start_parser
from sentra_ingestion.config import IngestionSettings
from sentra_ingestion.domain.parsing import ChunkingPolicy, ParseError, ParseLimits

PROBE_DIR = Path(__file__).parent / "sandbox_probe"
REPOSITORY = Path(__file__).resolve().parents[3]
SECRET = "s3cr3t-value-never-to-be-seen"
LIMITS = Confinement(memory_mb=512, cpu_seconds=20, file_mb=8, processes=4)
TEXT = ("La cláusula de confidencialidad dura cinco años.\n\n" * 3).encode()


@pytest.fixture(scope="module", autouse=True)
def bubblewrap():
    if shutil.which("bwrap") is None:
        pytest.fail("bubblewrap is not installed: run scripts/setup.sh (apt-get install bubblewrap)")


def bound_under_tmp(*extra: Path) -> set[str]:
    """What the sandbox's /tmp shows before any document: the first step of each path it
    binds (the parsing code, the Python installation) that lives under /tmp (a CI clone, a
    virtual environment there)."""
    from sentra_ingestion.adapters.sandbox import _python_dirs

    bound = [*_python_dirs(), *ParserSandbox(BWRAP, LIMITS, extra_roots=extra).import_roots()]
    return {p.resolve().parts[2] for p in bound if p.resolve().parts[1:2] == ("tmp",) and len(p.resolve().parts) > 2}


async def started_pool(workers=1, timeout=30.0, confinement=LIMITS, worker="hostile_parser") -> ParserPool:
    sandbox = ParserSandbox(BWRAP, confinement, worker=worker, extra_roots=(PROBE_DIR,))
    pool = ParserPool(workers, timeout, sandbox, output_limit(ParseLimits()))
    await pool.start()
    return pool


async def run(pool: ParserPool, name: str, data: bytes = b"{}", limits: ParseLimits = ParseLimits()):
    return await pool.parse(data, name, limits, ChunkingPolicy())


async def findings(pool: ParserPool, name: str, data: bytes = b"{}") -> dict:
    outcome = await run(pool, name, data)
    return json.loads(outcome.chunks[0].text)


@pytest.fixture
def platform_files(tmp_path, monkeypatch):
    """What sits next to a running ingestion service: its data directory (its working
    directory under `sentra up`) with the platform's signing keys, and another secret file."""
    data = tmp_path / "data"
    keys = data / "keys"
    keys.mkdir(parents=True)
    (keys / "gateway.key").write_text(f"-----BEGIN PRIVATE KEY-----\n{SECRET}\n")
    (keys / "trust.json").write_text(json.dumps({"keys": [SECRET]}))
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    monkeypatch.chdir(data)
    return keys, secret


async def test_a_parser_cannot_read_files_outside_its_input(platform_files):
    keys, secret = platform_files
    pool = await started_pool()
    try:
        seen = await findings(pool, "probe.json", json.dumps({
            "read": [str(secret), str(keys / "gateway.key"), "keys/gateway.key", str(REPOSITORY / "pyproject.toml"),
                     str(Path.home() / ".config" / "sentra" / "credentials.json"),  # the CLI's tokens
                     "/etc/shadow", "/etc/passwd", "/proc/1/environ", f"/proc/{os.getpid()}/environ"],
            "list": [str(keys), str(keys.parent), str(REPOSITORY), "/proc", "/home"],
            "write": [str(PROBE_DIR / "planted.txt"), "/usr/planted.txt", "/planted.txt", "/dev/shm/planted.txt",
                      "/tmp/scratch.txt"],
        }).encode())
    finally:
        await pool.close()
    # The repository shows only the empty path down to the parsing code (bound read-only).
    assert seen[f"list {REPOSITORY}"] == "succeeded: ['services']"
    for key, finding in seen.items():
        if key.startswith(("read ", "list ")) and key != f"list {REPOSITORY}":
            assert finding.startswith("refused: FileNotFoundError"), (key, finding)
    assert seen[f"write {PROBE_DIR / 'planted.txt'}"].startswith("refused: OSError: [Errno 30] Read-only")
    for path in ("/usr/planted.txt", "/planted.txt", "/dev/shm/planted.txt"):  # memory it could fill
        assert seen[f"write {path}"].startswith(("refused: OSError: [Errno 30] Read-only", "refused: PermissionError"))
    assert seen["write /tmp/scratch.txt"] == "succeeded: 'written'"  # its own, private /tmp
    assert not (PROBE_DIR / "planted.txt").exists()
    assert SECRET not in json.dumps(seen)
    # The root shows the system directories and the first step of each bound installation
    # path (the checkout, the virtual environment, the interpreter), wherever they live.
    installations = {Path(p).resolve().parts[1] for p in (REPOSITORY, sys.prefix, sys.base_prefix)}
    assert set(json.loads(seen["root directory"])) <= {"bin", "dev", "etc", "lib", "lib32", "lib64", "libx32",
                                                       "root", "sbin", "tmp", "usr", "opt"} | installations
    if os.geteuid() == 0:
        assert seen["identity"] == "uid=61000 gid=61000 groups=[]"


async def test_a_parser_has_no_network():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.setblocking(False)
    port = listener.getsockname()[1]
    pool = await started_pool()
    try:
        seen = await findings(pool, "probe.json", json.dumps({
            "connect": [["127.0.0.1", port], ["10.255.255.1", 80], ["::1", port]],
        }).encode())
    finally:
        await pool.close()
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody knocked
        listener.close()
    assert seen[f"connect 127.0.0.1:{port}"].startswith("refused: ConnectionRefusedError")
    assert seen["connect 10.255.255.1:80"].startswith("refused: OSError: [Errno 101] Network is unreachable")
    assert seen[f"connect ::1:{port}"].startswith("refused:")


async def test_a_parser_sees_none_of_the_services_environment(monkeypatch):
    monkeypatch.setenv("SENTRA_INGESTION_DATABASE__URL", f"postgresql+psycopg://sentra:{SECRET}@db/sentra")
    monkeypatch.setenv("SENTRA_TEST_API_KEY", SECRET)
    pool = await started_pool()
    try:
        seen = await findings(pool, "probe.json", json.dumps({"environment": True}).encode())
    finally:
        await pool.close()
    environment = json.loads(seen["environment"])
    assert SECRET not in seen["environment"]
    assert not any(name.startswith("SENTRA") for name in environment)
    assert set(environment) <= {"LC_CTYPE", "PWD"}, environment  # set by Python and bubblewrap themselves


async def test_a_parser_that_exhausts_memory_is_stopped_by_the_limit():
    # CPU time to spare, so that on a slow machine the memory limit, not the CPU one, stops it
    pool = await started_pool(timeout=180.0, confinement=dataclasses.replace(LIMITS, cpu_seconds=120))
    try:
        seen = await findings(pool, "memory.bin")
        # A real document whose text alone is larger than the memory limit allows.
        flood = ("palabra " * 16_000_000).encode()  # 128 MB of text in a .txt file
        with pytest.raises(ParseError, match="memory"):
            await run(pool, "flood.txt", flood, ParseLimits(max_text_chars=10**9))
        assert (await run(pool, "nda.txt", TEXT)).chunks  # the next document is parsed as usual
    finally:
        await pool.close()
    allocated = int(seen["memory"].split()[2])
    assert seen["memory"].startswith("stopped after") and allocated < LIMITS.memory_mb


async def test_cpu_disk_and_process_limits_hold():
    pool = await started_pool(confinement=Confinement(memory_mb=512, cpu_seconds=2, file_mb=8, processes=4))
    try:
        started = time.monotonic()
        with pytest.raises(ParseError, match="more than 2 s of CPU time"):
            await run(pool, "spin.bin")
        assert time.monotonic() - started < 25  # stopped by the CPU limit, not the 30 s time-out
        disk = (await findings(pool, "disk.bin"))["file"]
        processes = (await findings(pool, "fork.bin"))["processes"]
    finally:
        await pool.close()
    assert "refused" in disk and int(re.search(r"wrote (\d+)", disk)[1]) <= 8 * 1024 * 1024
    assert "refused" in processes and int(re.search(r"started (\d+)", processes)[1]) <= 3  # and the parser


async def test_a_timeout_or_a_crash_fails_only_its_own_document():
    pool = await started_pool(workers=2, timeout=4)
    started = time.monotonic()
    try:
        hung = asyncio.ensure_future(run(pool, "hang.bin"))
        others = [await run(pool, f"doc{i}.txt", TEXT) for i in range(2)]  # while it hangs
        await asyncio.sleep(max(0.0, 3 - (time.monotonic() - started)))
        # Another department's document, still being parsed when the first one times out.
        others.append(await run(pool, "slow-other-department.txt", TEXT))
        with pytest.raises(ParseError, match="longer than 4 s"):
            await hung
        crashed = asyncio.ensure_future(run(pool, "crash.bin"))
        beside = asyncio.ensure_future(run(pool, "beside.txt", TEXT))
        with pytest.raises(ParseError, match="crashed"):
            await crashed
        assert (await beside).chunks
        assert (await run(pool, "after.txt", TEXT)).chunks
    finally:
        await pool.close()
    assert all(outcome.chunks for outcome in others)


async def test_what_one_documents_parser_leaves_behind_is_gone_for_the_next():
    """Parsers are forked from one server per slot: a hostile document's parser plants files
    in /tmp (one in a directory it made unreadable) and leaves a process running that keeps
    writing there; the next document's parser finds neither, and the slot goes on parsing."""
    pool = await started_pool()
    try:
        lingering = (await findings(pool, "linger.bin"))["lingering"]
        seen = await findings(pool, "leftovers.json", json.dumps({"pid": lingering}).encode())
        assert (await run(pool, "nda.txt", TEXT)).chunks
    finally:
        await pool.close()
    assert seen["alive"].startswith("refused: ProcessLookupError"), seen
    assert set(seen["tmp"]) == bound_under_tmp(), seen


async def test_an_installation_under_tmp_survives_the_sweep(tmp_path):
    """A checkout or virtual environment under /tmp is bound (read-only) on top of the
    sandbox's private /tmp: the sweep after each document leaves it, and the directories
    bubblewrap made for it, alone (CI clones live there)."""
    installed = tmp_path / "installation"
    installed.mkdir()
    (installed / "module.py").write_text("VALUE = 1\n")
    assert str(installed).startswith("/tmp/")
    sandbox = ParserSandbox(BWRAP, LIMITS, worker="hostile_parser", extra_roots=(PROBE_DIR, installed))
    pool = ParserPool(1, 30, sandbox, output_limit(ParseLimits()))
    await pool.start()
    try:
        lingering = (await findings(pool, "linger.bin"))["lingering"]
        seen = await findings(pool, "leftovers.json", json.dumps({"pid": lingering}).encode())
        assert (await run(pool, "nda.txt", TEXT)).chunks  # the slot still parses
        again = await findings(pool, "probe.json", json.dumps({"read": [str(installed / "module.py")]}).encode())
    finally:
        await pool.close()
    assert set(seen["tmp"]) == bound_under_tmp(installed), seen  # only the ways down to installations
    assert again[f"read {installed / 'module.py'}"] == "succeeded: 'VALUE = 1\\n'"
    assert (installed / "module.py").exists()


async def test_the_real_parser_runs_in_the_sandbox(make_pdf):
    pool = await started_pool(worker="sentra_ingestion.adapters.parse_worker")
    try:
        outcome = await run(pool, "informe.pdf", make_pdf(["Resultados del ejercicio 2025."]))
        with pytest.raises(ParseError, match="empty"):
            await run(pool, "vacio.txt", b"")
    finally:
        await pool.close()
    assert outcome.content_type == "application/pdf" and "Resultados" in outcome.chunks[0].text


async def test_without_bubblewrap_the_pool_refuses_to_start():
    sandbox = ParserSandbox(BWRAP, LIMITS, bwrap="/nonexistent/bwrap")
    pool = ParserPool(1, 30, sandbox, output_limit(ParseLimits()))
    with pytest.raises(RuntimeError, match=r"bubblewrap .* is not installed.*SENTRA_INGESTION_PARSER_SANDBOX=none"):
        await pool.start()


async def test_the_service_refuses_to_start_without_bubblewrap_unless_told_otherwise(capsys, caplog):
    missing = IngestionSettings(parser_sandbox_bwrap="/nonexistent/bwrap")
    with pytest.raises(SystemExit) as stopped:
        await start_parser(build_parser(missing))
    assert stopped.value.code == 2
    assert "bubblewrap (/nonexistent/bwrap) is not installed" in capsys.readouterr().err
    # The explicit development setting: plain child processes, said loudly, still parsing.
    parser = build_parser(IngestionSettings(parser_sandbox="none", parser_sandbox_bwrap="/nonexistent/bwrap"))
    await start_parser(parser)
    try:
        assert (await run(parser, "nda.txt", TEXT)).chunks
    finally:
        await parser.close()
    assert any(r.levelname == "WARNING" and "NOT sandboxed" in r.getMessage() for r in caplog.records)


def test_a_parser_process_starts_without_the_settings_models():
    """The parsing code loads without pydantic (the validated limits and chunking policy are
    handed over as plain values): the sandbox shows the parser nothing it does not need, and
    each fork server, started again after every time-out, starts faster."""
    import subprocess

    from sentra_ingestion.domain.parsing import ChunkingPolicy, ParseLimits

    source = Path(__file__).resolve().parents[1] / "src"
    values = json.dumps({"limits": ParseLimits().model_dump(), "chunking": ChunkingPolicy().model_dump()})
    probe = (  # what parse_worker.main loads and runs, in a fresh interpreter
        "import json, sys; sys.path[:0] = [sys.argv[1]]; sys.modules.setdefault('numpy', None)\n"
        "from types import SimpleNamespace\n"
        "import sentra_ingestion.domain.parsing\n"
        "from sentra_ingestion.adapters.parse_worker import encode, parse_once\n"
        "values = json.loads(sys.argv[2])\n"
        "outcome = parse_once(b'# Aviso\\n\\nLa oficina abre a las 9.', 'aviso.md',\n"
        "                     SimpleNamespace(**values['limits']), SimpleNamespace(**values['chunking']))\n"
        "print(encode(outcome).decode()); print(sorted(m for m in sys.modules if m.startswith('pydantic')))\n"
    )
    result = subprocess.run([sys.executable, "-I", "-c", probe, str(source), values], capture_output=True,
                            text=True, check=True)
    payload, loaded = result.stdout.splitlines()
    assert "La oficina abre a las 9." in payload
    assert loaded == "[]"


def test_the_fork_servers_warm_up_samples_cover_every_format():
    """The fork server parses one sample per format before its first document (so every
    child starts with the caches filled): each sample must really parse, or the warm-up
    would silently warm nothing."""
    from types import SimpleNamespace

    from sentra_ingestion.adapters.parse_worker import parse_once, samples
    from sentra_ingestion.domain.parsing.model import SUPPORTED_FORMATS

    limits, chunking = (SimpleNamespace(**ParseLimits().model_dump()),
                        SimpleNamespace(**ChunkingPolicy().model_dump()))
    kinds = set()
    for name, data in samples():
        outcome = parse_once(data, name, limits, chunking)
        assert not isinstance(outcome, str), (name, outcome)
        assert "2026" in outcome.chunks[0].text or "53" in outcome.chunks[0].text, name
        kinds.add(outcome.content_type)
    assert len(kinds) == len(SUPPORTED_FORMATS.split(", ")), (kinds, SUPPORTED_FORMATS)
