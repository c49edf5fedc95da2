"""What the training domain needs from the outside: a place for jobs (`JobStore`) and
something that runs them (`Runner`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from sentra_training.domain.model import JobRecord, JobState


@dataclass(frozen=True)
class RunStatus:
    """A job's run as the runner sees it. `known` is False when this runner did not start
    it (the service was restarted): the job must be started again (it resumes)."""

    known: bool
    progress: dict = field(default_factory=dict)  # the last progress line (step, loss, …)
    ended: bool = False
    succeeded: bool = False
    adapter_dir: str = ""
    reason: str = ""


class Runner(Protocol):
    def launch(self, job_id: str, job_dir: Path) -> None: ...

    def status(self, job_id: str, job_dir: Path) -> RunStatus: ...

    def stop(self, job_id: str) -> None: ...

    def stop_all(self) -> None: ...


class Store(Protocol):
    async def insert(self, job: JobRecord) -> None: ...

    async def get(self, job_id: str) -> JobRecord | None: ...

    async def list(self, departments: list[str] | None = None,
                   states: tuple[JobState, ...] = ()) -> list[JobRecord]: ...

    async def update(self, job_id: str, *, expect_state: JobState | None = None, **fields) -> bool: ...
