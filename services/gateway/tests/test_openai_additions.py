"""/v1/responses, /v1/embeddings, follow-up questions and `n` in chat, used with the
official `openai` client against the gateway's real HTTP server (stand-in services behind
it): the request → service mapping, the Responses API's shapes and stream events, errors
in OpenAI's shape, audit."""

from __future__ import annotations

import base64
import struct

import httpx
import openai
import pytest
from sentra_common.principal import Principal
from sentra_gateway.audit import AuditQuery
from sentra_gateway.openai_api import is_follow_up, question_from_turns

from services.gateway.tests.stack import ANSWER, DIMENSION, PIECES, fake_vector, gateway_http

ANA = {"x-sentra-dev-identity": "ana:legal:member"}
ROOT = Principal("root", roles=("platform-admin",))
OPORTO = "¿Cuánto es la dieta diaria en Oporto?"


def client(url: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="unused", default_headers=ANA, max_retries=0)


@pytest.fixture
async def stack(tmp_path):
    async with gateway_http(tmp_path) as s:
        yield s


def asked(stack) -> list:
    return [r for _, r in stack.fakes["inference"].requests if hasattr(r, "question")]


# Follow-up questions ------------------------------------------------------------------------


def test_a_follow_up_is_asked_with_the_latest_full_question_before_it():
    assert question_from_turns([OPORTO, "¿y en Valencia?"]) == f"{OPORTO} ¿y en Valencia?"
    # The anchor is the latest turn that is not itself a follow-up.
    assert question_from_turns([OPORTO, "¿y en Valencia?", "¿Y en Madrid?"]) == f"{OPORTO} ¿Y en Madrid?"
    assert question_from_turns([OPORTO, "And what about the night shift in Daventry?"]).startswith(OPORTO)
    # A full question stands alone; so does everything without history.
    full = "¿Cuántos días de vacaciones tiene la plantilla?"
    assert question_from_turns([OPORTO, full]) == full
    assert question_from_turns([OPORTO, "¿y en Valencia?"], history=False) == "¿y en Valencia?"
    assert question_from_turns(["¿y en Valencia?"]) == "¿y en Valencia?"
    assert is_follow_up("¿Y Valencia?") and is_follow_up("también para eventuales, con contrato de obra")
    assert not is_follow_up(full)


async def test_chat_refines_a_follow_up_and_says_which_question_it_answered(stack):
    async with client(stack.url) as oa:
        resp = await oa.chat.completions.create(model="sentra", messages=[
            {"role": "user", "content": OPORTO}, {"role": "assistant", "content": "50 euros [1]."},
            {"role": "user", "content": "¿y en Valencia?"}])
        alone = await oa.chat.completions.create(model="sentra", extra_body={"sentra": {"history": False}}, messages=[
            {"role": "user", "content": OPORTO}, {"role": "user", "content": "¿y en Valencia?"}])
    assert [r.question for r in asked(stack)] == [f"{OPORTO} ¿y en Valencia?", "¿y en Valencia?"]
    assert resp.model_extra["sentra"]["question"] == f"{OPORTO} ¿y en Valencia?"
    assert alone.model_extra["sentra"]["question"] == "¿y en Valencia?"


async def test_n_other_than_one_is_refused_in_openai_shape(stack):
    async with client(stack.url) as oa:
        with pytest.raises(openai.BadRequestError) as info:
            await oa.chat.completions.create(model="sentra", n=2, messages=[{"role": "user", "content": "Plazo?"}])
        await oa.chat.completions.create(model="sentra", n=1, messages=[{"role": "user", "content": "Plazo?"}])
    assert info.value.body["param"] == "n" and "one answer per request" in info.value.body["message"]
    assert info.value.body["type"] == "invalid_request_error"
    assert len(asked(stack)) == 1  # the refused one never reached the service


# /v1/responses --------------------------------------------------------------------------------


async def test_responses_plain_answers_with_citations_as_annotations(stack):
    async with client(stack.url) as oa:
        resp = await oa.responses.create(model="sentra", input="What is the notice period?",
                                         instructions="Answer tersely.", max_output_tokens=64)
    assert (resp.object, resp.status, resp.model) == ("response", "completed", "sentra")
    assert resp.output_text == ANSWER
    part = resp.output[0].content[0]
    assert [(a.type, a.file_id, a.filename, a.index) for a in part.annotations] == [
        ("file_citation", "doc-1", "Employment contract", ANSWER.index("[1]"))]
    assert (resp.usage.input_tokens, resp.usage.output_tokens, resp.usage.total_tokens) == (120, 7, 127)
    assert resp.model_extra["citations"][0]["quote"] == "thirty (30) days' notice"
    request = asked(stack)[0]
    assert (request.question, request.max_tokens, request.adapter) == ("What is the notice period?", 64, "")
    records, _ = await stack.audit.query(ROOT, AuditQuery(method="Answer"))
    assert [(r.subject, r.result, r.document_ids) for r in records] == [("ana", "OK", ["doc-1"])]


async def test_responses_take_a_list_of_messages_and_refine_a_follow_up(stack):
    async with client(stack.url) as oa:
        await oa.responses.create(model="legal", input=[
            {"role": "system", "content": "You are Sentra."},
            {"role": "user", "content": OPORTO},
            {"role": "assistant", "content": [{"type": "output_text", "text": "50 euros."}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "¿y en Valencia?"}]},
        ])
    request = asked(stack)[0]
    assert (request.question, request.adapter) == (f"{OPORTO} ¿y en Valencia?", "legal")


