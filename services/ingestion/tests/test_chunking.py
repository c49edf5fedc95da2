"""Structure-aware chunking."""

from __future__ import annotations

import itertools
import random

import pytest
from sentra_ingestion.domain.parsing import ChunkDraft, ChunkingPolicy, Section, chunk_sections, parse_document
from sentra_ingestion.domain.parsing.chunking import is_table, sentence_spans


def policy(**sizes) -> ChunkingPolicy:
    """A chunking policy with `sizes`, also below what an operator may set (the algorithm
    is tested at small sizes too)."""
    return ChunkingPolicy.model_construct(**(ChunkingPolicy().model_dump() | sizes))


def numbered_sentences(count: int, prefix: str = "Sentence") -> str:
    return " ".join(f"{prefix} number {i} explains one more rule of the policy." for i in range(count))


def test_small_sections_become_single_chunks_with_their_location():
    chunks = chunk_sections([Section("Short text.", 2, "Intro")])
    assert chunks == [ChunkDraft("Short text.", 2, "Intro")]


def test_pages_and_headings_are_never_mixed():
    sections = [
        Section("Alpha one. Alpha two.", 1, "A"),
        Section("Alpha three.", 1, "A"),
        Section("Beta on page one.", 1, "B"),
        Section("Alpha on page two.", 2, "A"),
        Section(numbered_sentences(40, "Gamma"), 2, "A > C"),
        Section("Back to A.", 1, "A"),
    ]
    chunks = chunk_sections(sections)
    assert [(c.page, c.heading) for c in chunks][:3] == [(1, "A"), (1, "B"), (2, "A")]
    assert chunks[0].text == "Alpha one. Alpha two.\n\nAlpha three."  # same location merged
    assert chunks[-1] == ChunkDraft("Back to A.", 1, "A")
    for chunk in chunks:
        sources = " ".join(s.text for s in sections if (s.page, s.heading) == (chunk.page, chunk.heading))
        for sentence, _ in sentence_spans(chunk.text):
            assert sentence in sources


def test_long_text_respects_max_and_aims_at_target():
    text = "\n\n".join(numbered_sentences(8, f"P{p}") for p in range(20))
    chunks = chunk_sections([Section(text)], policy(target_chars=700, max_chars=1000, overlap_chars=100))
    assert len(chunks) > 5
    assert all(len(c.text) <= 1000 for c in chunks)
    assert all(len(c.text) >= 300 for c in chunks[:-1])


def test_tiny_paragraphs_are_merged_up_to_the_target():
    text = "\n\n".join(f"Item {i}." for i in range(30))
    chunks = chunk_sections([Section(text)], policy(target_chars=100, max_chars=150, overlap_chars=0))
    assert all(len(c.text) <= 100 for c in chunks)
    assert len(chunks) == len(text) // 100 + 1 or len(chunks) == len(text) // 100 + 2
    assert "\n\n".join(c.text for c in chunks) == text


def test_overlap_repeats_whole_trailing_sentences():
    text = numbered_sentences(60)
    chunks = chunk_sections([Section(text)], policy(target_chars=400, max_chars=500, overlap_chars=120))
    assert len(chunks) > 3
    for previous, current in itertools.pairwise(chunks):
        sentences = [s for s, _ in sentence_spans(previous.text)]
        assert current.text.startswith(" ".join(sentences[-2:]) + " ")  # 2 x 56 chars fit
        assert not current.text.startswith(" ".join(sentences[-3:]))  # 3 do not
    no_overlap = chunk_sections([Section(text)], policy(target_chars=400, max_chars=500, overlap_chars=0))
    assert " ".join(c.text for c in no_overlap) == text


def test_overlap_is_skipped_when_a_sentence_is_longer_than_the_overlap():
    sentence = "This sentence is deliberately much longer than the overlap budget allows it to be."
    text = " ".join([sentence] * 20)
    chunks = chunk_sections([Section(text)], policy(target_chars=300, max_chars=400, overlap_chars=50))
    assert " ".join(c.text for c in chunks) == text


def test_sentences_then_words_then_characters():
    long_sentence = "word " * 400  # one 2000-char sentence without punctuation
    giant_word = "x" * 2500
    chunks = chunk_sections([Section(long_sentence + giant_word)],
                            policy(target_chars=200, max_chars=300, overlap_chars=0))
    assert all(0 < len(c.text) <= 300 for c in chunks)
    assert "".join(c.text.replace(" ", "") for c in chunks) == (long_sentence + giant_word).replace(" ", "")


def test_table_rows_are_never_cut():
    rows = [f"Ciudad: Ciudad {i}; Dieta: {40 + i}; Hotel: {80 + i}; Nota: revisado en 2026" for i in range(60)]
    chunks = chunk_sections(
        [Section("\n".join(rows), 0, "Sheet: Tarifas")], policy(target_chars=300, max_chars=400, overlap_chars=80)
    )
    assert len(chunks) > 5
    seen = []
    for chunk in chunks:
        assert len(chunk.text) <= 400
        lines = chunk.text.split("\n")
        assert all(line in rows for line in lines)
        seen.extend(lines)
    assert seen == rows  # no overlap between table chunks, no row lost


