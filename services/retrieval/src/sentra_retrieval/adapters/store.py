"""The vector-store port, payload mapping shared by the engines, and the store factory.

Threading: stores are synchronous and meant to be called through ``asyncio.to_thread``.
Searches and counts may run concurrently from several threads. Writes (``upsert``,
``delete_*``, ``flush``) and lifecycle calls (``ensure_collection``, ``close``) are
expected to be serialized by the caller (the service holds one write lock); the stores
keep their own state consistent under that assumption.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from sentra_retrieval.domain.lexical import SparseVec
from sentra_retrieval.domain.model import PUBLIC_ACL, IndexedPoint, ScopeFilter, StoredHit

logger = logging.getLogger(__name__)

DENSE_VECTOR = "dense"
SPARSE_VECTOR = "lexical"
KEYWORD_FIELDS = ("department", "document_id", "acl")
INTEGER_FIELDS = ("version",)


@runtime_checkable
class VectorStore(Protocol):
    """A collection of chunks with a dense ("dense", cosine) and a sparse ("lexical", IDF)
    vector each, searched under a :class:`ScopeFilter`."""

    engine: str  # "qdrant-edge" | "qdrant"

    def ensure_collection(self, dimension: int) -> None:
        """Create the collection and its payload indexes, or check an existing one."""
        ...

    def upsert(self, points: Sequence[IndexedPoint]) -> None:
        """Insert or replace points; idempotent by ``chunk_id``."""
        ...

    def delete_document(self, document_id: str) -> None: ...

    def delete_other_versions(self, document_id: str, keep_version: int) -> None:
        """Delete the document's points whose version is not ``keep_version``."""
        ...

    def count(self, document_id: str | None = None, version: int | None = None) -> int:
        """Exact number of points, optionally of one document (and version)."""
        ...

    def max_version(self, document_id: str) -> int | None: ...

    def search_dense(self, vector: Sequence[float], scope: ScopeFilter, limit: int) -> list[StoredHit]:
        """Nearest chunks by cosine similarity, best first (ties by chunk id); ``score`` is
        the cosine."""
        ...

    def search_sparse(self, vector: SparseVec, scope: ScopeFilter, limit: int) -> list[StoredHit]:
        """Best chunks by BM25 (the engine applies IDF), best first (ties by chunk id);
        ``score`` is the BM25 score."""
        ...

    def flush(self) -> None:
        """Make every write so far durable on disk."""
        ...

    def close(self) -> None: ...


def to_payload(point: IndexedPoint) -> dict[str, Any]:
    """Payload stored with a point. An empty access list is stored as ``["*"]``."""
    if PUBLIC_ACL in point.access_list:
        raise ValueError(f"'{PUBLIC_ACL}' is reserved and cannot be a principal")
    return {
        "document_id": point.document_id,
        "version": point.version,
        "chunk_id": point.chunk_id,
        "chunk_index": point.chunk_index,
        "text": point.text,
        "page": point.page,
        "heading": point.heading,
        "title": point.title,
        "department": point.department,
        "acl": list(point.access_list) or [PUBLIC_ACL],
        "source_uri": point.source_uri,
    }


def hit_from_payload(payload: Mapping[str, Any], score: float) -> StoredHit:
    """A :class:`StoredHit` from a stored payload."""
    return StoredHit(
        chunk_id=str(payload["chunk_id"]),
        document_id=str(payload["document_id"]),
        version=int(payload["version"]),
        chunk_index=int(payload["chunk_index"]),
        text=str(payload.get("text", "")),
        page=int(payload.get("page", 0)),
        heading=str(payload.get("heading", "")),
        title=str(payload.get("title", "")),
        department=str(payload["department"]),
        source_uri=str(payload.get("source_uri", "")),
        score=float(score),
    )


def hits_in_order(scored: Iterable[Any]) -> list[StoredHit]:
    """Hits from engine results (``.payload``, ``.score``), best first; equal scores are
    ordered by chunk id, so ties come back in the same order from every engine."""
    hits = [hit_from_payload(p.payload or {}, p.score) for p in scored]
    hits.sort(key=lambda h: (-h.score, h.chunk_id))
    return hits


def validate_points(points: Sequence[IndexedPoint], dimension: int | None) -> None:
    """Fail early, naming the chunk, on a bad id or a dense vector of the wrong size."""
    if dimension is None:
        raise RuntimeError("ensure_collection() must be called before writing")
    for point in points:
        try:
            uuid.UUID(point.chunk_id)
        except (ValueError, TypeError, AttributeError) as exc:
            raise ValueError(f"chunk id {point.chunk_id!r} is not a UUID") from exc
        if len(point.dense) != dimension:
            raise ValueError(
                f"chunk {point.chunk_id}: dense vector has {len(point.dense)} dimensions, the collection {dimension}"
            )


def open_store(
    kind: str,
    *,
    path: str | Path | None = None,
    url: str | None = None,
    api_key: str | None = None,
) -> VectorStore:
    """Open a store: ``"edge"`` (Qdrant Edge under ``path``) or ``"qdrant"`` (server at
    ``url``)."""
    if kind == "edge":
        if path is None:
            raise ValueError("the edge store needs a path")
        from sentra_retrieval.adapters.edge_store import EdgeStore

        return EdgeStore(Path(path))
    if kind == "qdrant":
        if not url:
            raise ValueError("the qdrant store needs a url")
        from sentra_retrieval.adapters.qdrant_store import QdrantServerStore

        return QdrantServerStore(url=url, api_key=api_key)
    raise ValueError(f"unknown vector store kind {kind!r} (expected 'edge' or 'qdrant')")
