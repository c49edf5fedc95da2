"""What the reader knows about each candidate sentence besides the cross-encoder's opinion:
how much of the question it covers (words weighted by how rare they are among the
candidates, after the analysis retrieval uses), whether question words appear side by side
in it, whether it brings the kind of thing asked for (a number for "how many", a name for
"who") and how it ranked in retrieval. No weights here: the combiner
(`sentra_common.reader.combiner`) learns how much each one counts, on SQuAD-es.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence

from sentra_common.text import content_tokens, stems, tokenize

# Feature names, in the combiner's order. "cross", "span" and "bi" come from the models.
MODEL_FEATURES = ("cross", "span", "bi")
LEXICAL_FEATURES = (
    "coverage", "context_coverage", "passage_coverage", "bigrams", "rank", "number_match", "name_match",
    "novelty", "length",
)
FEATURES = MODEL_FEATURES + LEXICAL_FEATURES

_NUMBER_QUESTION = re.compile(
    r"\b(cu[áa]nt[oa]s?|cu[áa]ndo|qu[ée] (a[ñn]o|fecha|porcentaje|cantidad|n[úu]mero|edad|d[íi]a|siglo|hora)|"
    r"en qu[ée] (a[ñn]o|fecha|siglo|d[ée]cada)|how (many|much|long|old|far|large|big)|when|"
    r"what (year|percentage|number|date|day|time|century|age|amount|size)|in which (year|century))\b",
    re.IGNORECASE,
)
_NAME_QUESTION = re.compile(
    r"\b(qui[ée]n(es)?|who|whom|whose|d[óo]nde|where|qu[ée] (equipo|empresa|persona|ciudad|pa[íi]s|grupo|"
    r"organizaci[óo]n|nombre|universidad|compa[ñn][íi]a)|which (team|company|person|city|country|group|"
    r"organi[sz]ation|university)|what (team|company|city|country|name|group|organi[sz]ation))\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
_CAPITALISED = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-ZÁÉÍÓÚÑ][\w'-]+")


def _groups(text: str, *, query: bool) -> list[frozenset[str]]:
    return [frozenset(stems(t)) for t in content_tokens(tokenize(text), query=query)]


def _stems(groups: list[frozenset[str]]) -> frozenset[str]:
    return frozenset().union(*groups) if groups else frozenset()


def lexical_features(
    question: str, sentences: Sequence[tuple[int, str]], passages: Sequence[str], contexts: Sequence[str],
) -> list[dict[str, float]]:
    """Features of each candidate sentence, given as (passage index, sentence text);
    `passages` are the passage texts in retrieval order and `contexts` their titles and
    headings (may be empty strings)."""
    question_groups = list(dict.fromkeys(_groups(question, query=True)))
    sentence_groups = [_groups(text, query=False) for _, text in sentences]
    sentence_stems = [_stems(g) for g in sentence_groups]
    passage_stems = [_stems(_groups(p, query=False)) for p in passages]
    context_stems = [_stems(_groups(c, query=False)) for c in contexts]
    total = max(1, len(sentences))
    weights = [math.log((total + 1) / (sum(1 for s in sentence_stems if g & s) + 0.5)) + 1.0 for g in question_groups]
    norm = sum(weights) or 1.0

    def coverage(found: frozenset[str]) -> float:
        return sum(w for g, w in zip(question_groups, weights, strict=True) if g & found) / norm

    question_numbers = set(_NUMBER.findall(question))
    question_words = {w.casefold() for w in re.findall(r"\w+", question)}
    asks_number = bool(_NUMBER_QUESTION.search(question))
    asks_name = bool(_NAME_QUESTION.search(question))
    out = []
    for (passage, text), groups, found in zip(sentences, sentence_groups, sentence_stems, strict=True):
        positions = [next((i for i, q in enumerate(question_groups) if q & g), -1) for g in groups]
        pairs = sum(1 for a, b in itertools.pairwise(positions) if a >= 0 and b >= 0 and a != b)
        novel = [g for g in groups if not any(g & q for q in question_groups)]
        numbers = set(_NUMBER.findall(text)) - question_numbers
        names = {w.casefold() for w in _CAPITALISED.findall(text)} - question_words
        out.append({
            "coverage": coverage(found),
            "context_coverage": coverage(found | context_stems[passage]) if contexts else coverage(found),
            "passage_coverage": coverage(passage_stems[passage]),
            "bigrams": pairs / max(1, len(question_groups) - 1),
            "rank": 1.0 / (1 + passage),
            "number_match": float(asks_number and bool(numbers)),
            "name_match": float(asks_name and bool(names)),
            "novelty": len(novel) / max(1, len(groups)),
            "length": math.log1p(len(groups)),
        })
    return out
