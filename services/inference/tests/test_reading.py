"""Answers from the learned reader, with a scripted stand-in for the model: answerability,
the direct answer and its quote, two-part questions, answers in the question's language,
and what the reader may see (only the caller's passages)."""

from __future__ import annotations

import pytest
from sentra_common.errors import InvalidArgument
from sentra_common.principal import Principal
from sentra_common.reader.reading import PassageReading, SpanCandidate
from sentra_common.sentences import MAX_QUOTE_CHARS, quote, sentence_spans
from sentra_inference.domain.answering import AnswerPolicy, AnswerService, Question
from sentra_inference.domain.evidence import Passage
from sentra_inference.domain.reading import clean_span, split_question
from sentra_inference.domain.rendering import render_answer

ANA = Principal("ana", departments=("rrhh",), roles=("member",))


def passage(number: int, text: str, title: str = "Doc") -> Passage:
    return Passage(number=number, document_id=f"doc-{number}", chunk_id=f"c-{number}", title=title, text=text)


TELEWORK = passage(1, (
    "Política de teletrabajo\n"
    "La plantilla de oficinas puede teletrabajar con un máximo de 2 días de teletrabajo por semana,\n"
    "previa autorización de su responsable. Las solicitudes se aprueban en MiCierzo por el jefe de área."
))
PASSWORDS = passage(2, "La contraseña corporativa debe tener como mínimo 14 caracteres. Se cambia cada 90 días.")


class ScriptedReader:
    """Finds `answers[part]` (a substring) in the passages: score 5 for the sentence that
    holds it, `others` for every other sentence; threshold 1."""

    threshold = 1.0

    def __init__(self, answers: dict[str, str], others: float = -3.0) -> None:
        self.answers = answers
        self.others = others
        self.calls: list[tuple[str, list[str], list[str]]] = []

    async def read(self, question, passages, contexts):
        self.calls.append((question, list(passages), list(contexts)))
        wanted = next((a for q, a in self.answers.items() if q in question), None)
        readings = []
        for i, text in enumerate(passages):
            at = text.find(wanted) if wanted else -1
            spans = []
            for a, b in sentence_spans(text):
                if a <= at < b:
                    spans.append(SpanCandidate(i, at, at + len(wanted), 5.0, a, b))
                else:
                    spans.append(SpanCandidate(i, a, b, self.others, a, b))
            readings.append(PassageReading(i, sorted(spans, key=lambda c: c.score, reverse=True)))
        return readings


class Retriever:
    def __init__(self, passages):
        self.passages = passages

    async def search(self, question, top_k, departments):
        return [Passage(**p.__dict__) for p in self.passages]


class Registry:
    base_model = "gemma-3-270m"

    def resolve(self, principal, spec, departments=()):
        return ""


def answers(passages, reader) -> AnswerService:
    return AnswerService(Retriever(passages), Registry(), backend=None, policy=AnswerPolicy(), reader=reader)


# Sentences and quotes -----------------------------------------------------------------------


def test_sentence_spans_join_wrapped_lines_and_keep_rows_apart():
    text = TELEWORK.text
    sentences = [text[a:b] for a, b in sentence_spans(text)]
    assert sentences[0] == "Política de teletrabajo"
    assert sentences[1].startswith("La plantilla") and sentences[1].endswith("de su responsable.")
    assert sentences[2].startswith("Las solicitudes")
    rows = "Destino: Oporto; Dieta: 87\nDestino: Lisboa; Dieta: 80"
    assert [rows[a:b] for a, b in sentence_spans(rows)] == ["Destino: Oporto; Dieta: 87", "Destino: Lisboa; Dieta: 80"]


def test_a_long_sentence_is_quoted_around_the_answer():
    expected = "La plantilla puede teletrabajar 2 días."
    assert quote("La plantilla puede\nteletrabajar  2 días.", focus=(33, 39)) == expected
    long = "Intro " + "palabra " * 120 + "el plazo es de 45 minutos " + "relleno " * 120 + "fin."
    at = long.index("45 minutos")
    quoted = quote(long, focus=(at, at + 10))
    assert "45 minutos" in quoted and len(quoted) <= MAX_QUOTE_CHARS + 4
    assert quoted.startswith("… ") and quoted.endswith(" …")


# Parts, spans, languages ----------------------------------------------------------------------


@pytest.mark.parametrize(("question", "parts"), [
    ("¿Cuántos días a la semana puedo teletrabajar y quién aprueba las solicitudes?",
     ["¿Cuántos días a la semana puedo teletrabajar?", "¿Quién aprueba las solicitudes?"]),
    ("What is the speed limit and where is the assembly point?",
     ["What is the speed limit?", "Where is the assembly point?"]),
    ("¿Qué es MiCierzo? ¿Dónde se solicita el teletrabajo?",
     ["¿Qué es MiCierzo?", "¿Dónde se solicita el teletrabajo?"]),
    ("¿Cuál es la banda salarial 2026, mínimo y máximo, de un Jefe de Almacén?",
     ["¿Cuál es la banda salarial 2026, mínimo y máximo, de un Jefe de Almacén?"]),
    ("Who won and how?", ["Who won and how?"]),
])
def test_questions_split_into_their_parts(question, parts):
    assert split_question(question) == parts


def test_spans_lose_surrounding_punctuation_and_unmatched_brackets():
    assert clean_span(" (el 7 %). ") == "el 7 %"
    assert clean_span("«Gate 2") == "Gate 2"
    assert clean_span("(a) y (b)") == "(a) y (b)"


