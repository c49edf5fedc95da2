"""Attacks on the doors between Sentra's processes, performed against a running platform:
assertions replayed to another service or twice, long-lived assertions, a service's own
key used for department data, signing keys where no signing is needed, development
identity by accident."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from sentra.embedding.v1 import embedding_pb2, embedding_pb2_grpc
from sentra.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc
from sentra.retrieval.v1 import retrieval_pb2, retrieval_pb2_grpc
from sentra_cli.platform import Platform, PlatformError
from sentra_common.identity import (
    ASSERTION_METADATA_KEY,
    ONWARD_METADATA_KEY,
    AssertionSigner,
    key_path,
)
from sentra_common.principal import Principal

pytestmark = pytest.mark.integration

ADMIN = Principal("root", ("legal",), ("platform-admin",))


def _stub(platform: Platform, service: str, stub_class):
    channel = grpc.aio.insecure_channel(platform.load_state().target(service))
    return channel, stub_class(channel)


async def _refused(awaitable) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await awaitable
    return info.value


async def test_an_assertion_for_retrieval_is_refused_by_ingestion(sqlite_platform):
    token = sqlite_platform.gateway_signer().sign(ADMIN, "retrieval")
    channel, ingestion = _stub(sqlite_platform, "ingestion", ingestion_pb2_grpc.IngestionServiceStub)
    async with channel:
        error = await _refused(ingestion.ListDocuments(
            ingestion_pb2.ListDocumentsRequest(), metadata=((ASSERTION_METADATA_KEY, token),), timeout=10))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "another service" in error.details()


async def test_an_assertion_replayed_to_its_own_service_is_refused(sqlite_platform):
    token = sqlite_platform.gateway_signer().sign(ADMIN, "ingestion")
    channel, ingestion = _stub(sqlite_platform, "ingestion", ingestion_pb2_grpc.IngestionServiceStub)
    metadata = ((ASSERTION_METADATA_KEY, token),)
    async with channel:
        await ingestion.ListDocuments(ingestion_pb2.ListDocumentsRequest(), metadata=metadata, timeout=10)
        error = await _refused(ingestion.ListDocuments(ingestion_pb2.ListDocumentsRequest(), metadata=metadata,
                                                       timeout=10))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED and "already used" in error.details()


async def test_the_onward_assertion_given_to_inference_only_opens_retrieval(sqlite_platform):
    """What inference receives for retrieval, replayed by a compromised inference to ingestion."""
    credentials = dict(sqlite_platform.gateway_signer().credentials(ADMIN, "inference"))
    onward = credentials[ONWARD_METADATA_KEY]
    channel, ingestion = _stub(sqlite_platform, "ingestion", ingestion_pb2_grpc.IngestionServiceStub)
    async with channel:
        error = await _refused(ingestion.ListDocuments(
            ingestion_pb2.ListDocumentsRequest(), metadata=((ASSERTION_METADATA_KEY, onward),), timeout=10))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_a_long_lived_assertion_is_refused(sqlite_platform):
    """Signed with the real gateway key, but for five minutes (the old lifetime)."""
    directory = sqlite_platform.keys_dir
    private = serialization.load_pem_private_key(key_path(directory, "gateway").read_bytes(), password=None)
    now = int(time.time())
    claims = {"iss": "gateway", "aud": "ingestion", "sub": "root", "iat": now, "exp": now + 300, "jti": "long",
              "departments": ["legal"], "roles": ["platform-admin"]}
    kid = sqlite_platform.gateway_signer().kid
    token = jwt.encode(claims, private, algorithm="EdDSA", headers={"kid": kid})
    channel, ingestion = _stub(sqlite_platform, "ingestion", ingestion_pb2_grpc.IngestionServiceStub)
    async with channel:
        error = await _refused(ingestion.ListDocuments(
            ingestion_pb2.ListDocumentsRequest(), metadata=((ASSERTION_METADATA_KEY, token),), timeout=10))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED and "longer than" in error.details()


async def test_retrieval_key_opens_only_the_embedding_calls_it_makes(sqlite_platform):
    """Retrieval's own key (the one key besides the gateway's) used to read department data."""
    directory = sqlite_platform.keys_dir
    signer = AssertionSigner.from_file(key_path(directory, "service:retrieval"), "service:retrieval")
    me = Principal("service:retrieval", (), ("service",))
    channel, ingestion = _stub(sqlite_platform, "ingestion", ingestion_pb2_grpc.IngestionServiceStub)
    async with channel:
        error = await _refused(ingestion.ListDocuments(
            ingestion_pb2.ListDocumentsRequest(), metadata=signer.credentials(me, "ingestion"), timeout=10))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    channel, retrieval = _stub(sqlite_platform, "retrieval", retrieval_pb2_grpc.RetrievalServiceStub)
    async with channel:
        error = await _refused(retrieval.Search(
            retrieval_pb2.SearchRequest(query="vacaciones", top_k=3), metadata=signer.credentials(me, "retrieval"),
            timeout=10))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    channel, embedding = _stub(sqlite_platform, "embedding", embedding_pb2_grpc.EmbeddingServiceStub)
    async with channel:
        reply = await embedding.Embed(embedding_pb2.EmbedRequest(texts=["hola"], is_query=True),
                                      metadata=signer.credentials(me, "embedding"), timeout=30)
    assert reply.dimension > 0


def test_only_the_gateway_retrieval_and_training_hold_signing_keys(sqlite_platform):
    keys = sorted(p.name for p in sqlite_platform.keys_dir.glob("*.key"))
    assert keys == ["gateway.key", "service-retrieval.key", "service-training.key"]
    state = sqlite_platform.load_state()
    for name in ("ingestion", "embedding", "inference"):
        if name not in state.services:
            continue
        environ = open(f"/proc/{state.services[name].pid}/environ", "rb").read().split(b"\0")
        assert not [v for v in environ if b"SIGNING_KEY" in v], name


def test_development_identity_is_never_a_fallback(tmp_path, monkeypatch):
    from sentra_cli import keycloak

    monkeypatch.setattr(keycloak, "installed", lambda: False)
    platform = Platform(tmp_path / "p")
    with pytest.raises(PlatformError, match=r"Keycloak is not installed.*--dev"):
        platform.up(timeout=30)
    platform.down()
    with pytest.raises(PlatformError, match="not known"):
        Platform(tmp_path / "q", identity="auto")


@pytest.mark.parametrize("variable", ["SENTRA_GATEWAY_GRPC__HOST", "SENTRA_GATEWAY_HTTP__HOST"])
def test_development_identity_refuses_a_non_loopback_listener(variable, tmp_path):
    env = {"SENTRA_GATEWAY_AUTH__MODE": "development", variable: "0.0.0.0", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "sentra_gateway"], env=env, capture_output=True, text=True,
                            timeout=60, cwd=tmp_path)
    assert result.returncode == 2
    assert "only runs on loopback" in result.stderr


async def test_development_identity_is_said_in_every_response(sqlite_platform):
    import httpx

    state = sqlite_platform.load_state()
    async with grpc.aio.insecure_channel(state.target("gateway")) as channel:
        call = ingestion_pb2_grpc.IngestionServiceStub(channel).ListDocuments(
            ingestion_pb2.ListDocumentsRequest(), metadata=(("x-sentra-dev-identity", "ana:legal:member"),))
        await call
        assert ("x-sentra-identity-mode", "development") in tuple(await call.initial_metadata())
        refused = ingestion_pb2_grpc.IngestionServiceStub(channel).ListDocuments(ingestion_pb2.ListDocumentsRequest())
        with pytest.raises(grpc.aio.AioRpcError):
            await refused
        assert ("x-sentra-identity-mode", "development") in tuple(await refused.initial_metadata())
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{state.http_port}") as http:
        for response in (await http.get("/api/v1/whoami", headers={"x-sentra-dev-identity": "ana:legal"}),
                         await http.get("/api/v1/whoami"), await http.get("/healthz")):
            assert response.headers["x-sentra-identity-mode"] == "development"


def test_sentra_status_shows_development_identity(sqlite_platform):
    state = sqlite_platform.load_state()
    status = subprocess.run([sys.executable, "-m", "sentra_cli.main", "status", "--home", state.data_dir],
                            capture_output=True, text=True, timeout=60)
    assert "DEVELOPMENT MODE" in status.stdout


# Bodies of callers nobody has identified are never read ---------------------------------

def _length(raw: bytes) -> int:
    for line in raw.partition(b"\r\n\r\n")[0].split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


async def _raw_http(port: int, head: str, body: bytes = b"", wait: float = 10.0) -> tuple[int, str]:
    """Send a request head (and maybe part of a body), then read the reply without sending
    the rest: a server that waits for the whole body before authenticating never answers."""
    import asyncio

    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head.encode() + body)
        await writer.drain()
        raw = b""
        while b"\r\n\r\n" not in raw or len(raw.partition(b"\r\n\r\n")[2]) < _length(raw):
            piece = await asyncio.wait_for(reader.read(65536), timeout=wait)  # head and body may come apart
            if not piece:
                break
            raw += piece
    finally:
        writer.close()
    status_line, _, rest = raw.decode(errors="replace").partition("\r\n")
    return int(status_line.split()[1]), rest


@pytest.mark.parametrize("path,content_type", [
    ("/api/v1/documents", "multipart/form-data; boundary=x"),
    ("/api/v1/search", "application/json"),
    ("/v1/chat/completions", "application/json"),
])
async def test_an_anonymous_64_mib_body_is_refused_before_it_is_read(sqlite_platform, path, content_type):
    port = sqlite_platform.load_state().http_port
    head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {64 * 1024 * 1024}\r\n\r\n")
    status, rest = await _raw_http(port, head, b"{" * 1024)
    assert status == 401, rest


async def test_a_member_body_over_the_limit_is_refused_while_it_streams(sqlite_platform):
    port = sqlite_platform.load_state().http_port
    who = "x-sentra-dev-identity: ana:legal:member\r\n"
    declared = (f"POST /api/v1/search HTTP/1.1\r\nHost: x\r\n{who}Content-Type: application/json\r\n"
                f"Content-Length: {64 * 1024 * 1024}\r\n\r\n")
    status, rest = await _raw_http(port, declared)
    assert status == 413 and "MAX_BODY_BYTES" in rest
    # No length declared: the body is cut once it passes the limit (4 MiB by default).
    chunk = b'{"query": "' + b"a" * (5 * 1024 * 1024)
    chunked = (f"POST /api/v1/search HTTP/1.1\r\nHost: x\r\n{who}Content-Type: application/json\r\n"
               "Transfer-Encoding: chunked\r\n\r\n")
    status, rest = await _raw_http(port, chunked, f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
    assert status == 413


async def test_an_anonymous_flood_is_counted_in_the_audit_log_not_written_per_call(sqlite_platform):
    import asyncio

    import httpx

    state = sqlite_platform.load_state()
    admin = {"x-sentra-dev-identity": "root::platform-admin"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{state.http_port}") as http:
        statuses = [(await http.get("/api/v1/whoami", headers={"x-flood": str(i)})).status_code for i in range(60)]
        assert set(statuses) <= {401, 429} and 429 in statuses  # the per-peer limit (burst 40) kicks in
        entries: list = []
        for _ in range(40):
            await asyncio.sleep(0.25)
            reply = (await http.get("/api/v1/audit", params={"method": "WhoAmI", "page_size": 1000},
                                    headers=admin)).json()
            entries = [e for e in reply.get("entries", []) if not e.get("subject")]
            counted = sum(int(e["detail"].split("[")[-1].split()[0])
                          for e in entries if "refused in this" in e["detail"])
            if counted >= 60:
                break
    assert counted >= 60
    assert len(entries) <= 8, [e["detail"] for e in entries]


async def test_mutual_tls_between_the_services(tmp_path_factory):
    """`sentra up --mtls`: the services and the bus speak TLS with client certificates; a
    plaintext caller or one without a certificate of the platform's CA gets nothing."""
    import nats as nats_client

    from tests.support.platform import TEST_ENV, Api

    platform = Platform(tmp_path_factory.mktemp("mtls"), identity="development", mtls=True, extra_env=TEST_ENV)
    try:
        platform.up(timeout=300)
        state = platform.load_state()
        api = Api(platform)  # TLS with the gateway's certificate, as the gateway calls
        reply = await api.ingestion.ListDocuments(ingestion_pb2.ListDocumentsRequest())
        assert list(reply.documents) == []
        await api.close()
        channel, ingestion = _stub(platform, "ingestion", ingestion_pb2_grpc.IngestionServiceStub)
        async with channel:
            error = await _refused(ingestion.ListDocuments(
                ingestion_pb2.ListDocumentsRequest(),
                metadata=platform.gateway_signer().credentials(ADMIN, "ingestion"), timeout=5))
        assert error.code() == grpc.StatusCode.UNAVAILABLE  # no TLS handshake, no call
        creds = (platform.bus_credentials_dir / "ingestion.json").read_text()
        user = __import__("json").loads(creds)
        with pytest.raises(Exception):  # noqa: B017 - plaintext to a TLS-only bus
            await nats_client.connect(state.nats_url, user=user["user"], password=user["password"],
                                      allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=3)
        # The whole path through the gateway works over TLS.
        async with grpc.aio.insecure_channel(state.target("gateway")) as gw:
            who = await ingestion_pb2_grpc.IngestionServiceStub(gw).ListDocuments(
                ingestion_pb2.ListDocumentsRequest(), metadata=(("x-sentra-dev-identity", "ana:legal:member"),))
        assert list(who.documents) == []
    finally:
        platform.down()


