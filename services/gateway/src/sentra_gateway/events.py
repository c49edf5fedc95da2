"""The gateway's door to the event bus: calls the internal services refused (they did
not come through the gateway) arrive as `sentra.audit.v1.refused` and go into the audit
log next to the gateway's own entries."""

from __future__ import annotations

from datetime import UTC

from sentra.events.v1 import events_pb2
from sentra_common import events
from sentra_common.nats import EventBus

from sentra_gateway.refusals import RefusalDigest


def subscribe(bus: EventBus, refusals: RefusalDigest) -> None:
    """Reported refusals are counted per service, peer and reason like the gateway's own
    (`sentra_gateway.refusals`): a flood of direct calls cannot flood the audit log."""

    async def count(delivery) -> None:
        event = delivery.message
        await refusals.count(source=event.service, peer=event.peer, method=event.method, code=event.code,
                             reason=event.detail, request_id=event.request_id, at=event.at.ToDatetime(tzinfo=UTC))

    bus.subscribe(events.REFUSED_CALL, "gateway-audit", events_pb2.RefusedCall, count, batch=32)
