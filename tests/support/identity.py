"""A Sentra platform behind its gateway with a real Keycloak, seeded through the admin API
the way an operator would (`sentra admin`), and helpers to obtain and forge tokens."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from pathlib import Path

import grpc
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sentra.gateway.v1 import gateway_pb2_grpc
from sentra.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc
from sentra.retrieval.v1 import retrieval_pb2_grpc
from sentra_cli.admin import RealmAdmin
from sentra_cli.platform import Platform
from sentra_cli.session import client_credentials, password_login

from tests.support.platform import CORPUS

PASSWORD = "Sentra-test-2026!"

# username → (departments, roles)
USERS = {
    "ana": (["legal"], ["dept-admin"]),
    "bruno": (["rrhh"], ["dept-admin"]),
    "carla": (["ventas"], ["dept-admin"]),
    "dani": (["legal"], ["member"]),
    "eva": (["legal"], ["member"]),
    "root": ([], ["platform-admin"]),
}
UPLOADERS = {"legal": "ana", "rrhh": "bruno", "ventas": "carla"}


@dataclass
class Realm:
    platform: Platform
    admin: RealmAdmin
    issuer: str
    connector_secret: str
    forging_key: rsa.RSAPrivateKey
    forging_kid: str
    documents: dict[str, dict[str, str]]  # department → filename → document id

    def token(self, username: str) -> str:
        return password_login(self.issuer, username, PASSWORD).access_token

    def connector_token(self) -> str:
        return client_credentials(self.issuer, "sentra-connector", self.connector_secret).access_token

    def forge(self, claims: dict, *, headers: dict | None = None) -> str:
        """A token signed with a key the realm publishes (added by the fixture), so only
        the claim under test can make it fail."""
        headers = {"kid": self.forging_kid, **(headers or {})}
        return jwt.encode(claims, self.forging_key, algorithm="RS256", headers=headers)


class Gateway:
    """Stubs on a channel to the gateway, with a fixed Authorization value (or none)."""

    def __init__(self, target: str, token: str | None) -> None:
        metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self.channel = grpc.aio.insecure_channel(target)
        self.metadata = metadata
        self.ingestion = ingestion_pb2_grpc.IngestionServiceStub(self.channel)
        self.retrieval = retrieval_pb2_grpc.RetrievalServiceStub(self.channel)
        self.gateway = gateway_pb2_grpc.GatewayServiceStub(self.channel)

    async def close(self) -> None:
        await self.channel.close()


def add_forging_key(admin: RealmAdmin, realm: str) -> tuple[rsa.RSAPrivateKey, str]:
    """Give the realm an extra RSA key (low priority: Keycloak keeps signing with its own)
    whose private half the test holds; returns it and the key id Keycloak publishes."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()
    realm_id = admin.kc.get_realm(realm)["id"]
    admin.kc.create_component({
        "name": "sentra-test-forging-key", "providerId": "rsa", "providerType": "org.keycloak.keys.KeyProvider",
        "parentId": realm_id,
        "config": {"privateKey": [pem], "priority": ["1"], "enabled": ["true"], "active": ["true"],
                   "algorithm": ["RS256"]},
    })
    modulus = key.public_key().public_numbers().n
    for entry in admin.kc.get_keys()["keys"]:
        if entry.get("publicKey") and entry.get("algorithm") == "RS256":
            public = serialization.load_der_public_key(base64.b64decode(entry["publicKey"]))
            if public.public_numbers().n == modulus:
                return key, entry["kid"]
    raise AssertionError("Keycloak does not publish the test key")


def hs256_with_public_key(claims: dict, public_pem: bytes, kid: str) -> str:
    """The classic algorithm-confusion forgery: HMAC keyed with the realm's public key."""
    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    payload = b64(json.dumps(claims).encode())
    signature = hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(signature)}"


def unsigned(claims: dict) -> str:
    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{b64(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}.{b64(json.dumps(claims).encode())}."


def tampered(token: str, **changes) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def seed(platform: Platform) -> tuple[RealmAdmin, str]:
    state = platform.load_state()
    stored = json.loads(Path(state.identity.admin_file).read_text())
    admin = RealmAdmin(state.identity.issuer, stored["username"], stored["password"])
    for dept in ("legal", "rrhh", "ventas"):
        admin.create_department(dept)
    for username, (departments, roles) in USERS.items():
        admin.create_user(username, email=f"{username}@cierzo.example", password=PASSWORD,
                          departments=departments, roles=roles)
    connector = admin.client_user_id("sentra-connector")
    admin.add_department(connector, "legal")
    admin.grant_role(connector, "dept-admin")
    return admin, admin.client_secret("sentra-connector")


async def upload_corpus(target: str, realm_issuer: str) -> dict[str, dict[str, str]]:
    documents: dict[str, dict[str, str]] = {}
    for dept, user in UPLOADERS.items():
        token = password_login(realm_issuer, user, PASSWORD).access_token
        gw = Gateway(target, token)
        documents[dept] = {}
        for path in sorted((CORPUS / dept).iterdir()):
            data = path.read_bytes()

            def messages(path=path, data=data, dept=dept):
                yield ingestion_pb2.UploadDocumentRequest(metadata=ingestion_pb2.UploadMetadata(
                    filename=path.name, department=dept, source_uri=path.as_uri()))
                yield ingestion_pb2.UploadDocumentRequest(data=data)

            reply = await gw.ingestion.UploadDocument(messages(), metadata=gw.metadata, timeout=120)
            documents[dept][path.name] = reply.document.document_id
        deadline = time.monotonic() + 300
        for doc_id in documents[dept].values():
            while True:
                doc = (await gw.ingestion.GetDocument(
                    ingestion_pb2.GetDocumentRequest(document_id=doc_id), metadata=gw.metadata)).document
                if doc.state != ingestion_pb2.DOCUMENT_STATE_PROCESSING or time.monotonic() > deadline:
                    assert doc.state == ingestion_pb2.DOCUMENT_STATE_INDEXED, doc.failure_reason
                    break
                await asyncio.sleep(0.5)
        await gw.close()
    return documents

