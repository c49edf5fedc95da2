"""A real Sentra platform for integration tests: nats-server and every service as
separate processes, on SQLite or on a real PostgreSQL."""

from __future__ import annotations

import pytest
from sentra_cli.platform import Platform

from tests.support.platform import TEST_ENV


def start_platform(tmp_path_factory, name: str, database_url: str | None = None, extra_env=None) -> Platform:
    platform = Platform(
        tmp_path_factory.mktemp(name), database_url=database_url, extra_env={**TEST_ENV, **(extra_env or {})},
        identity="development",
    )
    try:
        platform.up(timeout=300)
    except Exception:
        platform.down()
        raise
    return platform


@pytest.fixture(scope="session")
def sqlite_platform(tmp_path_factory):
    platform = start_platform(tmp_path_factory, "sqlite-platform")
    yield platform
    platform.down()


@pytest.fixture(scope="session")
def postgres_platform(tmp_path_factory, postgres_url):
    platform = start_platform(tmp_path_factory, "pg-platform", database_url=postgres_url)
    yield platform
    platform.down()
