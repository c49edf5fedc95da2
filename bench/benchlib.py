"""Helpers shared by the benchmarks: a throw-away platform, gRPC stubs, statistics,
tables, process memory sampling, and the figures file each benchmark commits
(`bench/results/<name>.json`: commit, date, machine, settings, metrics).

Imported as a sibling module (`python bench/<name>.py` puts `bench/` on sys.path).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import platform as pyplatform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from sentra.embedding.v1 import embedding_pb2_grpc
from sentra.ingestion.v1 import ingestion_pb2_grpc
from sentra.retrieval.v1 import retrieval_pb2_grpc
from sentra_cli.platform import Platform
from sentra_common.principal import Principal
from sentra_common.shared_files import shared_dir

ROOT = Path(__file__).resolve().parents[1]
EVAL_DIR = shared_dir() / "eval"
RESULTS_DIR = ROOT / "bench" / "results"


def commit() -> str:
    """The checked-out commit, "+uncommitted" when tracked files differ from it."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        return sha + ("+uncommitted" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return ""


def write_results(name: str, settings: dict, results: dict, out: Path | None = None) -> Path:
    """Write a benchmark's figures to `out` (default bench/results/<name>.json)."""
    out = out or RESULTS_DIR / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "benchmark": name, "commit": commit(), "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine_summary(), "settings": settings, "results": results,
    }, indent=2, ensure_ascii=False) + "\n")
    print(f"figures written to {out}")
    return out


