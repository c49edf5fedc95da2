"""Reciprocal rank fusion of several rankings."""

from __future__ import annotations

import logging
from collections.abc import Sequence

logger = logging.getLogger(__name__)


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[str]],
    k: int = 60,
    weights: Sequence[float] | None = None,
) -> list[tuple[str, float]]:
    """Fuse rankings (ids, best first) into one: ``score(id) = sum_i w_i / (k + rank_i)``.

    ``rank_i`` is 1-based; an id absent from a ranking gets nothing from it, and repeats
    within one ranking are dropped before ranking (the first occurrence counts).
    ``weights`` default to 1.0 each. Ties in score are broken by the best rank the id
    reached in any ranking, then by the first ranking it reached it in, then by the id
    itself, so the result is deterministic.
    """
    if k < 0:
        raise ValueError("k must be non-negative")
    if weights is None:
        weights = [1.0] * len(rankings)
    elif len(weights) != len(rankings):
        raise ValueError(f"{len(weights)} weights for {len(rankings)} rankings")

    scores: dict[str, float] = {}
    best: dict[str, tuple[int, int]] = {}
    for list_no, (ranking, weight) in enumerate(zip(rankings, weights, strict=True)):
        for rank, item in enumerate(dict.fromkeys(ranking), start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
            if item not in best or (rank, list_no) < best[item]:
                best[item] = (rank, list_no)
    ordered = sorted(scores, key=lambda item: (-scores[item], best[item], item))
    return [(item, scores[item]) for item in ordered]
