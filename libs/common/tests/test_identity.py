"""Signed principals: what each key may assert, expiry, key files."""

from __future__ import annotations

import json
import time

import pytest
from sentra_common.errors import Unauthenticated
from sentra_common.identity import AssertionSigner, AssertionVerifier, generate_keys, key_path
from sentra_common.principal import Principal

ANA = Principal("ana", ("legal",), ("member",), "Ana", ("equipo-x",))
RETRIEVAL = Principal("service:retrieval", (), ("service",))


@pytest.fixture
def keys(tmp_path):
    trust = generate_keys(tmp_path / "keys", ["gateway", "service:retrieval"])
    verifier = AssertionVerifier.from_file(trust)
    gateway = AssertionSigner.from_file(key_path(tmp_path / "keys", "gateway"), "gateway")
    service = AssertionSigner.from_file(key_path(tmp_path / "keys", "service:retrieval"), "service:retrieval")
    return verifier, gateway, service, tmp_path / "keys"


def test_gateway_assertion_round_trips(keys):
    verifier, gateway, _, _ = keys
    assert verifier.verify(gateway.sign(ANA)) == ANA


def test_a_service_key_signs_only_its_own_principal(keys):
    verifier, _, service, _ = keys
    assert verifier.verify(service.sign(RETRIEVAL)) == RETRIEVAL
    with pytest.raises(ValueError):
        service.sign(ANA)


def test_the_gateway_may_not_assert_the_service_role(keys):
    verifier, gateway, _, _ = keys
    with pytest.raises(Unauthenticated, match="service role"):
        verifier.verify(gateway.sign(Principal("x", (), ("service",))))


def test_expired_assertions_are_refused(keys):
    verifier, gateway, _, _ = keys
    with pytest.raises(Unauthenticated, match="expired"):
        verifier.verify(gateway.sign(ANA, now=time.time() - 3600))


def test_private_keys_are_user_only_and_regeneration_keeps_them(keys):
    _, _, _, directory = keys
    path = key_path(directory, "gateway")
    assert path.stat().st_mode & 0o777 == 0o600
    before = path.read_bytes()
    trust = generate_keys(directory, ["gateway", "service:retrieval"])
    assert path.read_bytes() == before
    assert {k["issuer"] for k in json.loads(trust.read_text())["keys"]} == {"gateway", "service:retrieval"}
