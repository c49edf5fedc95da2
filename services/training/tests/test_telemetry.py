"""The training service's metrics, read from a real SQLite database (migrations included):
jobs and datasets by state with every state exported, the progress of running jobs and of
datasets being generated (labelled by department and adapter, never by id), items by
review status."""

from __future__ import annotations

import uuid

import pytest
from prometheus_client import CollectorRegistry
from sentra_common.db import create_engine, migrate, sqlite_url
from sentra_training.adapters.tables import dataset_items, datasets, jobs
from sentra_training.app import MIGRATIONS
from sentra_training.domain.service import utcnow
from sentra_training.telemetry import TrainingMetrics, refresh


@pytest.fixture
async def engine(tmp_path):
    engine = create_engine(sqlite_url(tmp_path / "meta.db"))
    await migrate(engine, MIGRATIONS, "alembic_version_training")
    yield engine
    await engine.dispose()


def job(state, department="legal", adapter="contratos", step=0, total=0, speed=0.0, loss=0.0):
    return dict(id=str(uuid.uuid4()), department=department, adapter_name=adapter, created_by="ana", state=state,
                failure_reason="", reproducibility={}, metrics={}, step=step, total_steps=total,
                tokens_per_second=speed, loss=loss, created_at=utcnow())


def dataset(state, department="legal", version=1, done=0, total=0):
    return dict(id=str(uuid.uuid4()), department=department, version=version, state=state, source="documents",
                created_by="ana", created_at=utcnow(), pii_mode="mask", chunks_done=done, chunks_total=total,
                request={}, document_ids=[], withdrawn_document_ids=[], dropped={}, pii_found={}, timings={})


def item(dataset_id, status, position):
    return dict(id=str(uuid.uuid4()), dataset_id=dataset_id, position=position, split="train", status=status,
                question="¿Cuántos días?", answer="22", pii={})


def value(prom, name, **labels):
    return prom.get_sample_value(name, labels)


async def test_jobs_datasets_and_items_come_from_the_database(engine):
    prom = CollectorRegistry()
    metrics = TrainingMetrics(prom)
    await refresh(metrics, engine)
    assert value(prom, "sentra_training_jobs", state="FAILED") == 0  # every state, before any job
    assert value(prom, "sentra_training_datasets", state="READY") == 0
    ready = dataset("READY", version=1)
    async with engine.begin() as conn:
        await conn.execute(jobs.insert(), [
            job("RUNNING", step=30, total=120, speed=850.0, loss=1.7),
            job("FAILED"), job("FAILED", department="rrhh", adapter="nominas"), job("SUCCEEDED"),
        ])
        await conn.execute(datasets.insert(), [ready, dataset("GENERATING", version=2, done=5, total=20)])
        await conn.execute(dataset_items.insert(), [item(ready["id"], "APPROVED", 0), item(ready["id"], "PENDING", 1)])
    await refresh(metrics, engine)
    assert value(prom, "sentra_training_jobs", state="FAILED") == 2
    assert value(prom, "sentra_training_jobs", state="RUNNING") == 1
    assert value(prom, "sentra_training_job_progress_ratio", department="legal", adapter="contratos") == 0.25
    assert value(prom, "sentra_training_job_tokens_per_second", department="legal", adapter="contratos") == 850
    assert value(prom, "sentra_training_job_loss", department="legal", adapter="contratos") == 1.7
    assert value(prom, "sentra_training_datasets", state="GENERATING") == 1
    assert value(prom, "sentra_training_dataset_generation_progress_ratio", department="legal") == 0.25
    assert value(prom, "sentra_training_dataset_items", status="APPROVED") == 1
    assert value(prom, "sentra_training_dataset_items", status="WITHDRAWN") == 0
    # A job that ended leaves no progress series behind.
    async with engine.begin() as conn:
        await conn.execute(jobs.update().where(jobs.c.state == "RUNNING").values(state="SUCCEEDED"))
    await refresh(metrics, engine)
    assert value(prom, "sentra_training_job_progress_ratio", department="legal", adapter="contratos") is None
