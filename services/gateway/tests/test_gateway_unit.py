"""The gateway's rules on a real in-process gRPC server (development identity, SQLite
audit log, a stand-in ingestion service): permission table, rate limits with retry
information, audit entries, settings that refuse to run open."""

from __future__ import annotations

from typing import ClassVar

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.rpc import error_details_pb2, status_pb2
from prometheus_client import CollectorRegistry
from pydantic import ValidationError
from sentra.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from sentra.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc
from sentra_common.config import GrpcServerSettings
from sentra_common.db import create_engine, migrate
from sentra_common.grpc_client import no_credentials, open_channel
from sentra_common.grpc_server import GrpcServer, assertion_verifier
from sentra_common.identity import AssertionSigner, AssertionVerifier, TrustedKey
from sentra_common.logging import request_id_var
from sentra_common.metrics import ServiceMetrics
from sentra_common.principal import Principal, current_principal
from sentra_gateway import local
from sentra_gateway.app import MIGRATIONS
from sentra_gateway.audit import AuditLog, AuditQuery
from sentra_gateway.auth import Authenticator
from sentra_gateway.config import AuthSettings, GatewaySettings, RateLimitSettings
from sentra_gateway.core import Gateway
from sentra_gateway.grpc_api import PublicApi
from sentra_gateway.ratelimit import RateLimiter
from sentra_gateway.refusals import RefusalDigest
from sentra_gateway.routes import PERMISSIONS, build_routes, document_ids, public_services, request_department
from sentra_gateway.telemetry import GatewayUsage

KEY = Ed25519PrivateKey.generate()
SIGNER = AssertionSigner(KEY, "gateway")


class FakeIngestion(ingestion_pb2_grpc.IngestionServiceServicer):
    """Answers as the caller it received (signed by the gateway)."""

    request_ids: ClassVar[list[str]] = []

    async def GetDocument(self, request, context):
        FakeIngestion.request_ids.append(request_id_var.get())
        p = current_principal()
        return ingestion_pb2.GetDocumentResponse(document=ingestion_pb2.Document(
            document_id=request.document_id, title=p.subject, department=",".join(p.departments)))


@pytest.fixture
async def stack(tmp_path):
    metrics = ServiceMetrics("unit", registry=CollectorRegistry())
    trust = AssertionVerifier([TrustedKey(SIGNER.kid, "gateway", KEY.public_key())], audience="ingestion")
    backend = GrpcServer("ingestion", GrpcServerSettings(port=0, grace_seconds=0), metrics, assertion_verifier(trust))
    backend.add_service("sentra.ingestion.v1.IngestionService",
                        lambda s: ingestion_pb2_grpc.add_IngestionServiceServicer_to_server(FakeIngestion(), s))
    await backend.start()
    await backend.set_serving(True)

    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}")
    await migrate(engine, MIGRATIONS, "alembic_version_gateway")
    audit = AuditLog(engine)
    channel = open_channel(f"127.0.0.1:{backend.port}", audience="ingestion", credentials=no_credentials)
    gateway = Gateway(
        build_routes(), Authenticator(AuthSettings(mode="development")),
        RateLimiter(RateLimitSettings(requests_per_second=2, burst=3)), audit, SIGNER,
        {"ingestion": channel}, metrics, refusals=RefusalDigest(audit, window_seconds=0),
        usage=GatewayUsage(metrics.registry),
    )
    local.install(gateway, audit)
    front = GrpcServer("gateway", GrpcServerSettings(port=0, grace_seconds=0), metrics, None)
    front.add_generic_handler(PublicApi(gateway), public_services())
    await front.start()
    await front.set_serving(True)
    client = grpc.aio.insecure_channel(f"127.0.0.1:{front.port}")
    yield client, audit, metrics
    await client.close()
    await front.stop()
    await backend.stop()
    await channel.close()
    await engine.dispose()


def as_(identity: str):
    return (("x-sentra-dev-identity", identity),)


async def test_the_backend_receives_the_signed_principal(stack):
    client, _, _ = stack
    reply = await ingestion_pb2_grpc.IngestionServiceStub(client).GetDocument(
        ingestion_pb2.GetDocumentRequest(document_id="d1"), metadata=as_("ana:legal:member"))
    assert (reply.document.title, reply.document.department) == ("ana", "legal")


async def test_roles_outside_sentra_are_dropped_and_the_table_is_enforced(stack):
    client, _, _ = stack
    stub = ingestion_pb2_grpc.IngestionServiceStub(client)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.DeleteDocument(ingestion_pb2.DeleteDocumentRequest(document_id="d1"),
                                  metadata=as_("ana:legal:member,service"))
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "dept-admin" in info.value.details()


