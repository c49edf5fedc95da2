"""The OpenAI-compatible API, used with the official `openai` client against the gateway's
real HTTP server (uvicorn on a free port), backed by a stand-in InferenceService on an
in-process gRPC server: models, answers plain and streamed, model → adapter mapping,
Sentra's extension fields, errors in OpenAI's shape, audit, bearer tokens as api keys."""

from __future__ import annotations

import asyncio
import time

import httpx
import jwt
import openai
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sentra.inference.v1 import inference_pb2
from sentra_common.principal import Principal
from sentra_gateway.audit import AuditQuery
from sentra_gateway.auth import Authenticator
from sentra_gateway.config import AuthSettings

from services.gateway.tests.stack import ANSWER, BASE, PIECES, gateway_http

ANA = {"x-sentra-dev-identity": "ana:legal:member"}


def client(url: str, headers: dict[str, str] | None = ANA, api_key: str = "unused") -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=api_key, default_headers=headers, max_retries=0)


@pytest.fixture
async def stack(tmp_path):
    async with gateway_http(tmp_path) as s:
        yield s


async def test_models_lists_sentra_the_base_model_active_aliases_and_served_versions(stack):
    url, fake, _ = stack
    async with client(url) as oa:
        page = await oa.models.list()
        one = await oa.models.retrieve("legal@3")
    # legal@2 is what `legal` rolls back to (served); legal@1 is not served, legal@4 failed,
    # the rrhh alias is deactivated; the embedding model is there for /v1/embeddings.
    assert [m.id for m in page.data] == ["sentra", BASE, "legal", "legal@2", "legal@3", "all-MiniLM-L6-v2"]
    assert {m.object for m in page.data} == {"model"}
    assert (one.id, one.owned_by, one.created) == ("legal@3", "legal", 1_700_000_300)
    # Forwarded with the caller's identity, through the gateway.
    assert [who for who, _ in fake.requests] == ["ana", "ana"]


async def test_chat_completion_answers_the_last_user_message_with_citations(stack):
    url, fake, audit = stack
    async with client(url) as oa:
        resp = await oa.chat.completions.create(
            model="sentra", max_completion_tokens=64,
            messages=[
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "What is the probation period?"},
                {"role": "assistant", "content": "Three months."},
                {"role": "user", "content": "What is the notice period?"},
            ],
        )
    assert resp.object == "chat.completion" and resp.id.startswith("chatcmpl-") and resp.model == "sentra"
    choice = resp.choices[0]
    assert (choice.message.role, choice.message.content, choice.finish_reason) == ("assistant", ANSWER, "stop")
    assert (resp.usage.prompt_tokens, resp.usage.completion_tokens, resp.usage.total_tokens) == (120, 7, 127)
    extra = resp.model_extra
    assert extra["citations"] == [{
        "number": 1, "document_id": "doc-1", "title": "Employment contract", "page": 4, "heading": "Termination",
        "chunk_id": "doc-1:12", "score": 0.87, "quote": "thirty (30) days' notice",
    }]
    assert extra["sentra"] == {
        "not_found": False, "adapter": "legal@3", "strategy": "generative", "direct_answer": "30 days",
        "parts": [{"question": "What is the notice period?", "answer": "30 days", "citation": 1}],
        "question": "What is the notice period?",
    }
    who, request = fake.requests[-1]
    assert (who, request.question, request.adapter, request.max_tokens) == (
        "ana", "What is the notice period?", "", 64)
    records, _ = await audit.query(Principal("root", roles=("platform-admin",)), AuditQuery(method="Answer"))
    assert [(r.subject, r.method.rsplit("/", 1)[1], r.result, r.document_ids) for r in records] == [
        ("ana", "Answer", "OK", ["doc-1"])]


