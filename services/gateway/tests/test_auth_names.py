"""The names a token gives a caller in access lists, attacked through the gateway with an
in-process realm (JWKS and userinfo answering as Keycloak 26 does):

- a group that is not a department never yields a department's `group:<name>`;
- a user is `user:<account id>` (the token's `sub`), so a deleted account's username
  given to a new account does not open the old account's documents;
- a token requested without the `openid` scope is refused for what it is, not as a
  disabled account."""

from __future__ import annotations

import time
import uuid
from typing import ClassVar

import grpc
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from prometheus_client import CollectorRegistry
from sentra.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from sentra.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc
from sentra_common.access import can_read, validate_access_list
from sentra_common.config import GrpcServerSettings
from sentra_common.db import create_engine, migrate
from sentra_common.errors import Unauthenticated
from sentra_common.grpc_client import no_credentials, open_channel
from sentra_common.grpc_server import GrpcServer, assertion_verifier
from sentra_common.identity import AssertionSigner, AssertionVerifier, TrustedKey
from sentra_common.metrics import ServiceMetrics
from sentra_common.principal import current_principal
from sentra_gateway import local
from sentra_gateway.app import MIGRATIONS
from sentra_gateway.audit import AuditLog
from sentra_gateway.auth import Authenticator, Credentials
from sentra_gateway.config import AuthSettings, RateLimitSettings
from sentra_gateway.core import Gateway
from sentra_gateway.grpc_api import PublicApi
from sentra_gateway.ratelimit import RateLimiter
from sentra_gateway.refusals import RefusalDigest
from sentra_gateway.routes import build_routes, public_services

ISSUER = "http://keycloak.test/realms/sentra"
REALM_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
SIGNING_KEY = Ed25519PrivateKey.generate()
SIGNER = AssertionSigner(SIGNING_KEY, "gateway")


def realm_http() -> httpx.AsyncClient:
    """The realm's JWKS and userinfo. userinfo refuses a token without the openid scope the
    way Keycloak does: 403 with `insufficient_scope` in WWW-Authenticate and no body."""
    jwk = {**jwt.algorithms.RSAAlgorithm.to_jwk(REALM_KEY.public_key(), as_dict=True), "kid": "k1", "use": "sig",
           "alg": "RS256"}

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/certs"):
            return httpx.Response(200, json={"keys": [jwk]})
        token = request.headers["authorization"].removeprefix("Bearer ")
        claims = jwt.decode(token, options={"verify_signature": False})
        if "openid" not in claims.get("scope", "").split():
            return httpx.Response(403, headers={"WWW-Authenticate": (
                'Bearer realm="sentra", error="insufficient_scope", error_description="Missing openid scope"')})
        return httpx.Response(200, json={"sub": claims["sub"]})

    return httpx.AsyncClient(transport=httpx.MockTransport(answer))


def token(username: str, *, sub: str | None = None, groups: list[str], roles: tuple[str, ...] = ("dept-admin",),
          scope: str = "openid profile email") -> str:
    now = int(time.time())
    return jwt.encode({
        "iss": ISSUER, "aud": "sentra-gateway", "sub": sub or str(uuid.uuid4()), "preferred_username": username,
        "iat": now, "exp": now + 300, "typ": "Bearer", "sid": str(uuid.uuid4()), "scope": scope,
        "groups": groups, "realm_access": {"roles": list(roles)},
    }, REALM_KEY, algorithm="RS256", headers={"kid": "k1"})


def authenticator() -> Authenticator:
    return Authenticator(AuthSettings(mode="keycloak", issuer=ISSUER, session_check_seconds=0), http=realm_http())


async def authenticate(auth: Authenticator, bearer: str):
    return await auth.authenticate(Credentials(authorization=f"Bearer {bearer}"))


