"""Embedding: validation, batching, and the pipeline stage chunks.created → chunks.embedded."""

from __future__ import annotations

import logging
import time

from sentra.events.v1 import events_pb2
from sentra_common import events
from sentra_common.chunks import search_text
from sentra_common.errors import InvalidArgument

from sentra_embedding.domain.batcher import MicroBatcher
from sentra_embedding.domain.ports import EmbeddingBackend

logger = logging.getLogger(__name__)


class EmbeddingService:
    def __init__(
        self,
        backend: EmbeddingBackend,
        batcher: MicroBatcher,
        *,
        max_texts_per_request: int,
        max_text_chars: int,
    ) -> None:
        self.backend = backend
        self.batcher = batcher
        self.max_texts_per_request = max_texts_per_request
        self.max_text_chars = max_text_chars

    @property
    def model(self) -> str:
        return self.backend.model

    @property
    def dimension(self) -> int:
        return self.backend.dimension

    async def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            raise InvalidArgument("no texts to embed; send at least one")
        if len(texts) > self.max_texts_per_request:
            raise InvalidArgument(
                f"{len(texts)} texts in one request; the limit is {self.max_texts_per_request}, "
                "split the request"
            )
        cleaned = [t[: self.max_text_chars] if t.strip() else " " for t in texts]
        return await self.batcher.embed(cleaned)

    async def embed_chunks(self, batch: events_pb2.ChunksCreated, publisher: events.Publisher) -> None:
        """Pipeline stage: embed one batch of chunks and pass it on (idempotent)."""
        started = time.perf_counter()
        texts = [search_text(c.title, c.heading, c.text)[: self.max_text_chars] for c in batch.chunks]
        vectors = await self.backend.embed(texts) if texts else []
        out = events_pb2.ChunksEmbedded(
            document_id=batch.document_id,
            version=batch.version,
            batch_index=batch.batch_index,
            batch_count=batch.batch_count,
            total_chunks=batch.total_chunks,
            model=self.backend.model,
        )
        for chunk, vector in zip(batch.chunks, vectors, strict=True):
            out.chunks.add(chunk=chunk, dense=vector)
        key = f"{batch.document_id}:{batch.version}:{batch.batch_index}"
        await publisher.publish(events.CHUNKS_EMBEDDED, out, msg_id=f"embedded:{key}")
        elapsed_ms = int((time.perf_counter() - started) * 1000)
        await publisher.publish(
            events.STAGE_COMPLETED,
            events_pb2.StageCompleted(
                document_id=batch.document_id, version=batch.version, stage="embed",
                duration_ms=elapsed_ms, service="embedding",
                detail=f"batch {batch.batch_index + 1}/{batch.batch_count}: {len(texts)} chunks",
            ),
            msg_id=f"stage-embed:{key}",
        )
