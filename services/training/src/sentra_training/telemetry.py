"""The training service's own metrics (beside `sentra_common.metrics.ServiceMetrics`),
read from its database every `SENTRA_TRAINING_TELEMETRY__POLL_SECONDS`: training jobs by
state, the progress, speed and loss of each running job (labelled by department and
adapter name, never by job id), datasets by state, the progress of those being generated,
and dataset items by review status. Read from the database, they are the same on every
replica and survive restarts. Names are listed in docs/metrics.md."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry
from sentra_common.metrics import GaugeSnapshot
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from sentra_training.adapters.tables import dataset_items, datasets, jobs
from sentra_training.domain.datasets import DatasetState, ItemStatus
from sentra_training.domain.model import JobState

_ACTIVE = (JobState.RUNNING.value, JobState.EVALUATING.value)


class TrainingMetrics:
    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.jobs = GaugeSnapshot(
            "sentra_training_jobs",
            "Training jobs by state (QUEUED, RUNNING, EVALUATING, SUCCEEDED, FAILED, CANCELLED).",
            ["state"], registry,
        )
        self.job_progress = GaugeSnapshot(
            "sentra_training_job_progress_ratio",
            "Steps done over total steps of each running (or evaluating) job, by department and adapter.",
            ["department", "adapter"], registry,
        )
        self.job_speed = GaugeSnapshot(
            "sentra_training_job_tokens_per_second",
            "Training throughput last reported by each running job, by department and adapter.",
            ["department", "adapter"], registry,
        )
        self.job_loss = GaugeSnapshot(
            "sentra_training_job_loss",
            "Training loss last reported by each running job, by department and adapter.",
            ["department", "adapter"], registry,
        )
        self.datasets = GaugeSnapshot(
            "sentra_training_datasets",
            "Dataset versions by state (GENERATING, READY, FAILED).",
            ["state"], registry,
        )
        self.dataset_progress = GaugeSnapshot(
            "sentra_training_dataset_generation_progress_ratio",
            "Chunks done over chunks to do of the datasets being generated, by department.",
            ["department"], registry,
        )
        self.dataset_items = GaugeSnapshot(
            "sentra_training_dataset_items",
            "Question-answer items of every dataset by review status (PENDING, APPROVED, REJECTED, WITHDRAWN).",
            ["status"], registry,
        )


async def refresh(metrics: TrainingMetrics, engine: AsyncEngine) -> None:
    """One read of the jobs, datasets and items tables."""
    async with engine.connect() as conn:
        job_counts = dict((await conn.execute(select(jobs.c.state, func.count()).group_by(jobs.c.state))).all())
        active = (await conn.execute(
            select(jobs.c.department, jobs.c.adapter_name, jobs.c.step, jobs.c.total_steps, jobs.c.tokens_per_second,
                   jobs.c.loss).where(jobs.c.state.in_(_ACTIVE)))).all()
        dataset_counts = dict((await conn.execute(
            select(datasets.c.state, func.count()).group_by(datasets.c.state))).all())
        generating = (await conn.execute(
            select(datasets.c.department, func.sum(datasets.c.chunks_done), func.sum(datasets.c.chunks_total))
            .where(datasets.c.state == DatasetState.GENERATING.value).group_by(datasets.c.department))).all()
        item_counts = dict((await conn.execute(
            select(dataset_items.c.status, func.count()).group_by(dataset_items.c.status))).all())
    metrics.jobs.replace({(state.value,): job_counts.get(state.value, 0) for state in JobState})
    progress, speed, loss = {}, {}, {}
    for row in active:
        key = (row.department, row.adapter_name)
        progress[key] = max(progress.get(key, 0.0), row.step / row.total_steps if row.total_steps else 0.0)
        speed[key] = row.tokens_per_second
        loss[key] = row.loss
    metrics.job_progress.replace(progress)
    metrics.job_speed.replace(speed)
    metrics.job_loss.replace(loss)
    metrics.datasets.replace({(state.value,): dataset_counts.get(state.value, 0) for state in DatasetState})
    metrics.dataset_progress.replace({(department,): (done or 0) / total if total else 0.0
                                      for department, done, total in generating})
    metrics.dataset_items.replace({(status.value,): item_counts.get(status.value, 0) for status in ItemStatus})
