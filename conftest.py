"""Fixtures shared by every test directory: real servers, started once per session; and the
order the suite runs in, so that no more than one whole platform stays up at a time.

A session fixture that starts a platform (its services, nats-server, Keycloak, a
kube-apiserver…) lives, by pytest's rules, until the session ends: run in file order, the
suite would end with six platforms up at once, and a 2-core machine with 24 GiB spends its
time reclaiming memory. So the modules that share such a fixture run one after the other
(in their file order, the group where its first module stood), and the fixture is torn
down after the last test that uses it.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from tests.support.servers import nats_server, postgres_server

# Session fixtures that each start a whole platform (or Keycloak, a kube-apiserver, a Prometheus).
SHARED_FIXTURES = ("realm", "corpus_platform", "observed", "sqlite_platform", "postgres_platform", "kube_api")
# Modules that ask for a shared fixture by name (`request.getfixturevalue`), which pytest cannot see.
REQUESTED_BY_NAME = {"tests/integration/test_pipeline.py": ("sqlite_platform", "postgres_platform")}
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


def pytest_collection_modifyitems(session, config, items):
    """Each module after the others that share its first shared fixture (modules keep their
    own order and stay whole, so module fixtures still start once)."""
    used = _shared_by_module(items)
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
