"""A training job, as the service keeps it."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class JobState(enum.StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def ended(self) -> bool:
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


@dataclass
class JobRecord:
    id: str
    department: str
    adapter_name: str
    created_by: str
    state: JobState
    # The hyper-parameters with defaults filled in, the dataset's SHA-256, file name and
    # example count, the base model's digest and the code version: enough to run it again.
    reproducibility: dict
    created_at: datetime
    failure_reason: str = ""
    step: int = 0
    total_steps: int = 0
    loss: float = 0.0
    tokens_per_second: float = 0.0
    eta_seconds: float = 0.0
    resumed_from_step: int = 0
    restarts: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    queue_position: int = 0  # computed when listed, not stored
