"""The answer metrics against hand-computed cases (normalisation of shared/eval/README.md)."""

from __future__ import annotations

import pytest
from sentra_training.metrics import contains_answer, exact_match, normalize_answer, token_f1


@pytest.mark.parametrize(("text", "normalized"), [
    ("El 7 %.", "7"),
    ("  The   Denver Broncos!", "denver broncos"),
    ("¿Los días?", "días"),
    ("unos 300 metros", "300 metros"),
    ("an apple, a pear", "apple pear"),
    ("«Gate 2» — Zaragoza", "gate 2 zaragoza"),
])
def test_normalisation_lowercases_strips_punctuation_and_articles(text, normalized):
    assert normalize_answer(text) == normalized


def test_exact_match_takes_the_best_gold():
    assert exact_match("the Broncos", ["Denver Broncos", "Broncos"]) == 1.0
    assert exact_match("Broncos de Denver", ["Denver Broncos"]) == 0.0


def test_token_f1_by_hand():
    # prediction: {denver, broncos, team} vs gold {denver, broncos}: P = 2/3, R = 1, F1 = 0.8
    assert token_f1("Denver Broncos team", ["Denver Broncos"]) == pytest.approx(0.8)
    # best over golds: "broncos" alone against gold "broncos" → 1.0
    assert token_f1("Broncos", ["Denver Broncos", "Broncos"]) == 1.0
    # repeated tokens count once each side: pred {7, 7} vs gold {7}: common 1, P 1/2, R 1 → 2/3
    assert token_f1("7 7", ["7"]) == pytest.approx(2 / 3)
    assert token_f1("", ["x"]) == 0.0
    assert token_f1("nothing shared", ["else"]) == 0.0


def test_contains_answer_needs_whole_words():
    assert contains_answer("Los Broncos ganaron por 24-10 [1]", ["24-10"]) == 1.0
    assert contains_answer("en 1982 llegó", ["198"]) == 0.0
    assert contains_answer("The answer is the Denver Broncos.", ["Denver Broncos"]) == 1.0
    assert contains_answer("", ["x"]) == 0.0
    assert contains_answer("anything", [""]) == 0.0


def test_rouge_l_against_hand_computed_cases():
    from sentra_training.metrics import rouge_l

    # normalised: "plazo es de tres dias" vs "tres dias de plazo": LCS "tres dias" (2);
    # P = 2/5, R = 2/4, F = 2PR/(P+R) = 0.444…
    assert abs(rouge_l("El plazo es de tres días.", ["tres días de plazo"]) - 4 / 9) < 1e-9
    assert rouge_l("dos días", ["Dos días."]) == 1.0
    assert rouge_l("", ["algo"]) == 0.0 and rouge_l("nada que ver", ["tres días"]) == 0.0
    assert rouge_l("tres días", ["otra cosa", "tres días"]) == 1.0  # the best gold counts
