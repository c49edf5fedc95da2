"""Fixtures shared by every test directory: real servers, started once per session; and the
order the suite runs in, so that no more than one whole platform stays up at a time.

A session fixture that starts a platform (its services, nats-server, Keycloak, a
kube-apiserver…) lives, by pytest's rules, until the session ends: run in file order, the
suite would end with six platforms up at once, and a 2-core machine with 24 GiB spends its
time reclaiming memory. So the modules that share such a fixture run one after the other
(in their file order, the group where its first module stood), and the fixture is torn
down after the last test that uses it.

`--shard K/N` runs one of N parts of the suite, balanced by each module's recorded time
(`tests/durations.json`); `scripts/run_tests.py` (what `make test` runs) runs the N parts
at once. Modules that share a platform or a cache stay in one part, so nothing is started
twice.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from tests.support.servers import nats_server, postgres_server

# Session fixtures that each start a whole platform (or Keycloak, a kube-apiserver, a Prometheus).
SHARED_FIXTURES = ("realm", "corpus_platform", "observed", "sqlite_platform", "postgres_platform", "kube_api")
# Modules that ask for a shared fixture by name (`request.getfixturevalue`), which pytest cannot see.
REQUESTED_BY_NAME = {"tests/integration/test_pipeline.py": ("sqlite_platform", "postgres_platform")}
# Modules that share something no fixture shows: the adapters `tests/support/adapters.py`
# trains once per session and copies.
SHARED_CACHES = {
    "trained test adapters": (
        "tests/integration/test_adapters.py", "tests/integration/test_encryption_at_rest.py",
        "tests/integration/test_llamacpp_backend.py",
    ),
}
# Each module's time in a full run, for balancing the shards (scripts/run_tests.py --record).
DURATIONS = Path(__file__).parent / "tests" / "durations.json"
UNKNOWN_MODULE_SECONDS = 5.0
# shared fixture → the last test item that uses it (set at collection)
_LAST_USER = pytest.StashKey[dict]()


def _path(item: pytest.Item) -> str:
    return item.nodeid.split("::")[0]


def _shared_by_module(items: list[pytest.Item]) -> dict[str, set[str]]:
    used: dict[str, set[str]] = defaultdict(set)
    for item in items:
        path = _path(item)
        used[path].update(f for f in item.fixturenames if f in SHARED_FIXTURES)
        used[path].update(REQUESTED_BY_NAME.get(path, ()))
    return used


def pytest_addoption(parser):
    parser.addoption(
        "--shard", metavar="K/N", default=None,
        help="run only the K-th of N parts of the suite, balanced by tests/durations.json "
        "(modules that share a platform stay in one part)",
    )


def _parse_shard(value: str) -> tuple[int, int]:
    try:
        k, n = (int(part) for part in value.split("/"))
    except ValueError:
        raise pytest.UsageError(f"--shard takes K/N, two whole numbers such as 1/2; got {value!r}") from None
    if not 1 <= k <= n:
        raise pytest.UsageError(f"--shard {value}: K must be between 1 and N")
    return k, n


def _module_groups(used: dict[str, set[str]]) -> list[list[str]]:
    """Modules joined when they share a session fixture or a cache (union–find)."""
    parent = {path: path for path in used}

    def root(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    first_with: dict[str, str] = {}
    links = [(path, name) for path, names in used.items() for name in names]
    links += [(path, cache) for cache, paths in SHARED_CACHES.items() for path in paths if path in used]
    for path, name in links:
        if name in first_with:
            parent[root(path)] = root(first_with[name])
        else:
            first_with[name] = path
    groups: dict[str, list[str]] = defaultdict(list)
    for path in used:
        groups[root(path)].append(path)
    return list(groups.values())


def shard_modules(used: dict[str, set[str]], durations: dict[str, float], n: int) -> list[set[str]]:
    """The modules of each of n shards: groups placed longest first on the least loaded shard."""
    def seconds(group: list[str]) -> float:
        return sum(durations.get(path, UNKNOWN_MODULE_SECONDS) for path in group)

    shards: list[set[str]] = [set() for _ in range(n)]
    load = [0.0] * n
    for group in sorted(_module_groups(used), key=lambda g: (-seconds(g), sorted(g))):
        i = load.index(min(load))
        shards[i].update(group)
        load[i] += seconds(group)
    return shards


def pytest_collection_modifyitems(session, config, items):
    """Each module after the others that share its first shared fixture (modules keep their
    own order and stay whole, so module fixtures still start once); with --shard, only the
    modules of that part."""
    used = _shared_by_module(items)
    if config.getoption("shard"):
        k, n = _parse_shard(config.getoption("shard"))
        durations = json.loads(DURATIONS.read_text()) if DURATIONS.exists() else {}
        mine = shard_modules(used, durations, n)[k - 1]
        config.hook.pytest_deselected(items=[item for item in items if _path(item) not in mine])
        items[:] = [item for item in items if _path(item) in mine]
        used = {path: names for path, names in used.items() if path in mine}
    # a module's group: the first shared fixture it uses, else the module alone
    group = {path: min(shared, key=SHARED_FIXTURES.index) if shared else path for path, shared in used.items()}
    group_rank: dict[str, int] = {}
    for item in items:
        group_rank.setdefault(group[_path(item)], len(group_rank))
    position = {id(item): i for i, item in enumerate(items)}
    items.sort(key=lambda item: (group_rank[group[_path(item)]], position[id(item)]))
    last_user: dict[str, pytest.Item] = {}
    for item in items:
        for name in used[_path(item)]:
            last_user[name] = item
    session.config.stash[_LAST_USER] = last_user


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None):
    """After the last test that uses a shared session fixture, tear it down (a later test
    that asked for it anyway would simply start it again)."""
    result = yield
    last_user = item.config.stash.get(_LAST_USER, {})
    for name, last in last_user.items():
        if last is item and nextitem is not None:
            for fixturedef in item.session._fixturemanager.getfixturedefs(name, item) or ():
                fixturedef.finish(item._request)
    return result


@pytest.fixture(scope="session")
def nats_url():
    with nats_server() as url:
        yield url


@pytest.fixture(scope="session")
def postgres_url():
    with postgres_server() as url:
        yield url
