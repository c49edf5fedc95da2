"""Fixtures shared by every test directory: real servers, started once per session."""

from __future__ import annotations

import pytest

from tests.support.servers import nats_server, postgres_server


@pytest.fixture(scope="session")
def nats_url():
    with nats_server() as url:
        yield url


@pytest.fixture(scope="session")
def postgres_url():
    with postgres_server() as url:
        yield url
