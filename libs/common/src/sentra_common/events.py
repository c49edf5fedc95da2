"""NATS subjects of the Sentra events (payloads are `sentra.events.v1` messages), and the
port every service's domain publishes them through."""

from __future__ import annotations

from typing import Protocol

from google.protobuf.message import Message

# Stream holding the document pipeline: work queues and notifications.
PIPELINE_STREAM = "SENTRA_PIPELINE"
PIPELINE_SUBJECTS = ("sentra.documents.v1.>", "sentra.chunks.v1.>")
# Stream holding the model events (adapters published by the training service).
MODELS_STREAM = "SENTRA_MODELS"
MODELS_SUBJECTS = ("sentra.adapters.v1.>",)
ADAPTER_PUBLISHED = "sentra.adapters.v1.published"
# Stream holding messages that failed their bounded retries.
DEADLETTER_STREAM = "SENTRA_DEADLETTER"
DEADLETTER_PREFIX = "sentra.deadletter.v1"

# Stream holding security events for the gateway's audit log.
AUDIT_STREAM = "SENTRA_AUDIT"
AUDIT_SUBJECTS = ("sentra.audit.v1.>",)
# Calls a service refused, on `sentra.audit.v1.refused.<service>`: only that service may
# publish there (sentra_common.bus_access), so the subject says who reported.
REFUSED_CALL = "sentra.audit.v1.refused"

DOCUMENT_UPLOADED = "sentra.documents.v1.uploaded"
CHUNKS_CREATED = "sentra.chunks.v1.created"
# The same event for a large document (more chunks than the ingestion service's
# `bulk_threshold_chunks`): a lane of its own, so a large upload never queues small ones.
CHUNKS_CREATED_BULK = "sentra.chunks.v1.created_bulk"
CHUNKS_EMBEDDED = "sentra.chunks.v1.embedded"
DOCUMENT_INDEXED = "sentra.documents.v1.indexed"
DOCUMENT_FAILED = "sentra.documents.v1.failed"
DOCUMENT_DELETED = "sentra.documents.v1.deleted"
STAGE_COMPLETED = "sentra.documents.v1.stage"


def refused_call_subject(service: str) -> str:
    return f"{REFUSED_CALL}.{service}"


def deadletter_subject(consumer: str) -> str:
    return f"{DEADLETTER_PREFIX}.{consumer}"


class Publisher(Protocol):
    """Publishes an event and returns once the stream has it (`sentra_common.nats.NatsBus`
    implements it). `msg_id` makes a publish idempotent within the stream's duplicate window."""

    async def publish(self, subject: str, message: Message, *, msg_id: str | None = None) -> None: ...
