"""The ingestion service's metrics: documents by state and department read from a real
SQLite registry, the age of the oldest PROCESSING document, stage samples from the stage
log, uploads and dead letters."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prometheus_client import CollectorRegistry
from sentra.events.v1 import events_pb2
from sentra_common import events
from sentra_common.blobs import BlobStore
from sentra_common.db import create_engine, migrate, sqlite_url
from sentra_common.principal import Principal
from sentra_ingestion.adapters.registry import Registry
from sentra_ingestion.app import MIGRATIONS
from sentra_ingestion.domain.model import UploadOutcome, utcnow
from sentra_ingestion.domain.parsing import ChunkingPolicy, ParseLimits
from sentra_ingestion.domain.service import DocumentService, Limits, UploadRequest
from sentra_ingestion.events import BusPipelineEvents, on_dead_letter
from sentra_ingestion.telemetry import IngestionMetrics, refresh

ANA = Principal("ana", departments=("legal", "rrhh"))


class Recorder:
    async def publish(self, subject, message, *, msg_id=None):
        pass


class NoParser:
    async def parse(self, data, filename, limits, chunking):
        raise AssertionError("not parsed in these tests")


@pytest.fixture
async def env(tmp_path):
    engine = create_engine(sqlite_url(tmp_path / "meta.db"))
    await migrate(engine, MIGRATIONS, "alembic_version_ingestion")
    prom = CollectorRegistry()
    metrics = IngestionMetrics(prom)
    registry = Registry(engine, metrics)
    limits = Limits(max_upload_bytes=1000, parse=ParseLimits(), max_chunks_per_document=10,
                    chunking=ChunkingPolicy(), batch_size=2, stall_timeout_seconds=60, stall_requeues=1)
    service = DocumentService(registry, BlobStore(tmp_path / "blobs"), NoParser(), BusPipelineEvents(Recorder()),
                              limits)
    yield service, registry, metrics, prom
    await engine.dispose()


async def upload(service, department, source, data=b"some text of a document"):
    async def pieces():
        yield data

    return await service.upload(ANA, UploadRequest(filename="a.txt", department=department, source_uri=source),
                                pieces())


def value(prom, name, **labels):
    return prom.get_sample_value(name, labels)


async def test_documents_by_state_and_department_come_from_the_registry(env):
    service, registry, metrics, prom = env
    await refresh(metrics, registry)
    assert value(prom, "sentra_ingestion_documents", state="PROCESSING", department="legal") is None
    assert value(prom, "sentra_ingestion_processing_oldest_age_seconds") == 0
    first = await upload(service, "legal", "a")
    await upload(service, "legal", "b")
    await upload(service, "rrhh", "c", data=b"x" * 2000)  # over the limit: FAILED at upload
    await service.indexed(first.document.id, 1, 3)
    await refresh(metrics, registry)
    assert value(prom, "sentra_ingestion_documents", state="PROCESSING", department="legal") == 1
    assert value(prom, "sentra_ingestion_documents", state="INDEXED", department="legal") == 1
    assert value(prom, "sentra_ingestion_documents", state="FAILED", department="rrhh") == 1
    # Every state of a department that has documents is exported, zeros included.
    assert value(prom, "sentra_ingestion_documents", state="INDEXED", department="rrhh") == 0


async def test_the_oldest_processing_document_ages_until_it_progresses(env):
    service, registry, metrics, prom = env
    doc = (await upload(service, "legal", "a")).document
    await registry.update(doc.id, updated_at=utcnow() - timedelta(minutes=30))
    await refresh(metrics, registry)
    assert 1790 < value(prom, "sentra_ingestion_processing_oldest_age_seconds") < 1900
    await service.indexed(doc.id, 1, 1)
    await refresh(metrics, registry)
    assert value(prom, "sentra_ingestion_processing_oldest_age_seconds") == 0


async def test_the_stage_log_feeds_stage_durations_and_failures(env):
    service, registry, _, prom = env
    doc = (await upload(service, "legal", "a")).document
    assert value(prom, "sentra_ingestion_stage_duration_seconds_count", stage="upload") == 1
    await registry.add_stage(doc.id, 1, "embed", "ok", 1500, "batch 1/1", "embedding")
    assert value(prom, "sentra_ingestion_stage_duration_seconds_sum", stage="embed") == 1.5
    assert value(prom, "sentra_ingestion_stage_failures_total", stage="parse") == 0
    await service.fail(doc.id, 1, "parse", "PDF is encrypted")
    assert value(prom, "sentra_ingestion_stage_failures_total", stage="parse") == 1


async def test_uploads_and_dead_letters_are_counted(env):
    service, _, metrics, prom = env
    metrics.uploaded("legal", UploadOutcome.CREATED, 120)
    metrics.uploaded("legal", UploadOutcome.UNCHANGED, 120)
    assert value(prom, "sentra_ingestion_uploads_total", department="legal", outcome="CREATED") == 1
    assert value(prom, "sentra_ingestion_upload_bytes_total", department="legal") == 120
    assert value(prom, "sentra_ingestion_dead_letters_total", subject=events.CHUNKS_EMBEDDED) == 0
    doc = (await upload(service, "legal", "a")).document
    letter = events_pb2.DeadLetter(
        subject=events.CHUNKS_EMBEDDED, consumer="retrieval-indexer", deliveries=5, error="boom",
        payload=events_pb2.ChunksEmbedded(document_id=doc.id, version=1).SerializeToString())
    await on_dead_letter(service, letter, metrics)
    assert value(prom, "sentra_ingestion_dead_letters_total", subject=events.CHUNKS_EMBEDDED) == 1
    assert value(prom, "sentra_ingestion_stage_failures_total", stage="index") == 1
