"""The retrieval service's door to the event bus: chunks.embedded and documents.deleted in;
a stage record and documents.indexed out. Messages become domain calls here, and results
become messages."""

from __future__ import annotations

import time

from sentra.events.v1 import events_pb2
from sentra_common import events
from sentra_common.nats import EventBus

from sentra_retrieval.domain.service import RetrievalService


async def index_batch(service: RetrievalService, batch: events_pb2.ChunksEmbedded,
                      publisher: events.Publisher) -> None:
    """chunks.embedded → stored; the stage record; documents.indexed once the version is
    complete (idempotent: re-delivered batches publish under the same message ids)."""
    started = time.perf_counter()
    doc, version = batch.document_id, batch.version
    outcome = await service.index_batch(doc, version, batch.chunks, batch.total_chunks)
    if outcome.stale:
        return
    key = f"{doc}:{version}:{batch.batch_index}"
    await publisher.publish(
        events.STAGE_COMPLETED,
        events_pb2.StageCompleted(
            document_id=doc, version=version, stage="index", service="retrieval",
            duration_ms=int((time.perf_counter() - started) * 1000),
            detail=f"batch {batch.batch_index + 1}/{batch.batch_count}: {outcome.stored} chunks",
        ),
        msg_id=f"stage-index:{key}",
    )
    if outcome.complete:
        await publisher.publish(
            events.DOCUMENT_INDEXED,
            events_pb2.DocumentIndexed(document_id=doc, version=version, chunk_count=batch.total_chunks),
            msg_id=f"indexed:{doc}:{version}",
        )


def subscribe(bus: EventBus, service: RetrievalService) -> None:
    bus.subscribe(events.CHUNKS_EMBEDDED, "retrieval-indexer", events_pb2.ChunksEmbedded,
                  lambda d: index_batch(service, d.message, bus), batch=4)
    bus.subscribe(events.DOCUMENT_DELETED, "retrieval-deleter", events_pb2.DocumentDeleted,
                  lambda d: service.delete_document(d.message.document_id), batch=16)
