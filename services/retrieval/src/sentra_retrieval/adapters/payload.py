"""What the two vector-store engines (`edge_store`, `qdrant_store`) share: the payload
stored beside each point, hits from payloads in a stable order, and the checks before a
write. The port they implement is `sentra_retrieval.domain.ports.VectorStore`."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sentra_retrieval.domain.model import PUBLIC_ACL, IndexedPoint, StoredHit

logger = logging.getLogger(__name__)

DENSE_VECTOR = "dense"
SPARSE_VECTOR = "lexical"
KEYWORD_FIELDS = ("department", "document_id", "acl")
# Integer indexes: "version" for the newest version, "chunk_index" to scroll chunks in order
# (an engine only orders by an indexed field).
INTEGER_FIELDS = ("version", "chunk_index")


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


def chunks_in_order(records: Iterable[Any]) -> list[StoredHit]:
    """Hits with score 0 from scrolled records (``.payload``), by chunk index, then chunk id."""
    hits = [hit_from_payload(r.payload or {}, 0.0) for r in records]
    hits.sort(key=lambda h: (h.chunk_index, h.chunk_id))
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
