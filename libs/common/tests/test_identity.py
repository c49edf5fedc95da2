"""Signed principals: what each key may assert, for which service, for how long, how often."""

from __future__ import annotations

import json
import time

import jwt
import pytest
from sentra_common.errors import PermissionDenied, Unauthenticated
from sentra_common.identity import (
    ASSERTION_METADATA_KEY,
    ONWARD_METADATA_KEY,
    AssertionSigner,
    AssertionVerifier,
    ReplayGuard,
    forwarded_credentials,
    generate_keys,
    key_path,
    onward_tokens,
    reset_onward,
    set_onward,
)
from sentra_common.principal import Principal

ANA = Principal("ana", ("legal",), ("member",), "Ana", ("equipo-x",))
RETRIEVAL = Principal("service:retrieval", (), ("service",))
EMBED = "/sentra.embedding.v1.EmbeddingService/Embed"


@pytest.fixture
def keys(tmp_path):
    trust = generate_keys(tmp_path / "keys", ["gateway", "service:retrieval"])
    verifiers = {name: AssertionVerifier.from_file(trust, audience=name)
                 for name in ("ingestion", "retrieval", "embedding", "inference")}
    gateway = AssertionSigner.from_file(key_path(tmp_path / "keys", "gateway"), "gateway")
    service = AssertionSigner.from_file(key_path(tmp_path / "keys", "service:retrieval"), "service:retrieval")
    return verifiers, gateway, service, tmp_path / "keys"


def test_gateway_assertion_round_trips(keys):
    verifiers, gateway, _, _ = keys
    assert verifiers["retrieval"].verify(gateway.sign(ANA, "retrieval")) == ANA


def test_an_assertion_for_one_service_is_refused_by_another(keys):
    """Attack: an assertion sent to retrieval (or to embedding) replayed to ingestion."""
    verifiers, gateway, service, _ = keys
    with pytest.raises(Unauthenticated, match="another service"):
        verifiers["ingestion"].verify(gateway.sign(ANA, "retrieval"))
    with pytest.raises(Unauthenticated, match="another service"):
        verifiers["ingestion"].verify(service.sign(RETRIEVAL, "embedding"), EMBED)


def test_an_assertion_is_good_for_one_call(keys):
    """Attack: the same assertion sent twice to the service it was for."""
    verifiers, gateway, _, _ = keys
    token = gateway.sign(ANA, "retrieval")
    verifiers["retrieval"].verify(token)
    with pytest.raises(Unauthenticated, match="already used"):
        verifiers["retrieval"].verify(token)


def test_assertions_live_at_most_sixty_seconds(keys, tmp_path):
    """Attack: a long-lived assertion signed with a valid key (a longer TTL asked for is
    capped when signing; one made by hand is refused)."""
    verifiers, gateway, _, directory = keys
    assert AssertionSigner.from_file(key_path(directory, "gateway"), "gateway", ttl_seconds=3600).ttl_seconds == 60
    now = int(time.time())
    from cryptography.hazmat.primitives import serialization

    private = serialization.load_pem_private_key(key_path(directory, "gateway").read_bytes(), password=None)
    claims = {"iss": "gateway", "aud": "retrieval", "sub": "ana", "iat": now, "exp": now + 300, "jti": "x",
              "departments": ["legal"], "roles": ["member"]}
    token = jwt.encode(claims, private, algorithm="EdDSA", headers={"kid": gateway.kid})
    with pytest.raises(Unauthenticated, match="longer than"):
        verifiers["retrieval"].verify(token)
    del claims["jti"]
    claims["exp"] = now + 30
    token = jwt.encode(claims, private, algorithm="EdDSA", headers={"kid": gateway.kid})
    with pytest.raises(Unauthenticated, match="jti"):
        verifiers["retrieval"].verify(token)