async def test_not_found_answers_say_so_without_citations(stack):
    url, _, _ = stack
    async with client(url) as oa:
        resp = await oa.chat.completions.create(model="sentra", messages=[{"role": "user", "content": "nothing?"}])
    assert resp.model_extra["citations"] == []
    assert resp.model_extra["sentra"]["not_found"] is True
    assert "nothing" in resp.choices[0].message.content


async def test_streamed_completion_concatenates_to_the_answer_with_citations_on_the_last_content_chunk(stack):
    url, _, audit = stack
    async with client(url) as oa:
        stream = await oa.chat.completions.create(
            model="sentra", stream=True, stream_options={"include_usage": True},
            messages=[{"role": "user", "content": "What is the notice period?"}],
        )
        chunks = [chunk async for chunk in stream]
    assert {c.object for c in chunks} == {"chat.completion.chunk"} and len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    content = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert "".join(c.choices[0].delta.content for c in content) == ANSWER
    assert len(content) == len(PIECES)  # streamed as it came, not in one piece
    last = content[-1].model_extra
    assert last["citations"][0]["document_id"] == "doc-1"
    assert last["sentra"]["direct_answer"] == "30 days" and last["sentra"]["strategy"] == "generative"
    assert all("citations" not in c.model_extra for c in content[:-1])
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finish == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 127
    records, _ = await audit.query(Principal("root", roles=("platform-admin",)), AuditQuery(method="StreamAnswer"))
    assert [(r.subject, r.result, r.document_ids) for r in records] == [("ana", "OK", ["doc-1"])]


async def test_model_selects_the_adapter_and_sentra_options_pass_through(stack):
    url, fake, _ = stack
    async with client(url) as oa:
        for model in ("legal@3", "legal", BASE):
            await oa.chat.completions.create(
                model=model, max_tokens=50,
                messages=[{"role": "user", "content": [{"type": "text", "text": "Notice"},
                                                       {"type": "text", "text": "period?"}]}],
                extra_body={"sentra": {"departments": ["legal"], "top_k": 3, "strategy": "extractive"}},
            )
    asked = [r for _, r in fake.requests]
    assert [r.adapter for r in asked] == ["legal@3", "legal", BASE]
    r = asked[0]
    assert (r.question, list(r.departments), r.top_k, r.strategy, r.max_tokens) == (
        "Notice\nperiod?", ["legal"], 3, inference_pb2.ANSWER_STRATEGY_EXTRACTIVE, 50)


