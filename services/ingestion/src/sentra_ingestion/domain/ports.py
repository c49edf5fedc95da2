"""The ingestion domain's ports, implemented in `sentra_ingestion.adapters` (the SQL
registry, the sandboxed parser pool) and `sentra_common.blobs`, and wired in `app.py`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

from sentra_ingestion.domain.model import DocumentRecord, DocumentState, StageRecord
from sentra_ingestion.domain.parsing import ChunkDraft

if TYPE_CHECKING:
    from sentra_ingestion.domain.parsing.policy import ChunkingPolicy, ParseLimits


class DocumentRegistry(Protocol):
    """Documents, their stage history and the blobs they hold, durable."""

    async def get(self, document_id: str) -> DocumentRecord | None: ...

    async def find_by_source(self, department: str, source_uri: str) -> DocumentRecord | None: ...

    async def insert(self, record: DocumentRecord) -> None: ...

    async def update(self, document_id: str, *, expect_version: int | None = None,
                     expect_state: DocumentState | None = None, **fields: Any) -> bool:
        """Compare-and-set update; False when the expectations no longer hold."""

    async def delete(self, document_id: str) -> bool: ...

    async def list(self, departments: list[str] | None, state: DocumentState | None, limit: int,
                   offset: int, readers: Sequence[str] | None = None) -> tuple[list[DocumentRecord], dict[str, int]]:
        """A page, newest first, and the count per state, both of documents in `departments`
        (None: every department) whose access list is empty or names one of `readers`
        (None: whatever the list)."""

    async def stalled(self, before: datetime) -> list[DocumentRecord]:
        """Documents still processing whose last change is older than `before`."""

    async def add_stage(self, document_id: str, version: int, stage: str, status: str, duration_ms: int = 0,
                        detail: str = "", service: str = "ingestion") -> None: ...

    async def stages(self, document_id: str) -> list[StageRecord]: ...

    async def blob_in_use(self, blob_key: str) -> bool: ...


class ConnectorFiles(Protocol):
    """What a folder connector has uploaded: path → (mtime ns, size, document id)."""

    async def connector_files(self, connector: str) -> dict[str, tuple[int, int, str]]: ...

    async def put_connector_file(self, connector: str, rel_path: str, mtime_ns: int, size: int,
                                 document_id: str) -> None: ...

    async def drop_connector_file(self, connector: str, rel_path: str) -> None: ...


class SourceFolder(Protocol):
    """A directory a folder connector keeps in sync (blocking: called off the event loop).
    Nothing under it is followed out of it: not a symlink seen by the scan, nor one swapped
    in for a file or a directory between the scan and the read."""

    def is_available(self) -> bool: ...

    def scan(self) -> dict[str, tuple[int, int]]:
        """Regular, non-hidden files: relative path (with '/') → (mtime ns, size)."""

    def open(self, rel_path: str) -> BinaryIO:
        """The file at `rel_path`, read-only; OSError when any part of the path is a
        symlink or the file is not a regular file (any more)."""


class Blobs(Protocol):
    """Content-addressed storage of the originals (blocking: called off the event loop)."""

    def put(self, data: bytes, key: str | None = None) -> str:
        """Store `data` under its SHA-256 (`key`, when the caller has it already)."""

    def get(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None: ...


@dataclass(frozen=True)
class ParseOutcome:
    content_type: str
    page_count: int
    title: str | None
    chunks: list[ChunkDraft]


class Parser(Protocol):
    async def parse(self, data: bytes, filename: str, limits: ParseLimits, chunking: ChunkingPolicy) -> ParseOutcome:
        """Text and chunks of a document, or ParseError with a reason a user can act on."""


@dataclass(frozen=True)
class NewChunk:
    """A chunk of a document version, with its deterministic id."""

    chunk_id: str
    index: int
    draft: ChunkDraft


class PipelineEvents(Protocol):
    """What the document pipeline announces (`sentra_ingestion.events` publishes it)."""

    async def document_uploaded(self, doc: DocumentRecord) -> None:
        """A version is stored and waits to be parsed."""

    async def chunks_created(self, doc: DocumentRecord, batch_index: int, batch_count: int, total_chunks: int,
                             chunks: list[NewChunk]) -> None:
        """One batch of a version's chunks, to be embedded and indexed."""

    async def document_failed(self, document_id: str, version: int, stage: str, reason: str) -> None: ...

    async def document_deleted(self, document_id: str, department: str = "") -> None:
        """The document is gone: its vectors must go too."""
