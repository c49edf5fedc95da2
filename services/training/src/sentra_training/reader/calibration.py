"""How the reader weighs its evidence and when it answers, fitted on a split it was not
trained on, and how it does there.

The setting imitates the platform: every paragraph of the split is a passage, BM25 stands
in for retrieval and returns the top passages for each question, and the reader reads all
their sentences. Then:

1. the combiner (a logistic model over the candidate features, `sentra_common.reader`) is
   fitted to tell the sentences that contain a gold answer from the others (unanswerable
   questions have none);
2. the threshold is the combined score below which the reader says "not in the
   documents": the quantile of the answerable questions' best scores that refuses
   `target_false_refusal` of them.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from sentra_common.reader.combiner import Combiner
from sentra_common.reader.features import FEATURES
from sentra_common.reader.reading import SpanCandidate
from sentra_common.reader.runtime import Reader

from sentra_training.lexical import BM25
from sentra_training.metrics import contains_answer, exact_match, token_f1
from sentra_training.squad import Paragraph


@dataclass
class Asked:
    """One question read against its retrieved passages."""

    golds: list[str]
    own: int
    top: list[int]
    passages: list[str]
    candidates: list[SpanCandidate]

    @property
    def answerable(self) -> bool:
        return bool(self.golds)

    def sentence(self, c: SpanCandidate) -> str:
        return self.passages[c.passage][c.sentence_start : c.sentence_end]

    def answer(self, c: SpanCandidate) -> str:
        return self.passages[c.passage][c.start : c.end]


def read_split(reader: Reader, paragraphs: Sequence[Paragraph], top_k: int = 6, limit: int = 0,
               foreign: Sequence[str] = (), progress: Callable[[int, int], None] | None = None) -> list[Asked]:
    """Every question of the split (an even sample of `limit`), plus `foreign` questions —
    asked of this split's passages but about other articles, so nothing here answers them
    (what a question about something no document mentions looks like)."""
    contexts = [p.context for p in paragraphs]
    index = BM25(contexts)
    questions = [(i, q.question, [a.text for a in q.answers]) for i, p in enumerate(paragraphs) for q in p.questions]
    if limit:
        questions = questions[:: max(1, len(questions) // limit)][:limit]
    questions += [(-1, text, []) for text in foreign]
    asked = []
    for n, (own, question, golds) in enumerate(questions, 1):
        top = index.top(question, top_k)
        passages = [contexts[i] for i in top]
        titles = [paragraphs[i].article for i in top]
        asked.append(Asked(golds, own, top, passages, reader.candidates(question, passages, titles)))
        if progress and n % 100 == 0:
            progress(n, len(questions))
    return asked


def foreign_questions(paragraphs: Sequence[Paragraph], count: int) -> list[str]:
    """An even sample of `count` answerable questions of other articles."""
    questions = [q.question for p in paragraphs for q in p.questions if not q.impossible]
    return questions[:: max(1, len(questions) // count)][:count] if count else []


def fit_combiner(asked: Sequence[Asked], l2: float = 1e-2) -> Combiner:
    """Logistic regression: does a candidate sentence contain a gold answer?"""
    rows, labels = [], []
    for a in asked:
        for c in a.candidates:
            rows.append([c.features[name] for name in FEATURES])
            labels.append(contains_answer(a.sentence(c), a.golds) if a.answerable else 0.0)
    x = torch.tensor(rows, dtype=torch.float64)
    y = torch.tensor(labels, dtype=torch.float64)
    mean, scale = x.mean(0), x.std(0).clamp(min=1e-6)
    z = (x - mean) / scale
    weights = torch.zeros(z.shape[1], dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([weights, bias], max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        logits = z @ weights + bias
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y) + l2 * (weights**2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return Combiner(list(FEATURES), mean.tolist(), scale.tolist(), weights.detach().tolist(), float(bias.detach()))


def rescore(asked: Sequence[Asked], combiner: Combiner) -> None:
    for a in asked:
        a.candidates = [
            SpanCandidate(c.passage, c.start, c.end, combiner.score(c.features), c.sentence_start, c.sentence_end,
                          c.features)
            for c in a.candidates
        ]


def best(a: Asked) -> SpanCandidate | None:
    return max(a.candidates, key=lambda c: c.score, default=None)


def fit_threshold(asked: Sequence[Asked], target_false_refusal: float) -> float:
    scores = sorted(b.score for a in asked if a.answerable and (b := best(a)) is not None)
    if not scores:
        raise ValueError("no answerable question to calibrate on")
    position = target_false_refusal * (len(scores) - 1)
    low, high = math.floor(position), math.ceil(position)
    return scores[low] + (scores[high] - scores[low]) * (position - low)


def summarize(asked: Sequence[Asked], threshold: float) -> dict[str, float]:
    """Figures at a threshold: the answer (span), the first quote, the first two quotes."""
    answerable = [a for a in asked if a.answerable]
    unanswerable = [a for a in asked if not a.answerable]
    out: dict[str, float] = {"threshold": round(threshold, 4), "answerable": len(answerable),
                             "unanswerable": len(unanswerable)}
    if answerable:
        exact, f1, first, two, chosen, kept = [], [], [], [], [], []
        for a in answerable:
            ranked = sorted(a.candidates, key=lambda c: c.score, reverse=True)
            top = ranked[0] if ranked else None
            answered = top is not None and top.score >= threshold
            kept.append(answered)
            prediction = a.answer(top) if answered else ""
            exact.append(exact_match(prediction, a.golds) if answered else 0.0)
            f1.append(token_f1(prediction, a.golds) if answered else 0.0)
            quotes = [a.sentence(c) for c in ranked[:2]] if answered else []
            first.append(contains_answer(f"{prediction} {' '.join(quotes[:1])}", a.golds) if answered else 0.0)
            two.append(contains_answer(f"{prediction} {' '.join(quotes)}", a.golds) if answered else 0.0)
            chosen.append(answered and a.top[top.passage] == a.own)
        out |= {
            "exact_match": round(statistics.fmean(exact), 4),
            "token_f1": round(statistics.fmean(f1), 4),
            "contains_gold_one_quote": round(statistics.fmean(first), 4),
            "contains_gold_two_quotes": round(statistics.fmean(two), 4),
            "gold_passage_chosen": round(statistics.fmean(chosen), 4),
            "gold_retrieved": round(statistics.fmean(a.own in a.top for a in answerable), 4),
            "false_refusal": round(1 - statistics.fmean(kept), 4),
        }
    adversarial = [a for a in unanswerable if a.own >= 0]
    foreign = [a for a in unanswerable if a.own < 0]
    for name, group in (("unanswerable_declined", adversarial), ("foreign_declined", foreign)):
        if group:
            out[name] = round(statistics.fmean((b := best(a)) is None or b.score < threshold for a in group), 4)
    return out