async def test_errors_come_in_openai_shape_with_the_http_status(stack):
    url, fake, _ = stack
    question = [{"role": "user", "content": "What is the notice period?"}]
    async with client(url) as oa:
        with pytest.raises(openai.NotFoundError) as info:
            await oa.chat.completions.create(model="ventas", messages=question)
        assert info.value.body["type"] == "not_found_error" and "ventas" in info.value.body["message"]
        assert set(info.value.body) == {"message", "type", "param", "code"}
        with pytest.raises(openai.NotFoundError):  # refused before the stream starts
            await oa.chat.completions.create(model="ventas", messages=question, stream=True)
        with pytest.raises(openai.NotFoundError):
            await oa.models.retrieve("ventas@1")
        with pytest.raises(openai.BadRequestError) as info:
            await oa.chat.completions.create(model="sentra", messages=[{"role": "system", "content": "hi"}])
        assert info.value.body["param"] == "messages" and "user" in info.value.body["message"]
        with pytest.raises(openai.BadRequestError) as info:
            await oa.chat.completions.create(model="sentra", messages=question,
                                             extra_body={"sentra": {"strategy": "x"}})
        assert info.value.body["param"] == "sentra.strategy"
        with pytest.raises(openai.BadRequestError) as info:
            await oa.chat.completions.create(model="sentra", messages=[
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://x/y.png"}}]}])
        assert "image_url" in info.value.body["message"]
    async with client(url, headers=None, api_key="not-a-token") as anonymous:
        with pytest.raises(openai.AuthenticationError) as info:
            await anonymous.chat.completions.create(model="sentra", messages=question)
        assert info.value.body["type"] == "authentication_error"
        with pytest.raises(openai.AuthenticationError):
            await anonymous.models.list()
    # The unknown models reached the service; the malformed requests did not.
    assert [r.adapter for _, r in fake.requests if hasattr(r, "question")] == ["ventas", "ventas"]


async def test_an_error_mid_stream_is_sent_as_a_last_error_event(stack):
    url, _, audit = stack
    received = []
    async with client(url) as oa:
        stream = await oa.chat.completions.create(
            model="sentra", stream=True, messages=[{"role": "user", "content": "fail midway please"}])
        with pytest.raises(openai.APIError) as info:
            async for chunk in stream:
                received.append(chunk)
    assert received[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in received) == PIECES[0]  # what came before
    assert "model server went away" in info.value.message
    assert info.value.body["type"] == "service_unavailable_error"
    records, _ = await audit.query(Principal("root", roles=("platform-admin",)), AuditQuery(method="StreamAnswer"))
    assert [r.result for r in records] == ["UNAVAILABLE"]


async def test_a_client_that_goes_away_ends_the_backend_call_and_the_call_is_audited(stack):
    url, fake, audit = stack
    async with client(url) as oa:
        stream = await oa.chat.completions.create(
            model="sentra", stream=True, messages=[{"role": "user", "content": "answer slowly"}])
        async for chunk in stream:
            if chunk.choices[0].delta.content:
                break
        await stream.close()
    await asyncio.wait_for(fake.cancelled.wait(), timeout=10)
    viewer = Principal("root", roles=("platform-admin",))
    for _ in range(100):
        records, _ = await audit.query(viewer, AuditQuery(method="StreamAnswer"))
        if records:
            break
        await asyncio.sleep(0.05)
    assert [(r.subject, r.result != "OK") for r in records] == [("ana", True)]


async def test_rate_limit_answers_429_with_retry_after(tmp_path):
    question = [{"role": "user", "content": "What is the notice period?"}]
    async with gateway_http(tmp_path, burst=1) as (url, _, _), client(url) as oa:
        await oa.chat.completions.create(model="sentra", messages=question)
        with pytest.raises(openai.RateLimitError) as info:
            await oa.chat.completions.create(model="sentra", messages=question)
    assert int(info.value.response.headers["retry-after"]) >= 1
    assert info.value.body["type"] == "rate_limit_error"


async def test_the_realm_access_token_is_the_api_key(tmp_path):
    issuer = "http://keycloak.test/realms/sentra"
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = {**jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": "k1", "use": "sig",
           "alg": "RS256"}
    realm = httpx.AsyncClient(transport=httpx.MockTransport(lambda _r: httpx.Response(200, json={"keys": [jwk]})))
    auth = Authenticator(AuthSettings(mode="keycloak", issuer=issuer), http=realm)
    now = int(time.time())
    token = jwt.encode({
        "iss": issuer, "aud": "sentra-gateway", "sub": "u-1", "preferred_username": "dani", "iat": now,
        "exp": now + 300, "typ": "Bearer", "groups": ["/departments/legal"], "realm_access": {"roles": ["member"]},
    }, key, algorithm="RS256", headers={"kid": "k1"})
    question = [{"role": "user", "content": "What is the notice period?"}]
    async with gateway_http(tmp_path, auth=auth) as (url, fake, _):
        async with client(url, headers=None, api_key=token) as oa:
            resp = await oa.chat.completions.create(model="sentra", messages=question)
        async with client(url, headers=ANA, api_key="forged") as intruder:
            with pytest.raises(openai.AuthenticationError):  # no development identity outside development mode
                await intruder.chat.completions.create(model="sentra", messages=question)
    assert resp.choices[0].message.content == ANSWER
    assert [who for who, _ in fake.requests] == ["dani"]
