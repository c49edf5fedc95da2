"""The embedding service's door to the event bus: chunks.created in, chunks.embedded and a
stage record out. Messages become domain calls here, and results become messages."""

from __future__ import annotations

import time

from sentra.events.v1 import events_pb2
from sentra_common import events
from sentra_common.nats import Delivery, EventBus

from sentra_embedding.domain.service import EmbeddingService


async def embed_batch(service: EmbeddingService, batch: events_pb2.ChunksCreated,
                      publisher: events.Publisher) -> None:
    """chunks.created → chunks.embedded, then the stage record (idempotent: re-delivered
    batches publish under the same message ids)."""
    started = time.perf_counter()
    vectors = await service.embed_chunks(batch.chunks)
    out = events_pb2.ChunksEmbedded(
        document_id=batch.document_id, version=batch.version, batch_index=batch.batch_index,
        batch_count=batch.batch_count, total_chunks=batch.total_chunks, model=service.model,
    )
    for chunk, vector in zip(batch.chunks, vectors, strict=True):
        out.chunks.add(chunk=chunk, dense=vector)
    key = f"{batch.document_id}:{batch.version}:{batch.batch_index}"
    await publisher.publish(events.CHUNKS_EMBEDDED, out, msg_id=f"embedded:{key}")
    await publisher.publish(
        events.STAGE_COMPLETED,
        events_pb2.StageCompleted(
            document_id=batch.document_id, version=batch.version, stage="embed",
            duration_ms=int((time.perf_counter() - started) * 1000), service="embedding",
            detail=f"batch {batch.batch_index + 1}/{batch.batch_count}: {len(vectors)} chunks",
        ),
        msg_id=f"stage-embed:{key}",
    )


def subscribe(bus: EventBus, service: EmbeddingService) -> None:
    async def on_chunks(delivery: Delivery[events_pb2.ChunksCreated]) -> None:
        await embed_batch(service, delivery.message, bus)

    # Two lanes: small documents, and large ones (sentra_common.events.CHUNKS_CREATED_BULK).
    # The bulk lane has one batch in flight at a time, so a document of thousands of chunks
    # takes turns with everything else instead of queuing it.
    bus.subscribe(events.CHUNKS_CREATED, "embedding", events_pb2.ChunksCreated, on_chunks, concurrency=2, batch=2)
    bus.subscribe(events.CHUNKS_CREATED_BULK, "embedding-bulk", events_pb2.ChunksCreated, on_chunks,
                  concurrency=1, batch=1)
