"""The retrieval service's door to the event bus: chunks.embedded and documents.deleted in;
a stage record and documents.indexed out. Messages become domain calls here, and results
become messages.

An event is not trusted for what the index stores: department, access list, title and
source come from the document registry (ingestion), and an event whose version the
registry does not know, or a deletion of a document the registry still holds, is refused.
"""

from __future__ import annotations

import logging
import time

from sentra.events.v1 import events_pb2
from sentra_common import events
from sentra_common.nats import EventBus, PermanentError

from sentra_retrieval.domain.ports import DocumentRegistry
from sentra_retrieval.domain.service import RetrievalService
from sentra_retrieval.telemetry import RetrievalMetrics

logger = logging.getLogger(__name__)


async def checked_against_registry(batch: events_pb2.ChunksEmbedded, registry: DocumentRegistry) -> bool:
    """Rewrite the batch's chunks with the registry's facts; False when the batch is for a
    document or version that no longer exists (dropped). A version the registry has not
    seen yet is refused (dead-lettered): no honest pipeline produces it."""
    doc, version = batch.document_id, batch.version
    facts = await registry.facts(doc)
    if facts is not None and facts.version < version:
        facts = await registry.facts(doc, fresh=True)  # a new version just uploaded
    if facts is None or facts.version > version:
        logger.info("dropping chunks of a deleted or superseded document version",
                    extra={"document_id": doc, "version": version})
        return False
    if facts.version < version:
        raise PermanentError(f"chunks for version {version} of {doc}, which the registry does not know (it has "
                             f"version {facts.version}): refused")
    for item in batch.chunks:
        c = item.chunk
        c.document_id, c.version = doc, version
        c.department, c.title, c.source_uri = facts.department, facts.title, facts.source_uri
        del c.access_list[:]
        c.access_list.extend(facts.access_list)
    return True


async def index_batch(service: RetrievalService, batch: events_pb2.ChunksEmbedded,
                      publisher: events.Publisher, registry: DocumentRegistry,
                      metrics: RetrievalMetrics | None = None) -> None:
    """chunks.embedded → stored; the stage record; documents.indexed once the version is
    complete (idempotent: re-delivered batches publish under the same message ids)."""
    started = time.perf_counter()
    doc, version = batch.document_id, batch.version
    if not await checked_against_registry(batch, registry):
        return
    outcome = await service.index_batch(doc, version, batch.chunks, batch.total_chunks)
    if outcome.stale:
        return
    if metrics is not None:
        metrics.chunks_indexed.inc(outcome.stored)
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
            events_pb2.DocumentIndexed(document_id=doc, version=version, chunk_count=batch.total_chunks,
                                       department=batch.chunks[0].chunk.department if batch.chunks else ""),
            msg_id=f"indexed:{doc}:{version}",
        )


async def delete_document(service: RetrievalService, event: events_pb2.DocumentDeleted,
                          registry: DocumentRegistry, metrics: RetrievalMetrics | None = None) -> None:
    """documents.deleted → the document's chunks removed, once the registry agrees it is gone."""
    if await registry.facts(event.document_id, fresh=True) is not None:
        raise PermanentError(f"documents.deleted for {event.document_id}, which the registry still holds: refused")
    await service.delete_document(event.document_id)
    if metrics is not None:
        metrics.documents_removed.inc()


def subscribe(bus: EventBus, service: RetrievalService, registry: DocumentRegistry,
              metrics: RetrievalMetrics | None = None) -> None:
    bus.subscribe(events.CHUNKS_EMBEDDED, "retrieval-indexer", events_pb2.ChunksEmbedded,
                  lambda d: index_batch(service, d.message, bus, registry, metrics), batch=4)
    bus.subscribe(events.DOCUMENT_DELETED, "retrieval-deleter", events_pb2.DocumentDeleted,
                  lambda d: delete_document(service, d.message, registry, metrics), batch=16)
