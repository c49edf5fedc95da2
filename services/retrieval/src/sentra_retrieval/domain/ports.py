"""The retrieval domain's ports, implemented in `sentra_retrieval.adapters` and wired in
`app.py`: the vector store (Qdrant Edge in-process, or a Qdrant server), the query
embedder (the embedding service) and the document registry (the ingestion service).

Threading: stores are synchronous and meant to be called through ``asyncio.to_thread``.
Searches and counts may run concurrently from several threads. Writes (``upsert``,
``delete_*``, ``flush``) and lifecycle calls (``ensure_collection``, ``close``) are
expected to be serialized by the caller (the service holds one write lock); the stores
keep their own state consistent under that assumption.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from sentra_retrieval.domain.lexical import SparseVec
from sentra_retrieval.domain.model import IndexedPoint, ScopeFilter, StoredHit


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

    def scroll(self, scope: ScopeFilter, limit: int, offset: int = 0, *, version: int | None = None) -> list[StoredHit]:
        """Up to ``limit`` chunks inside ``scope`` (and of ``version`` when given) whose chunk
        index is at least ``offset``, by chunk index (ties by chunk id); ``score`` is 0.

        Chunk indexes are unique within a document version, so with the scope narrowed to
        one document and its version given, the page after one ending at index ``i``
        starts at ``offset=i + 1``, without gaps or repeats; across documents or versions
        chunks that share an index may fall on either side of a page's end."""
        ...

    def flush(self) -> None:
        """Make every write so far durable on disk."""
        ...

    def close(self) -> None: ...


class QueryEmbedder(Protocol):
    async def embed_query(self, text: str) -> list[float]:
        """The query's dense vector (same model as the indexed chunks)."""


@dataclass(frozen=True)
class DocumentFacts:
    """What the document registry (ingestion) says about a document: the index stores
    these, never what an event claims."""

    version: int
    department: str
    access_list: tuple[str, ...]
    title: str
    source_uri: str


class DocumentRegistry(Protocol):
    async def facts(self, document_id: str, *, fresh: bool = False) -> DocumentFacts | None:
        """The registry's current facts, or None when it has no such document (deleted);
        `fresh` skips any cache."""
        ...
