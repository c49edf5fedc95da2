"""Dense, lexical and hybrid search over any vector store."""

from __future__ import annotations

import dataclasses
import enum
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sentra_retrieval.domain.fusion import reciprocal_rank_fusion
from sentra_retrieval.domain.lexical import SparseVec
from sentra_retrieval.domain.model import ScopeFilter, StoredHit

if TYPE_CHECKING:
    from sentra_retrieval.domain.ports import VectorStore

logger = logging.getLogger(__name__)


class SearchMode(enum.Enum):
    DENSE = "dense"
    LEXICAL = "lexical"
    HYBRID = "hybrid"


def hybrid_search(
    store: VectorStore,
    *,
    dense: Sequence[float] | None,
    sparse: SparseVec | None,
    scope: ScopeFilter,
    top_k: int,
    mode: SearchMode,
    candidates: int = 50,
    rrf_k: int = 60,
    weights: Sequence[float] = (1.0, 1.0),
) -> list[StoredHit]:
    """The ``top_k`` chunks for a query, best first, all inside ``scope``.

    * ``DENSE``: nearest chunks by ``dense``; ``score`` is the cosine similarity.
    * ``LEXICAL``: best chunks by ``sparse``; ``score`` is the BM25 score.
    * ``HYBRID``: the top ``max(candidates, top_k)`` of each, fused by reciprocal rank
      fusion (``weights`` = (dense, lexical), ``rrf_k``); ``score`` is the fused RRF score
      ``sum w / (rrf_k + rank)``, not a cosine or BM25 score. An empty ``sparse`` (a
      query of stopwords only) leaves the dense ranking alone, RRF-scored.

    The scope filter is applied inside each engine query, so candidates never include
    chunks the caller may not see.
    """
    if top_k <= 0 or scope.matches_nothing:
        return []
    if mode in (SearchMode.DENSE, SearchMode.HYBRID) and dense is None:
        raise ValueError(f"{mode.value} search needs a dense query vector")
    if mode in (SearchMode.LEXICAL, SearchMode.HYBRID) and sparse is None:
        raise ValueError(f"{mode.value} search needs a sparse query vector")

    if mode is SearchMode.DENSE:
        assert dense is not None
        return store.search_dense(dense, scope, top_k)
    if mode is SearchMode.LEXICAL:
        assert sparse is not None
        return store.search_sparse(sparse, scope, top_k)

    assert dense is not None and sparse is not None
    if len(weights) != 2:
        raise ValueError("weights must be (dense, lexical)")
    limit = max(candidates, top_k)
    dense_hits = store.search_dense(dense, scope, limit)
    lexical_hits = store.search_sparse(sparse, scope, limit)
    by_id = {hit.chunk_id: hit for hit in (*lexical_hits, *dense_hits)}
    fused = reciprocal_rank_fusion(
        [[h.chunk_id for h in dense_hits], [h.chunk_id for h in lexical_hits]],
        k=rrf_k,
        weights=list(weights),
    )
    logger.debug(
        "hybrid: %d dense + %d lexical candidates -> %d fused",
        len(dense_hits),
        len(lexical_hits),
        len(fused),
    )
    return [dataclasses.replace(by_id[chunk_id], score=score) for chunk_id, score in fused[:top_k]]
