"""The held-out rule: nothing of XQuAD reaches training or calibration."""

from __future__ import annotations

import json

import pytest
from sentra_training.squad import (
    DEFAULT_EVAL_DIR,
    QA,
    Paragraph,
    drop_held_out,
    load_paragraphs,
    squad_es_splits,
    words,
    xquad_ids,
)


def paragraph(context: str, *ids: str) -> Paragraph:
    return Paragraph("A", 0, context, [QA(i, f"question {i}?", ()) for i in ids])


def test_a_paragraph_holding_an_xquad_id_is_dropped_and_so_are_its_near_copies():
    xquad_text = "Los Panthers cedieron solo 308 puntos en defensa y quedaron sextos en la liga"
    held = paragraph("Traducción automática: los Panthers cedieron 308 puntos en defensa", "x1", "s1")
    near_copy = paragraph("Traducción automática: los Panthers cedieron 308 puntos en la defensa", "s9")
    other = paragraph("El Rin nace en los Alpes suizos y desemboca en el mar del Norte", "s2")
    close_to_xquad = paragraph(xquad_text + " de fútbol", "s3")
    kept, dropped = drop_held_out([held, near_copy, other, close_to_xquad], {"x1"}, [xquad_text])
    assert kept == [other]
    assert {id(p) for p in dropped} == {id(held), id(near_copy), id(close_to_xquad)}


def test_files_in_squad_format_load_with_answers_and_impossible_flags(tmp_path):
    data = {"data": [{"title": "Sky _ (Reino Unido)", "paragraphs": [{
        "context": "\ufeffSky emite desde 1989.",
        "qas": [
            {"id": "a", "question": " ¿Desde cuándo? ", "answers": [{"text": "1989", "answer_start": 17}]},
            {"id": "b", "question": "¿Quién no emite?", "answers": [], "is_impossible": True},
        ],
    }]}]}
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(data))
    [p] = load_paragraphs(path)
    assert p.article == "Sky (Reino Unido)" and p.context == "Sky emite desde 1989."
    assert p.context[p.questions[0].answers[0].start:].startswith("1989")
    assert p.questions[0].question == "¿Desde cuándo?" and not p.questions[0].impossible
    assert p.questions[1].impossible and not p.questions[1].answers


def test_a_missing_file_says_where_the_data_lives(tmp_path):
    with pytest.raises(FileNotFoundError, match="shared/eval"):
        load_paragraphs(tmp_path / "absent.json")


@pytest.mark.skipif(not (DEFAULT_EVAL_DIR / "xquad.es.json").exists(),
                    reason="the evaluation data is not at ../shared/eval (see shared/eval/README.md)")
def test_the_real_splits_hold_no_xquad_question_or_paragraph():
    splits = squad_es_splits()
    held = xquad_ids(DEFAULT_EVAL_DIR)
    xquad = [words(p.context) for p in load_paragraphs(DEFAULT_EVAL_DIR / "xquad.es.json")]
    for name in ("train", "calibration", "refusal_eval"):
        paragraphs = getattr(splits, name)
        assert paragraphs
        assert not {q.id for p in paragraphs for q in p.questions} & held
        for p in paragraphs:
            own = words(p.context)
            assert max(len(own & x) / len(own | x) for x in xquad) < 0.5
    articles = [{p.article for p in getattr(splits, n)} for n in ("train", "calibration", "refusal_eval")]
    assert not (articles[0] & articles[1] or articles[0] & articles[2] or articles[1] & articles[2])
    summary = splits.summary()
    assert summary["refusal_eval"]["unanswerable"] > 300 and summary["calibration"]["unanswerable"] > 100
