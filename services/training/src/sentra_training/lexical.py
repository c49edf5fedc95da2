"""A small in-memory BM25 over paragraphs, with the lexical analysis retrieval uses
(`sentra_common.text`). The reader's training picks hard negatives with it (the passage of
the same article most like the question that does not hold the answer) and its
calibration stands in for retrieval (the top passages of the whole split, as the
platform's search would return them)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from sentra_common.text import content_tokens, stems, tokenize


def terms(text: str, *, query: bool = False) -> list[str]:
    return [stems(token)[0] for token in content_tokens(tokenize(text), query=query)]


class BM25:
    def __init__(self, texts: Sequence[str], k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.docs = [Counter(terms(t)) for t in texts]
        self.lengths = [sum(d.values()) for d in self.docs]
        self.average = (sum(self.lengths) / len(self.lengths)) if self.lengths else 1.0
        frequency: Counter[str] = Counter()
        for doc in self.docs:
            frequency.update(doc.keys())
        n = len(self.docs)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in frequency.items()}

    def scores(self, query: str, candidates: Sequence[int] | None = None) -> list[tuple[int, float]]:
        wanted = terms(query, query=True)
        indices = range(len(self.docs)) if candidates is None else candidates
        out = []
        for i in indices:
            doc, length = self.docs[i], self.lengths[i]
            score = 0.0
            for t in wanted:
                tf = doc.get(t, 0)
                if tf:
                    norm = self.k1 * (1 - self.b + self.b * length / self.average)
                    score += self.idf[t] * tf * (self.k1 + 1) / (tf + norm)
            out.append((i, score))
        out.sort(key=lambda pair: pair[1], reverse=True)
        return out

    def top(self, query: str, k: int, candidates: Sequence[int] | None = None) -> list[int]:
        return [i for i, _ in self.scores(query, candidates)[:k]]
