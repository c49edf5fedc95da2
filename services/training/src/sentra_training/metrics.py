"""Answer metrics in the SQuAD style, with the normalisation of `shared/eval/README.md`:
lower-case, strip punctuation, drop articles (Spanish un/una/unos/unas/el/la/los/las,
English a/an/the), collapse whitespace. Each metric takes the best over the gold answers.

Used by the reader's training evaluation and by `bench/answers_heldout.py`.
"""

from __future__ import annotations

import string
import unicodedata
from collections import Counter
from collections.abc import Iterable

ARTICLES = frozenset({"un", "una", "unos", "unas", "el", "la", "los", "las", "a", "an", "the"})
_PUNCTUATION = set(string.punctuation) | {"¿", "¡", "«", "»", "“", "”", "‘", "’", "–", "—", "…", "·"}


def normalize_answer(text: str) -> str:
    text = unicodedata.normalize("NFC", text).lower()
    text = "".join(" " if ch in _PUNCTUATION or unicodedata.category(ch).startswith("P") else ch for ch in text)
    return " ".join(word for word in text.split() if word not in ARTICLES)


def exact_match(prediction: str, golds: Iterable[str]) -> float:
    prediction = normalize_answer(prediction)
    return float(any(prediction == normalize_answer(g) for g in golds))


def token_f1(prediction: str, golds: Iterable[str]) -> float:
    predicted = normalize_answer(prediction).split()
    best = 0.0
    for gold in golds:
        reference = normalize_answer(gold).split()
        common = sum((Counter(predicted) & Counter(reference)).values())
        if not predicted or not reference or common == 0:
            continue
        precision, recall = common / len(predicted), common / len(reference)
        best = max(best, 2 * precision * recall / (precision + recall))
    return best


def contains_answer(text: str, golds: Iterable[str]) -> float:
    """1.0 when a normalised gold answer appears in the normalised text as whole words."""
    haystack = f" {normalize_answer(text)} "
    return float(any(f" {g} " in haystack for g in (normalize_answer(g) for g in golds) if g))


def rouge_l(prediction: str, golds: Iterable[str]) -> float:
    """ROUGE-L F-measure (longest common subsequence of the normalised words, precision and
    recall weighted equally, as rouge-score's `rougeL` without stemming), best over the golds."""
    predicted = normalize_answer(prediction).split()
    best = 0.0
    for gold in golds:
        reference = normalize_answer(gold).split()
        if not predicted or not reference:
            continue
        lcs = _lcs_length(predicted, reference)
        if lcs:
            precision, recall = lcs / len(predicted), lcs / len(reference)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def _lcs_length(a: list[str], b: list[str]) -> int:
    previous = [0] * (len(b) + 1)
    for word in a:
        current = [0]
        for j, other in enumerate(b, start=1):
            current.append(previous[j - 1] + 1 if word == other else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]
