"""The gRPC bootstrap on a real in-process server (port 0): errors → status codes,
principal required and forwarded, deadlines, trace context, health and reflection."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry
from sentra.embedding.v1 import embedding_pb2, embedding_pb2_grpc
from sentra_common.config import GrpcServerSettings
from sentra_common.errors import NotFound, from_rpc_error
from sentra_common.grpc_client import no_credentials, open_channel
from sentra_common.grpc_server import GrpcServer, assertion_verifier
from sentra_common.identity import AssertionSigner, AssertionVerifier, TrustedKey
from sentra_common.metrics import ServiceMetrics
from sentra_common.principal import Principal, current_principal

EXPORTER = InMemorySpanExporter()
_provider = TracerProvider()
_provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
trace.set_tracer_provider(_provider)


class Probe(embedding_pb2_grpc.EmbeddingServiceServicer):
    """Behaves according to the first text it is asked to embed."""

    async def Embed(self, request, context):
        command = request.texts[0]
        if command == "missing":
            raise NotFound("document 42 not found; list yours with `sentra documents`")
        if command == "crash":
            raise RuntimeError("secret internal detail")
        if command == "slow":
            await asyncio.sleep(5)
        if command == "trace":
            span = trace.get_current_span().get_span_context()
            return embedding_pb2.EmbedResponse(model=format(span.trace_id, "032x"))
        return embedding_pb2.EmbedResponse(model=current_principal().subject)


GATEWAY_KEY = Ed25519PrivateKey.generate()
SIGNER = AssertionSigner(GATEWAY_KEY, "gateway")
TRUST = AssertionVerifier([TrustedKey(SIGNER.kid, "gateway", GATEWAY_KEY.public_key())], audience="embedding")


@pytest.fixture
async def server():
    metrics = ServiceMetrics("probe", registry=CollectorRegistry())
    srv = GrpcServer("probe", GrpcServerSettings(port=0, grace_seconds=0), metrics, assertion_verifier(TRUST))
    srv.add_service(
        "sentra.embedding.v1.EmbeddingService",
        lambda s: embedding_pb2_grpc.add_EmbeddingServiceServicer_to_server(Probe(), s),
    )
    await srv.start()
    await srv.set_serving(True)
    yield srv
    await srv.stop()


ANA = Principal(subject="ana", departments=("legal",), roles=("member",))


async def call(server, text, principal=ANA, deadline=10.0):
    credentials = SIGNER.provider(principal) if principal is not None else no_credentials
    async with open_channel(f"127.0.0.1:{server.port}", audience="embedding", credentials=credentials,
                            deadline_seconds=deadline) as ch:
        return await embedding_pb2_grpc.EmbeddingServiceStub(ch).Embed(embedding_pb2.EmbedRequest(texts=[text]))


async def test_principal_reaches_the_handler(server):
    assert (await call(server, "who")).model == "ana"


async def test_every_call_kind_gets_the_outbound_interceptor(server):
    """grpc.aio files an interceptor under one call kind only; streamed uploads must carry
    the principal too (the upload integration tests exercise it end to end)."""
    from sentra_common.grpc_client import _StreamStream, _StreamUnary, _UnaryStream, _UnaryUnary

    channel = open_channel(f"127.0.0.1:{server.port}", audience="embedding", credentials=SIGNER.provider(ANA))
    filed = {
        "unary_unary": channel._unary_unary_interceptors, "unary_stream": channel._unary_stream_interceptors,
        "stream_unary": channel._stream_unary_interceptors, "stream_stream": channel._stream_stream_interceptors,
    }
    assert {kind: [type(i) for i in found] for kind, found in filed.items()} == {
        "unary_unary": [_UnaryUnary], "unary_stream": [_UnaryStream],
        "stream_unary": [_StreamUnary], "stream_stream": [_StreamStream],
    }
    await channel.close()


async def test_call_without_principal_is_unauthenticated(server):
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call(server, "who", principal=None)
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "gateway" in info.value.details()


@pytest.mark.parametrize("forge", ["garbage", "unknown key", "tampered", "plain principal"])
async def test_forged_principal_is_unauthenticated(server, forge):
    other = AssertionSigner(Ed25519PrivateKey.generate(), "gateway")
    token = {
        "garbage": "not-a-jws",
        "unknown key": other.sign(ANA, "embedding"),
        "tampered": _tamper(SIGNER.sign(ANA, "embedding")),
    }.get(forge)
    plain = [("x-sentra-principal-bin", ANA.to_proto().SerializeToString())]
    metadata = [("x-sentra-assertion", token)] if token else plain
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as ch:
        stub = embedding_pb2_grpc.EmbeddingServiceStub(ch)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.Embed(embedding_pb2.EmbedRequest(texts=["who"]), metadata=metadata, timeout=5)
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED


def _tamper(token: str) -> str:
    import base64
    import json

    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["departments"] = ["rrhh", "legal"]
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


async def test_domain_error_maps_to_its_status_and_message(server):
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call(server, "missing")
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert "sentra documents" in info.value.details()


async def test_unexpected_error_is_internal_without_details(server):
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call(server, "crash")
    assert info.value.code() == grpc.StatusCode.INTERNAL
    assert "secret" not in info.value.details()
    assert "request id" in info.value.details()


async def test_every_outbound_call_has_a_deadline(server):
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call(server, "slow", deadline=0.3)
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


async def test_trace_context_crosses_the_call(server):
    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("client") as span:
        reply = await call(server, "trace")
    assert reply.model == format(span.get_span_context().trace_id, "032x")


async def test_health_and_reflection_need_no_principal(server):
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as ch:
        health = await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=""))
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        stub = reflection_pb2_grpc.ServerReflectionStub(ch)
        responses = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
        async for response in responses:
            names = {s.name for s in response.list_services_response.service}
            assert "sentra.embedding.v1.EmbeddingService" in names
            break


async def test_not_serving_after_stop_begins(server):
    await server.set_serving(False)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as ch:
        health = await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=""))
    assert health.status == health_pb2.HealthCheckResponse.NOT_SERVING


def _failed(code: grpc.StatusCode, details: str) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details=details)


def test_a_refusal_from_a_called_service_keeps_its_code_and_message():
    error = from_rpc_error(_failed(grpc.StatusCode.PERMISSION_DENIED, "you are not a member of legal"), "retrieval")
    assert (error.code, error.message) == (grpc.StatusCode.PERMISSION_DENIED, "you are not a member of legal")
    # A service that says why it is unavailable is heard too.
    error = from_rpc_error(_failed(grpc.StatusCode.UNAVAILABLE, "the reader is still loading"), "inference")
    assert error.message == "the reader is still loading"


def test_a_call_that_got_no_answer_does_not_show_transport_details():
    refused = _failed(grpc.StatusCode.UNAVAILABLE,
                      "failed to connect to all addresses; last error: ipv4:10.1.2.3:50053: Connection refused")
    error = from_rpc_error(refused, "embedding")
    assert error.code == grpc.StatusCode.UNAVAILABLE
    assert error.message == "the embedding service did not answer (UNAVAILABLE); try again shortly"
    slow = from_rpc_error(_failed(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded"), "retrieval")
    assert "10.1.2.3" not in slow.message and "retrieval service did not answer" in slow.message


async def test_each_outbound_call_is_a_client_span_between_caller_and_server(server):
    EXPORTER.clear()
    with trace.get_tracer("test").start_as_current_span("caller") as caller:
        await call(server, "who")
    method = "/sentra.embedding.v1.EmbeddingService/Embed"
    for _ in range(100):  # the client span ends once grpc reports the call's status
        spans = {s.kind: s for s in EXPORTER.get_finished_spans() if s.name == method}
        if trace.SpanKind.CLIENT in spans:
            break
        await asyncio.sleep(0.02)
    client, served = spans[trace.SpanKind.CLIENT], spans[trace.SpanKind.SERVER]
    assert client.parent.span_id == caller.get_span_context().span_id
    assert served.parent.span_id == client.context.span_id
    assert served.context.trace_id == client.context.trace_id == caller.get_span_context().trace_id
    assert client.attributes["rpc.method"] == "Embed" and client.attributes["rpc.grpc.status_code"] == 0
    assert served.attributes["rpc.service"] == "sentra.embedding.v1.EmbeddingService"


async def test_a_refused_call_marks_its_client_span_as_an_error(server):
    EXPORTER.clear()
    with pytest.raises(grpc.aio.AioRpcError):
        await call(server, "missing")
    for _ in range(100):
        clients = [s for s in EXPORTER.get_finished_spans() if s.kind == trace.SpanKind.CLIENT]
        if clients:
            break
        await asyncio.sleep(0.02)
    assert clients[0].status.status_code == trace.StatusCode.ERROR
    assert clients[0].attributes["rpc.grpc.status_code"] == grpc.StatusCode.NOT_FOUND.value[0]