def test_support():
    """`tests.support.platform` (the integration-test client), importable from bench/."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.support import platform as support

    return support

# --------------------------------------------------------------------------------------
# Platform


@contextlib.contextmanager
def temporary_platform(
    extra_env: dict[str, str] | None = None, *, prefix: str = "sentra-bench-", identity: str = "development"
) -> Iterator[Platform]:
    """nats-server and the three services on 127.0.0.1 under a temporary data directory;
    stopped (only the processes this platform started) and removed on exit, also on
    Ctrl-C or SIGTERM."""
    data_dir = Path(tempfile.mkdtemp(prefix=prefix))
    platform = Platform(data_dir, extra_env=dict(extra_env or {}), identity=identity)
    previous = signal.getsignal(signal.SIGTERM)

    def _terminate(signum, frame):  # turn SIGTERM into an exception so `finally` runs
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    try:
        started = time.perf_counter()
        platform.up(timeout=300)
        print(f"platform up in {time.perf_counter() - started:.1f} s (data dir {data_dir})", flush=True)
        yield platform
    finally:
        platform.down()
        signal.signal(signal.SIGTERM, previous)
        shutil.rmtree(data_dir, ignore_errors=True)


async def training_job(platform: Platform, principal: Principal, request, on_progress=None):
    """Start a job through the platform's training service and poll it until it ends:
    (the job as it ended, seconds from the request to then). `on_progress(job)` sees each poll."""
    from sentra.training.v1 import training_pb2, training_pb2_grpc

    ended = (training_pb2.JOB_STATE_SUCCEEDED, training_pb2.JOB_STATE_FAILED, training_pb2.JOB_STATE_CANCELLED)
    channel = platform.internal_channel("training", principal, 60)
    stub = training_pb2_grpc.TrainingServiceStub(channel)
    try:
        started = time.perf_counter()
        job = (await stub.StartTrainingJob(request)).job
        while job.state not in ended:
            await asyncio.sleep(0.5)
            job = (await stub.GetTrainingJob(training_pb2.GetTrainingJobRequest(job_id=job.job_id))).job
            if on_progress is not None:
                on_progress(job)
        return job, time.perf_counter() - started
    finally:
        await channel.close()


class Stubs:
    """gRPC stubs of a running platform acting as one principal."""

    def __init__(self, platform: Platform, principal: Principal, deadline_seconds: float = 300) -> None:
        self.channels = []

        def channel(service: str):
            ch = platform.internal_channel(service, principal, deadline_seconds)
            self.channels.append(ch)
            return ch

        # The embedding service answers Sentra's services only: called as retrieval calls it.
        embedding = platform.service_channel("retrieval", "embedding", deadline_seconds)
        self.channels.append(embedding)
        self.embedding = embedding_pb2_grpc.EmbeddingServiceStub(embedding)
        self.ingestion = ingestion_pb2_grpc.IngestionServiceStub(channel("ingestion"))
        self.retrieval = retrieval_pb2_grpc.RetrievalServiceStub(channel("retrieval"))

    async def close(self) -> None:
        for ch in self.channels:
            await ch.close()


# --------------------------------------------------------------------------------------
# Statistics and output


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    pos = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], title: str = "") -> None:
    """Print a plain fixed-width table (numbers right-aligned)."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]

    def fmt(row: Sequence[str]) -> str:
        out = []
        for i, cell in enumerate(row):
            numeric = cell[:1].isdigit() or (cell[:1] in "+-." and cell[1:2].isdigit())
            out.append(cell.rjust(widths[i]) if numeric else cell.ljust(widths[i]))
        return "  ".join(out).rstrip()

    if title:
        print(f"\n{title}")
    print(fmt(list(headers)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print(fmt(row))
    sys.stdout.flush()


def banner(text: str) -> None:
    print(f"\n{'=' * 88}\n{text}\n{'=' * 88}", flush=True)


def machine_summary() -> str:
    try:
        import torch

        torch_threads = torch.get_num_threads()
    except ImportError:  # pragma: no cover - the embedding extra is not installed
        torch_threads = -1
    load = os.getloadavg()
    return (
        f"{pyplatform.node()} | {os.cpu_count()} CPUs | Python {pyplatform.python_version()} | "
        f"torch threads (this process) {torch_threads} | load avg {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )


# --------------------------------------------------------------------------------------
# Process memory


def rss_kib(pid: int) -> int | None:
    """Resident set size (VmRSS) of a process in KiB, None when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return 0  # a zombie has no VmRSS line


def cpu_seconds(pid: int, waited_children: bool = False) -> float:
    """User + system CPU seconds of a process so far (plus those of the children it has
    waited for, when asked); 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(") ", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if waited_children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> float:
    """Busy CPU seconds of the whole machine so far (user, nice, system, irq, softirq)."""
    with open("/proc/stat") as fh:
        fields = fh.readline().split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq = (int(v) for v in fields[:7])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def children_of(pids: set[int]) -> dict[int, int]:
    """{descendant pid: root pid} of the given processes (one scan of /proc)."""
    parent: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(") ", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parent[int(entry)] = ppid
    found: dict[int, int] = {}
    for pid in parent:
        node, seen = pid, 0
        while node in parent and seen < 64:
            node = parent[node]
            seen += 1
            if node in pids:
                if pid not in pids:
                    found[pid] = node
                break
    return found


class RssSampler:
    """Samples VmRSS of named processes (and, separately, of their child processes,
    e.g. the ingestion service's parser workers) every `interval` seconds in a thread."""

    def __init__(self, processes: dict[str, int], interval: float = 0.2) -> None:
        self.processes = dict(processes)
        self.interval = interval
        self.peak: dict[str, int] = {}
        self.last: dict[str, int] = {}
        self.samples = 0
        self._children: dict[int, int] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    @property
    def names(self) -> list[str]:
        return [*self.processes, *(f"{n} children" for n in self.processes)]

    def snapshot(self) -> dict[str, int]:
        """Current RSS in KiB per name ("<name> children" sums the child processes)."""
        out: dict[str, int] = {}
        by_root = {pid: name for name, pid in self.processes.items()}
        for name, pid in self.processes.items():
            out[name] = rss_kib(pid) or 0
            out[f"{name} children"] = 0
        for child, root in list(self._children.items()):
            out[f"{by_root[root]} children"] += rss_kib(child) or 0
        return out

    def _refresh_children(self) -> None:
        self._children = children_of(set(self.processes.values()))

    def _run(self) -> None:
        next_scan = 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= next_scan:
                self._refresh_children()
                next_scan = now + 2.0
            snap = self.snapshot()
            with self._lock:
                self.samples += 1
                self.last = snap
                for name, kib in snap.items():
                    self.peak[name] = max(self.peak.get(name, 0), kib)
            self._stop.wait(self.interval)

    def start(self) -> RssSampler:
        self._refresh_children()
        self._thread.start()
        return self

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far per name; "<name> children" counts the child processes alive
        at the last scan and what they have waited for (a parser fork server's documents)."""
        out: dict[str, float] = {}
        by_root = {pid: name for name, pid in self.processes.items()}
        for name, pid in self.processes.items():
            out[name] = cpu_seconds(pid)
            out[f"{name} children"] = 0.0
        for child, root in list(self._children.items()):
            out[f"{by_root[root]} children"] += cpu_seconds(child, waited_children=True)
        return out

    def reset_peaks(self) -> None:
        with self._lock:
            self.peak = {}

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def mib(kib: float) -> str:
    return f"{kib / 1024:.0f}"
