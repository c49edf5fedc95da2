"""Reciprocal rank fusion and hybrid search over a fake store."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from sentra_retrieval.domain.fusion import reciprocal_rank_fusion
from sentra_retrieval.domain.lexical import SparseVec
from sentra_retrieval.domain.model import ScopeFilter, StoredHit
from sentra_retrieval.domain.search import SearchMode, hybrid_search


def test_scores_are_weighted_reciprocal_ranks() -> None:
    fused = dict(reciprocal_rank_fusion([["a", "b", "c"], ["b", "d"]], k=60))
    assert fused["a"] == pytest.approx(1 / 61)
    assert fused["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert fused["c"] == pytest.approx(1 / 63)
    assert fused["d"] == pytest.approx(1 / 62)


def test_order_is_by_fused_score() -> None:
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["b", "d"]], k=60)
    assert [item for item, _ in fused] == ["b", "a", "d", "c"]
    scores = [score for _, score in fused]
    assert scores == sorted(scores, reverse=True)


def test_weights() -> None:
    fused = reciprocal_rank_fusion([["a"], ["b"]], k=0, weights=[1.0, 3.0])
    assert fused == [("b", 3.0), ("a", 1.0)]
    with pytest.raises(ValueError):
        reciprocal_rank_fusion([["a"], ["b"]], weights=[1.0])


def test_ties_are_broken_deterministically() -> None:
    # x and y both reach rank 1 once and tie; x got there in the first ranking.
    assert [i for i, _ in reciprocal_rank_fusion([["x", "y"], ["y", "x"]])] == ["x", "y"]
    # Same best rank in the same ranking position: by id.
    assert [i for i, _ in reciprocal_rank_fusion([["b"], ["a"]])] == ["b", "a"]
    assert [i for i, _ in reciprocal_rank_fusion([["q", "p"], ["p", "q"]], weights=[1, 1])] == [
        "q",
        "p",
    ]
    first = reciprocal_rank_fusion([["m", "n", "o"], ["o", "n", "m"]])
    assert first == reciprocal_rank_fusion([["m", "n", "o"], ["o", "n", "m"]])


def test_repeats_within_a_ranking_count_once_and_empty_inputs() -> None:
    assert dict(reciprocal_rank_fusion([["a", "a", "b"]], k=0)) == {"a": 1.0, "b": 0.5}
    assert reciprocal_rank_fusion([]) == []
    assert reciprocal_rank_fusion([[], []]) == []


def hit(chunk_id: str, score: float) -> StoredHit:
    return StoredHit(chunk_id, "doc", 1, 0, f"text {chunk_id}", 1, "", "", "hr", "", score)


class FakeStore:
    engine = "fake"

    def __init__(self, dense: list[StoredHit], lexical: list[StoredHit]) -> None:
        self.dense, self.lexical = dense, lexical
        self.calls: list[tuple[str, int]] = []

    def search_dense(self, vector: Sequence[float], scope: ScopeFilter, limit: int):
        self.calls.append(("dense", limit))
        return self.dense[:limit]

    def search_sparse(self, vector: SparseVec, scope: ScopeFilter, limit: int):
        self.calls.append(("lexical", limit))
        return self.lexical[:limit]


SCOPE = ScopeFilter(departments=("hr",))
QUERY = SparseVec([1], [1.0])


def test_hybrid_fuses_candidates_and_returns_rrf_scores() -> None:
    store = FakeStore([hit("a", 0.9), hit("b", 0.8)], [hit("b", 7.0), hit("c", 5.0)])
    hits = hybrid_search(
        store,
        dense=[1.0],
        sparse=QUERY,
        scope=SCOPE,
        top_k=2,
        mode=SearchMode.HYBRID,
        candidates=30,
    )
    assert [h.chunk_id for h in hits] == ["b", "a"]
    assert hits[0].score == pytest.approx(1 / 62 + 1 / 61)
    assert hits[0].text == "text b"
    assert store.calls == [("dense", 30), ("lexical", 30)]


def test_hybrid_asks_for_at_least_top_k_candidates_and_weights() -> None:
    store = FakeStore([hit("a", 0.9)], [hit("c", 5.0)])
    hits = hybrid_search(
        store,
        dense=[1.0],
        sparse=QUERY,
        scope=SCOPE,
        top_k=80,
        mode=SearchMode.HYBRID,
        candidates=10,
        weights=(1.0, 2.0),
    )
    assert store.calls == [("dense", 80), ("lexical", 80)]
    assert [h.chunk_id for h in hits] == ["c", "a"]


def test_single_modes_return_engine_scores() -> None:
    store = FakeStore([hit("a", 0.9)], [hit("c", 5.0)])
    dense = hybrid_search(store, dense=[1.0], sparse=None, scope=SCOPE, top_k=5, mode=SearchMode.DENSE)
    assert [(h.chunk_id, h.score) for h in dense] == [("a", 0.9)]
    lexical = hybrid_search(store, dense=None, sparse=QUERY, scope=SCOPE, top_k=5, mode=SearchMode.LEXICAL)
    assert [(h.chunk_id, h.score) for h in lexical] == [("c", 5.0)]


def test_hybrid_validation_and_empty_scope() -> None:
    store = FakeStore([hit("a", 0.9)], [])
    with pytest.raises(ValueError):
        hybrid_search(store, dense=None, sparse=QUERY, scope=SCOPE, top_k=5, mode=SearchMode.HYBRID)
    with pytest.raises(ValueError):
        hybrid_search(store, dense=[1.0], sparse=None, scope=SCOPE, top_k=5, mode=SearchMode.LEXICAL)
    nobody = ScopeFilter(departments=())
    assert hybrid_search(store, dense=[1.0], sparse=QUERY, scope=nobody, top_k=5, mode=SearchMode.HYBRID) == []
    assert store.calls == []
