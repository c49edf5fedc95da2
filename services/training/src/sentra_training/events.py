"""The training service's doors to the event bus: `sentra.documents.v1.deleted` in (only
the ingestion service may publish it: the bus's permissions), whose document's dataset
items are withdrawn from every version and from any training to come. (The service
publishes `sentra.adapters.v1.published` through `adapters.publisher`.)"""

from __future__ import annotations

from sentra.events.v1 import events_pb2
from sentra_common import events
from sentra_common.nats import Delivery, EventBus

from sentra_training.domain.datasets import Datasets

DURABLE = "training-withdrawals"


def subscribe(bus: EventBus, datasets: Datasets) -> None:
    async def handle(delivery: Delivery[events_pb2.DocumentDeleted]) -> None:
        await datasets.document_deleted(delivery.message.document_id, delivery.message.department)

    bus.subscribe(events.DOCUMENT_DELETED, DURABLE, events_pb2.DocumentDeleted, handle, batch=16)