async def test_an_anonymous_grpc_upload_is_refused_before_its_data_is_read(sqlite_platform):
    """64 MiB streamed anonymously: refused at the first message, the rest never pulled;
    one message over the gateway's 16 MiB limit is refused by gRPC itself."""
    state = sqlite_platform.load_state()
    sent = 0

    async def messages():
        nonlocal sent
        yield ingestion_pb2.UploadDocumentRequest(metadata=ingestion_pb2.UploadMetadata(
            filename="grande.txt", department="legal"))
        # Let the refusal arrive before writing on: a write racing the end of the call is
        # reported by the gRPC client itself as INTERNAL ("Internal error from Core").
        await asyncio.sleep(1.0)
        for _ in range(64):
            sent += 1
            yield ingestion_pb2.UploadDocumentRequest(data=b"x" * (1024 * 1024))

    async with grpc.aio.insecure_channel(state.target("gateway"),
                                         options=[("grpc.max_send_message_length", 64 * 1024 * 1024)]) as channel:
        stub = ingestion_pb2_grpc.IngestionServiceStub(channel)
        error = await _refused(stub.UploadDocument(messages(), timeout=30))
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED and sent < 64

        async def one_huge():
            yield ingestion_pb2.UploadDocumentRequest(data=b"x" * (17 * 1024 * 1024))

        error = await _refused(stub.UploadDocument(one_huge(), timeout=30))
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED  # anonymous: refused before it is read
        error = await _refused(stub.UploadDocument(
            one_huge(), timeout=30, metadata=(("x-sentra-dev-identity", "ana:legal:dept-admin"),)))
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


async def test_the_training_services_own_key_reads_department_wide_chunks_and_nothing_else(sqlite_platform):
    """The one department-data read a service principal may make (its schedules): ListChunks,
    one named department, only chunks with an empty access list. Anything else is refused."""
    channel = sqlite_platform.service_channel("training", "retrieval", 30)
    stub = retrieval_pb2_grpc.RetrievalServiceStub(channel)
    try:
        allowed = [page async for page in stub.ListChunks(retrieval_pb2.ListChunksRequest(
            document_ids=["any"], departments=["legal"], department_wide_only=True))]
        assert [list(p.chunks) for p in allowed] == [[]]
        for request in (retrieval_pb2.ListChunksRequest(document_ids=["any"], departments=["legal"]),
                        retrieval_pb2.ListChunksRequest(document_ids=["any"], department_wide_only=True),
                        retrieval_pb2.ListChunksRequest(document_ids=["any"], departments=["legal", "rrhh"],
                                                        department_wide_only=True)):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                [page async for page in stub.ListChunks(request)]
            assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
        with pytest.raises(grpc.aio.AioRpcError) as refused:  # not a call listed for it
            await stub.Search(retrieval_pb2.SearchRequest(query="nóminas", departments=["legal"]))
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    finally:
        await channel.close()
