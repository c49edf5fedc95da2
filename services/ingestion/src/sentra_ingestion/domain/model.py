"""The document registry's records."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime


class DocumentState(enum.StrEnum):
    PROCESSING = "PROCESSING"
    INDEXED = "INDEXED"
    FAILED = "FAILED"


class UploadOutcome(enum.StrEnum):
    CREATED = "CREATED"
    UNCHANGED = "UNCHANGED"
    REPLACED = "REPLACED"


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class DocumentRecord:
    id: str
    department: str
    source_uri: str
    title: str
    filename: str
    access_list: list[str]
    content_type: str
    content_sha256: str
    blob_key: str | None
    size_bytes: int
    version: int
    state: DocumentState
    failure_reason: str = ""
    failure_stage: str = ""
    chunk_count: int = 0
    page_count: int = 0
    requeues: int = 0
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)


@dataclass
class StageRecord:
    version: int
    stage: str
    status: str
    at: datetime
    duration_ms: int
    detail: str
    service: str


@dataclass
class UploadResult:
    document: DocumentRecord
    outcome: UploadOutcome
