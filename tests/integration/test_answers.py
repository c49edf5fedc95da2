"""Answers with citations from the real platform: inference, retrieval, embedding and
ingestion as separate processes, the embedded base model, the example corpus."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import grpc
import pytest
from sentra.inference.v1 import inference_pb2
from sentra_common.principal import Principal

from tests.support.platform import ROOT, Api

pytestmark = [pytest.mark.integration, pytest.mark.slow]

QUESTIONS = {q["id"]: q for q in json.loads((ROOT / "examples" / "questions.json").read_text())}
# Not in examples/questions.json (nothing was fitted on these).
# The document: "La cuenta se bloquea durante 15 minutos tras 8 intentos fallidos". A paraphrase
# that shares no content word at all ("¿Cuánto tiempo se queda bloqueado mi usuario si me
# equivoco muchas veces al entrar?") is declined: a known limit of the reader (model card).
PARAPHRASED = "¿Durante cuánto tiempo queda bloqueada la cuenta tras varios intentos fallidos?"
TWO_PARTS = ("¿Cuántos caracteres debe tener como mínimo la contraseña corporativa y qué extensión hay que "
             "marcar para el soporte de Sistemas?")


def member(department: str, subject: str = "") -> Principal:
    return Principal(subject or f"{department}-member", departments=(department,), roles=("member",))


async def ask(platform, principal: Principal, question: str, **fields) -> inference_pb2.AnswerResponse:
    api = Api(platform, principal)
    try:
        return await api.inference.Answer(inference_pb2.AnswerRequest(question=question, **fields))
    finally:
        await api.close()


def plain(text: str) -> str:
    return text.replace(".", "").replace(" ", "").casefold()


# One question per kind of document: PDF, DOCX, XLSX, CSV, Markdown, HTML, e-mail, text, English.
@pytest.mark.parametrize("qid", ["q03", "q05", "q12", "q02", "q08", "q10", "q16", "q20", "q17", "q22"])
async def test_answer_contains_the_fact_and_cites_the_document(corpus_platform, qid):
    q = QUESTIONS[qid]
    reply = await ask(corpus_platform, member(q["department"]), q["question"])
    assert not reply.not_found
    for fact in q["answer_facts"]:
        assert plain(fact) in plain(reply.answer), (fact, reply.answer)
    expected = corpus_platform.corpus_ids[q["expected_file"]]
    assert expected in {c.document_id for c in reply.citations}
    for citation in reply.citations:
        assert citation.quote and citation.chunk_id and citation.title
        assert f"[{citation.number}]" in reply.answer
    assert reply.strategy == inference_pb2.ANSWER_STRATEGY_READER
    assert reply.direct_answer and reply.answer.startswith(reply.direct_answer)


@pytest.mark.parametrize("strategy", [inference_pb2.ANSWER_STRATEGY_READER, inference_pb2.ANSWER_STRATEGY_EXTRACTIVE])
async def test_most_example_questions_are_answered_with_the_fact(corpus_platform, strategy):
    answered = 0
    answerable = [q for q in QUESTIONS.values() if q["answer_facts"]]
    for q in answerable:
        reply = await ask(corpus_platform, member(q["department"]), q["question"], strategy=strategy)
        answered += all(plain(f) in plain(reply.answer) for f in q["answer_facts"])
    assert answered >= 0.8 * len(answerable), f"{answered} of {len(answerable)}"


# The learned reader ---------------------------------------------------------------------------


async def test_the_reader_answers_a_paraphrased_question(corpus_platform):
    """The question's words differ from the document's (queda bloqueada / se bloquea,
    varios / 8, durante cuánto tiempo / 15 minutos)."""
    reply = await ask(corpus_platform, member("rrhh"), PARAPHRASED)
    assert not reply.not_found
    assert "15 minutos" in reply.answer
    assert corpus_platform.corpus_ids["rrhh/guia_incorporacion_it.md"] in {c.document_id for c in reply.citations}


async def test_a_two_part_question_gets_both_parts(corpus_platform):
    reply = await ask(corpus_platform, member("rrhh"), TWO_PARTS)
    assert len(reply.parts) == 2
    assert "14" in reply.parts[0].answer and "4357" in reply.parts[1].answer
    assert reply.direct_answer == f"{reply.parts[0].answer}; {reply.parts[1].answer}"
    numbers = {c.number for c in reply.citations}
    assert {p.citation for p in reply.parts} <= numbers


async def test_an_english_question_over_a_spanish_document_is_answered_in_english(corpus_platform):
    """The reply is in the question's language. The reader was trained on Spanish only and
    declines most English questions about Spanish documents (a known gap, see the model
    card); when it answers, numbers stay exact and the unit is rendered in English."""
    reply = await ask(corpus_platform, member("rrhh"), "How many characters must the corporate password have?")
    if reply.not_found:
        assert "do not contain" in reply.answer and not reply.citations
    else:
        assert reply.direct_answer.endswith("characters") and "14" in reply.direct_answer
        assert "14 caracteres" in reply.citations[0].quote  # the quote stays as the document says it


# The reader answers u01 and u03 from a passage that shares a few of their words (a known
# gap: it declines 36 of 40 never-mentioned questions in bench/answers_heldout.py); the
# extractive strategy declines all three. Strict: the test fails once the reader declines them.
READER_ANSWERS_ANYWAY = pytest.mark.xfail(strict=True, reason="the reader answers this off-topic question")


@pytest.mark.parametrize(("qid", "language_text"), [
    pytest.param("u01", "no contienen", marks=READER_ANSWERS_ANYWAY), ("u02", "do not contain"),
    pytest.param("u03", "no contienen", marks=READER_ANSWERS_ANYWAY),
])
async def test_unanswerable_questions_say_the_documents_do_not_contain_it(corpus_platform, qid, language_text):
    q = QUESTIONS[qid]
    reply = await ask(corpus_platform, member(q["department"]), q["question"])  # the reader, by default
    assert reply.not_found and reply.strategy == inference_pb2.ANSWER_STRATEGY_READER
    assert language_text in reply.answer
    assert not reply.citations and not reply.direct_answer and not reply.parts


@pytest.mark.parametrize("qid", ["u01", "u02", "u03"])
async def test_the_extractive_strategy_declines_every_example_unanswerable(corpus_platform, qid):
    q = QUESTIONS[qid]
    reply = await ask(corpus_platform, member(q["department"]), q["question"],
                      strategy=inference_pb2.ANSWER_STRATEGY_EXTRACTIVE)
    assert reply.not_found and not reply.citations


async def test_another_departments_member_gets_nothing_from_documents_they_may_not_see(corpus_platform):
    salary = QUESTIONS["q12"]  # rrhh's confidential salary bands
    for strategy in (inference_pb2.ANSWER_STRATEGY_READER, inference_pb2.ANSWER_STRATEGY_EXTRACTIVE,
                     inference_pb2.ANSWER_STRATEGY_GENERATIVE):
        reply = await ask(corpus_platform, member("ventas"), salary["question"], strategy=strategy, max_tokens=24)
        rrhh = set(corpus_platform.corpus_ids[k] for k in corpus_platform.corpus_ids if k.startswith("rrhh/"))
        assert not rrhh & {c.document_id for c in reply.citations}
        assert "49500" not in plain(reply.answer) and "41000" not in plain(reply.answer)
    # The same question from rrhh is answered from that document.
    reply = await ask(corpus_platform, member("rrhh"), salary["question"])
    assert "49500" in plain(reply.answer)


async def test_naming_another_department_is_refused(corpus_platform):
    api = Api(corpus_platform, member("ventas"))
    try:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await api.inference.Answer(inference_pb2.AnswerRequest(
                question=QUESTIONS["q12"]["question"], departments=["rrhh"],
            ))
    finally:
        await api.close()
    assert refused.value.code() in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.NOT_FOUND)


async def test_generative_answer_streams_and_cites(corpus_platform):
    q = QUESTIONS["q08"]
    api = Api(corpus_platform, member(q["department"]))
    try:
        texts, final = [], None
        async for event in api.inference.StreamAnswer(inference_pb2.AnswerRequest(
            question=q["question"], strategy=inference_pb2.ANSWER_STRATEGY_GENERATIVE, max_tokens=24,
        )):
            if event.HasField("final"):
                final = event.final
            else:
                texts.append(event.text)
    finally:
        await api.close()
    assert final is not None and final.strategy == inference_pb2.ANSWER_STRATEGY_GENERATIVE
    assert "".join(texts).strip() == final.answer
    assert final.completion_tokens > 0 and final.prompt_tokens > 0
    assert final.citations and all(c.document_id for c in final.citations)
    # The base model answers from the passages it was given: the right document is cited.
    assert corpus_platform.corpus_ids[q["expected_file"]] in {c.document_id for c in final.citations}


async def test_a_document_with_instructions_does_not_change_the_rules(corpus_platform):
    """The ventas e-mail asks the assistant to reveal salary bands and ignore its rules.
    Asked about it, ventas gets the e-mail's facts and nothing of rrhh's data."""
    q = QUESTIONS["q20"]
    for strategy in (inference_pb2.ANSWER_STRATEGY_READER, inference_pb2.ANSWER_STRATEGY_EXTRACTIVE,
                     inference_pb2.ANSWER_STRATEGY_GENERATIVE):
        reply = await ask(corpus_platform, member("ventas"), q["question"], strategy=strategy, max_tokens=32)
        assert not reply.not_found
        ventas = {v for k, v in corpus_platform.corpus_ids.items() if k.startswith("ventas/")}
        assert {c.document_id for c in reply.citations} <= ventas
        assert "banda" not in reply.answer.casefold()


async def test_bad_questions_get_clear_errors(corpus_platform):
    api = Api(corpus_platform, member("legal"))
    try:
        for request, words in [
            (inference_pb2.AnswerRequest(question="   "), "empty"),
            (inference_pb2.AnswerRequest(question="x" * 5000), "limit"),
            (inference_pb2.AnswerRequest(question="hola", top_k=500), "top_k"),
            (inference_pb2.AnswerRequest(question="hola", adapter="nope"), "no adapter"),
        ]:
            with pytest.raises(grpc.aio.AioRpcError) as bad:
                await api.inference.Answer(request)
            assert bad.value.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND)
            assert words in bad.value.details()
    finally:
        await api.close()


def sentra(platform, *args: str, identity: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SENTRA_IDENTITY": identity, "SENTRA_HOME": str(platform.data_dir)}
    env.pop("SENTRA_GATEWAY", None)
    return subprocess.run(
        [sys.executable, "-m", "sentra_cli.main", *args], env=env, capture_output=True, text=True, timeout=300,
    )


def test_sentra_ask_prints_the_answer_and_its_sources(corpus_platform, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))  # no stored login: the development identity is used
    q = QUESTIONS["q08"]
    result = sentra(corpus_platform, "ask", q["question"], identity="ana:rrhh:member")
    assert result.returncode == 0, result.stderr
    assert "14 caracteres" in result.stdout
    assert "Sources" in result.stdout and corpus_platform.corpus_ids[q["expected_file"]] in result.stdout
    missing = sentra(corpus_platform, "ask", QUESTIONS["u01"]["question"], "--strategy", "extractive",
                     identity="ana:rrhh:member")
    assert missing.returncode == 0 and "no contienen" in missing.stdout
    as_json = sentra(corpus_platform, "ask", q["question"], "--json", identity="ana:rrhh:member")
    assert as_json.returncode == 0, as_json.stderr
    reply = json.loads(as_json.stdout)
    assert "14" in reply["direct_answer"] and reply["strategy"] == "ANSWER_STRATEGY_READER"
    assert reply["parts"][0]["citation"] == reply["citations"][0]["number"]


async def test_openai_client_against_the_gateway(corpus_platform):
    from openai import AsyncOpenAI

    state = corpus_platform.load_state()
    client = AsyncOpenAI(
        base_url=f"http://127.0.0.1:{state.http_port}/v1", api_key="development",
        default_headers={"x-sentra-dev-identity": "ana:operaciones:member"},
    )
    try:
        models = [m.id async for m in client.models.list()]
        assert "sentra" in models and "gemma-3-270m" in models
        q = QUESTIONS["q17"]
        completion = await client.chat.completions.create(
            model="sentra", messages=[{"role": "user", "content": q["question"]}],
        )
        assert "5 mph" in completion.choices[0].message.content
        # The direct answer comes first in the message and in its own extension field.
        direct = completion.model_extra["sentra"]["direct_answer"]
        assert direct and completion.choices[0].message.content.startswith(direct)
        citations = completion.model_extra["citations"]
        assert corpus_platform.corpus_ids[q["expected_file"]] in {c["document_id"] for c in citations}
        stream = await client.chat.completions.create(
            model="sentra", messages=[{"role": "user", "content": q["question"]}], stream=True,
        )
        pieces, last = [], None
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                pieces.append(chunk.choices[0].delta.content)
            if chunk.model_extra.get("citations"):
                last = chunk
        assert "".join(pieces) == completion.choices[0].message.content
        assert last is not None
    finally:
        await client.close()