async def test_internal_only_rpcs_are_not_served(stack):
    client, _, _ = stack
    call = client.unary_unary("/sentra.retrieval.v1.RetrievalService/IndexChunks")
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call(b"", metadata=as_("root::platform-admin"))
    assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_rate_limit_answers_resource_exhausted_with_retry_info(stack):
    client, _, _ = stack
    stub = gateway_pb2_grpc.GatewayServiceStub(client)
    for _ in range(3):  # the burst
        await stub.WhoAmI(gateway_pb2.WhoAmIRequest(), metadata=as_("bea:legal"))
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.WhoAmI(gateway_pb2.WhoAmIRequest(), metadata=as_("bea:legal"))
    error = info.value
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "retry in" in error.details()
    trailers = dict(error.trailing_metadata())
    status = status_pb2.Status.FromString(trailers["grpc-status-details-bin"])
    retry = error_details_pb2.RetryInfo()
    assert status.details[0].Unpack(retry)
    assert 0 < retry.retry_delay.ToMilliseconds() <= 1000
    assert int(trailers["retry-after-ms"]) == retry.retry_delay.ToMilliseconds()
    # Another principal has its own bucket.
    await stub.WhoAmI(gateway_pb2.WhoAmIRequest(), metadata=as_("carlos:rrhh"))


async def test_every_call_is_audited_with_development_marker(stack):
    client, _, _ = stack
    stub = gateway_pb2_grpc.GatewayServiceStub(client)
    await ingestion_pb2_grpc.IngestionServiceStub(client).GetDocument(
        ingestion_pb2.GetDocumentRequest(document_id="doc-9"), metadata=as_("ana:legal:member"))
    with pytest.raises(grpc.aio.AioRpcError):
        await stub.QueryAuditLog(gateway_pb2.QueryAuditLogRequest(), metadata=as_("ana:legal:member"))
    with pytest.raises(grpc.aio.AioRpcError):
        await stub.WhoAmI(gateway_pb2.WhoAmIRequest())  # no identity at all
    reply = await stub.QueryAuditLog(gateway_pb2.QueryAuditLogRequest(), metadata=as_("root::platform-admin"))
    by_result = {(e.subject, e.method.rsplit("/", 1)[1], e.result) for e in reply.entries}
    assert {("ana", "GetDocument", "OK"), ("ana", "QueryAuditLog", "PERMISSION_DENIED"),
            ("", "WhoAmI", "UNAUTHENTICATED")} <= by_result
    get = next(e for e in reply.entries if e.method.endswith("GetDocument"))
    assert list(get.document_ids) == ["doc-9"] and get.detail.startswith("[development identity]")


async def test_a_call_keeps_its_request_id_from_the_caller_to_the_audit_log_and_the_backend(stack):
    client, _, _ = stack
    stub = ingestion_pb2_grpc.IngestionServiceStub(client)
    FakeIngestion.request_ids.clear()
    await stub.GetDocument(ingestion_pb2.GetDocumentRequest(document_id="doc-r"),
                           metadata=(*as_("ana:legal:member"), ("x-request-id", "req-42")))
    # A forged id (a line break to fake a log line) is replaced by a fresh one.
    await stub.GetDocument(ingestion_pb2.GetDocumentRequest(document_id="doc-f"),
                           metadata=(*as_("ana:legal:member"), ("x-request-id", "x" * 65)))
    reply = await gateway_pb2_grpc.GatewayServiceStub(client).QueryAuditLog(
        gateway_pb2.QueryAuditLogRequest(), metadata=as_("root::platform-admin"))
    ids = {e.document_ids[0]: e.request_id for e in reply.entries if e.method.endswith("GetDocument")}
    assert ids["doc-r"] == "req-42" and FakeIngestion.request_ids[0] == "req-42"
    assert ids["doc-f"] != "x" * 65 and FakeIngestion.request_ids[1] == ids["doc-f"]


async def test_gateway_calls_are_counted_once_by_the_shared_interceptor(stack):
    client, _, metrics = stack
    stub = gateway_pb2_grpc.GatewayServiceStub(client)
    await stub.WhoAmI(gateway_pb2.WhoAmIRequest(), metadata=as_("ana:legal:member"))
    with pytest.raises(grpc.aio.AioRpcError):
        await stub.WhoAmI(gateway_pb2.WhoAmIRequest())
    sample = metrics.registry.get_sample_value
    method = "/sentra.gateway.v1.GatewayService/WhoAmI"
    assert sample("sentra_unit_grpc_requests_total", {"method": method, "code": "OK"}) == 1
    assert sample("sentra_unit_grpc_requests_total", {"method": method, "code": "UNAUTHENTICATED"}) == 1


