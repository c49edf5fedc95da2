"""A training job, as the service keeps it."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class JobFiles:
    """A job's directory (`<data>/training/<department>/<job id>/`), shared by the service
    and the job's run (`adapters.job_process`)."""

    JOB = "job.json"  # what the run needs: settings, base model, Ray, the reference adapter
    DATASET = "dataset.jsonl"  # the examples it trains on
    TEST = "test.jsonl"  # the examples held out for its evaluation
    PHASE = "phase"  # "training" or "evaluating"
    RESULT = "result.json"  # the adapter directory, the last progress, the evaluation
    ERROR = "error.txt"  # why the run failed, in words
    LOG = "run.log"
    SUBMISSION = "submission"  # on a Ray cluster: the Jobs API submission id of the current run
    RUNS = "runs"  # Ray's storage: runs/run/checkpoint_*, runs/run/progress.jsonl
    RUN_NAME = "run"


class JobState(enum.StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    EVALUATING = "EVALUATING"
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
    promoted: bool = False
    decision: str = ""  # the promotion gate's, in words
    artifact_path: str = ""  # handed to serving, relative to the department's adapter directory
    queue_position: int = 0  # computed when listed, not stored
