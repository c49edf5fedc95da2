"""RPCs the gateway answers itself: WhoAmI and the audit log."""

from __future__ import annotations

from datetime import UTC as _UTC

from google.protobuf.timestamp_pb2 import Timestamp
from sentra.gateway.v1 import gateway_pb2

from sentra_gateway.audit import AuditLog, AuditQuery, AuditRecord
from sentra_gateway.core import Call, Gateway


def install(gateway: Gateway, audit: AuditLog) -> None:
    async def who_am_i(call: Call, request: gateway_pb2.WhoAmIRequest) -> gateway_pb2.WhoAmIResponse:
        assert call.principal is not None
        return gateway_pb2.WhoAmIResponse(principal=call.principal.to_proto())

    async def query_audit_log(
        call: Call, request: gateway_pb2.QueryAuditLogRequest
    ) -> gateway_pb2.QueryAuditLogResponse:
        assert call.principal is not None
        records, token = await audit.query(call.principal, AuditQuery(
            subject=request.subject, method=request.method, result=request.result,
            document_id=request.document_id,
            since=request.since.ToDatetime(tzinfo=_UTC) if request.HasField("since") else None,
            page_size=request.page_size, page_token=request.page_token,
        ))
        return gateway_pb2.QueryAuditLogResponse(entries=[_entry(r) for r in records], next_page_token=token)

    gateway.local["WhoAmI"] = who_am_i
    gateway.local["QueryAuditLog"] = query_audit_log


def _entry(record: AuditRecord) -> gateway_pb2.AuditEntry:
    at = Timestamp()
    at.FromDatetime(record.at)
    return gateway_pb2.AuditEntry(
        id=record.id, at=at, subject=record.subject, method=record.method, result=record.result,
        detail=record.detail, document_ids=record.document_ids, request_id=record.request_id,
        departments=list(record.departments), roles=list(record.roles), department=record.department,
        peer=record.peer, duration_ms=record.duration_ms,
    )



