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


@pytest.fixture(scope="session")
async def realm(tmp_path_factory):
    """The platform behind its gateway with a real Keycloak (installed here if setup has not),
    the realm imported from deploy/keycloak/, departments and users created through the
    admin API, and the example corpus of three departments uploaded through the gateway."""
    from sentra_cli import keycloak

    from tests.support.identity import Realm, add_forging_key, seed, upload_corpus

    keycloak.install()
    platform = Platform(
        tmp_path_factory.mktemp("keycloak-platform"), identity="keycloak",
        extra_env={
            **TEST_ENV,
            # Re-check sessions on every call and pick up rotated keys within a second.
            "SENTRA_GATEWAY_AUTH__SESSION_CHECK_SECONDS": "0",
            "SENTRA_GATEWAY_AUTH__JWKS_MIN_REFRESH_SECONDS": "1",
            "SENTRA_GATEWAY_RATE_LIMIT__REQUESTS_PER_SECOND": "1000",
            "SENTRA_GATEWAY_RATE_LIMIT__BURST": "2000",
        },
    )
    try:
        platform.up(timeout=300)
        admin, secret = seed(platform)
        key, kid = add_forging_key(admin, "sentra")
        state = platform.load_state()
        documents = await upload_corpus(state.target("gateway"), state.identity.issuer)
        yield Realm(platform, admin, state.identity.issuer, secret, key, kid, documents)
    finally:
        platform.down()


@pytest.fixture(scope="session")
async def corpus_platform(tmp_path_factory):
    """A platform (development identity) with the whole example corpus indexed, for answers."""
    from tests.support.platform import Api

    platform = start_platform(tmp_path_factory, "corpus-platform")
    try:
        api = Api(platform)
        ids = await api.upload_corpus()
        await api.wait_settled(ids.values())
        await api.close()
        platform.corpus_ids = ids
        yield platform
    finally:
        platform.down()