def test_over_long_table_row_is_split_between_fields():
    row = "; ".join(f"Column {i}: value {i}" for i in range(100))
    chunks = chunk_sections([Section(f"{row}\nA: b; C: d")], policy(target_chars=300, max_chars=400))
    assert all(len(c.text) <= 400 for c in chunks)
    fields = [field for c in chunks for line in c.text.split("\n") for field in line.split("; ")]
    assert fields == [*row.split("; "), "A: b", "C: d"]


def test_table_detection():
    assert is_table("Ciudad: Madrid; Dieta: 52\nCiudad: Sevilla; Dieta: 45")
    assert is_table("Ciudad: Madrid; Dieta: 52")
    assert not is_table("Nota: this is prose that happens to have a colon.")
    assert not is_table("Line one\nCiudad: Madrid; Dieta: 52")


def test_punctuation_only_chunks_are_dropped():
    sections = [Section("...\n\n---", 1, "X"), Section("  ", 2, "Y"), Section("Real.", 3, "Z")]
    assert chunk_sections(sections) == [ChunkDraft("Real.", 3, "Z")]


def test_spanish_sentence_boundaries_and_abbreviations():
    text = "¿Cuántos días tengo? Veintitrés. ¡Genial! El Sr. García lo aprobó. J. Pérez también."
    assert [s for s, _ in sentence_spans(text)] == [
        "¿Cuántos días tengo?",
        "Veintitrés.",
        "¡Genial!",
        "El Sr. García lo aprobó.",
        "J. Pérez también.",
    ]
    assert [s for s, _ in sentence_spans("Pagamos 3.5 euros. luego seguimos")] == ["Pagamos 3.5 euros. luego seguimos"]
    assert sentence_spans("Uno\nDos.")[1] == ("Dos.", "\n")


def test_deterministic_output():
    rng = random.Random(11)
    words = ["alpha", "beta", "gamma.", "delta?", "épsilon!", "¿zeta", "eta\n", "\n\n", "A: b;"]
    text = " ".join(rng.choice(words) for _ in range(3000))
    sections = [Section(text, 1, "H"), Section(text[::-1], 2, "H")]
    first = chunk_sections(sections)
    assert first == chunk_sections(list(sections))
    assert all(len(c.text) <= 1000 for c in first)


@pytest.mark.parametrize("seed", range(5))
def test_random_text_never_exceeds_max(seed):
    rng = random.Random(seed)
    pieces = [
        "Short.",
        "A much longer sentence that keeps going for a while.",
        "\n",
        "\n\n",
        "Row: 1; Col: 2\n",
        "x" * rng.randint(1, 900),
        "¿Qué?",
        "¡Sí!",
        "...",
    ]
    text = " ".join(rng.choice(pieces) for _ in range(500))
    for target, limit, overlap in [(700, 1000, 100), (200, 250, 50), (50, 50, 10)]:
        chunks = chunk_sections([Section(text)], policy(target_chars=target, max_chars=limit, overlap_chars=overlap))
        assert chunks
        assert all(0 < len(c.text) <= limit for c in chunks)


def test_invalid_parameters_are_refused_when_the_settings_are_read():
    with pytest.raises(ValueError, match="max_chars must be at least target_chars"):
        ChunkingPolicy(target_chars=500, max_chars=400)
    with pytest.raises(ValueError, match="overlap_chars must be smaller"):
        ChunkingPolicy(target_chars=100, max_chars=400, overlap_chars=100)
    with pytest.raises(ValueError):
        ChunkingPolicy(target_chars=10)  # below what an operator may set
    assert chunk_sections([]) == []


def test_parsed_spreadsheet_chunks_keep_headers(make_xlsx):
    rows = [["Empleado", "Centro"]] + [[f"Persona {i}", "Bilbao"] for i in range(200)]
    doc = parse_document(make_xlsx({"Plantilla": rows}), "p.xlsx")
    chunks = chunk_sections(doc.sections)
    assert len(chunks) > 3
    lines = [line for chunk in chunks for line in chunk.text.split("\n")]
    assert len(lines) == 200
    assert all(line.startswith("Empleado: Persona ") for line in lines)
    assert {chunk.heading for chunk in chunks} == {"Sheet: Plantilla"}


def test_tables_are_chunked_a_few_rows_at_a_time():
    rows = "\n".join(f"Destino: Ciudad {i}; Dieta completa (€/día): {50 + i}; Media dieta (€/día): {25 + i}"
                     for i in range(30))
    chunks = chunk_sections([Section(rows, heading="Sheet: Dietas")], policy(table_target_chars=200))
    assert len(chunks) >= 10
    assert all(len(c.text) <= 260 for c in chunks)
    assert all(line.startswith("Destino:") for c in chunks for line in c.text.split("\n"))