@pytest.mark.parametrize(("text", "source", "target", "rendered"), [
    ("2 días", "es", "en", "2 days"),
    ("23 días laborables", "es", "en", "23 working days"),
    ("el 7 %", "es", "en", "7 %"),
    ("1 de marzo de 2026", "es", "en", "March 1, 2026"),
    ("lunes a viernes", "es", "en", "Monday to Friday"),
    ("el servicio de guardia", "es", "en", "el servicio de guardia"),  # not in the glossary: as written
    ("Assembly Point B", "en", "es", "Assembly Point B"),
    ("two weeks", "en", "es", "dos semanas"),
    ("£3.85", "en", "es", "£3.85"),
    ("2 días", "es", "es", "2 días"),
    ("2 días", None, "en", "2 días"),
])
def test_short_answers_are_rendered_in_the_question_language_when_the_glossary_allows(text, source, target, rendered):
    assert render_answer(text, source, target) == rendered


# The Answer flow --------------------------------------------------------------------------------


async def test_the_reader_gives_the_direct_answer_then_the_supporting_quote():
    reader = ScriptedReader({"teletrabajar": "máximo de 2 días"})
    final = await answers([PASSWORDS, TELEWORK], reader).answer(
        ANA, Question("¿Cuántos días a la semana se puede teletrabajar?"))
    assert not final.not_found and final.strategy == "reader"
    assert final.direct_answer == "máximo de 2 días"
    [citation] = final.citations
    assert citation.passage.document_id == "doc-1" and citation.number == 1
    assert "2 días de teletrabajo por semana" in citation.quote
    assert final.text.startswith("máximo de 2 días [1]\n\n«La plantilla")
    assert [(p.answer, p.citation) for p in final.parts] == [("máximo de 2 días", 1)]


async def test_below_the_threshold_the_documents_do_not_contain_it():
    reader = ScriptedReader({})
    final = await answers([PASSWORDS, TELEWORK], reader).answer(ANA, Question("¿Qué día es la cena de Navidad?"))
    assert final.not_found and "no contienen" in final.text
    assert not final.citations and not final.direct_answer and not final.parts


async def test_no_passages_at_all_is_not_found_without_asking_the_model():
    reader = ScriptedReader({"x": "y"})
    final = await answers([], reader).answer(ANA, Question("What is the guest Wi-Fi password?"))
    assert final.not_found and "do not contain" in final.text


async def test_a_two_part_question_gets_both_parts_with_their_quotes():
    reader = ScriptedReader({"teletrabajar": "2 días", "contraseña": "14 caracteres"})
    final = await answers([PASSWORDS, TELEWORK], reader).answer(
        ANA, Question("¿Cuántos días puedo teletrabajar y cuántos caracteres debe tener la contraseña?"))
    assert final.direct_answer == "2 días; 14 caracteres"
    assert [p.citation for p in final.parts] == [1, 2]
    assert final.text.startswith("1. 2 días [1]\n2. 14 caracteres [2]\n\n")
    assert {c.passage.document_id for c in final.citations} == {"doc-1", "doc-2"}
    assert [q for q, _, _ in reader.calls] == [
        "¿Cuántos días puedo teletrabajar?", "¿Cuántos caracteres debe tener la contraseña?"]


async def test_a_part_the_documents_do_not_answer_says_so_and_the_other_is_answered():
    reader = ScriptedReader({"teletrabajar": "2 días"})
    final = await answers([PASSWORDS, TELEWORK], reader).answer(
        ANA, Question("¿Cuántos días puedo teletrabajar y qué día es la cena de Navidad?"))
    assert not final.not_found and final.direct_answer == "2 días"
    assert "2. Los documentos a los que tienes acceso no contienen esa información." in final.text


async def test_a_second_sentence_the_reader_also_accepts_is_quoted_too():
    reader = ScriptedReader({"contraseña": "14 caracteres"}, others=2.0)  # every other sentence clears 1.0
    final = await answers([PASSWORDS, TELEWORK], reader).answer(
        ANA, Question("¿Cuántos caracteres debe tener la contraseña?"))
    assert final.direct_answer == "14 caracteres" and len(final.citations) == 2
    assert final.text.count("«") == 2
    lonely = await answers([PASSWORDS, TELEWORK], ScriptedReader({"contraseña": "14 caracteres"})).answer(
        ANA, Question("¿Cuántos caracteres debe tener la contraseña?"))
    assert len(lonely.citations) == 1 and lonely.text.count("«") == 1


async def test_the_reader_sees_titles_and_headings_as_context():
    reader = ScriptedReader({"contraseña": "14 caracteres"})
    await answers([PASSWORDS], reader).answer(ANA, Question("¿Cuántos caracteres debe tener la contraseña?"))
    assert reader.calls[0][2] == ["Doc"]


async def test_an_english_question_over_a_spanish_document_gets_an_english_direct_answer():
    reader = ScriptedReader({"telework": "2 días"})
    final = await answers([TELEWORK], reader).answer(ANA, Question("How many days a week can I telework?"))
    assert final.direct_answer == "2 days"
    assert "2 días de teletrabajo" in final.citations[0].quote  # the quote stays as written


async def test_the_reader_strategy_needs_a_reader():
    service = AnswerService(Retriever([PASSWORDS]), Registry(), backend=None, policy=AnswerPolicy(), reader=None)
    with pytest.raises(InvalidArgument, match="without the reader"):
        await service.answer(ANA, Question("¿Cuántos caracteres?", strategy="reader"))


async def test_generative_answers_are_gated_by_the_reader():
    reader = ScriptedReader({})
    service = AnswerService(Retriever([PASSWORDS]), Registry(), backend=None, policy=AnswerPolicy(), reader=reader)
    # Lexically well supported, but the reader finds no answer: nothing is generated (backend=None would fail).
    final = await service.answer(ANA, Question("¿Cuántos caracteres debe tener la contraseña corporativa?",
                                               strategy="generative"))
    assert final.not_found