async def test_usage_is_counted_per_department_of_the_caller(stack):
    client, _, metrics = stack
    stub = ingestion_pb2_grpc.IngestionServiceStub(client)
    await stub.GetDocument(ingestion_pb2.GetDocumentRequest(document_id="d1"), metadata=as_("uma:legal:member"))
    with pytest.raises(grpc.aio.AioRpcError):
        await stub.ListDocuments(ingestion_pb2.ListDocumentsRequest(department="finanzas"),
                                 metadata=as_("uma:legal:member"))
    counted = {(s.labels["method"].rsplit("/", 1)[1], s.labels["department"]): s.value
               for family in metrics.registry.collect() if family.name == "sentra_gateway_requests"
               for s in family.samples if s.name.endswith("_total")}
    # The department a caller is not in is counted as `other`: its name never becomes a label.
    assert counted == {("GetDocument", "legal"): 1, ("ListDocuments", "other"): 1}


def test_keycloak_mode_is_the_default_and_needs_an_issuer(monkeypatch):
    monkeypatch.delenv("SENTRA_GATEWAY_AUTH__MODE", raising=False)
    with pytest.raises(ValidationError, match="issuer"):
        GatewaySettings()
    with pytest.raises(ValidationError, match="asymmetric"):
        GatewaySettings(auth=AuthSettings(issuer="http://kc/realms/sentra", algorithms=["HS256"]))


def test_permission_table_names_only_existing_rpcs_and_no_internal_ones():
    routes = build_routes()
    assert len(routes) == len(PERMISSIONS)
    internal = ("IndexChunks", "DeleteDocumentVectors", "GetIndexStats", "GetIndexingFacts")
    assert not [p for p in routes if p.rsplit("/", 1)[1] in internal]
    # The embedding model is public since /v1/embeddings (vectors of the caller's own text).
    assert sorted(p for p in routes if "Embedding" in p) == [
        "/sentra.embedding.v1.EmbeddingService/Embed", "/sentra.embedding.v1.EmbeddingService/GetModelInfo"]


def test_document_ids_and_department_are_found_in_nested_messages():
    from sentra.retrieval.v1 import retrieval_pb2

    reply = retrieval_pb2.SearchResponse(hits=[retrieval_pb2.SearchHit(document_id="a"),
                                               retrieval_pb2.SearchHit(document_id="b")])
    assert document_ids(reply) == ["a", "b"]
    upload = ingestion_pb2.UploadDocumentRequest(metadata=ingestion_pb2.UploadMetadata(department="rrhh"))
    assert request_department(upload) == "rrhh"


def test_rate_limiter_refills_over_time():
    now = [0.0]
    limiter = RateLimiter(RateLimitSettings(requests_per_second=10, burst=2), clock=lambda: now[0])
    assert limiter.acquire("k") == 0 and limiter.acquire("k") == 0
    assert limiter.acquire("k") == pytest.approx(0.1)
    now[0] += 0.1
    assert limiter.acquire("k") == 0


async def test_refusals_of_unidentified_callers_are_counted_not_written_one_by_one(tmp_path):
    """Attack: an anonymous flood of refused calls must not become one audit entry each."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'digest.db'}")
    await migrate(engine, MIGRATIONS, "alembic_version_gateway")
    audit = AuditLog(engine)
    digest = RefusalDigest(audit, window_seconds=3600, max_keys=3)
    for i in range(500):
        await digest.count(source="gateway", peer="10.0.0.9", method="/x/WhoAmI", code="UNAUTHENTICATED",
                           reason="no bearer token")
        await digest.count(source="gateway", peer=f"10.0.1.{i % 250}", method="/x/WhoAmI",
                           code="UNAUTHENTICATED", reason=f"token expired at {i}")
    assert await digest.flush() == 4  # 3 keys, then everything else under "(other reasons)"
    for i in range(50):  # the same wording with other numbers is one reason
        await digest.count(source="gateway", peer="10.0.0.7", method="/x/WhoAmI", code="RESOURCE_EXHAUSTED",
                           reason=f"rate limit reached; retry in 0.{i:02d} s")
    assert await digest.flush() == 1
    records, _ = await audit.query(Principal("root", roles=("platform-admin",)), AuditQuery())
    details = sorted(r.detail for r in records)
    assert any("no bearer token [500 calls refused" in d for d in details)
    assert any(d.startswith("(other reasons) [") for d in details)
    await engine.dispose()
