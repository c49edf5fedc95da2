"""The gateway's door to the event bus: calls the internal services refused (they did
not come through the gateway) arrive on `sentra.audit.v1.refused.<service>` and go into
the audit log next to the gateway's own entries."""

from __future__ import annotations

from datetime import UTC, datetime

from sentra.events.v1 import events_pb2
from sentra_common import events
from sentra_common.nats import EventBus

from sentra_gateway.refusals import RefusalDigest


def subscribe(bus: EventBus, refusals: RefusalDigest) -> None:
    """Reported refusals are counted per service, peer and reason like the gateway's own
    (`sentra_gateway.refusals`): a flood of direct calls cannot flood the audit log."""

    async def count(delivery) -> None:
        event = delivery.message
        # Who reported is the subject (only that service may publish on it), not a field
        # of the message; the time is the gateway's.
        reporter = delivery.subject.removeprefix(f"{events.REFUSED_CALL}.")
        await refusals.count(source=reporter, peer=event.peer, method=event.method, code=event.code,
                             reason=event.detail, request_id=event.request_id, at=datetime.now(UTC))

    bus.subscribe(f"{events.REFUSED_CALL}.*", "gateway-audit-refusals", events_pb2.RefusedCall, count, batch=32)
