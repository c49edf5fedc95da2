"""The tools people use, against a running platform with a real Keycloak (the shared
`realm` fixture: every service a real process, the example corpus of legal, rrhh and
ventas indexed): the official `openai` client (chat with include_usage, n=2 refused,
/v1/responses plain and streamed, /v1/embeddings), LangChain's ChatOpenAI and
OpenAIEmbeddings, the MCP SDK's own client over streamable HTTP (every tool, resources,
refusals, department isolation), and API keys made with `sentra api-keys` (scope,
revocation, forgery, audit) — each client unchanged apart from its base URL and key."""

from __future__ import annotations

import asyncio
import base64
import json
import math
import os
import struct
import subprocess
import sys

import httpx
import httpx2
import openai
import pytest
from langchain_openai import ChatOpenAI, OpenAIEmbeddings
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from sentra.gateway.v1 import gateway_pb2

from tests.support.identity import PASSWORD, Gateway, tampered

pytestmark = pytest.mark.integration

EMBEDDING_MODEL = "all-MiniLM-L6-v2"
QUESTION = "¿Qué dice el protocolo de videovigilancia sobre la conservación de las imágenes?"


def base_url(realm) -> str:
    return f"http://127.0.0.1:{realm.platform.load_state().http_port}"


def legal(realm) -> set[str]:
    return set(realm.documents["legal"].values())


def mcp(realm, headers: dict[str, str]) -> Client:
    http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(300, connect=30))
    return Client(streamable_http_client(f"{base_url(realm)}/mcp", http_client=http))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def audit(realm, **query) -> list[gateway_pb2.AuditEntry]:
    gw = Gateway(realm.platform.load_state().target("gateway"), realm.token("root"))
    try:
        reply = await gw.gateway.QueryAuditLog(gateway_pb2.QueryAuditLogRequest(page_size=1000, **query),
                                               metadata=gw.metadata, timeout=30)
        return list(reply.entries)
    finally:
        await gw.close()


async def refusals(realm, *texts: str) -> list[gateway_pb2.AuditEntry]:
    """Refusals of unidentified callers naming all of `texts` (method or detail); they reach
    the audit log once per (test: 1 s) window."""
    for _ in range(40):
        found = [e for e in await audit(realm, result="UNAUTHENTICATED")
                 if all(t in f"{e.method} {e.detail}" for t in texts)]
        if found:
            return found
        await asyncio.sleep(0.25)
    return []


# The official openai client --------------------------------------------------------------------


async def test_openai_client_chat_responses_and_embeddings(realm):
    async with openai.AsyncOpenAI(base_url=f"{base_url(realm)}/v1", api_key=realm.token("dani"),
                                  max_retries=0, timeout=300) as oa:
        models = {m.id for m in (await oa.models.list()).data}
        assert {"sentra", EMBEDDING_MODEL} <= models

        stream = await oa.chat.completions.create(
            model="sentra", stream=True, stream_options={"include_usage": True},
            messages=[{"role": "user", "content": QUESTION}])
        chunks = [c async for c in stream]
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text.strip()
        assert chunks[-1].choices == [] and chunks[-1].usage is not None  # the usage chunk, last
        assert all(c.usage is None for c in chunks[:-1])
        with pytest.raises(openai.BadRequestError) as info:
            await oa.chat.completions.create(model="sentra", n=2, messages=[{"role": "user", "content": QUESTION}])
        assert info.value.body["param"] == "n"

        plain = await oa.responses.create(model="sentra", input=QUESTION, max_output_tokens=200)
        assert plain.status in ("completed", "incomplete") and plain.output_text.strip()
        cited = {c["document_id"] for c in plain.model_extra["citations"]}
        assert cited <= legal(realm)  # dani is in legal only
        events = [e async for e in await oa.responses.create(model="sentra", input=QUESTION, stream=True)]
        assert events[0].type == "response.created" and events[-1].type == "response.completed"
        deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
        assert deltas == events[-1].response.output_text and deltas.strip()

        texts = ["El preaviso es de treinta días.", "Las imágenes se conservan un mes."]
        packed = await oa.embeddings.create(model=EMBEDDING_MODEL, input=texts)  # base64, the client's default
        floats = await oa.embeddings.create(model=EMBEDDING_MODEL, input=texts, encoding_format="float")
        for a, b in zip(packed.data, floats.data, strict=True):
            assert len(a.embedding) == 384 and a.embedding == pytest.approx(b.embedding, abs=1e-6)
            assert math.isclose(math.fsum(v * v for v in a.embedding), 1.0, rel_tol=1e-3)
        with pytest.raises(openai.BadRequestError) as info:
            await oa.embeddings.create(model=EMBEDDING_MODEL, input="hola", dimensions=256)
        assert info.value.body["param"] == "dimensions"
    async with httpx.AsyncClient(timeout=60) as http:
        raw = (await http.post(f"{base_url(realm)}/v1/embeddings", headers=bearer(realm.token("dani")), json={
            "model": EMBEDDING_MODEL, "input": texts[0], "encoding_format": "base64"})).json()
    vector = struct.unpack("<384f", base64.b64decode(raw["data"][0]["embedding"]))
    assert vector == pytest.approx(floats.data[0].embedding, abs=1e-6)
    embeds = [e for e in await audit(realm, subject="dani", method="EmbeddingService/Embed") if e.result == "OK"]
    assert len(embeds) >= 3


