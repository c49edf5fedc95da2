"""The gateway's door to the event bus: calls the internal services refused (they did
not come through the gateway) arrive as `sentra.audit.v1.refused` and go into the audit
log next to the gateway's own entries."""

from __future__ import annotations

from datetime import UTC

from sentra.events.v1 import events_pb2
from sentra_common import events
from sentra_common.nats import EventBus

from sentra_gateway.audit import AuditLog, AuditRecord


def refused_call_record(event: events_pb2.RefusedCall) -> AuditRecord:
    """A call an internal service refused because it did not come through the gateway."""
    return AuditRecord(
        method=event.method, result=event.code, peer=event.peer, request_id=event.request_id,
        detail=f"direct call to the {event.service} service, around the gateway: {event.detail}",
        at=event.at.ToDatetime(tzinfo=UTC),
    )


def subscribe(bus: EventBus, audit: AuditLog) -> None:
    bus.subscribe(events.REFUSED_CALL, "gateway-audit", events_pb2.RefusedCall,
                  lambda d: audit.append(refused_call_record(d.message)), batch=32)
