"""API keys (sentra_gateway.apikeys) through the gateway's real HTTP server: created by an
admin of the key's department, shown once and stored as a salted hash, accepted as a
bearer by the HTTP API, /v1 and MCP as exactly its department and role, refused once
revoked or expired, and every creation, revocation and use in the audit log. Attacks get
a test each: a forged secret, an unknown id, a revoked key (MCP included), a key minting
keys, an admin reaching another department's keys."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import httpx
import httpx2
import openai
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from sentra_common.errors import Unauthenticated
from sentra_common.principal import Principal
from sentra_gateway.apikeys import NOT_VALID
from sentra_gateway.audit import AuditQuery

from services.gateway.tests.stack import gateway_http

ANA = {"x-sentra-dev-identity": "ana:legal:dept-admin"}  # administers legal
BRUNO = {"x-sentra-dev-identity": "bruno:rrhh:dept-admin"}
ROOT_HEADERS = {"x-sentra-dev-identity": "root::platform-admin"}
ROOT = Principal("root", roles=("platform-admin",))
QUESTION = [{"role": "user", "content": "What is the notice period?"}]


@pytest.fixture
async def stack(tmp_path):
    async with gateway_http(tmp_path) as s:
        yield s


async def create(http: httpx.AsyncClient, url: str, headers: dict, **body) -> httpx.Response:
    return await http.post(f"{url}/api/v1/api-keys", headers=headers, json={"name": "n8n facturas", **body})


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def test_a_key_acts_as_exactly_its_department_and_role_everywhere(stack, tmp_path):
    async with httpx.AsyncClient() as http:
        made = await create(http, stack.url, ANA, department="legal", role="member")
        assert made.status_code == 200, made.text
        key, secret = made.json()["key"], made.json()["secret"]
        assert secret.startswith(f"sk-sentra-{key['key_id']}_") and key["created_by"] == "ana"
        me = (await http.get(f"{stack.url}/api/v1/whoami", headers=bearer(secret))).json()["principal"]
        assert (me["subject"], me["departments"], me["roles"]) == (f"key:{key['key_id']}", ["legal"], ["member"])
        # A member may not delete (a write), whatever the key's creator may do.
        refused = await http.delete(f"{stack.url}/api/v1/documents/doc-legal", headers=bearer(secret))
        assert refused.status_code == 403
        # Listing keys needs an admin; a member key is refused by the permission table.
        assert (await http.get(f"{stack.url}/api/v1/api-keys", headers=bearer(secret))).status_code == 403
    async with openai.AsyncOpenAI(base_url=f"{stack.url}/v1", api_key=secret, max_retries=0) as oa:
        answer = await oa.chat.completions.create(model="sentra", messages=QUESTION)
    assert answer.choices[0].message.content.startswith("The notice period")
    headers = {**bearer(secret)}
    async with Client(streamable_http_client(f"{stack.url}/mcp", http_client=httpx2.AsyncClient(headers=headers))) as c:
        listed = (await c.call_tool("list_documents", {})).structured_content["documents"]
    assert {d["department"] for d in listed} == {"legal"}  # never rrhh's
    # Stored as a salted hash: the secret is nowhere in the database.
    secret_part = secret_of(secret)
    dump = "\n".join(sqlite3.connect(tmp_path / "audit.db").iterdump())
    assert key["key_id"] in dump and secret_part not in dump
    uses, _ = await stack.audit.query(ROOT, AuditQuery(subject=f"key:{key['key_id']}", page_size=100))
    assert {(e.method.rsplit("/", 1)[1], e.result) for e in uses} >= {
        ("WhoAmI", "OK"), ("DeleteDocument", "PERMISSION_DENIED"), ("ListApiKeys", "PERMISSION_DENIED"),
        ("Answer", "OK"), ("ListDocuments", "OK")}
    assert all(e.departments == ("legal",) and e.roles == ("member",) for e in uses)


def secret_of(key: str) -> str:
    """The secret part of a key (`sk-sentra-<16 hex>_<secret>`; the secret may hold `_` too)."""
    return key[len("sk-sentra-") + 17:]


async def test_revoked_forged_unknown_and_expired_keys_are_refused(stack):
    async with httpx.AsyncClient() as http:
        made = (await create(http, stack.url, ANA, department="legal")).json()
        secret, key_id = made["secret"], made["key"]["key_id"]
        forged = secret[:-6] + ("AAAAAA" if not secret.endswith("AAAAAA") else "BBBBBB")
        unknown = f"sk-sentra-{'0' * 16}_{secret_of(secret)}"
        for token, reason in ((forged, NOT_VALID), (unknown, NOT_VALID), ("sk-sentra-short", "malformed")):
            answer = await http.get(f"{stack.url}/api/v1/whoami", headers=bearer(token))
            assert answer.status_code == 401 and reason in answer.json()["error"]["message"]
        assert (await http.get(f"{stack.url}/api/v1/whoami", headers=bearer(secret))).status_code == 200
        revoked = await http.delete(f"{stack.url}/api/v1/api-keys/{key_id}", headers=ANA)
        assert revoked.status_code == 200 and revoked.json()["key"]["revoked_by"] == "ana"
        after = await http.get(f"{stack.url}/api/v1/whoami", headers=bearer(secret))
        assert after.status_code == 401 and "revoked" in after.json()["error"]["message"]
    async with openai.AsyncOpenAI(base_url=f"{stack.url}/v1", api_key=secret, max_retries=0) as oa:
        with pytest.raises(openai.AuthenticationError):
            await oa.chat.completions.create(model="sentra", messages=QUESTION)
    with pytest.raises(BaseException) as refused_mcp:  # the MCP client raises an ExceptionGroup
        async with Client(streamable_http_client(
                f"{stack.url}/mcp", http_client=httpx2.AsyncClient(headers=bearer(secret)))) as c:
            await c.list_tools()
    assert "error" in repr(refused_mcp.value).lower()
    assert not stack.fakes["inference"].requests and not stack.fakes["ingestion"].requests
    # Expiry, checked against the clock of the call.
    key, whole = await stack.api_keys.create(Principal("root", roles=("platform-admin",)), "short", "legal",
                                             "member", 60)
    assert (await stack.api_keys.authenticate(whole)).subject == f"key:{key.key_id}"
    with pytest.raises(Unauthenticated, match="expired"):
        await stack.api_keys.authenticate(whole, now=datetime.now(UTC) + timedelta(seconds=61))


async def test_who_may_manage_which_keys(stack):
    async with httpx.AsyncClient() as http:
        # A department admin: keys of their departments only, never a platform-admin key.
        assert (await create(http, stack.url, ANA, department="rrhh")).status_code == 403
        assert (await create(http, stack.url, ANA, department="legal", role="platform-admin")).status_code == 400
        assert (await create(http, stack.url, ANA, department="legal", name=" ")).status_code == 400
        legal = (await create(http, stack.url, ANA, department="legal", role="dept-admin")).json()
        rrhh = (await create(http, stack.url, ROOT_HEADERS, department="rrhh", expires_in_seconds=3600)).json()
        assert rrhh["key"]["expires_at"]
        # A key never manages keys, even a dept-admin key of the same department.
        minted = await create(http, stack.url, bearer(legal["secret"]), department="legal")
        assert minted.status_code == 403 and "API key" in minted.json()["error"]["message"]
        # Lists hold no secrets and only the keys one administers.
        ana_list = (await http.get(f"{stack.url}/api/v1/api-keys", headers=ANA)).json()["keys"]
        assert [k["key_id"] for k in ana_list] == [legal["key"]["key_id"]]
        assert "secret" not in str(ana_list) and legal["secret"] not in str(ana_list)
        assert (await http.get(f"{stack.url}/api/v1/api-keys?department=rrhh", headers=ANA)).status_code == 403
        root_list = (await http.get(f"{stack.url}/api/v1/api-keys", headers=ROOT_HEADERS)).json()["keys"]
        assert {k["department"] for k in root_list} == {"legal", "rrhh"}
        # Another department's key is "not found" to ana; bruno may revoke it.
        other = await http.delete(f"{stack.url}/api/v1/api-keys/{rrhh['key']['key_id']}", headers=ANA)
        assert other.status_code == 404
        assert (await http.get(f"{stack.url}/api/v1/whoami", headers=bearer(rrhh["secret"]))).status_code == 200
        gone = await http.delete(f"{stack.url}/api/v1/api-keys/{rrhh['key']['key_id']}", headers=BRUNO)
        assert gone.status_code == 200
        assert (await http.get(f"{stack.url}/api/v1/api-keys", headers=BRUNO)).json().get("keys", []) == []
        listed = (await http.get(f"{stack.url}/api/v1/api-keys?include_revoked=true", headers=BRUNO)).json()["keys"]
        assert [k["revoked_by"] for k in listed] == ["bruno"]
    actions, _ = await stack.audit.query(ROOT, AuditQuery(method="ApiKey", page_size=100))
    by = {(e.subject, e.method.rsplit("/", 1)[1], e.result, e.department) for e in actions}
    assert ("ana", "CreateApiKey", "PERMISSION_DENIED", "rrhh") in by
    assert ("ana", "RevokeApiKey", "NOT_FOUND", "rrhh") in by
    assert ("bruno", "RevokeApiKey", "OK", "rrhh") in by
    created = [e for e in actions if e.method.endswith("CreateApiKey") and e.result == "OK"]
    assert {e.subject for e in created} == {"ana", "root"}
    assert any(f"created API key {legal['key']['key_id']}" in e.detail and "dept-admin of legal" in e.detail
               for e in created)
    # What a department admin sees of it: the calls about their departments.
    seen, _ = await stack.audit.query(Principal("bruno", ("rrhh",), ("dept-admin",)), AuditQuery(page_size=100))
    assert {e.department for e in seen if e.method.endswith("ApiKey")} == {"rrhh"}
