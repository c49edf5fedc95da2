"""What the parser sandbox costs per document: the example corpus parsed and chunked,
one document after another, four ways, in the same run:

1. warm plain child: one long-lived worker process (concurrent.futures, spawn) parses
   every document: the ingestion service's parser before the sandbox;
2. process per document, no sandbox (SENTRA_INGESTION_PARSER_SANDBOX=none): the
   service's fork server, one fresh process forked for each document;
3. process per document in bubblewrap (the default): the same, the fork server in its
   sandbox;
4. (for reference) in this process, no process at all.

    python bench/parser_sandbox.py              # 5 rounds of the 17 example documents
    python bench/parser_sandbox.py --rounds 2 --spacing 0.5

Wall time per parse is measured around the Parser port's call (`--spacing` seconds between
documents lets the next process finish starting, as when documents arrive less often);
CPU time per parse counts the children's user + system time (start-up, imports and
parsing), divided by the documents parsed; bubblewrap with its own PID namespace does not
pass its children's CPU time on, so that column is empty for it. The machine's CPU column
counts every process's busy time (/proc/stat) over the mode's run, this one's included:
it covers bubblewrap too, and other load on the machine counts in it.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import resource
import statistics
import time
from concurrent.futures import ProcessPoolExecutor

from benchlib import ROOT, banner, machine_cpu_seconds, machine_summary, ratio, table, write_results
from sentra_ingestion.adapters.parse_worker import parse_once
from sentra_ingestion.adapters.parser_pool import ParserPool, output_limit
from sentra_ingestion.adapters.sandbox import BWRAP, NONE, Confinement, ParserSandbox
from sentra_ingestion.config import LimitSettings
from sentra_ingestion.domain.parsing import ChunkingPolicy, ParseLimits

CORPUS = ROOT / "examples" / "corpus"


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measure(parse, documents, rounds: int, spacing: float) -> list[float]:
    times = []
    for _ in range(rounds):
        for name, data in documents:
            if spacing:
                await asyncio.sleep(spacing)
            started = time.perf_counter()
            await parse(data, name)
            times.append((time.perf_counter() - started) * 1000)
    return times


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--spacing", type=float, default=0.0, help="seconds between documents")
    args = parser.parse_args()
    documents = [(p.name, p.read_bytes()) for p in sorted(CORPUS.rglob("*")) if p.is_file()]
    limits, chunking = ParseLimits(), ChunkingPolicy()
    settings = LimitSettings()
    confinement = Confinement(settings.parse_memory_mb, settings.parse_cpu_seconds, settings.parse_file_mb,
                              settings.parse_max_processes)
    banner(f"parser cost per document: {len(documents)} documents x {args.rounds} rounds, "
           f"spacing {args.spacing} s — {machine_summary()}")
    results: dict[str, dict[str, float]] = {}

    def record(mode: str, times: list[float], cpu_seconds: float | None, machine_seconds: float) -> None:
        results[mode] = {"wall_ms_mean": statistics.mean(times), "wall_ms_median": statistics.median(times),
                         "cpu_ms_per_parse": None if cpu_seconds is None else cpu_seconds * 1000 / len(times),
                         "machine_cpu_ms_per_parse": machine_seconds * 1000 / len(times)}

    loop = asyncio.get_running_loop()
    executor = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    await loop.run_in_executor(executor, parse_once, b"warm up", "w.txt", limits, chunking)
    for name, data in documents:  # every format's library loaded once, as in a long-lived worker
        await loop.run_in_executor(executor, parse_once, data, name, limits, chunking)
    cpu, busy = children_cpu(), machine_cpu_seconds()

    async def warm(data, name):
        return await loop.run_in_executor(executor, parse_once, data, name, limits, chunking)

    times = await measure(warm, documents, args.rounds, args.spacing)
    busy = machine_cpu_seconds() - busy
    executor.shutdown()
    record("warm plain child", times, children_cpu() - cpu, busy)

    for mode, label in ((NONE, "process per document, no sandbox"), (BWRAP, "process per document, bwrap")):
        pool = ParserPool(1, 120, ParserSandbox(mode, confinement), output_limit(limits))
        cpu = children_cpu()
        await pool.start()

        async def sandboxed(data, name, pool=pool):
            return await pool.parse(data, name, limits, chunking)

        busy = machine_cpu_seconds()
        times = await measure(sandboxed, documents, args.rounds, args.spacing)
        busy = machine_cpu_seconds() - busy
        await pool.close()
        record(label, times, None if mode == BWRAP else children_cpu() - cpu, busy)

    cpu, busy = own_cpu(), machine_cpu_seconds()

    async def in_process(data, name):
        return parse_once(data, name, limits, chunking)

    times = await measure(in_process, documents, args.rounds, args.spacing)
    record("in this process", times, own_cpu() - cpu, machine_cpu_seconds() - busy)

    base = results["warm plain child"]["wall_ms_mean"]
    plain = results["process per document, no sandbox"]["wall_ms_mean"]
    rows = []
    for mode, r in results.items():
        cpu_ms = "" if r["cpu_ms_per_parse"] is None else f"{r['cpu_ms_per_parse']:.0f}"
        rows.append([mode, f"{r['wall_ms_mean']:.1f}", f"{r['wall_ms_median']:.1f}", cpu_ms,
                     f"{r['machine_cpu_ms_per_parse']:.0f}", ratio(r["wall_ms_mean"], base),
                     ratio(r["wall_ms_mean"], plain)])
    table(["mode", "wall ms/parse (mean)", "median", "CPU ms/parse", "machine CPU ms/parse", "vs warm child",
           "vs plain per-document"], rows)
    name = "parser_sandbox_spaced" if args.spacing else "parser_sandbox"
    write_results(name, {"rounds": args.rounds, "spacing_seconds": args.spacing, "documents": len(documents),
                         "limits": confinement.__dict__}, results)


if __name__ == "__main__":
    asyncio.run(main())
