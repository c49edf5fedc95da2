"""The ingestion service's own metrics (beside `sentra_common.metrics.ServiceMetrics`):
the registry's documents by state and department, how long the oldest PROCESSING
document has gone without progress, stage durations and failures from the stage log,
uploads, and the dead letters of every pipeline stage. Names are listed in docs/metrics.md.
"""

from __future__ import annotations

import time
from datetime import datetime

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from sentra_common import events
from sentra_common.metrics import SLOW_BUCKETS, GaugeSnapshot

from sentra_ingestion.domain.model import DocumentState, UploadOutcome

# Stages the stage log records (`DocumentService`, and the embed/index stages of the other services).
STAGES = ("upload", "parse", "chunk", "quality", "embed", "index", "pipeline")
# Subjects whose messages can end up as dead letters (the pipeline's consumers).
DEAD_LETTER_SUBJECTS = (events.DOCUMENT_UPLOADED, events.CHUNKS_CREATED, events.CHUNKS_CREATED_BULK,
                        events.CHUNKS_EMBEDDED, events.DOCUMENT_INDEXED, events.DOCUMENT_FAILED,
                        events.DOCUMENT_DELETED, events.STAGE_COMPLETED)


class IngestionMetrics:
    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.documents = GaugeSnapshot(
            "sentra_ingestion_documents",
            "Documents in the registry by state (PROCESSING, INDEXED, FAILED) and department.",
            ["state", "department"], registry,
        )
        self._oldest_progress: float | None = None  # epoch seconds
        self.processing_oldest = Gauge(
            "sentra_ingestion_processing_oldest_age_seconds",
            "Seconds since the PROCESSING document that has gone longest without progress last progressed "
            "(0 when none is PROCESSING).",
            registry=registry,
        )
        self.processing_oldest.set_function(self._oldest_age)
        self.stage_duration = Histogram(
            "sentra_ingestion_stage_duration_seconds",
            "Time a pipeline stage took for one document (upload, parse) or one batch of its chunks (embed, "
            "index), from the stage log.",
            ["stage"], buckets=SLOW_BUCKETS, registry=registry,
        )
        self.stage_failures = Counter(
            "sentra_ingestion_stage_failures_total",
            "Documents that failed, by the stage they failed at.",
            ["stage"], registry=registry,
        )
        self.uploads = Counter(
            "sentra_ingestion_uploads_total",
            "Uploads through the API by department and outcome (CREATED, REPLACED, UNCHANGED).",
            ["department", "outcome"], registry=registry,
        )
        self.upload_bytes = Counter(
            "sentra_ingestion_upload_bytes_total",
            "Bytes of the documents uploaded through the API (stored or replaced), by department.",
            ["department"], registry=registry,
        )
        self.dead_letters = Counter(
            "sentra_ingestion_dead_letters_total",
            "Messages any consumer gave up on after its retries (sentra.deadletter.v1.>), by the subject "
            "they were published on.",
            ["subject"], registry=registry,
        )
        for stage in STAGES:
            self.stage_failures.labels(stage)
        for subject in DEAD_LETTER_SUBJECTS:
            self.dead_letters.labels(subject)

    def _oldest_age(self) -> float:
        oldest = self._oldest_progress
        return 0.0 if oldest is None else max(0.0, time.time() - oldest)

    def stage(self, stage: str, status: str, duration_ms: int) -> None:
        """One entry of the stage log (`Registry.add_stage`)."""
        if status == "failed":
            self.stage_failures.labels(stage).inc()
        elif status == "ok" and stage in STAGES:
            self.stage_duration.labels(stage).observe(duration_ms / 1000)

    def uploaded(self, department: str, outcome: UploadOutcome, size_bytes: int) -> None:
        self.uploads.labels(department, outcome.value).inc()
        if outcome is not UploadOutcome.UNCHANGED:
            self.upload_bytes.labels(department).inc(size_bytes)

    def dead_letter(self, subject: str) -> None:
        self.dead_letters.labels(subject).inc()

    def registry_state(self, counts: dict[tuple[str, str], int], oldest_progress: datetime | None) -> None:
        """What the registry holds now: documents per (state, department), and when the
        longest-waiting PROCESSING document last progressed."""
        departments = {department for _, department in counts}
        values = {(state.value, d): 0 for state in DocumentState for d in departments}
        values.update(counts)
        self.documents.replace(values)
        self._oldest_progress = oldest_progress.timestamp() if oldest_progress is not None else None


async def refresh(metrics: IngestionMetrics, registry) -> None:
    """One poll of the registry (`Registry.state_counts`, `Registry.oldest_processing`)."""
    metrics.registry_state(await registry.state_counts(), await registry.oldest_processing())