class DocumentStore(ingestion_pb2_grpc.IngestionServiceServicer):
    """Ingestion's rule on documents (sentra_common.access), nothing else: stores what an
    upload's first message says and serves a document only to whom `can_read` admits."""

    documents: ClassVar[dict[str, ingestion_pb2.Document]] = {}

    async def UploadDocument(self, request_iterator, context):
        first = await anext(aiter(request_iterator))
        async for _ in request_iterator:
            pass
        meta = first.metadata
        doc = ingestion_pb2.Document(document_id=uuid.uuid4().hex, department=meta.department,
                                     access_list=validate_access_list(meta.access_list), filename=meta.filename)
        DocumentStore.documents[doc.document_id] = doc
        return ingestion_pb2.UploadDocumentResponse(document=doc)

    async def GetDocument(self, request, context):
        doc = DocumentStore.documents.get(request.document_id)
        if doc is None or not can_read(current_principal(), doc.department, list(doc.access_list)):
            await context.abort(grpc.StatusCode.NOT_FOUND, f"document {request.document_id} not found")
        return ingestion_pb2.GetDocumentResponse(document=doc)


@pytest.fixture
async def gateway(tmp_path):
    metrics = ServiceMetrics("unit", registry=CollectorRegistry())
    trust = AssertionVerifier([TrustedKey(SIGNER.kid, "gateway", SIGNING_KEY.public_key())], audience="ingestion")
    backend = GrpcServer("ingestion", GrpcServerSettings(port=0, grace_seconds=0), metrics, assertion_verifier(trust))
    backend.add_service("sentra.ingestion.v1.IngestionService",
                        lambda s: ingestion_pb2_grpc.add_IngestionServiceServicer_to_server(DocumentStore(), s))
    await backend.start()
    await backend.set_serving(True)
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}")
    await migrate(engine, MIGRATIONS, "alembic_version_gateway")
    audit = AuditLog(engine)
    channel = open_channel(f"127.0.0.1:{backend.port}", audience="ingestion", credentials=no_credentials)
    gw = Gateway(build_routes(), authenticator(), RateLimiter(RateLimitSettings(requests_per_second=1000, burst=1000)),
                 audit, SIGNER, {"ingestion": channel}, metrics, refusals=RefusalDigest(audit, window_seconds=0))
    local.install(gw, audit)
    front = GrpcServer("gateway", GrpcServerSettings(port=0, grace_seconds=0), metrics, None)
    front.add_generic_handler(PublicApi(gw), public_services())
    await front.start()
    await front.set_serving(True)
    client = grpc.aio.insecure_channel(f"127.0.0.1:{front.port}")
    yield Caller(client)
    await client.close()
    await front.stop()
    await backend.stop()
    await channel.close()
    await gw.authenticator.close()
    await engine.dispose()


class Caller:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.ingestion = ingestion_pb2_grpc.IngestionServiceStub(channel)
        self.gateway = gateway_pb2_grpc.GatewayServiceStub(channel)

    async def upload(self, bearer: str, department: str, access_list: list[str]) -> ingestion_pb2.Document:
        def messages():
            yield ingestion_pb2.UploadDocumentRequest(metadata=ingestion_pb2.UploadMetadata(
                filename="nda.txt", department=department, access_list=access_list))
            yield ingestion_pb2.UploadDocumentRequest(data=b"confidential")

        reply = await self.ingestion.UploadDocument(messages(), metadata=_auth(bearer))
        return reply.document

    async def reads(self, bearer: str, document_id: str) -> bool:
        try:
            await self.ingestion.GetDocument(ingestion_pb2.GetDocumentRequest(document_id=document_id),
                                             metadata=_auth(bearer))
        except grpc.aio.AioRpcError as exc:
            assert exc.code() == grpc.StatusCode.NOT_FOUND, exc.details()
            return False
        return True


