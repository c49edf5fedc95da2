"""Run Sentra's test suite as N pytest processes at once (what `make test` runs).

Most of the suite waits on servers it started (platforms coming up, Ray workers, Keycloak,
a kube-apiserver), so one pytest process leaves a 2-core machine idle much of the time.
Each process runs one part (`pytest --shard K/N`, see the root conftest.py): the parts are
balanced by each module's recorded time in `tests/durations.json`, and modules that share a
platform stay in one part. Each part writes its own log; when all have ended, the logs are
printed one after the other and the exit status is the first failing part's.

    python scripts/run_tests.py                 # SENTRA_TEST_SHARDS parts (default 2)
    python scripts/run_tests.py --shards 1      # one ordinary pytest process
    python scripts/run_tests.py tests/deploy -k chart   # arguments after the options go to pytest
    python scripts/run_tests.py --record        # also rewrite tests/durations.json from this run
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DURATIONS = ROOT / "tests" / "durations.json"
NO_TESTS_COLLECTED = 5  # pytest's exit status when a part has nothing to run


def module_of(classname: str) -> str | None:
    """`tests.integration.test_x.TestY` → `tests/integration/test_x.py` (the longest prefix that is a file)."""
    parts = classname.split(".")
    for end in range(len(parts), 0, -1):
        path = "/".join(parts[:end]) + ".py"
        if (ROOT / path).is_file():
            return path
    return None


def durations_from(junit_files: list[Path]) -> dict[str, float]:
    seconds: Counter[str] = Counter()
    for junit in junit_files:
        for case in ET.parse(junit).iter("testcase"):
            path = module_of(case.get("classname") or "")
            if path:
                seconds[path] += float(case.get("time") or 0)
    return {path: round(value, 1) for path, value in sorted(seconds.items())}


def run(shards: int, pytest_args: list[str], record: bool) -> int:
    if shards == 1 and not record:
        return subprocess.call([sys.executable, "-m", "pytest", *pytest_args], cwd=ROOT)
    workdir = Path(tempfile.mkdtemp(prefix="sentra-tests-"))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    parts = []
    started = time.monotonic()
    for k in range(1, shards + 1):
        log = workdir / f"part-{k}.log"
        command = [
            sys.executable, "-m", "pytest", f"--shard={k}/{shards}", f"--basetemp={workdir / f'tmp-{k}'}",
            f"--junitxml={workdir / f'part-{k}.xml'}", *pytest_args,
        ]
        with log.open("wb") as out:
            parts.append((k, log, subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)))
    print(f"sentra tests: {shards} parts running at once, logs in {workdir}", flush=True)
    statuses: dict[int, int] = {}
    try:
        while len(statuses) < len(parts):
            for k, _, proc in parts:
                if k not in statuses and proc.poll() is not None:
                    statuses[k] = proc.returncode
                    print(f"sentra tests: part {k}/{shards} ended with status {proc.returncode} "
                          f"after {time.monotonic() - started:.0f} s", flush=True)
            time.sleep(1)
    except KeyboardInterrupt:
        for _, _, proc in parts:
            proc.terminate()
        for _, _, proc in parts:
            proc.wait()
        raise
    for k, log, _ in parts:
        print(f"\n===== part {k}/{shards} (status {statuses[k]}) =====", flush=True)
        sys.stdout.write(log.read_text(errors="replace"))
    print(f"\nsentra tests: {shards} parts in {time.monotonic() - started:.0f} s", flush=True)
    if record:
        DURATIONS.write_text(json.dumps(durations_from(sorted(workdir.glob("part-*.xml"))), indent=1) + "\n")
        print(f"sentra tests: module times written to {DURATIONS.relative_to(ROOT)}")
    failed = [status for status in statuses.values() if status not in (0, NO_TESTS_COLLECTED)]
    if failed:
        print(f"sentra tests: a part failed; its files are kept in {workdir}")
        return failed[0]
    shutil.rmtree(workdir, ignore_errors=True)
    if all(status == NO_TESTS_COLLECTED for status in statuses.values()):
        return NO_TESTS_COLLECTED
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument(
        "--shards", type=int, default=int(os.environ.get("SENTRA_TEST_SHARDS", "2")),
        help="pytest processes run at once (default: SENTRA_TEST_SHARDS, else 2)",
    )
    parser.add_argument("--record", action="store_true", help="rewrite tests/durations.json from this run's times")
    args, pytest_args = parser.parse_known_args(argv)
    if args.shards < 1:
        parser.error("--shards must be 1 or more")
    return run(args.shards, pytest_args, args.record)


if __name__ == "__main__":
    sys.exit(main())
