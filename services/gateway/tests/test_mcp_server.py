"""The MCP server on the gateway, used with the MCP SDK's own client over streamable HTTP
against the gateway's real HTTP server and core (stand-in services that keep to the
caller's departments): the tools and their structured output, resources, every call
through the permission table and the audit log, refusals without a valid bearer."""

from __future__ import annotations

import asyncio

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from sentra_common.principal import Principal
from sentra_gateway.audit import AuditQuery
from sentra_gateway.mcp_server import best_sentence

from services.gateway.tests.stack import gateway_http

ANA = {"x-sentra-dev-identity": "ana:legal:member", "Authorization": "Bearer development"}
ROOT = Principal("root", roles=("platform-admin",))
TOOLS = {"search_documents", "ask", "list_documents", "get_document_text"}


def mcp(url: str, headers: dict[str, str]) -> Client:
    return Client(streamable_http_client(f"{url}/mcp", http_client=httpx2.AsyncClient(headers=headers, timeout=30)))


@pytest.fixture
async def stack(tmp_path):
    async with gateway_http(tmp_path) as s:
        yield s


async def entries(stack, **query):
    records, _ = await stack.audit.query(ROOT, AuditQuery(page_size=1000, **query))
    return records


async def test_tools_are_listed_read_only_with_output_schemas(stack):
    async with mcp(stack.url, ANA) as client:
        tools = (await client.list_tools()).tools
        templates = (await client.list_resource_templates()).resource_templates
    assert {t.name for t in tools} == TOOLS
    for tool in tools:
        assert tool.output_schema is not None and tool.annotations.read_only_hint, tool.name
        assert tool.description
    assert [t.uri_template for t in templates] == ["sentra://documents/{document_id}"]


async def test_search_returns_only_the_callers_departments_with_the_quoted_sentence(stack):
    async with mcp(stack.url, ANA) as client:
        result = await client.call_tool("search_documents", {"query": "preaviso treinta días", "top_k": 5})
    assert not result.is_error
    hits = result.structured_content["hits"]
    # The rrhh document says the same words; ana is in legal only.
    assert [(h["document_id"], h["page"], h["heading"]) for h in hits] == [("doc-legal", 3, "Resolución")]
    assert hits[0]["quote"] == "El preaviso es de treinta días naturales."
    who, request = stack.fakes["retrieval"].requests[-1]
    assert (who, request.query, request.top_k) == ("ana", "preaviso treinta días", 5)
    searches = await entries(stack, method="Search")
    assert [(e.subject, e.result, e.detail, e.document_ids) for e in searches] == [
        ("ana", "OK", "[development identity] (mcp tool search_documents)", ["doc-legal"])]


async def test_ask_answers_with_structured_citations(stack):
    async with mcp(stack.url, ANA) as client:
        result = await client.call_tool("ask", {"question": "¿Plazo de preaviso?", "strategy": "extractive"})
        missing = await client.call_tool("ask", {"question": "nothing about this"})
    answer = result.structured_content
    assert answer["answer"].startswith("The notice period") and answer["direct_answer"] == "30 days"
    assert answer["citations"] == [{"number": 1, "document_id": "doc-1", "title": "Employment contract", "page": 4,
                                    "heading": "Termination", "quote": "thirty (30) days' notice", "score": 0.87}]
    assert missing.structured_content["not_found"] is True and missing.structured_content["citations"] == []
    who, request = stack.fakes["inference"].requests[0]
    assert (who, request.question, request.strategy) == ("ana", "¿Plazo de preaviso?", 2)


async def test_list_documents_and_text_keep_to_the_callers_departments(stack):
    async with mcp(stack.url, ANA) as client:
        listed = (await client.call_tool("list_documents", {})).structured_content
        text = (await client.call_tool("get_document_text", {"document_id": "doc-legal"})).structured_content
        other = await client.call_tool("get_document_text", {"document_id": "doc-rrhh"})
        failed = await client.call_tool("get_document_text", {"document_id": "doc-legal-failed"})
    states = {d["document_id"]: (d["state"], d["failure_reason"]) for d in listed["documents"]}
    assert states == {"doc-legal": ("INDEXED", ""), "doc-legal-failed": ("FAILED", "PDF is encrypted with a password")}
    assert [(p["chunk_index"], p["page"], p["heading"]) for p in text["passages"]] == [(0, 1, "Objeto"),
                                                                                        (1, 3, "Resolución")]
    assert text["title"] == "Contrato marco" and text["truncated"] is False
    assert other.is_error and "NOT_FOUND" in other.content[0].text and "Bandas" not in other.content[0].text
    assert failed.is_error and "FAILED: PDF is encrypted" in failed.content[0].text
    refused = await entries(stack, result="NOT_FOUND")
    assert [(e.subject, e.method.rsplit("/", 1)[1], e.detail) for e in refused] == [
        ("ana", "GetDocument", "[development identity] (mcp tool get_document_text) "
                               "document doc-rrhh does not exist or is not yours")]


async def test_resources_are_the_callers_indexed_documents(stack):
    async with mcp(stack.url, ANA) as client:
        listed = (await client.list_resources()).resources
        read = (await client.read_resource("sentra://documents/doc-legal")).contents
        with pytest.raises(Exception, match="NOT_FOUND"):
            await client.read_resource("sentra://documents/doc-rrhh")
    assert [(str(r.uri), r.title) for r in listed] == [("sentra://documents/doc-legal", "Contrato marco")]
    assert read[0].mime_type == "text/markdown"
    assert read[0].text.startswith("# Contrato marco") and "<!-- passage 1: page 3, Resolución -->" in read[0].text


async def test_a_member_without_a_role_for_the_method_is_refused_by_the_permission_table(stack):
    nobody = {"x-sentra-dev-identity": "eve:legal:guest", "Authorization": "Bearer development"}
    async with mcp(stack.url, nobody) as client:
        result = await client.call_tool("search_documents", {"query": "preaviso"})
    assert result.is_error and "PERMISSION_DENIED" in result.content[0].text
    assert not stack.fakes["retrieval"].requests
    assert [e.result for e in await entries(stack, subject="eve")] == ["PERMISSION_DENIED"]


@pytest.mark.parametrize("headers", [
    {},  # nothing at all
    {"Authorization": "Bearer development"},  # a bearer but no identity (development mode)
    {"Authorization": "Bearer sk-sentra-0123456789abcdef_" + "A" * 43},  # a key that was never issued
])
async def test_callers_without_valid_credentials_are_refused_and_counted(stack, headers):
    with pytest.raises(BaseException) as info:  # the client raises an ExceptionGroup
        async with mcp(stack.url, headers) as client:
            await client.list_tools()
    assert "error" in repr(info.value).lower()
    assert not any(f.requests for f in stack.fakes.values())
    await stack.gateway.refusals.flush()
    refusals = [e for e in await entries(stack, result="UNAUTHENTICATED") if "/mcp" in e.method]
    assert refusals and all(e.peer == "127.0.0.1" for e in refusals)


def test_the_quote_is_the_sentence_sharing_most_words_with_the_query():
    text = "El contrato dura dos años. El preaviso es de treinta días. Se firma en Zaragoza."
    assert best_sentence("¿cuántos días de preaviso?", text) == "El preaviso es de treinta días."
    assert best_sentence("nada que ver", text) == "El contrato dura dos años."


async def test_calls_run_concurrently_and_each_is_audited(stack):
    async with mcp(stack.url, ANA) as client:
        results = await asyncio.gather(*(client.call_tool("list_documents", {}) for _ in range(5)))
    assert not any(r.is_error for r in results)
    assert len(await entries(stack, method="ListDocuments")) == 5
