"""The registry's state machine with a real SQLite database, an in-process parser and a
recording publisher (no network)."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from sentra.events.v1 import events_pb2
from sentra_common import events
from sentra_common.blobs import BlobStore
from sentra_common.db import create_engine, migrate, sqlite_url
from sentra_common.errors import NotFound, PermissionDenied, ResourceExhausted
from sentra_common.principal import Principal
from sentra_ingestion.adapters.folder import LocalFolder
from sentra_ingestion.adapters.parse_worker import parse_once
from sentra_ingestion.adapters.registry import Registry
from sentra_ingestion.app import MIGRATIONS
from sentra_ingestion.domain.folder_sync import FolderSync
from sentra_ingestion.domain.model import DocumentState, UploadOutcome, utcnow
from sentra_ingestion.domain.parsing import ChunkingPolicy, ParseError, ParseLimits
from sentra_ingestion.domain.service import DocumentService, Limits, UploadRequest, chunk_id
from sentra_ingestion.events import BusPipelineEvents, on_dead_letter, on_indexed, on_uploaded

ANA = Principal("ana", departments=("legal",))
LUIS = Principal("luis", departments=("rrhh",))
CONNECTOR = Principal("connector:share", ("legal",), roles=("service",))
TEXT = ("La cláusula de confidencialidad dura cinco años.\n\n" * 3).encode()


class InProcessParser:
    async def parse(self, data, filename, limits, chunking):
        result = parse_once(data, filename, limits, chunking)
        if isinstance(result, str):
            raise ParseError(result)
        return result


class Recorder:
    def __init__(self):
        self.published = []

    async def publish(self, subject, message, *, msg_id=None):
        self.published.append((subject, message, msg_id))

    def of(self, subject):
        return [m for s, m, _ in self.published if s == subject]


@pytest.fixture
async def env(tmp_path):
    engine = create_engine(sqlite_url(tmp_path / "meta.db"))
    await migrate(engine, MIGRATIONS, "alembic_version_ingestion")
    registry = Registry(engine)
    bus = Recorder()
    limits = Limits(
        max_upload_bytes=10_000, parse=ParseLimits(), max_chunks_per_document=100,
        chunking=ChunkingPolicy.model_construct(target_chars=80, max_chars=120, overlap_chars=0,
                                                table_target_chars=300), batch_size=2,
        stall_timeout_seconds=60, stall_requeues=1,
    )
    service = DocumentService(registry, BlobStore(tmp_path / "blobs"), InProcessParser(), BusPipelineEvents(bus),
                              limits)
    yield service, registry, bus
    await engine.dispose()


async def stream(data: bytes):
    for i in range(0, len(data), 7):
        yield data[i : i + 7]


async def upload(service, data=TEXT, principal=ANA, source="s1", name="nda.txt"):
    return await service.upload(principal, UploadRequest(filename=name, department="legal", source_uri=source),
                                stream(data))


async def test_upload_registers_processing_and_emits_uploaded(env):
    service, _, bus = env
    result = await upload(service)
    assert result.outcome is UploadOutcome.CREATED
    assert result.document.state is DocumentState.PROCESSING and result.document.version == 1
    [event] = bus.of(events.DOCUMENT_UPLOADED)
    assert event.document_id == result.document.id and event.version == 1


async def test_identical_reupload_is_unchanged_and_changed_one_replaces(env):
    service, _, bus = env
    first = await upload(service)
    again = await upload(service)
    assert again.outcome is UploadOutcome.UNCHANGED and len(bus.of(events.DOCUMENT_UPLOADED)) == 1
    changed = await upload(service, data=TEXT + "Nueva cláusula.".encode())
    assert changed.outcome is UploadOutcome.REPLACED
    assert changed.document.id == first.document.id and changed.document.version == 2


async def test_over_limit_upload_is_failed_with_a_reason_and_keeps_existing(env):
    service, _, _ = env
    big = await upload(service, data=b"x" * 20_000, source="big")
    assert big.document.state is DocumentState.FAILED
    assert "upload limit" in big.document.failure_reason
    await upload(service, source="kept")
    with pytest.raises(ResourceExhausted, match="current version is kept"):
        await upload(service, data=b"x" * 20_000, source="kept")


async def test_other_departments_are_refused_or_invisible(env):
    service, _, _ = env
    result = await upload(service)
    with pytest.raises(PermissionDenied):
        await service.upload(LUIS, UploadRequest(filename="a.txt", department="legal"), stream(TEXT))
    with pytest.raises(NotFound):
        await service.get(LUIS, result.document.id)
    docs, _, _ = await service.list(LUIS, "", None, 100, "")
    assert docs == []


async def test_parse_emits_batches_with_deterministic_chunk_ids(env):
    service, registry, bus = env
    doc = (await upload(service)).document
    await on_uploaded(service, bus.of(events.DOCUMENT_UPLOADED)[0])
    batches = bus.of(events.CHUNKS_CREATED)
    chunks = [c for b in batches for c in b.chunks]
    assert len(chunks) == batches[0].total_chunks >= 2
    assert all(len(b.chunks) <= 2 for b in batches)
    assert [c.chunk_id for c in chunks] == [chunk_id(doc.id, 1, i) for i in range(len(chunks))]
    stored = await registry.get(doc.id)
    assert stored.chunk_count == len(chunks) and stored.content_type == "text/plain"


async def test_parse_failure_marks_failed_with_reason(env):
    service, registry, bus = env
    doc = (await upload(service, data=b"%PDF-1.4 broken", name="x.pdf")).document
    await on_uploaded(service, bus.of(events.DOCUMENT_UPLOADED)[0])
    stored = await registry.get(doc.id)
    assert stored.state is DocumentState.FAILED and stored.failure_stage == "parse"
    assert bus.of(events.DOCUMENT_FAILED)[0].reason == stored.failure_reason


async def test_stale_events_are_ignored(env):
    service, registry, bus = env
    doc = (await upload(service)).document
    old_event = bus.of(events.DOCUMENT_UPLOADED)[0]
    await upload(service, data=TEXT + b"v2")
    await on_uploaded(service, old_event)  # version 1 is superseded
    assert bus.of(events.CHUNKS_CREATED) == []
    await on_indexed(service, events_pb2.DocumentIndexed(document_id=doc.id, version=1, chunk_count=3))
    assert (await registry.get(doc.id)).state is DocumentState.PROCESSING


async def test_indexed_event_completes_and_late_one_for_deleted_doc_cleans_up(env):
    service, registry, bus = env
    doc = (await upload(service)).document
    await on_indexed(service, events_pb2.DocumentIndexed(document_id=doc.id, version=1, chunk_count=3))
    assert (await registry.get(doc.id)).state is DocumentState.INDEXED
    await service.delete(ANA, doc.id)
    await on_indexed(service, events_pb2.DocumentIndexed(document_id=doc.id, version=1, chunk_count=3))
    assert len(bus.of(events.DOCUMENT_DELETED)) == 2


async def test_dead_letter_fails_the_document(env):
    service, registry, _bus = env
    doc = (await upload(service)).document
    batch = events_pb2.ChunksCreated(document_id=doc.id, version=1)
    await on_dead_letter(service, events_pb2.DeadLetter(
        subject=events.CHUNKS_CREATED, consumer="embedding", deliveries=5, error="model crashed",
        payload=batch.SerializeToString()))
    stored = await registry.get(doc.id)
    assert stored.state is DocumentState.FAILED and stored.failure_stage == "embed"
    assert "5 times" in stored.failure_reason and "sentra retry" in stored.failure_reason


async def test_stalled_document_is_requeued_then_failed(env):
    service, registry, _bus = env
    doc = (await upload(service)).document
    old = utcnow() - timedelta(hours=1)
    await registry.update(doc.id, updated_at=old)
    await service.requeue_stalled()
    stored = await registry.get(doc.id)
    assert stored.state is DocumentState.PROCESSING and stored.version == 2 and stored.requeues == 1
    await registry.update(doc.id, updated_at=old)
    await service.requeue_stalled()
    stored = await registry.get(doc.id)
    assert stored.state is DocumentState.FAILED and "no progress" in stored.failure_reason


async def test_retry_requeues_once_and_is_idempotent(env):
    service, _registry, bus = env
    doc = (await upload(service)).document
    await service.fail(doc.id, 1, "embed", "boom")
    first = await service.retry(ANA, doc.id)
    second = await service.retry(ANA, doc.id)
    assert first.version == second.version == 2 and second.state is DocumentState.PROCESSING
    assert len(bus.of(events.DOCUMENT_UPLOADED)) == 2


async def test_folder_sync_uploads_replaces_and_deletes(env, tmp_path):
    service, registry, _bus = env
    folder = tmp_path / "share"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("Horario de verano: de 8 a 15 horas.")
    (folder / "sub" / "b.md").write_text("# Turnos\n\nEl turno de noche empieza a las 22.")
    (folder / ".hidden").write_text("ignored")
    sync = FolderSync(service, registry, name="share", folder=LocalFolder(folder), department="legal",
                      access_list=[], principal=CONNECTOR)
    report = await sync.sync_once()
    assert (report.uploaded, report.deleted) == (2, 0)
    assert (await sync.sync_once()).unchanged == 2
    (folder / "a.txt").write_text("Horario de verano: de 7 a 14 horas.")
    (folder / "sub" / "b.md").unlink()
    report = await sync.sync_once()
    assert (report.uploaded, report.deleted) == (1, 1)
    docs, _, _ = await service.list(ANA, "legal", None, 100, "")
    assert [(d.source_uri, d.version) for d in docs] == [("folder:share/a.txt", 2)]


# Access lists on writes and on counts (issue 11, item 7) ------------------------------

CARLA = Principal("carla", departments=("legal",), roles=("dept-admin",))  # legal's admin, not on the list
EVA = Principal("eva", departments=("legal",))


async def private_upload(service, data=TEXT, source="s-private"):
    request = UploadRequest(filename="nda.txt", department="legal", source_uri=source, access_list=["user:ana"])
    return await service.upload(ANA, request, stream(data))


async def test_reupload_by_someone_outside_the_access_list_cannot_replace_or_confirm_it(env):
    service, registry, bus = env
    private = (await private_upload(service)).document
    attempts = {
        "overwrite": b"Texto del atacante.",
        "guess": TEXT,  # an UNCHANGED answer would confirm the guessed content
        "too large": b"x" * 20_000,  # "the current version is kept" would confirm the document exists
    }
    refusals = {}
    for name, data in attempts.items():
        request = UploadRequest(filename="nda.txt", department="legal", source_uri="s-private")
        with pytest.raises(PermissionDenied) as refused:
            await service.upload(CARLA, request, stream(data))
        refusals[name] = str(refused.value)
    # One answer whatever the content: nothing tells a match from a miss, no id, no title.
    assert len(set(refusals.values())) == 1, refusals
    assert private.id not in refusals["guess"] and "UNCHANGED" not in refusals["guess"].upper()
    stored = await registry.get(private.id)
    assert (stored.version, stored.content_sha256, stored.access_list) == (1, private.content_sha256, ["user:ana"])
    assert len(bus.of(events.DOCUMENT_UPLOADED)) == 1
    # Someone on the list still replaces it.
    replaced = await private_upload(service, data=TEXT + b"v2")
    assert replaced.outcome is UploadOutcome.REPLACED and replaced.document.version == 2


async def test_document_counts_and_pages_hold_only_what_the_caller_may_read(env):
    service, _, _ = env
    await upload(service, source="open")
    await private_upload(service, source="private-1")
    await private_upload(service, source="private-2")
    docs, token, counts = await service.list(EVA, "legal", None, 100, "")
    assert [d.source_uri for d in docs] == ["open"] and counts == {"PROCESSING": 1} and token == ""
    first, token, counts = await service.list(EVA, "", None, 1, "")
    assert [d.source_uri for d in first] == ["open"] and token == "" and counts == {"PROCESSING": 1}
    docs, _, counts = await service.list(CARLA, "legal", DocumentState.PROCESSING, 100, "")
    assert len(docs) == 1 and counts == {"PROCESSING": 1}
    docs, _, counts = await service.list(ANA, "legal", None, 100, "")
    assert len(docs) == 3 and counts == {"PROCESSING": 3}


# Folder connector: nothing outside its folder is read (issue 11, item 7c) ----------------

KEY = "-----BEGIN PRIVATE KEY----- signing key of the gateway -----END PRIVATE KEY-----\n" * 3


def shared_folder(tmp_path):
    """A connector's folder and, beside it, what must never be uploaded (the platform's keys)."""
    share, keys = tmp_path / "share", tmp_path / "data" / "keys"
    (share / "sub").mkdir(parents=True)
    keys.mkdir(parents=True)
    (share / "a.txt").write_text("Horario de verano: de 8 a 15 horas.")
    (share / "sub" / "b.txt").write_text("El turno de noche empieza a las 22.")
    (keys / "gateway.key").write_text(KEY)
    (keys / "b.txt").write_text(KEY)
    return share, keys


class SwapAfterScan(LocalFolder):
    """The attacker's move between the connector's scan and its read."""

    def __init__(self, root, swap):
        super().__init__(root)
        self.swap = swap

    def scan(self):
        found = super().scan()
        if self.swap:
            self.swap()
            self.swap = None
        return found


async def leaked(service):
    docs, _, _ = await service.list(ANA, "legal", None, 100, "")
    return [d.source_uri for d in docs if d.blob_key and KEY.encode() in service.blobs.get(d.blob_key)]


@pytest.mark.parametrize("swapped", ["file", "directory"])
async def test_folder_connector_does_not_follow_a_symlink_swapped_in_after_the_scan(env, tmp_path, swapped):
    service, registry, _ = env
    share, keys = shared_folder(tmp_path)

    def swap():
        if swapped == "file":
            (share / "a.txt").unlink()
            (share / "a.txt").symlink_to(keys / "gateway.key")
        else:
            (share / "sub").rename(share / ".old")
            (share / "sub").symlink_to(keys)

    sync = FolderSync(service, registry, name="share", folder=SwapAfterScan(share, swap), department="legal",
                      access_list=[], principal=CONNECTOR)
    report = await sync.sync_once()
    assert await leaked(service) == []
    assert (report.uploaded, report.errors) == (1, 1)
    assert (await sync.sync_once()).errors == 0  # the next scan sees the symlink and skips it
    assert await leaked(service) == []


async def test_folder_connector_skips_symlinks_and_fifos_it_finds(env, tmp_path):
    service, registry, _ = env
    share, keys = shared_folder(tmp_path)
    (share / "key.txt").symlink_to(keys / "gateway.key")
    (share / "linked").symlink_to(keys, target_is_directory=True)
    os.mkfifo(share / "pipe.txt")
    folder = LocalFolder(share)
    assert sorted(folder.scan()) == ["a.txt", "sub/b.txt"]
    for path in ("key.txt", "linked/b.txt", "pipe.txt", "../data/keys/gateway.key"):
        with pytest.raises(OSError):
            folder.open(path)
    sync = FolderSync(service, registry, name="share", folder=folder, department="legal", access_list=[],
                      principal=CONNECTOR)
    assert (await sync.sync_once()).uploaded == 2 and await leaked(service) == []


async def test_folder_connector_can_replace_what_it_wrote_under_an_access_list(env, tmp_path):
    service, registry, _ = env
    share, _ = shared_folder(tmp_path)
    sync = FolderSync(service, registry, name="share", folder=LocalFolder(share), department="legal",
                      access_list=["group:managers"], principal=CONNECTOR)
    await sync.sync_once()
    (share / "a.txt").write_text("Horario de verano: de 7 a 14 horas.")
    report = await sync.sync_once()
    assert (report.uploaded, report.errors) == (1, 0)
    docs, _, _ = await service.list(ANA, "legal", None, 100, "")
    assert docs == []  # ana is not a manager


async def test_an_uploaded_event_cannot_point_a_document_at_another_blob(env):
    """Attack: a forged documents.uploaded for rrhh's document naming legal's stored file
    (the blob key used to be taken from the event): the registry's blob is parsed."""
    service, _registry, bus = env
    await upload(service, data=b"Salario del director: 250.000 euros.\n\n" * 2, name="salarios.txt")
    secret_blob = bus.of(events.DOCUMENT_UPLOADED)[0].blob_key
    mine = (await upload(service, data=TEXT, principal=ANA, source="s2", name="public.txt")).document
    forged = bus.of(events.DOCUMENT_UPLOADED)[1]
    forged.blob_key = secret_blob
    assert forged.document_id == mine.id
    await on_uploaded(service, forged)
    texts = " ".join(c.text for b in bus.of(events.CHUNKS_CREATED) for c in b.chunks if c.document_id == mine.id)
    assert "confidencialidad" in texts and "Salario" not in texts
