"""The training service's doors to the event bus (in; it publishes
`sentra.adapters.v1.published` through `adapters.publisher`):

- `sentra.documents.v1.deleted` (only the ingestion service may publish it: the bus's
  permissions): the document's dataset items are withdrawn from every version and from any
  training to come, and it leaves the ledger of indexed documents;
- `sentra.documents.v1.indexed` (only the retrieval service may publish it): the ledger the
  schedules count new documents in, and build their datasets from."""

from __future__ import annotations

from datetime import UTC, datetime

from sentra.events.v1 import events_pb2
from sentra_common import events
from sentra_common.nats import Delivery, EventBus

from sentra_training.adapters.schedule_store import DocumentLedger
from sentra_training.domain.datasets import Datasets

DURABLE = "training-withdrawals"
LEDGER = "training-indexed"


def subscribe(bus: EventBus, datasets: Datasets, ledger: DocumentLedger) -> None:
    async def deleted(delivery: Delivery[events_pb2.DocumentDeleted]) -> None:
        await datasets.document_deleted(delivery.message.document_id, delivery.message.department)
        await ledger.deleted(delivery.message.document_id)

    async def indexed(delivery: Delivery[events_pb2.DocumentIndexed]) -> None:
        event = delivery.message
        if event.department:  # announced before the event carried it: not counted
            await ledger.indexed(event.document_id, event.department, event.version, datetime.now(UTC))

    bus.subscribe(events.DOCUMENT_DELETED, DURABLE, events_pb2.DocumentDeleted, deleted, batch=16)
    bus.subscribe(events.DOCUMENT_INDEXED, LEDGER, events_pb2.DocumentIndexed, indexed, batch=16)
