"""What the training domain needs from the outside: a place for jobs (`JobStore`) and
something that runs them (`Runner`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from sentra_training.domain.model import JobRecord, JobState


@dataclass(frozen=True)
class RunStatus:
    """A job's run as the runner sees it. `known` is False when there is no run of it to
    follow (the service was restarted and a local run died with it, or the cluster does
    not know it): the job must be started again (it resumes)."""

    known: bool
    progress: dict = field(default_factory=dict)  # the last progress line (step, loss, …)
    ended: bool = False
    succeeded: bool = False
    adapter_dir: str = ""
    reason: str = ""
    phase: str = ""  # "training" or "evaluating" while it runs
    # {"base": scores, "reference": scores?, "candidate": scores} (lora.evaluate)
    evaluation: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str


class Runner(Protocol):
    """Runs jobs: a process per run on this machine (`adapters.runner`) or submissions to a
    Ray cluster (`adapters.ray_jobs`). Its calls block (called off the event loop); a run
    that cannot be started is reported by `status` as ended with the reason, not raised."""

    def launch(self, job_id: str, job_dir: Path, reference_adapter_dir: Path | None = None) -> None: ...

    def status(self, job_id: str, job_dir: Path) -> RunStatus: ...

    def stop(self, job_id: str) -> None: ...

    def stop_all(self) -> None:
        """At the service's stop: ends the runs that cannot outlive it."""
        ...


class TrainingCore(Protocol):
    """The training core's checks, before anything is stored (`adapters.lora_core`)."""

    def settings(self, values: dict) -> dict:
        """The full hyper-parameters (defaults filled in), or ValueError naming each bad
        field and its bound."""
        ...

    def count_examples(self, data: bytes, max_examples: int) -> int:
        """The examples of a training file's bytes, or ValueError naming the first bad line."""
        ...


class Evaluator(Protocol):
    """Runs the evaluation the promotion gate uses (`lora.evaluate`) on demand: the base
    model, the reference adapter (if any) and the candidate answer the test examples, and
    the regression set is read. Returns {"base": scores, "reference"?: scores, "candidate": scores}."""

    async def evaluate(self, candidate: Path, test_jsonl: bytes, reference: Path | None) -> dict: ...


class AdapterPublisher(Protocol):
    """Hands a finished job's adapter to serving: stores it under the department's adapter
    directory (with its model card) and announces it; returns the stored path relative to
    the department's directory. Idempotent per job."""

    async def publish(self, job: JobRecord, adapter_dir: Path, card: dict, decision: Decision) -> str: ...

    def stored(self, department: str, artifact_path: str) -> Path: ...


class Store(Protocol):
    async def insert(self, job: JobRecord) -> None: ...

    async def get(self, job_id: str) -> JobRecord | None: ...

    async def list(self, departments: list[str] | None = None,
                   states: tuple[JobState, ...] = ()) -> list[JobRecord]: ...

    async def update(self, job_id: str, *, expect_state: JobState | None = None, **fields) -> bool: ...