async def test_a_generated_answer_that_used_the_whole_budget_is_incomplete(stack):
    async with client(stack.url) as oa:
        resp = await oa.responses.create(model="sentra", input="Notice?", max_output_tokens=7)
    assert resp.status == "incomplete" and resp.incomplete_details.reason == "max_output_tokens"


async def test_responses_streamed_with_the_responses_api_events(stack):
    async with client(stack.url) as oa:
        stream = await oa.responses.create(model="sentra", input="What is the notice period?", stream=True)
        events = [e async for e in stream]
    kinds = [e.type for e in events]
    assert kinds == ["response.created", "response.in_progress", "response.output_item.added",
                     "response.content_part.added", *["response.output_text.delta"] * len(PIECES),
                     "response.output_text.done", "response.content_part.done", "response.output_item.done",
                     "response.completed"]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == ANSWER
    assert events[0].response.status == "in_progress" and events[0].response.output == []
    done = events[-1].response
    assert done.output_text == ANSWER and done.usage.total_tokens == 127
    assert done.output[0].content[0].annotations[0].file_id == "doc-1"
    records, _ = await stack.audit.query(ROOT, AuditQuery(method="StreamAnswer"))
    assert [(r.subject, r.result) for r in records] == [("ana", "OK")]


async def test_an_error_mid_stream_is_an_error_event_then_response_failed(stack):
    async with client(stack.url) as oa:
        stream = await oa.responses.create(model="sentra", input="fail midway please", stream=True)
        events = [e async for e in stream]
    assert [e.type for e in events[-2:]] == ["error", "response.failed"]
    assert "model server went away" in events[-2].message and events[-2].code == "unavailable"
    assert events[-1].response.status == "failed" and events[-1].response.error.code == "unavailable"


async def test_responses_refusals_in_openai_shape(stack):
    async with client(stack.url) as oa:
        for kwargs, param in (
            ({"input": "hola", "previous_response_id": "resp_1"}, "previous_response_id"),
            ({"input": "hola", "tools": [{"type": "function", "name": "f", "parameters": {}}]}, "tools"),
            ({"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "http://x/y.png"}]}]},
             "input[0].content"),
            ({"input": [{"role": "assistant", "content": "hola"}]}, "input"),
            ({"input": [{"type": "function_call_output", "call_id": "c", "output": "{}"}]}, "input.0"),
        ):
            with pytest.raises(openai.BadRequestError) as info:
                await oa.responses.create(model="sentra", **kwargs)
            assert info.value.body["param"] == param, info.value.body
        with pytest.raises(openai.NotFoundError):
            await oa.responses.create(model="ventas", input="hola", stream=True)  # before the stream starts
    assert [r.adapter for r in asked(stack)] == ["ventas"]


# /v1/embeddings -------------------------------------------------------------------------------


async def test_embeddings_float_and_base64_from_the_platforms_model(stack):
    texts = ["El preaviso es de treinta días.", "Dietas en Oporto"]
    async with client(stack.url) as oa:
        default = await oa.embeddings.create(model="all-MiniLM-L6-v2", input=texts)  # the client asks base64
        plain = await oa.embeddings.create(model="sentra-embedding", input=texts[0], encoding_format="float",
                                           dimensions=DIMENSION)
    assert [d.index for d in default.data] == [0, 1] and default.model == "all-MiniLM-L6-v2"
    for got, text in zip(default.data, texts, strict=True):
        assert got.embedding == pytest.approx(fake_vector(text), abs=1e-6)
    assert plain.data[0].embedding == pytest.approx(fake_vector(texts[0]), abs=1e-6)
    assert default.usage.prompt_tokens == default.usage.total_tokens == 9
    async with httpx.AsyncClient() as http:
        raw = (await http.post(f"{stack.url}/v1/embeddings", headers=ANA, json={
            "model": "sentence-transformers/all-MiniLM-L6-v2", "input": "hola", "encoding_format": "base64"})).json()
    vector = struct.unpack(f"<{DIMENSION}f", base64.b64decode(raw["data"][0]["embedding"]))
    assert vector == pytest.approx(fake_vector("hola"), abs=1e-6)
    who, request = stack.fakes["embedding"].requests[-1]
    assert (who, list(request.texts)) == ("ana", ["hola"])
    records, _ = await stack.audit.query(ROOT, AuditQuery(method="EmbeddingService/"))
    # The model's name and dimension once (kept a few minutes), then one Embed per request.
    assert [(r.subject, r.method.rsplit("/", 1)[1], r.result) for r in reversed(records)] == [
        ("ana", "GetModelInfo", "OK"), *[("ana", "Embed", "OK")] * 3]


async def test_embeddings_refusals_in_openai_shape(stack):
    async with client(stack.url) as oa:
        for kwargs, error, param in (
            ({"model": "text-embedding-3-small", "input": "hola"}, openai.NotFoundError, "model"),
            ({"model": "all-MiniLM-L6-v2", "input": "hola", "dimensions": 256}, openai.BadRequestError, "dimensions"),
            ({"model": "all-MiniLM-L6-v2", "input": [[101, 2023]]}, openai.BadRequestError, "input"),
            ({"model": "all-MiniLM-L6-v2", "input": ["hola", " "]}, openai.BadRequestError, "input"),
            ({"model": "all-MiniLM-L6-v2", "input": ["x"] * 257}, openai.BadRequestError, "input"),
        ):
            with pytest.raises(error) as info:
                await oa.embeddings.create(encoding_format="float", **kwargs)
            assert info.value.body["param"] == param, info.value.body
            if param == "dimensions":
                assert "384-dimensional" in info.value.body["message"]
    assert not [r for _, r in stack.fakes["embedding"].requests if hasattr(r, "texts")]