# LangChain ----------------------------------------------------------------------------------------


def test_langchain_chat_and_embeddings(realm):
    token = realm.token("dani")
    chat = ChatOpenAI(model="sentra", base_url=f"{base_url(realm)}/v1", api_key=token, max_retries=0, timeout=300)
    answer = chat.invoke(QUESTION)
    assert answer.content.strip()
    streamed = "".join(str(piece.content) for piece in chat.stream(QUESTION))
    assert streamed.strip()
    embeddings = OpenAIEmbeddings(model=EMBEDDING_MODEL, base_url=f"{base_url(realm)}/v1", api_key=token,
                                  check_embedding_ctx_length=False, max_retries=0)
    documents = embeddings.embed_documents(["Las imágenes se conservan un mes.", "Dietas de viaje en Oporto."])
    query = embeddings.embed_query("¿Cuánto tiempo se guardan las grabaciones?")
    assert [len(v) for v in documents] == [384, 384] and len(query) == 384

    def cosine(a, b):
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert cosine(query, documents[0]) > cosine(query, documents[1])


# MCP ------------------------------------------------------------------------------------------------


async def test_mcp_tools_keep_to_the_callers_departments(realm):
    rrhh_doc = realm.documents["rrhh"]["bandas_salariales_2026_confidencial.xlsx"]
    legal_doc = next(iter(realm.documents["legal"].values()))
    async with mcp(realm, bearer(realm.token("dani"))) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        assert tools == {"search_documents", "ask", "list_documents", "get_document_text"}
        found = await client.call_tool("search_documents", {"query": "videovigilancia imágenes", "top_k": 10})
        hits = found.structured_content["hits"]
        assert hits and {h["document_id"] for h in hits} <= legal(realm)
        assert all(h["quote"] and h["title"] for h in hits)
        # The same words in an rrhh document never come back to a legal member.
        salary = await client.call_tool("search_documents", {"query": "bandas salariales confidencial", "top_k": 10})
        assert rrhh_doc not in {h["document_id"] for h in salary.structured_content["hits"]}
        answer = (await client.call_tool("ask", {"question": QUESTION})).structured_content
        assert answer["answer"].strip()
        assert {c["document_id"] for c in answer["citations"]} <= legal(realm)
        listed = (await client.call_tool("list_documents", {"page_size": 100})).structured_content["documents"]
        assert {d["document_id"] for d in listed} == legal(realm)
        text = (await client.call_tool("get_document_text", {"document_id": legal_doc})).structured_content
        assert text["passages"] and text["department"] == "legal"
        hidden = await client.call_tool("get_document_text", {"document_id": rrhh_doc})
        assert hidden.is_error and "NOT_FOUND" in hidden.content[0].text
        resources = (await client.list_resources()).resources
        assert {str(r.uri).rsplit("/", 1)[1] for r in resources} <= legal(realm)
        read = (await client.read_resource(f"sentra://documents/{legal_doc}")).contents[0].text
        assert read.startswith("# ")
    calls = await audit(realm, subject="dani")
    via = {e.method.rsplit("/", 1)[1] for e in calls if "(mcp tool" in e.detail}
    assert via >= {"Search", "Answer", "ListDocuments", "GetDocument", "ListChunks"}
    assert any(e.result == "NOT_FOUND" and rrhh_doc in e.document_ids for e in calls)


@pytest.mark.parametrize("kind", ["no token", "altered token"])
async def test_mcp_refuses_a_call_without_a_valid_token_and_audits_it(realm, kind):
    headers = {} if kind == "no token" else bearer(tampered(realm.token("dani"), groups=["/departments/rrhh"]))
    with pytest.raises(BaseException) as info:  # the SDK client raises an ExceptionGroup
        async with mcp(realm, headers) as client:
            await client.call_tool("list_documents", {})
    assert "error" in repr(info.value).lower()
    reason = "no bearer token" if kind == "no token" else "signature is invalid"
    assert await refusals(realm, "/mcp", reason), reason


