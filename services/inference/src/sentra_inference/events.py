"""The inference service's door to the event bus: `sentra.adapters.v1.published` in (an
adapter the training service stored under a department's adapter directory), registered
and, when promoted, activated. Only the training service may publish that subject (the
bus's permissions); the artifact is still confined to the event's department by the
registry (`ArtifactStore.locate`), as for any registration."""

from __future__ import annotations

import logging

from sentra.events.v1 import events_pb2
from sentra_common import events
from sentra_common.errors import SentraError
from sentra_common.nats import Delivery, EventBus, PermanentError

from sentra_inference.domain.ports import AdapterLoadError
from sentra_inference.domain.registry import AdapterRegistry

logger = logging.getLogger(__name__)
DURABLE = "inference-adapters"


async def on_adapter_published(registry: AdapterRegistry, event: events_pb2.AdapterPublished) -> None:
    try:
        record = await registry.register_published(
            department=event.department, name=event.adapter_name, artifact_path=event.artifact_path,
            created_by=event.created_by, metrics=dict(event.metrics), promote=event.promote,
        )
    except AdapterLoadError as exc:
        # Registered, but it cannot be served: the registry marked it FAILED with the reason.
        logger.warning("published adapter not activated: %s", exc)
        return
    except SentraError as exc:  # a bad path, a name of another department: retrying cannot help
        raise PermanentError(f"published adapter {event.department}/{event.adapter_name} refused: {exc}") from exc
    logger.info("published adapter registered", extra={"adapter": record.key, "promoted": event.promote,
                                                        "job_id": event.job_id})


def subscribe(bus: EventBus, registry: AdapterRegistry) -> None:
    async def handle(delivery: Delivery[events_pb2.AdapterPublished]) -> None:
        await on_adapter_published(registry, delivery.message)

    bus.subscribe(events.ADAPTER_PUBLISHED, DURABLE, events_pb2.AdapterPublished, handle)
