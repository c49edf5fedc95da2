"""Search with the caller's scope applied inside the vector query, and the pipeline
stage chunks.embedded → indexed (idempotent, version-aware)."""

from __future__ import annotations

import asyncio
import logging
import time

from sentra.events.v1 import events_pb2
from sentra_common import events
from sentra_common.chunks import search_text
from sentra_common.errors import InvalidArgument, PermissionDenied
from sentra_common.principal import Principal

from sentra_retrieval.domain.lexical import SparseEncoder, detect_language, tokenize
from sentra_retrieval.domain.model import IndexedPoint, ScopeFilter, StoredHit
from sentra_retrieval.domain.ports import QueryEmbedder, VectorStore
from sentra_retrieval.domain.search import SearchMode, hybrid_search

logger = logging.getLogger(__name__)


def scope_for(principal: Principal, departments: list[str], document_ids: list[str]) -> ScopeFilter:
    """The caller's scope: a request may narrow it, never widen it."""
    everything = principal.is_platform_admin or principal.is_service
    if departments:
        outside = [d for d in departments if not everything and d not in principal.departments]
        if outside:
            raise PermissionDenied(f"you are not a member of {', '.join(sorted(outside))}; search your own departments")
        allowed = tuple(departments)
    else:
        allowed = tuple(principal.departments)
    return ScopeFilter(
        departments=allowed,
        principals=principal.access_tokens(),
        document_ids=tuple(document_ids),
        all_departments=everything and not departments,
    )


class RetrievalService:
    def __init__(
        self, store: VectorStore, embedder: QueryEmbedder, encoder: SparseEncoder, *,
        candidates: int, rrf_k: int, weights: tuple[float, float], max_top_k: int, max_query_chars: int,
        model_languages: tuple[str, ...] = ("en",), other_language_dense_factor: float = 1.0,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.encoder = encoder
        self.candidates = candidates
        self.rrf_k = rrf_k
        self.weights = weights
        self.max_top_k = max_top_k
        self.max_query_chars = max_query_chars
        self.model_languages = model_languages
        self.other_language_dense_factor = other_language_dense_factor
        # One writer at a time: the completion check must see its own batch.
        self._write_lock = asyncio.Lock()

    async def search(
        self, principal: Principal, query: str, *, top_k: int, mode: SearchMode,
        departments: list[str], document_ids: list[str],
    ) -> list[StoredHit]:
        query = query.strip()
        if not query:
            raise InvalidArgument("the query is empty; type what you are looking for")
        if len(query) > self.max_query_chars:
            raise InvalidArgument(f"the query is longer than {self.max_query_chars} characters; shorten it")
        top_k = top_k or 10
        if not 1 <= top_k <= self.max_top_k:
            raise InvalidArgument(f"top_k must be between 1 and {self.max_top_k}")
        scope = scope_for(principal, departments, document_ids)
        dense = await self.embedder.embed_query(query) if mode is not SearchMode.LEXICAL else None
        sparse = self.encoder.encode_query(query) if mode is not SearchMode.DENSE else None
        return await asyncio.to_thread(
            hybrid_search, self.store, dense=dense, sparse=sparse, scope=scope, top_k=top_k,
            mode=mode, candidates=max(self.candidates, top_k), rrf_k=self.rrf_k,
            weights=self.fusion_weights(query),
        )

    def fusion_weights(self, query: str) -> tuple[float, float]:
        """(dense, lexical) weights: the dense ranking counts less for a query in a
        language the embedding model was not trained on."""
        dense, lexical = self.weights
        language = detect_language(tokenize(query))
        if language is not None and language not in self.model_languages:
            dense *= self.other_language_dense_factor
        return dense, lexical

    def _points(self, chunks) -> list[IndexedPoint]:
        points = []
        for item in chunks:
            c = item.chunk
            points.append(IndexedPoint(
                chunk_id=c.chunk_id, document_id=c.document_id, version=c.version,
                chunk_index=c.chunk_index, text=c.text, page=c.page, heading=c.heading, title=c.title,
                department=c.department, access_list=tuple(c.access_list), source_uri=c.source_uri,
                dense=list(item.dense),
                sparse=self.encoder.encode_document(search_text(c.title, c.heading, c.text)),
            ))
        return points

    async def index_chunks(self, chunks) -> int:
        """Direct indexing (IndexChunks RPC)."""
        points = self._points(chunks)
        async with self._write_lock:
            await asyncio.to_thread(self.store.upsert, points)
        return len(points)

    async def index_batch(self, batch: events_pb2.ChunksEmbedded, publisher: events.Publisher) -> None:
        """Pipeline stage: store one batch; when the version is complete, drop older
        versions and announce the document as indexed."""
        started = time.perf_counter()
        points = await asyncio.to_thread(self._points, batch.chunks)
        doc, version = batch.document_id, batch.version
        async with self._write_lock:
            newest = await asyncio.to_thread(self.store.max_version, doc)
            if newest is not None and newest > version:
                logger.info("skipping a stale batch", extra={"document_id": doc, "version": version})
                return
            await asyncio.to_thread(self.store.upsert, points)
            stored = await asyncio.to_thread(self.store.count, doc, version)
            complete = stored >= batch.total_chunks
            if complete:
                await asyncio.to_thread(self.store.delete_other_versions, doc, version)
            await asyncio.to_thread(self.store.flush)
        key = f"{doc}:{version}:{batch.batch_index}"
        await publisher.publish(
            events.STAGE_COMPLETED,
            events_pb2.StageCompleted(
                document_id=doc, version=version, stage="index", service="retrieval",
                duration_ms=int((time.perf_counter() - started) * 1000),
                detail=f"batch {batch.batch_index + 1}/{batch.batch_count}: {len(points)} chunks",
            ),
            msg_id=f"stage-index:{key}",
        )
        if complete:
            await publisher.publish(
                events.DOCUMENT_INDEXED,
                events_pb2.DocumentIndexed(document_id=doc, version=version, chunk_count=batch.total_chunks),
                msg_id=f"indexed:{doc}:{version}",
            )

    async def delete_document(self, document_id: str) -> None:
        async with self._write_lock:
            await asyncio.to_thread(self.store.delete_document, document_id)
            await asyncio.to_thread(self.store.flush)

    async def count(self, document_id: str | None) -> int:
        return await asyncio.to_thread(self.store.count, document_id)