# API keys -------------------------------------------------------------------------------------------


def sentra(realm, tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SENTRA_CONFIG_DIR": str(tmp_path / "cfg"), "SENTRA_HOME": str(realm.platform.data_dir)}
    env.pop("SENTRA_IDENTITY", None)
    return subprocess.run([sys.executable, "-m", "sentra_cli.main", *args], env=env, capture_output=True, text=True,
                          timeout=120, input=PASSWORD + "\n" if args[0] == "login" else None)


async def test_an_api_key_from_the_cli_is_scoped_revocable_and_audited(realm, tmp_path):
    login = sentra(realm, tmp_path, "login", "-u", "ana", "--password-stdin")
    assert login.returncode == 0, login.stderr
    made = sentra(realm, tmp_path, "api-keys", "create", "n8n legal", "-d", "legal", "-r", "member", "--json")
    assert made.returncode == 0, made.stderr
    key = json.loads(made.stdout)
    secret, key_id = key["secret"], key["key_id"]
    refused_other = sentra(realm, tmp_path, "api-keys", "create", "n8n rrhh", "-d", "rrhh")
    assert refused_other.returncode == 1 and "PERMISSION_DENIED" in refused_other.stderr
    base = base_url(realm)
    salary = realm.documents["rrhh"]["bandas_salariales_2026_confidencial.xlsx"]
    legal_doc = next(iter(realm.documents["legal"].values()))
    async with httpx.AsyncClient(timeout=120) as http:
        mine = await http.get(f"{base}/api/v1/documents", headers=bearer(secret))
        assert mine.status_code == 200 and {d["department"] for d in mine.json()["documents"]} == {"legal"}
        other = await http.get(f"{base}/api/v1/documents?department=rrhh", headers=bearer(secret))
        assert other.status_code == 403
        assert (await http.get(f"{base}/api/v1/documents/{salary}", headers=bearer(secret))).status_code == 404
        write = await http.delete(f"{base}/api/v1/documents/{legal_doc}", headers=bearer(secret))
        assert write.status_code == 403  # a member key may not delete
        forged = secret[:-4] + ("AAAA" if not secret.endswith("AAAA") else "BBBB")
        assert (await http.get(f"{base}/api/v1/whoami", headers=bearer(forged))).status_code == 401
    async with openai.AsyncOpenAI(base_url=f"{base}/v1", api_key=secret, max_retries=0, timeout=300) as oa:
        answer = await oa.chat.completions.create(model="sentra", messages=[{"role": "user", "content": QUESTION}])
        assert answer.choices[0].message.content.strip()
    async with mcp(realm, bearer(secret)) as client:
        listed = (await client.call_tool("list_documents", {"page_size": 100})).structured_content["documents"]
        assert {d["document_id"] for d in listed} == legal(realm)

    revoked = sentra(realm, tmp_path, "api-keys", "revoke", key_id)
    assert revoked.returncode == 0, revoked.stderr
    async with httpx.AsyncClient(timeout=60) as http:
        after = await http.get(f"{base}/api/v1/documents", headers=bearer(secret))
        assert after.status_code == 401 and "revoked" in after.json()["error"]["message"]
    async with openai.AsyncOpenAI(base_url=f"{base}/v1", api_key=secret, max_retries=0) as oa:
        with pytest.raises(openai.AuthenticationError):
            await oa.models.list()
    with pytest.raises(BaseException) as info:  # a revoked key against MCP
        async with mcp(realm, bearer(secret)) as client:
            await client.call_tool("list_documents", {})
    assert "error" in repr(info.value).lower()

    uses = await audit(realm, subject=f"key:{key_id}")
    seen = {(e.method.rsplit("/", 1)[1], e.result) for e in uses}
    assert seen >= {("ListDocuments", "OK"), ("ListDocuments", "PERMISSION_DENIED"), ("GetDocument", "NOT_FOUND"),
                    ("DeleteDocument", "PERMISSION_DENIED"), ("Answer", "OK")}
    assert all(tuple(e.departments) == ("legal",) and tuple(e.roles) == ("member",) for e in uses)
    admin = await audit(realm, subject="ana", method="ApiKey")
    assert any(e.method.endswith("CreateApiKey") and e.result == "OK" and key_id in e.detail for e in admin)
    assert any(e.method.endswith("CreateApiKey") and e.result == "PERMISSION_DENIED" for e in admin)
    assert any(e.method.endswith("RevokeApiKey") and e.result == "OK" and key_id in e.detail for e in admin)
    assert await refusals(realm, f"API key {key_id} was revoked")
    assert await refusals(realm, "the API key is not valid")  # the forged one
