"""The web console as the gateway serves it (`sentra_gateway.console`): the app and its
files under a strict Content-Security-Policy, the app for every screen path, nothing
outside the build, its login settings in /console/config.json; the `sentra-console`
client of the realm file; and `/api/v1/documents/{id}/text`, the document text a citation
opens, through the gateway's one path to a stand-in RetrievalService."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from sentra.retrieval.v1 import retrieval_pb2, retrieval_pb2_grpc
from sentra_cli import keycloak
from sentra_common.config import GrpcServerSettings
from sentra_common.db import create_engine, migrate
from sentra_common.grpc_client import no_credentials, open_channel
from sentra_common.grpc_server import GrpcServer, assertion_verifier
from sentra_common.identity import AssertionSigner, AssertionVerifier, TrustedKey
from sentra_common.metrics import ServiceMetrics
from sentra_common.principal import Principal, current_principal
from sentra_gateway import console, local
from sentra_gateway.app import MIGRATIONS
from sentra_gateway.audit import AuditLog, AuditQuery
from sentra_gateway.auth import Authenticator
from sentra_gateway.config import AuthSettings, ConsoleSettings, RateLimitSettings
from sentra_gateway.core import Gateway
from sentra_gateway.http_api import create_http_app
from sentra_gateway.ratelimit import RateLimiter
from sentra_gateway.routes import EVERYONE, build_routes

KEYCLOAK = AuthSettings(mode="keycloak", issuer="https://id.cierzo.example:8443/realms/sentra")
DEVELOPMENT = AuthSettings(mode="development")


@pytest.fixture
def built(tmp_path) -> Path:
    """A console build as `npm run build` leaves it, and a file beside it that must never be served."""
    root = tmp_path / "console_static"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text('<!doctype html><script type="module" src="/console/assets/app-1.js"></script>')
    (root / "assets" / "app-1.js").write_text("console.log('sentra')")
    (root / "favicon.svg").write_text("<svg/>")
    (root / ".sentra-source").write_text("hash")
    (tmp_path / "secret.txt").write_text("not for the browser")
    return root


def client(static_dir: Path, auth: AuthSettings = KEYCLOAK) -> httpx.AsyncClient:
    app = FastAPI()
    console.mount(app, ConsoleSettings(static_dir=static_dir), auth, build_routes())
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8080")


def policy(response: httpx.Response) -> dict[str, str]:
    directives = (d.strip().split(" ", 1) for d in response.headers["content-security-policy"].split(";"))
    return {d[0]: d[1] if len(d) > 1 else "" for d in directives}


async def test_the_app_is_served_under_a_strict_policy(built):
    async with client(built) as http:
        page = await http.get("/console/")
    assert page.status_code == 200 and "app-1.js" in page.text
    csp = policy(page)
    assert csp["default-src"] == "'none'"
    assert (csp["script-src"], csp["style-src"]) == ("'self'", "'self'")  # no inline code, no CDN
    assert csp["connect-src"] == "'self' https://id.cierzo.example:8443"  # the API and the realm's token endpoint
    assert (csp["frame-ancestors"], csp["base-uri"], csp["object-src"]) == ("'none'", "'none'", "'none'")
    assert "unsafe" not in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-cache"


async def test_every_screen_path_is_the_app_and_files_are_files(built):
    async with client(built) as http:
        screens = [await http.get(p) for p in ("/console/documents", "/console/ask", "/console/callback")]
        script = await http.get("/console/assets/app-1.js")
        icon = await http.get("/console/favicon.svg")
        missing = await http.get("/console/assets/app-2.js")
        bare = await http.get("/console", follow_redirects=False)
        home = await http.get("/", follow_redirects=False)
        head = await http.head("/console/documents")
    assert all(s.status_code == 200 and "app-1.js" in s.text for s in screens)
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert script.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "content-security-policy" in script.headers
    assert icon.headers["content-type"].startswith("image/svg+xml")
    assert missing.status_code == 404  # a missing file is never answered with the app
    assert (bare.status_code, bare.headers["location"]) == (308, "/console/")
    assert (home.status_code, home.headers["location"]) == (307, "/console/")
    assert head.status_code == 200 and "content-security-policy" in head.headers


async def test_nothing_outside_the_build_nor_its_hidden_files_is_served(built):
    async with client(built) as http:
        tries = [
            await http.get("/console/.sentra-source"),
            await http.get("/console/%2e%2e/secret.txt"),
            await http.get("/console/..%2fsecret.txt"),
            await http.get("/console/assets/%2e%2e/%2e%2e/secret.txt"),
        ]
    for response in tries:
        assert "not for the browser" not in response.text and "hash" != response.text
        assert response.status_code in (200, 404)  # the app itself, or nothing


async def test_config_says_how_to_log_in_and_which_roles_may_do_what(built):
    async with client(built) as http:
        reply = await http.get("/console/config.json")
    assert reply.headers["cache-control"] == "no-store"
    config = reply.json()
    oidc = "https://id.cierzo.example:8443/realms/sentra/protocol/openid-connect"
    assert config["identity_mode"] == "keycloak" and config["client_id"] == "sentra-console"
    assert (config["authorization_endpoint"], config["token_endpoint"], config["end_session_endpoint"]) == (
        f"{oidc}/auth", f"{oidc}/token", f"{oidc}/logout")
    permissions = config["permissions"]
    assert permissions["IngestionService.DeleteDocument"] == ["dept-admin", "platform-admin"]
    assert permissions["GatewayService.QueryAuditLog"] == ["dept-admin", "platform-admin"]
    assert permissions["GatewayService.WhoAmI"] == []
    assert set(permissions["RetrievalService.ListChunks"]) == EVERYONE
    assert len(permissions) == len(build_routes())


async def test_development_identity_is_said_and_nothing_else_is_reached(built):
    async with client(built, DEVELOPMENT) as http:
        config = (await http.get("/console/config.json")).json()
        page = await http.get("/console/")
    assert config["identity_mode"] == "development"
    assert (config["issuer"], config["token_endpoint"]) == ("", "")
    assert policy(page)["connect-src"] == "'self'"


async def test_an_unbuilt_console_says_how_to_build_it(tmp_path):
    async with client(tmp_path / "nothing-here") as http:
        reply = await http.get("/console/documents")
    assert reply.status_code == 503 and "make setup" in reply.text


async def test_a_disabled_console_is_not_served(built):
    app = FastAPI()
    console.mount(app, ConsoleSettings(enabled=False, static_dir=built), KEYCLOAK, build_routes())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sentra") as http:
        assert (await http.get("/console/")).status_code == 404


# The realm's console client --------------------------------------------------------------


def test_the_realm_has_a_public_pkce_client_for_the_console():
    realm = json.loads(keycloak.REALM_FILE.read_text())
    client_ = next(c for c in realm["clients"] if c["clientId"] == "sentra-console")
    assert client_["publicClient"] is True
    assert (client_["standardFlowEnabled"], client_["implicitFlowEnabled"], client_["directAccessGrantsEnabled"],
            client_["serviceAccountsEnabled"]) == (True, False, False, False)
    assert client_["attributes"]["pkce.code.challenge.method"] == "S256"
    assert client_["redirectUris"] and all(u.endswith("/console/*") for u in client_["redirectUris"])
    assert "*" not in client_["webOrigins"] and "+" not in client_["webOrigins"]
    mappers = {m["protocolMapper"]: m["config"] for m in client_["protocolMappers"]}
    assert mappers["oidc-audience-mapper"]["included.client.audience"] == "sentra-gateway"
    assert mappers["oidc-group-membership-mapper"]["full.path"] == "true"


def test_sentra_up_points_the_console_client_at_its_gateway():
    origins = ["http://127.0.0.1:41234", "http://localhost:41234"]
    client_ = keycloak.console_client(origins)
    assert client_["redirectUris"] == ["http://127.0.0.1:41234/console/*", "http://localhost:41234/console/*"]
    assert client_["webOrigins"] == origins
    assert client_["attributes"]["post.logout.redirect.uris"] == (
        "http://127.0.0.1:41234/console/*##http://localhost:41234/console/*")
    assert client_["attributes"]["pkce.code.challenge.method"] == "S256"


# /api/v1/documents/{id}/text ------------------------------------------------------------

KEY = Ed25519PrivateKey.generate()
SIGNER = AssertionSigner(KEY, "gateway")


class FakeRetrieval(retrieval_pb2_grpc.RetrievalServiceServicer):
    """ListChunks in two pages; nothing for a document it does not know (or the caller may not read)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, retrieval_pb2.ListChunksRequest]] = []

    async def ListChunks(self, request, context):
        self.requests.append((current_principal().subject, request))
        if list(request.document_ids) != ["doc-1"]:
            yield retrieval_pb2.ListChunksResponse()
            return
        hit = retrieval_pb2.SearchHit
        yield retrieval_pb2.ListChunksResponse(chunks=[
            hit(document_id="doc-1", chunk_id="c0", chunk_index=0, text="Vacaciones.", page=1, heading="Permisos"),
        ], next_page_token="p2")
        yield retrieval_pb2.ListChunksResponse(chunks=[
            hit(document_id="doc-1", chunk_id="c1", chunk_index=1, text="Son 23 días laborables.", page=2),
        ])


