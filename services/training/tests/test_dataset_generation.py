"""The generation pipeline's parts with the real reader and PII masker: answer spans,
the filters (empty, answer leaked, generic, unsupported, duplicate), masking before
storage, splits by document; and the shipped question generator writing real questions."""

from __future__ import annotations

import re

import pytest
from sentra_common.reader.runtime import Reader
from sentra_training.app import shipped_reader_dir
from sentra_training.datasets.answers import candidates
from sentra_training.datasets.generate import Pipeline, SourceChunk, assign_splits
from sentra_training.datasets.pii import PiiMasker
from sentra_training.datasets.qg import QuestionGenerator, Request

TELEWORK = SourceChunk(
    "c1", "d1", 1, "Teletrabajo",
    "Política de teletrabajo. Cada empleado puede teletrabajar un máximo de 2 días por semana. "
    "Las solicitudes se envían a Recursos Humanos antes del 15 de marzo de 2026. "
    "La compensación por gastos de conexión es de 30 euros al mes. "
    "Para dudas escriba a rrhh@cierzo.es o llame al 612 345 678.",
)


class Scripted:
    """Writes the questions it is given, in order."""

    generator_id = "scripted"

    def __init__(self, questions):
        self.questions = list(questions)

    def generate(self, requests):
        out, self.questions = self.questions[: len(requests)], self.questions[len(requests):]
        return out


@pytest.fixture(scope="module")
def reader():
    return Reader.load(shipped_reader_dir())


def test_answer_spans_are_figures_dates_and_names_copied_from_the_text():
    found = candidates(TELEWORK.text + " La sede está en Zaragoza, junto a Plaza.", 10)
    texts = [c.text for c in found]
    assert "2 días" in texts and "15 de marzo de 2026" in texts and "30 euros" in texts and "Zaragoza" in texts
    # bare numbers (a phone, a code, a piece of a date) are no answers
    assert not any(t.startswith(("612", "011", "04")) for t in texts)
    assert [c.kind for c in candidates("Ver el procedimiento OPE-PRO-011 del 2026-04-06, página 3.", 5)] == ["name"]
    assert all(TELEWORK.text.find(c.text) == c.start or c.kind == "name" for c in found)
    english = candidates("Employees may claim up to 45 pounds per night. Contact Jane Smith for exceptions.", 5)
    assert [c.text for c in english] == ["45 pounds", "Jane Smith"]


def test_a_name_the_chunk_repeats_or_that_qualifies_a_noun_is_no_answer():
    text = ("La máquina de Turing es un modelo abstracto. Jacksonville creció deprisa en 1900. "
            "En Jacksonville hay 3 puentes sobre el río. Lo describió Alan Turing en Cambridge.")
    texts = [c.text for c in candidates(text, 5)]
    assert "Turing" not in texts  # "la máquina de Turing": a question about the machine names Turing
    assert "Jacksonville" not in texts  # the chunk's topic: every question about it names it
    assert "3 puentes" in texts and "Alan Turing" in texts
    # a name said once, not qualifying a noun, is still an answer
    assert [c.text for c in candidates("El informe lo firmó Marta Gil el lunes por la tarde.", 5)] == ["Marta Gil"]


def test_the_filters_drop_what_should_not_train_and_pii_is_masked_before_storage(reader):
    chunks = [TELEWORK]
    questions = [
        "¿Cuántos días por semana se puede teletrabajar?",  # 2 días: supported, kept
        "¿Antes de qué fecha se envían las solicitudes a Recursos Humanos?",  # kept
        "¿De qué trata este documento?",  # generic
    ]
    pipeline = Pipeline(Scripted(questions), reader)
    result = pipeline.run(chunks, masker=PiiMasker(), questions_per_chunk=3)
    kept = {i.question: i for i in result.items}
    assert "¿Cuántos días por semana se puede teletrabajar?" in kept, result.dropped
    item = kept["¿Cuántos días por semana se puede teletrabajar?"]
    assert item.answer == "2 días" and 0.5 <= item.score <= 1 and item.language == "es"
    assert result.dropped["generic"] == 1
    for item in result.items:  # the chunk's e-mail and phone never reach storage
        assert "rrhh@cierzo.es" not in item.context and "612 345 678" not in item.context
        assert "<EMAIL_ADDRESS>" in item.context and item.pii.get("EMAIL_ADDRESS", 0) >= 1
    # the same questions again: duplicates (the text, or a near copy by the bi-encoder)
    again = Pipeline(Scripted([questions[0], questions[0], "¿Cuántos días a la semana se puede teletrabajar?"]),
                     reader).run([TELEWORK] * 3, masker=PiiMasker(), questions_per_chunk=1)
    assert len(again.items) == 1 and again.dropped["duplicate"] == 2


