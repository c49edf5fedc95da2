"""The ingestion service's door to the event bus. Inbound, each message becomes one call
of the document service (uploaded → parse; indexed; failed; a stage done elsewhere; a
dead letter → the stage gave up). Outbound, `BusPipelineEvents` turns what the domain
announces into `sentra.events.v1` messages, with message ids that make re-publishing
idempotent."""

from __future__ import annotations

from sentra.events.v1 import events_pb2
from sentra_common import events
from sentra_common.nats import EventBus

from sentra_ingestion.domain.model import DocumentRecord
from sentra_ingestion.domain.ports import NewChunk
from sentra_ingestion.domain.service import DocumentService
from sentra_ingestion.telemetry import IngestionMetrics

# The stages whose dead letters fail a document, and the message each one carried.
_GIVE_UP = {
    events.DOCUMENT_UPLOADED: (events_pb2.DocumentUploaded, "parse"),
    events.CHUNKS_CREATED: (events_pb2.ChunksCreated, "embed"),
    events.CHUNKS_CREATED_BULK: (events_pb2.ChunksCreated, "embed"),
    events.CHUNKS_EMBEDDED: (events_pb2.ChunksEmbedded, "index"),
}


class BusPipelineEvents:
    """The domain's `PipelineEvents` port on the event bus. A document of more than
    `bulk_threshold_chunks` chunks is announced on the bulk lane (`CHUNKS_CREATED_BULK`),
    which the embedding service works through beside the normal one, never before it."""

    def __init__(self, publisher: events.Publisher, bulk_threshold_chunks: int = 256) -> None:
        self.publisher = publisher
        self.bulk_threshold_chunks = bulk_threshold_chunks

    async def document_uploaded(self, doc: DocumentRecord) -> None:
        await self.publisher.publish(
            events.DOCUMENT_UPLOADED,
            events_pb2.DocumentUploaded(
                document_id=doc.id, version=doc.version, department=doc.department,
                access_list=doc.access_list, title=doc.title, filename=doc.filename,
                blob_key=doc.blob_key or "", content_sha256=doc.content_sha256, source_uri=doc.source_uri,
            ),
            msg_id=f"uploaded:{doc.id}:{doc.version}",
        )

    async def chunks_created(self, doc: DocumentRecord, batch_index: int, batch_count: int, total_chunks: int,
                             chunks: list[NewChunk]) -> None:
        message = events_pb2.ChunksCreated(
            document_id=doc.id, version=doc.version, batch_index=batch_index, batch_count=batch_count,
            total_chunks=total_chunks,
        )
        for chunk in chunks:
            message.chunks.add(
                chunk_id=chunk.chunk_id, document_id=doc.id, version=doc.version, chunk_index=chunk.index,
                text=chunk.draft.text, page=chunk.draft.page, heading=chunk.draft.heading, title=doc.title,
                department=doc.department, access_list=doc.access_list, source_uri=doc.source_uri,
            )
        lane = events.CHUNKS_CREATED_BULK if total_chunks > self.bulk_threshold_chunks else events.CHUNKS_CREATED
        await self.publisher.publish(lane, message, msg_id=f"chunks:{doc.id}:{doc.version}:{batch_index}")

    async def document_failed(self, document_id: str, version: int, stage: str, reason: str) -> None:
        await self.publisher.publish(
            events.DOCUMENT_FAILED,
            events_pb2.DocumentFailed(document_id=document_id, version=version, stage=stage, reason=reason),
            msg_id=f"failed:{document_id}:{version}",
        )

    async def document_deleted(self, document_id: str, department: str = "") -> None:
        await self.publisher.publish(events.DOCUMENT_DELETED,
                                     events_pb2.DocumentDeleted(document_id=document_id, department=department))


async def on_uploaded(service: DocumentService, event: events_pb2.DocumentUploaded) -> None:
    # Only the document and version are taken from the event (see process_uploaded).
    await service.process_uploaded(event.document_id, event.version)


async def on_indexed(service: DocumentService, event: events_pb2.DocumentIndexed) -> None:
    await service.indexed(event.document_id, event.version, event.chunk_count)


async def on_failed(service: DocumentService, event: events_pb2.DocumentFailed) -> None:
    await service.fail(event.document_id, event.version, event.stage, event.reason)


async def on_stage(service: DocumentService, event: events_pb2.StageCompleted) -> None:
    await service.stage_completed(event.document_id, event.version, event.stage, event.duration_ms, event.detail,
                                  event.service)


async def on_dead_letter(service: DocumentService, letter: events_pb2.DeadLetter,
                         metrics: IngestionMetrics | None = None) -> None:
    if metrics is not None:
        metrics.dead_letter(letter.subject)
    if letter.subject not in _GIVE_UP:
        return
    message_type, stage = _GIVE_UP[letter.subject]
    message = message_type.FromString(letter.payload)
    await service.stage_gave_up(message.document_id, message.version, stage, letter.deliveries, letter.error)


def subscribe(bus: EventBus, service: DocumentService, parse_workers: int,
              metrics: IngestionMetrics | None = None) -> None:
    """The ingestion service's consumers, each durable and named after its role."""
    bus.subscribe(events.DOCUMENT_UPLOADED, "ingestion-parser", events_pb2.DocumentUploaded,
                  lambda d: on_uploaded(service, d.message), concurrency=parse_workers, batch=parse_workers)
    bus.subscribe(events.DOCUMENT_INDEXED, "ingestion-indexed", events_pb2.DocumentIndexed,
                  lambda d: on_indexed(service, d.message), batch=32)
    bus.subscribe(events.DOCUMENT_FAILED, "ingestion-failed", events_pb2.DocumentFailed,
                  lambda d: on_failed(service, d.message), batch=32)
    bus.subscribe(events.STAGE_COMPLETED, "ingestion-stages", events_pb2.StageCompleted,
                  lambda d: on_stage(service, d.message), batch=64)
    bus.subscribe(f"{events.DEADLETTER_PREFIX}.>", "ingestion-deadletters", events_pb2.DeadLetter,
                  lambda d: on_dead_letter(service, d.message, metrics), batch=16)