@pytest.fixture
async def text_api(tmp_path):
    metrics = ServiceMetrics("unit", registry=CollectorRegistry())
    trust = AssertionVerifier([TrustedKey(SIGNER.kid, "gateway", KEY.public_key())], audience="retrieval")
    fake = FakeRetrieval()
    backend = GrpcServer("retrieval", GrpcServerSettings(port=0, grace_seconds=0), metrics, assertion_verifier(trust))
    backend.add_service("sentra.retrieval.v1.RetrievalService",
                        lambda s: retrieval_pb2_grpc.add_RetrievalServiceServicer_to_server(fake, s))
    await backend.start()
    await backend.set_serving(True)
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}")
    await migrate(engine, MIGRATIONS, "alembic_version_gateway")
    audit = AuditLog(engine)
    channel = open_channel(f"127.0.0.1:{backend.port}", audience="retrieval", credentials=no_credentials)
    gateway = Gateway(
        build_routes(), Authenticator(DEVELOPMENT), RateLimiter(RateLimitSettings(requests_per_second=100, burst=100)),
        audit, SIGNER, {"retrieval": channel}, metrics,
    )
    local.install(gateway, audit)
    app = create_http_app(gateway)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sentra",
                                     headers={"x-sentra-dev-identity": "dani:legal:member"}) as http:
            yield http, fake, audit
    finally:
        await channel.close()
        await backend.stop()
        await engine.dispose()
        await gateway.authenticator.close()


async def test_document_text_is_every_chunk_in_order_as_the_caller_and_audited(text_api):
    http, fake, audit = text_api
    reply = await http.get("/api/v1/documents/doc-1/text")
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"document_id": "doc-1", "chunks": [
        {"chunk_id": "c0", "chunk_index": 0, "text": "Vacaciones.", "page": 1, "heading": "Permisos"},
        {"chunk_id": "c1", "chunk_index": 1, "text": "Son 23 días laborables.", "page": 2, "heading": ""},
    ]}
    who, request = fake.requests[-1]
    assert (who, list(request.document_ids), list(request.departments)) == ("dani", ["doc-1"], [])
    records, _ = await audit.query(Principal("root", roles=("platform-admin",)), AuditQuery(subject="dani"))
    assert records[0].method.endswith("/ListChunks") and records[0].result == "OK"
    assert "doc-1" in records[0].document_ids


async def test_document_text_of_nothing_readable_is_not_found(text_api):
    http, _, _ = text_api
    reply = await http.get("/api/v1/documents/doc-of-another-department/text")
    assert reply.status_code == 404
    assert "no indexed text you may read" in reply.json()["error"]["message"]
