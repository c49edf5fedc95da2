"""The held-out answer benchmark's metrics against hand-computed cases, and the figures file every
benchmark writes (no platform)."""

from __future__ import annotations

import sys

import pytest

from tests.support.platform import ROOT

sys.path.insert(0, str(ROOT / "bench"))
import answers_heldout as bench


def outcome(golds, *, direct="", quotes=(), cited=(), not_found=False, seconds=1.0, article="A", paragraph=1,
            set_="xquad-es"):
    question = bench.Question(set_, set_, "q?", list(golds), article, paragraph)
    return bench.Outcome(question, not_found, "", direct, list(quotes), list(cited), seconds)


def test_answer_contains_gold_looks_at_the_direct_answer_and_two_quotes_only():
    right_in_third_quote = outcome(["1989"], direct="Sky", quotes=["no", "nada", "desde 1989"])
    right_in_direct = outcome(["Denver Broncos"], direct="los Denver Broncos")
    right_in_second_quote = outcome(["24-10"], direct="x", quotes=["a", "ganaron 24–10"])
    refused = outcome(["x"], direct="x", quotes=["x"], not_found=True)
    m = bench.answer_metrics([right_in_third_quote, right_in_direct, right_in_second_quote, refused])
    # 2 of 4 contain a gold answer within their scope ("24–10" normalises to "24 10": dash is punctuation).
    assert m["answer_contains_gold"] == pytest.approx(0.5)
    assert m["false_refusal"] == pytest.approx(0.25)
    assert m["questions"] == 4


def test_exact_match_and_f1_are_on_the_direct_answer_or_the_quotes_without_one():
    exact = outcome(["Denver Broncos"], direct="The Denver Broncos.")
    partial = outcome(["Denver Broncos"], direct="Broncos team")  # P 1/2, R 1/2 → F1 0.5
    quoted = outcome(["308"], quotes=["cedieron 308 puntos"])  # no direct answer: the quote, P 1/3, R 1 → 0.5
    m = bench.answer_metrics([exact, partial, quoted])
    assert m["exact_match"] == pytest.approx(1 / 3, abs=1e-4)
    assert m["token_f1"] == pytest.approx((1 + 0.5 + 0.5) / 3, abs=1e-4)
    assert m["direct_answer_given"] == pytest.approx(2 / 3, abs=1e-4)


def test_gold_paragraph_cited_needs_the_article_and_the_paragraph():
    cited = outcome(["x"], direct="x", cited=[("Other", 1), ("A", 1)])
    wrong_paragraph = outcome(["x"], direct="x", cited=[("A", 2)])
    m = bench.answer_metrics([cited, wrong_paragraph])
    assert m["gold_paragraph_cited"] == pytest.approx(0.5)


def test_latency_percentiles():
    m = bench.answer_metrics([outcome(["x"], direct="x", seconds=s) for s in (1, 2, 3, 4, 5)])
    assert (m["latency_p50_s"], m["latency_p95_s"]) == (3.0, 4.8)


def test_refusal_counts_declines_and_false_refusals_separately():
    unanswerable = [outcome([], not_found=True, set_="refusal"), outcome([], direct="y", set_="refusal")]
    answerable = [outcome(["x"], direct="x", set_="refusal"), outcome(["x"], not_found=True, set_="refusal")]
    m = bench.refusal_metrics(unanswerable + answerable)
    assert (m["unanswerable"], m["declined"], m["answerable"], m["false_refusal"]) == (2, 0.5, 2, 0.5)
    assert m["answer_contains_gold"] == 0.5


def test_paragraph_documents_name_each_paragraph_in_a_heading():
    text = bench.article_markdown("Rin", ["Primero.", "Segundo."], "es")
    assert text == "# Rin\n\n## Párrafo 1\n\nPrimero.\n\n## Párrafo 2\n\nSegundo.\n"
    assert bench._PARAGRAPH_HEADING.search("Rin > Párrafo 12").group(1) == "12"
    assert bench.sample(list(range(10)), 3) == [0, 3, 6] and bench.sample([1, 2], 0) == [1, 2]


def test_a_benchmark_writes_its_figures_with_the_commit_and_settings(tmp_path):
    import json

    import benchlib

    out = benchlib.write_results("example", {"limit": 3}, {"ndcg@10": 0.94}, tmp_path / "example.json")
    written = json.loads(out.read_text())
    assert written["benchmark"] == "example" and written["settings"] == {"limit": 3}
    assert written["results"] == {"ndcg@10": 0.94}
    assert len(written["commit"].split("+")[0]) == 40 and written["machine"] and written["date"].endswith("Z")