def _auth(bearer: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {bearer}"),)


# (a) Groups that are not departments ------------------------------------------------------


async def test_a_group_named_like_a_department_does_not_open_that_departments_documents(gateway):
    """Attack: ventas restricts a document to the legal department (`group:legal`). Someone
    in ventas who is also in a top-level group called `legal` (or any group a group admin
    names so) must not read it; a member of the department legal does."""
    carla = token("carla", groups=["/departments/ventas"])
    doc = await gateway.upload(carla, "ventas", ["group:legal"])
    impostor = token("ivan", groups=["/departments/ventas", "/legal"], roles=("member",))
    lookalikes = token("olga", groups=["/departments/ventas", "/teams/legal", "/departments~/legal",
                                       "/departments/legal/contracts", "/departments/Legal"], roles=("member",))
    member = token("lola", groups=["/departments/ventas", "/departments/legal"], roles=("member",))
    assert not await gateway.reads(impostor, doc.document_id)
    assert not await gateway.reads(lookalikes, doc.document_id)
    assert await gateway.reads(member, doc.document_id)


async def test_other_groups_are_named_by_their_full_path():
    auth = authenticator()
    principal = await authenticate(auth, token(
        "olga", groups=["/departments/ventas", "/legal", "/teams/contracts", "/departments~/legal",
                        "/departments/legal/contracts"]))
    await auth.close()
    assert principal.departments == ("ventas",)
    assert principal.groups == ("/departments/legal/contracts", "/departments~/legal", "/legal", "/teams/contracts")
    assert "group:legal" not in principal.access_tokens()
    assert {"group:ventas", "group:/legal", "group:/teams/contracts"} <= set(principal.access_tokens())


async def test_a_group_path_without_its_slash_is_refused_with_the_way_to_write_it(gateway):
    carla = token("carla", groups=["/departments/ventas", "/teams/contracts"])
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await gateway.upload(carla, "ventas", ["group:teams/contracts"])
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "group:/teams/contracts" in info.value.details()
    doc = await gateway.upload(carla, "ventas", ["group:/teams/contracts"])
    assert list(doc.access_list) == ["group:/teams/contracts"]
    assert await gateway.reads(token("tere", groups=["/departments/ventas", "/teams/contracts"]), doc.document_id)


# (b) Users by account id ------------------------------------------------------------------


async def test_a_recreated_account_with_the_same_username_does_not_read_the_old_accounts_documents(gateway):
    """Attack: ana restricts a document to herself; her account is deleted and a new one is
    created with the username ana (same department, same role). The new ana must not read
    it; the old ana's token still does."""
    old_ana = token("ana", sub="0f8c1c3e-1111-4a55-9e2b-5b1d2a3c4d01", groups=["/departments/legal"])
    new_ana = token("ana", sub="7d2e9a40-2222-4b66-8f3c-6c2e3b4d5e02", groups=["/departments/legal"])
    doc = await gateway.upload(old_ana, "legal", ["user:ana"])
    assert not await gateway.reads(new_ana, doc.document_id)
    assert await gateway.reads(old_ana, doc.document_id)
    assert list(doc.access_list) == ["user:0f8c1c3e-1111-4a55-9e2b-5b1d2a3c4d01"]  # stored by account id


async def test_another_user_is_named_by_account_id_and_a_username_is_refused_with_where_to_find_it(gateway):
    ana = token("ana", groups=["/departments/legal"])
    dani_id = "3b4c5d6e-3333-4c77-9d4e-7d3f4c5e6f03"
    dani = token("dani", sub=dani_id, groups=["/departments/legal"], roles=("member",))
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await gateway.upload(ana, "legal", ["user:dani"])
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "user:<id>" in info.value.details() and "sentra whoami" in info.value.details()
    doc = await gateway.upload(ana, "legal", [f"user:{dani_id}"])
    assert await gateway.reads(dani, doc.document_id)
    assert not await gateway.reads(token("dani", groups=["/departments/legal"], roles=("member",)), doc.document_id)
    me = (await gateway.gateway.WhoAmI(gateway_pb2.WhoAmIRequest(), metadata=_auth(dani))).principal
    assert (me.subject, me.user_id) == ("dani", dani_id)


# (c) Tokens without the openid scope -----------------------------------------------------


async def test_a_token_without_the_openid_scope_is_refused_for_that_reason():
    auth = authenticator()
    bearer = token("dani", groups=["/departments/legal"], scope="profile email")
    with pytest.raises(Unauthenticated) as info:
        await authenticate(auth, bearer)
    await auth.close()
    assert "without the openid scope" in info.value.message and "scope=openid" in info.value.message
    assert "disabled" not in info.value.message