def test_a_service_key_signs_only_its_own_principal_for_its_own_calls(keys):
    verifiers, _, service, _ = keys
    assert verifiers["embedding"].verify(service.sign(RETRIEVAL, "embedding"), EMBED) == RETRIEVAL
    with pytest.raises(ValueError):
        service.sign(ANA, "embedding")
    # Attack: retrieval's key used to call ingestion (listing every department's documents).
    with pytest.raises(PermissionDenied, match="may not call"):
        verifiers["ingestion"].verify(service.sign(RETRIEVAL, "ingestion"),
                                      "/sentra.ingestion.v1.IngestionService/ListDocuments")


def test_the_account_id_travels_and_only_the_gateway_asserts_one(keys):
    verifiers, gateway, service, _ = keys
    ana = Principal("ana", ("legal",), ("member",), user_id="0f8c1c3e-1111-4a55-9e2b-5b1d2a3c4d01")
    assert verifiers["retrieval"].verify(gateway.sign(ana, "retrieval")).access_tokens()[0] == f"user:{ana.user_id}"
    # Attack: retrieval's key asserting its own principal with a user's account id.
    borrowed = Principal("service:retrieval", (), ("service",), user_id=ana.user_id)
    with pytest.raises(Unauthenticated, match="its own service principal"):
        verifiers["embedding"].verify(service.sign(borrowed, "embedding"), EMBED)


def test_a_service_principal_sees_no_department():
    assert not RETRIEVAL.may_access_department("legal")
    from sentra_common.access import can_read, readable_departments

    assert not can_read(RETRIEVAL, "legal", [])
    assert readable_departments(RETRIEVAL) == []


def test_the_gateway_may_not_assert_the_service_role(keys):
    verifiers, gateway, _, _ = keys
    with pytest.raises(Unauthenticated, match="service role"):
        verifiers["retrieval"].verify(gateway.sign(Principal("x", (), ("service",)), "retrieval"))


def test_expired_assertions_are_refused(keys):
    verifiers, gateway, _, _ = keys
    with pytest.raises(Unauthenticated, match="expired"):
        verifiers["retrieval"].verify(gateway.sign(ANA, "retrieval", now=time.time() - 3600))


def test_onward_assertions_go_only_to_the_service_they_name(keys):
    """The gateway signs, with a call to inference, one assertion for retrieval; inference
    forwards it and cannot use it anywhere else."""
    verifiers, gateway, _, _ = keys
    metadata = dict(gateway.credentials(ANA, "inference"))
    assert verifiers["inference"].verify(metadata[ASSERTION_METADATA_KEY]) == ANA
    onward = onward_tokens([metadata[ONWARD_METADATA_KEY]])
    assert set(onward) == {"retrieval"}
    token = set_onward(onward)
    try:
        assert forwarded_credentials("ingestion") == ()
        ((_, forwarded),) = forwarded_credentials("retrieval")
    finally:
        reset_onward(token)
    with pytest.raises(Unauthenticated, match="another service"):
        verifiers["ingestion"].verify(forwarded)
    assert verifiers["retrieval"].verify(forwarded) == ANA
    # No onward assertions for a service that calls nobody as the caller.
    assert [k for k, _ in gateway.credentials(ANA, "ingestion")] == [ASSERTION_METADATA_KEY]


def test_the_replay_guard_forgets_expired_assertions_and_has_a_limit():
    guard = ReplayGuard(max_entries=1500)
    now = time.time()
    for i in range(1500):
        guard.admit(f"old-{i}", now - 120, now=now)
    guard.admit("fresh", now + 60, now=now)  # the sweep dropped the expired ones
    assert "old-0" not in guard._seen
    full = ReplayGuard(max_entries=1000)
    for i in range(1000):
        full.admit(f"live-{i}", now + 60, now=now)
    from sentra_common.errors import Unavailable

    with pytest.raises(Unavailable):
        full.admit("one-more", now + 60, now=now)


def test_private_keys_are_user_only_and_regeneration_keeps_them(keys):
    _, _, _, directory = keys
    path = key_path(directory, "gateway")
    assert path.stat().st_mode & 0o777 == 0o600
    before = path.read_bytes()
    trust = generate_keys(directory, ["gateway", "service:retrieval"])
    assert path.read_bytes() == before
    assert {k["issuer"] for k in json.loads(trust.read_text())["keys"]} == {"gateway", "service:retrieval"}
