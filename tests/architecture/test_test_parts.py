"""How `make test` splits the suite into parts run at once (the root conftest.py's
`--shard K/N` and scripts/run_tests.py): every module in exactly one part, modules that
share a platform or a cache in the same part, parts balanced by recorded time, and a
failing part fails the run."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


conftest = load("sentra_root_conftest", ROOT / "conftest.py")
runner = load("sentra_run_tests", ROOT / "scripts" / "run_tests.py")


def test_modules_sharing_a_fixture_or_a_cache_are_one_group_even_through_a_third():
    used = {"a.py": {"realm"}, "b.py": {"realm", "kube_api"}, "c.py": {"kube_api"}, "d.py": set(),
            "tests/integration/test_adapters.py": set(), "tests/integration/test_llamacpp_backend.py": set()}
    groups = sorted(sorted(g) for g in conftest._module_groups(used))
    assert groups == [["a.py", "b.py", "c.py"], ["d.py"],
                      ["tests/integration/test_adapters.py", "tests/integration/test_llamacpp_backend.py"]]


def test_every_module_is_in_exactly_one_part_and_the_parts_are_balanced():
    used = {f"m{i}.py": set() for i in range(8)} | {"p1.py": {"realm"}, "p2.py": {"realm"}}
    durations = {"m0.py": 100, "m1.py": 90, "m2.py": 50, "m3.py": 40, "p1.py": 60, "p2.py": 20}
    parts = conftest.shard_modules(used, durations, 2)
    assert set().union(*parts) == set(used) and sum(len(p) for p in parts) == len(used)
    assert any({"p1.py", "p2.py"} <= part for part in parts)
    loads = [sum(durations.get(m, conftest.UNKNOWN_MODULE_SECONDS) for m in part) for part in parts]
    assert abs(loads[0] - loads[1]) <= 20, loads  # 100+50+20+… against 90+80+…


def test_a_bad_shard_option_is_a_usage_error_that_says_the_form():
    import pytest

    for bad in ("2", "a/b", "3/2", "0/2"):
        with pytest.raises(pytest.UsageError, match="K"):
            conftest._parse_shard(bad)
    assert conftest._parse_shard("2/3") == (2, 3)


def test_junit_classnames_become_module_paths():
    here = "tests/architecture/test_test_parts.py"
    assert runner.module_of("tests.architecture.test_test_parts") == here
    assert runner.module_of("tests.architecture.test_test_parts.TestSomething") == here
    assert runner.module_of("no.such.module") is None


def test_the_runner_runs_two_parts_and_a_failing_part_fails_the_run():
    """Two real pytest processes over two small modules: both parts run; a failing test in
    either makes the run's status non-zero and its output is printed. (The planted test lies
    in a hidden folder outside the test paths, so a whole-suite run going on beside this one
    never collects it.)"""
    planted = Path(tempfile.mkdtemp(prefix=".planted-", dir=ROOT))
    failing = planted / "test_planted.py"
    failing.write_text("def test_planted():\n    assert False, 'planted failure'\n")
    try:
        chosen = ["tests/architecture/test_import_contracts.py", str(failing.relative_to(ROOT))]
        result = subprocess.run([sys.executable, str(ROOT / "scripts" / "run_tests.py"), "--shards", "2", "-q",
                                 "-p", "no:cacheprovider", *chosen], cwd=ROOT, capture_output=True, text=True,
                                timeout=600)
    finally:
        shutil.rmtree(planted)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "part 1/2" in result.stdout and "part 2/2" in result.stdout
    assert "planted failure" in result.stdout
    assert "passed" in result.stdout