def test_a_chunk_in_a_language_the_generator_does_not_write_is_not_asked_about(reader):
    """A Spanish-only writer is never given an English chunk (it would write a Spanish
    question about it); the chunk's candidates are counted as dropped `language`. A chunk
    whose language is not detected is asked."""
    english = SourceChunk("c2", "d2", 1, "Travel", "Employees may claim up to 45 pounds per night when they travel "
                          "to London. The travel desk books every trip at least 10 days before the "
                          "departure, and they should send their receipts within the month.")
    table = SourceChunk("c3", "d3", 1, "Tabla", "Zaragoza 53 euros | Huesca 41 euros | Teruel 38 euros")
    writer = Scripted(["¿Cuántos días por semana se puede teletrabajar?"] * 10)
    writer.languages = ("es",)
    asked: list[str] = []
    generate = writer.generate
    writer.generate = lambda requests: (asked.extend(r.passage for r in requests), generate(requests))[1]
    result = Pipeline(writer, reader).run([TELEWORK, english, table], masker=PiiMasker(), questions_per_chunk=2)
    asked_of = {c.chunk_id for c in (TELEWORK, english, table) for passage in asked if passage in c.text}
    assert asked_of == {"c1", "c3"}
    assert result.dropped["language"] == len(candidates(english.text, 2)) == 2
    # a writer of any language (the prompted one) is given the English chunk
    anyone = Scripted(["How much may employees claim per night?"] * 10)
    result = Pipeline(anyone, reader).run([english], masker=PiiMasker(), questions_per_chunk=2)
    assert "language" not in result.dropped


def test_the_generator_is_given_the_answers_window_not_the_whole_chunk(reader):
    """As it was trained (`qg.window`): the answer's sentence and its neighbours, cut to the
    generator's passage length; a far sentence of a long chunk is not in it."""
    filler = " ".join(f"El punto {n} del reglamento trata otra materia distinta." for n in range(30))
    chunk = SourceChunk("c4", "d4", 1, "Reglamento", filler + " " + TELEWORK.text)
    writer = Scripted(["¿Cuántos días por semana se puede teletrabajar?"] * 10)
    given = []
    generate = writer.generate
    writer.generate = lambda requests: (given.extend(requests), generate(requests))[1]
    Pipeline(writer, reader).run([chunk], masker=PiiMasker(), questions_per_chunk=2)
    assert given, "the writer was never asked"
    for request in given:
        assert request.answer in request.passage and len(request.passage) <= 420
        assert request.passage in chunk.text and "El punto 0 " not in request.passage


def test_leaked_empty_and_unsupported_questions_are_dropped(reader):
    pipeline = Pipeline(Scripted(["¿Se puede teletrabajar 2 días por semana?", "Hola",
                                  "¿Quién ganó el mundial de fútbol de 1998 en Francia?"]), reader)
    result = pipeline.run([TELEWORK], masker=PiiMasker(), questions_per_chunk=3)
    assert result.items == []
    assert result.dropped["leaks_answer"] == 1 and result.dropped["empty"] == 1
    assert result.dropped["unsupported"] + result.dropped["generic"] == 1


def test_splits_are_by_document_seeded_and_80_10_10():
    documents = [f"d{i}" for i in range(20)]
    splits = assign_splits(documents, seed=3)
    assert sorted(splits.values()).count("test") == 2 and sorted(splits.values()).count("validation") == 2
    assert splits == assign_splits(list(reversed(documents)), seed=3)
    assert splits != assign_splits(documents, seed=4)
    assert set(assign_splits(["a", "b"], seed=1).values()) == {"train"}


def test_the_shipped_generator_writes_questions_that_ask_for_the_answer():
    generator = QuestionGenerator(batch_size=4)
    questions = generator.generate([
        Request(TELEWORK.text, "2 días"),
        Request(TELEWORK.text, "15 de marzo de 2026"),
    ])
    assert all(q.endswith("?") and len(q.split()) >= 3 for q in questions), questions
    assert re.search(r"cu[áa]nt|qu[ée]", questions[0], re.IGNORECASE), questions
    assert generator.generator_id.startswith("qg-gemma3-270m-lora-")


def test_the_generator_is_steered_away_from_writing_the_answer_into_its_question():
    generator = QuestionGenerator(batch_size=4)
    requests = [
        Request("Pruebas realizadas\n• Prueba de carga al 100 % durante 2 horas con banco de resistencias: correcta.\n"
                "• Conmutación automática red-grupo en 9 segundos: correcta.", "100 %"),
        Request("Vehículo propio: se compensa por kilómetro recorrido según la tabla anual de dietas y kilometraje "
                "publicada por la Dirección Financiera. Los peajes y el aparcamiento se reembolsan aparte.",
                "Dirección Financiera"),
    ]
    free = generator.generate(requests, bar_answer=False)
    steered = generator.generate(requests)
    # left free, the generator writes these answers into their own questions (dropped as leaks_answer)
    assert any(r.answer in q for r, q in zip(requests, free, strict=True)), free
    assert not any(r.answer in q for r, q in zip(requests, steered, strict=True)), steered
    assert all(q.endswith("?") and len(q.split()) >= 3 for q in steered), steered
