"""The document registry and its state machine: PROCESSING → INDEXED or FAILED.

Plain async Python: no gRPC, no event messages here (`sentra_ingestion.events` turns them
into these calls and announces what happened through the `PipelineEvents` port). Every
pipeline step is idempotent (events arrive at least once) and ignores work for a version
that is no longer current.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import PurePath

from sentra_common.access import (
    can_read,
    readable_departments,
    require_department_member,
    validate_access_list,
    validate_department,
)
from sentra_common.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied, ResourceExhausted
from sentra_common.principal import Principal

from sentra_ingestion.domain.model import (
    DocumentRecord,
    DocumentState,
    StageRecord,
    UploadOutcome,
    UploadResult,
    utcnow,
)
from sentra_ingestion.domain.parsing import ChunkDraft, ChunkingPolicy, ParseError, ParseLimits, safe_filename
from sentra_ingestion.domain.ports import Blobs, DocumentRegistry, NewChunk, Parser, PipelineEvents
from sentra_ingestion.domain.quality import garbage_reason

logger = logging.getLogger(__name__)

CHUNK_NAMESPACE = uuid.UUID("5d1c6a0e-7f38-4a57-9a55-6e6b1f1f2c11")


def chunk_id(document_id: str, version: int, index: int) -> str:
    """Deterministic, so re-delivered work overwrites instead of duplicating."""
    return str(uuid.uuid5(CHUNK_NAMESPACE, f"{document_id}:{version}:{index}"))


@dataclass
class UploadRequest:
    filename: str
    department: str = ""
    access_list: list[str] = field(default_factory=list)
    source_uri: str = ""
    title: str = ""
    size_bytes: int = 0


@dataclass
class Limits:
    max_upload_bytes: int
    parse: ParseLimits
    max_chunks_per_document: int
    chunking: ChunkingPolicy
    batch_size: int
    stall_timeout_seconds: float
    stall_requeues: int


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class DocumentService:
    def __init__(self, registry: DocumentRegistry, blobs: Blobs, parser: Parser, events: PipelineEvents,
                 limits: Limits) -> None:
        self.registry = registry
        self.blobs = blobs
        self.parser = parser
        self.events = events
        self.limits = limits

    # Queries ----------------------------------------------------------------------------

    async def get(self, principal: Principal, document_id: str) -> tuple[DocumentRecord, list[StageRecord]]:
        doc = await self._readable(principal, document_id)
        return doc, await self.registry.stages(document_id)

    async def indexing_facts(self, principal: Principal, document_id: str) -> DocumentRecord | None:
        """What the index must say about a document (department, access list, version), for
        the retrieval service acting as itself; None when the registry has no such document."""
        if principal.subject != "service:retrieval" or not principal.is_service:
            raise PermissionDenied("only the retrieval service asks for a document's indexing facts")
        return await self.registry.get(document_id)

    async def content(self, principal: Principal, document_id: str) -> tuple[DocumentRecord, bytes]:
        """The stored original of a document the principal may read."""
        doc = await self._readable(principal, document_id)
        if not doc.blob_key or not await asyncio.to_thread(self.blobs.exists, doc.blob_key):
            raise NotFound(
                f"document {document_id} has no stored original (it failed before storage); upload it again"
            )
        return doc, await asyncio.to_thread(self.blobs.get, doc.blob_key)

    async def list(
        self, principal: Principal, department: str, state: DocumentState | None,
        page_size: int, page_token: str,
    ) -> tuple[list[DocumentRecord], str, dict[str, int]]:
        page_size = page_size or 100
        if not 1 <= page_size <= 1000:
            raise InvalidArgument("page_size must be between 1 and 1000")
        try:
            offset = int(page_token or 0)
        except ValueError:
            raise InvalidArgument("page_token is not valid; pass the next_page_token you received") from None
        departments = readable_departments(principal)
        # Access lists narrow what a member sees inside a department, in the page and in
        # the counts alike; whoever may list every department reads every access list.
        readers = None if departments is None else list(principal.access_tokens())
        if department:
            validate_department(department)
            require_department_member(principal, department)
            departments = [department]
        docs, counts = await self.registry.list(departments, state, page_size + 1, offset, readers)
        visible = [d for d in docs[:page_size] if can_read(principal, d.department, d.access_list)]
        next_token = str(offset + page_size) if len(docs) > page_size else ""
        return visible, next_token, counts

    async def _readable(self, principal: Principal, document_id: str) -> DocumentRecord:
        doc = await self.registry.get(document_id)
        if doc is None or not can_read(principal, doc.department, doc.access_list):
            # Same answer for "absent" and "not yours": existence is not disclosed.
            raise NotFound(f"document {document_id} not found; list yours with `sentra documents`")
        return doc

    # Commands ---------------------------------------------------------------------------

    async def upload(
        self, principal: Principal, request: UploadRequest, data: AsyncIterator[bytes]
    ) -> UploadResult:
        department = request.department or self._only_department(principal)
        validate_department(department)
        require_department_member(principal, department)
        access_list = validate_access_list(request.access_list)
        filename = safe_filename(request.filename or "document")
        source_uri = request.source_uri.strip() or f"upload:{filename}"
        if len(source_uri) > 2000:
            raise InvalidArgument("source_uri is longer than 2000 characters")
        title = (request.title or PurePath(filename).stem or filename)[:500]
        existing = await self.registry.find_by_source(department, source_uri)
        if existing is not None and not can_read(principal, existing.department, existing.access_list):
            # Checked before anything else about it: replacing it, "unchanged" (a guessed
            # content confirmed) and "too large, the current version is kept" would each
            # tell its content or existence. One answer, whatever the document holds.
            raise PermissionDenied(
                f"you may not write source_uri {source_uri!r} in department {department!r}; "
                "upload the file under another source_uri"
            )

        payload = await self._receive(request.size_bytes, data)
        if payload is None:
            limit_mb = self.limits.max_upload_bytes / 1024 / 1024
            reason = (
                f"the file is larger than the upload limit of {limit_mb:.0f} MB; split it, or ask "
                "an admin to raise SENTRA_INGESTION_LIMITS__MAX_UPLOAD_BYTES"
            )
            if existing is not None:
                raise ResourceExhausted(f"{filename}: {reason}; the current version is kept")
            doc = self._new_record(department, source_uri, title, filename, access_list, "", None, 0)
            doc.state, doc.failure_stage, doc.failure_reason = DocumentState.FAILED, "upload", reason
            await self.registry.insert(doc)
            await self.registry.add_stage(doc.id, 1, "upload", "failed", detail=reason)
            return UploadResult(doc, UploadOutcome.CREATED)

        started = time.perf_counter()
        sha = await asyncio.to_thread(_sha256, payload)
        if existing is not None and existing.content_sha256 == sha:
            return UploadResult(existing, UploadOutcome.UNCHANGED)
        blob_key = await asyncio.to_thread(self.blobs.put, payload, sha)
        if existing is None:
            doc = self._new_record(
                department, source_uri, title, filename, access_list, sha, blob_key, len(payload)
            )
            await self.registry.insert(doc)
            outcome = UploadOutcome.CREATED
        else:
            doc = existing
            doc.version += 1
            doc.content_sha256, doc.blob_key, doc.size_bytes = sha, blob_key, len(payload)
            doc.filename, doc.title, doc.access_list = filename, title, access_list
            await self.registry.update(
                doc.id, version=doc.version, content_sha256=sha, blob_key=blob_key,
                size_bytes=len(payload), filename=filename, title=title, access_list=access_list,
                state=DocumentState.PROCESSING, failure_reason="", failure_stage="", requeues=0,
                chunk_count=0,
            )
            doc.state = DocumentState.PROCESSING
            outcome = UploadOutcome.REPLACED
        await self.registry.add_stage(
            doc.id, doc.version, "upload", "ok", int((time.perf_counter() - started) * 1000),
            f"{len(payload)} bytes, {outcome.value.lower()}",
        )
        await self.events.document_uploaded(doc)
        return UploadResult(doc, outcome)

    async def delete(self, principal: Principal, document_id: str) -> None:
        doc = await self._readable(principal, document_id)
        require_department_member(principal, doc.department)
        await self.registry.delete(doc.id)
        await self.events.document_deleted(doc.id, doc.department)
        if doc.blob_key and not await self.registry.blob_in_use(doc.blob_key):
            await asyncio.to_thread(self.blobs.delete, doc.blob_key)

    async def retry(self, principal: Principal, document_id: str) -> DocumentRecord:
        doc = await self._readable(principal, document_id)
        if doc.state is not DocumentState.FAILED:
            return doc  # nothing to do: retrying twice is safe
        if not doc.blob_key or not await asyncio.to_thread(self.blobs.exists, doc.blob_key):
            raise FailedPrecondition(
                f"document {doc.id} has no stored content to retry ({doc.failure_reason}); upload it again"
            )
        await self._requeue(doc, reset_requeues=True, detail="retry requested")
        # Concurrent retries: only one re-queues (compare-and-set); all see the result.
        return await self.registry.get(doc.id) or doc

    # Pipeline ---------------------------------------------------------------------------

    async def process_uploaded(self, document_id: str, version: int) -> None:
        """An uploaded version → parse and chunk → its chunks announced (in batches).
        What is parsed, for which department and access list, comes from the registry, never
        from the event: an event names a document and a version, nothing more."""
        doc = await self.registry.get(document_id)
        if doc is None or doc.version != version or doc.state is not DocumentState.PROCESSING:
            return  # superseded, deleted or already finished
        if not doc.blob_key:
            await self.fail(doc.id, doc.version, "parse", "the stored file is missing; upload the document again")
            return
        try:
            data = await asyncio.to_thread(self.blobs.get, doc.blob_key)
        except FileNotFoundError:
            await self.fail(doc.id, doc.version, "parse", "the stored file is missing; upload the document again")
            return
        started = time.perf_counter()
        try:
            outcome = await self.parser.parse(data, doc.filename, self.limits.parse, self.limits.chunking)
        except ParseError as exc:
            await self.fail(doc.id, doc.version, "parse", exc.reason)
            return
        parse_ms = int((time.perf_counter() - started) * 1000)
        chunks = outcome.chunks
        if not chunks:
            await self.fail(doc.id, doc.version, "chunk", "the document contains no indexable text")
            return
        garbage = await asyncio.to_thread(garbage_reason, "\n".join(c.text for c in chunks))
        if garbage is not None:
            await self.fail(doc.id, doc.version, "quality", garbage)
            return
        if len(chunks) > self.limits.max_chunks_per_document:
            await self.fail(
                doc.id, doc.version, "chunk",
                f"the document yields {len(chunks)} chunks, more than the limit of "
                f"{self.limits.max_chunks_per_document} (SENTRA_INGESTION_LIMITS__MAX_CHUNKS_PER_DOCUMENT); "
                "split it into smaller documents",
            )
            return
        fields = {"content_type": outcome.content_type, "page_count": outcome.page_count,
                  "chunk_count": len(chunks)}
        if outcome.title and doc.title == PurePath(doc.filename).stem:
            fields["title"] = doc.title = outcome.title[:500]
        if not await self.registry.update(doc.id, expect_version=doc.version, **fields):
            return
        await self.registry.add_stage(
            doc.id, doc.version, "parse", "ok", parse_ms,
            f"{outcome.content_type}, {outcome.page_count} pages, {len(chunks)} chunks",
        )
        await self._announce_chunks(doc, chunks)

    async def _announce_chunks(self, doc: DocumentRecord, chunks: list[ChunkDraft]) -> None:
        size = self.limits.batch_size
        batches = [chunks[i : i + size] for i in range(0, len(chunks), size)]
        for b, batch in enumerate(batches):
            new = [NewChunk(chunk_id(doc.id, doc.version, b * size + offset), b * size + offset, draft)
                   for offset, draft in enumerate(batch)]
            await self.events.chunks_created(doc, b, len(batches), len(chunks), new)

    async def fail(self, document_id: str, version: int, stage: str, reason: str) -> bool:
        """Record FAILED for the version if it is still processing (idempotent)."""
        changed = await self.registry.update(
            document_id, expect_version=version, expect_state=DocumentState.PROCESSING,
            state=DocumentState.FAILED, failure_stage=stage, failure_reason=reason,
        )
        if changed:
            logger.info("document failed", extra={"document_id": document_id, "stage": stage, "reason": reason})
            await self.registry.add_stage(document_id, version, stage, "failed", detail=reason)
            await self.events.document_failed(document_id, version, stage, reason)
        return changed

    async def indexed(self, document_id: str, version: int, chunk_count: int) -> None:
        """Every chunk of the version is searchable: INDEXED (if it is still current)."""
        doc = await self.registry.get(document_id)
        if doc is None:
            # Deleted while in flight: make sure its late vectors go too.
            await self.events.document_deleted(document_id)
            return
        if await self.registry.update(
            doc.id, expect_version=version, expect_state=DocumentState.PROCESSING,
            state=DocumentState.INDEXED, chunk_count=chunk_count,
        ):
            logger.info("document indexed", extra={"document_id": doc.id, "chunks": chunk_count})

    async def stage_completed(self, document_id: str, version: int, stage: str, duration_ms: int, detail: str,
                              service: str) -> None:
        """Another service finished a stage of the version: into its stage log."""
        await self.registry.add_stage(document_id, version, stage, "ok", duration_ms, detail, service)

    async def stage_gave_up(self, document_id: str, version: int, stage: str, deliveries: int, error: str) -> None:
        """A stage gave up after its retries: the document must not stay PROCESSING."""
        await self.fail(
            document_id, version, stage,
            f"the {stage} stage failed {deliveries} times ({error[:300]}); "
            f"fix the cause, then run `sentra retry {document_id}`",
        )

    async def requeue_stalled(self) -> None:
        """Re-queue documents without progress for too long; FAIL them after a few tries."""
        cutoff = utcnow() - timedelta(seconds=self.limits.stall_timeout_seconds)
        for doc in await self.registry.stalled(cutoff):
            if doc.requeues >= self.limits.stall_requeues:
                await self.fail(
                    doc.id, doc.version, "pipeline",
                    f"processing made no progress for {self.limits.stall_timeout_seconds:.0f} s "
                    f"after {doc.requeues + 1} attempts; check that the embedding and retrieval "
                    f"services run, then `sentra retry {doc.id}`",
                )
            else:
                await self._requeue(doc, reset_requeues=False, detail="no progress; re-queued")

    async def _requeue(self, doc: DocumentRecord, *, reset_requeues: bool, detail: str) -> None:
        """Start the pipeline again under a new version, so stale in-flight work is ignored."""
        new_version = doc.version + 1
        requeues = 0 if reset_requeues else doc.requeues + 1
        if not await self.registry.update(
            doc.id, expect_version=doc.version, expect_state=doc.state, version=new_version,
            state=DocumentState.PROCESSING, failure_reason="", failure_stage="", requeues=requeues,
        ):
            return  # somebody else moved it first
        doc.version, doc.state, doc.requeues = new_version, DocumentState.PROCESSING, requeues
        doc.failure_reason = doc.failure_stage = ""
        await self.registry.add_stage(doc.id, new_version, "requeue", "ok", detail=detail)
        await self.events.document_uploaded(doc)

    # Helpers ----------------------------------------------------------------------------


    async def _receive(self, declared_size: int, data: AsyncIterator[bytes]) -> bytes | None:
        """The uploaded bytes, or None when they exceed the limit (reading stops early)."""
        limit = self.limits.max_upload_bytes
        if declared_size > limit:
            return None
        buffer = bytearray()
        async for piece in data:
            buffer.extend(piece)
            if len(buffer) > limit:
                return None
        return bytes(buffer)

    @staticmethod
    def _only_department(principal: Principal) -> str:
        if len(principal.departments) == 1:
            return principal.departments[0]
        raise InvalidArgument("say which department the document belongs to (e.g. --department legal)")

    @staticmethod
    def _new_record(department, source_uri, title, filename, access_list, sha, blob_key, size) -> DocumentRecord:
        return DocumentRecord(
            id=str(uuid.uuid4()), department=department, source_uri=source_uri, title=title,
            filename=filename, access_list=access_list, content_type="", content_sha256=sha,
            blob_key=blob_key, size_bytes=size, version=1, state=DocumentState.PROCESSING,
        )
