"""RPCs the gateway answers itself: WhoAmI, the audit log and API keys."""

from __future__ import annotations

from datetime import UTC as _UTC

from google.protobuf.timestamp_pb2 import Timestamp
from sentra.gateway.v1 import gateway_pb2
from sentra_common.errors import PermissionDenied

from sentra_gateway.apikeys import ApiKey, ApiKeys, is_api_key
from sentra_gateway.audit import AuditLog, AuditQuery, AuditRecord
from sentra_gateway.core import Call, Gateway


def install(gateway: Gateway, audit: AuditLog, api_keys: ApiKeys | None = None) -> None:
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
    if api_keys is not None:
        _install_api_keys(gateway, api_keys)


def _install_api_keys(gateway: Gateway, keys: ApiKeys) -> None:
    def administrator(call: Call):
        assert call.principal is not None
        if is_api_key(call.credentials.authorization):
            raise PermissionDenied("a call made with an API key cannot manage API keys; an administrator does, "
                                   "logged in as themselves")
        return call.principal

    async def create(call: Call, request: gateway_pb2.CreateApiKeyRequest) -> gateway_pb2.CreateApiKeyResponse:
        key, secret = await keys.create(administrator(call), request.name, request.department, request.role,
                                        request.expires_in_seconds)
        expiry = f"expires {key.expires_at:%Y-%m-%d %H:%M} UTC" if key.expires_at else "no expiry"
        call.note = f"created API key {key.key_id} ({key.name!r}: {key.role} of {key.department}, {expiry})"
        return gateway_pb2.CreateApiKeyResponse(key=_api_key(key), secret=secret)

    async def list_keys(call: Call, request: gateway_pb2.ListApiKeysRequest) -> gateway_pb2.ListApiKeysResponse:
        found = await keys.list(administrator(call), request.department, request.include_revoked)
        return gateway_pb2.ListApiKeysResponse(keys=[_api_key(k) for k in found])

    async def revoke(call: Call, request: gateway_pb2.RevokeApiKeyRequest) -> gateway_pb2.RevokeApiKeyResponse:
        viewer = administrator(call)
        call.department = await keys.department_of(request.key_id)
        key = await keys.revoke(viewer, request.key_id)
        call.note = f"revoked API key {key.key_id} ({key.name!r}: {key.role} of {key.department})"
        return gateway_pb2.RevokeApiKeyResponse(key=_api_key(key))

    gateway.local["CreateApiKey"] = create
    gateway.local["ListApiKeys"] = list_keys
    gateway.local["RevokeApiKey"] = revoke


def _timestamp(value) -> Timestamp | None:
    if value is None:
        return None
    at = Timestamp()
    at.FromDatetime(value)
    return at


def _api_key(key: ApiKey) -> gateway_pb2.ApiKey:
    return gateway_pb2.ApiKey(
        key_id=key.key_id, name=key.name, department=key.department, role=key.role, created_by=key.created_by,
        created_at=_timestamp(key.created_at), expires_at=_timestamp(key.expires_at),
        revoked_at=_timestamp(key.revoked_at), revoked_by=key.revoked_by,
    )


def _entry(record: AuditRecord) -> gateway_pb2.AuditEntry:
    at = Timestamp()
    at.FromDatetime(record.at)
    return gateway_pb2.AuditEntry(
        id=record.id, at=at, subject=record.subject, method=record.method, result=record.result,
        detail=record.detail, document_ids=record.document_ids, request_id=record.request_id,
        departments=list(record.departments), roles=list(record.roles), department=record.department,
        peer=record.peer, duration_ms=record.duration_ms,
    )



