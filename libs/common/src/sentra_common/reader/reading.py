"""What the reader found in retrieved passages (plain data, no model code): shared by the
reader (`sentra_common.reader.runtime`, which imports torch) and the answering domain of
the inference service, which must not import torch."""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class SpanCandidate:
    """A possible answer in one passage: character offsets into the passage text of the
    answer and of the sentence that holds it, and the reader's score (a logit)."""

    passage: int
    start: int
    end: int
    score: float
    sentence_start: int
    sentence_end: int
    features: dict[str, float] = field(default_factory=dict, compare=False, hash=False)


@dataclass
class PassageReading:
    """What the reader found in one passage: its best candidates (best first), and the
    score of "no answer" they are compared with."""

    passage: int
    spans: list[SpanCandidate]
    null_score: float = 0.0

    @property
    def margin(self) -> float:
        """Best candidate's score minus the no-answer score; at or above the reader's
        threshold the passage answers the question."""
        return (self.spans[0].score - self.null_score) if self.spans else -math.inf
