"""Training schedules: "Friday evening the new documents, Monday morning a better model".

A schedule belongs to a department and is set up by its admin. It fires on its cron
expression (in its time zone) and/or when `min_new_documents` documents of the
department were indexed since its last run; a run missed while the service was down
fires once when it is back (reason "missed"). A run:

1. builds a new dataset version from the department's indexed documents — only the
   chunks the whole department may read, read by the training service itself (the one
   department-data read a service principal may make, `sentra_common.identity`);
2. approves the items the reader scores at least `min_score`;
3. trains the schedule's adapter on them; the job is evaluated and the promotion gate
   decides, as for any job;
4. records the outcome in the schedule's history.

A schedule acts in the domain as `schedule:<id>`, a trainer of its department only.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sentra_common.access import (
    departments_to_list,
    require_department_member,
    validate_department,
)
from sentra_common.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from sentra_common.principal import Principal

from sentra_training.domain.datasets import Datasets, DatasetState, ItemStatus
from sentra_training.domain.model import JobState
from sentra_training.domain.service import ADAPTER_NAME_RE, TrainingJobs, is_uuid, utcnow

logger = logging.getLogger(__name__)

ADMIN_ROLES = frozenset({"platform-admin", "dept-admin"})
READ_ROLES = frozenset({"platform-admin", "dept-admin", "trainer"})
# A cron run that starts this long after it was due was missed (the service was down).
MISSED_AFTER = timedelta(minutes=2)


@dataclass
class ScheduleRecord:
    id: str
    department: str
    adapter_name: str
    cron: str
    time_zone: str
    min_new_documents: int
    min_score: float
    settings: dict
    created_by: str
    created_at: datetime
    paused: bool = False
    last_run_at: datetime | None = None
    next_run_at: datetime | None = None
    new_documents: int = 0  # computed when read


@dataclass
class RunRecord:
    id: str
    schedule_id: str
    reason: str
    started_at: datetime
    state: str = "RUNNING"
    dataset_id: str = ""
    job_id: str = ""
    promoted: bool = False
    outcome: str = ""
    finished_at: datetime | None = None
    detail: dict = field(default_factory=dict)


class ScheduleStore(Protocol):
    async def insert(self, record: ScheduleRecord) -> None: ...

    async def get(self, schedule_id: str) -> ScheduleRecord | None: ...

    async def list(self, departments: list[str] | None) -> list[ScheduleRecord]: ...

    async def update(self, schedule_id: str, **fields) -> None: ...

    async def delete(self, schedule_id: str) -> None: ...

    async def insert_run(self, run: RunRecord) -> None: ...

    async def runs(self, schedule_id: str | None = None, state: str | None = None) -> list[RunRecord]: ...

    async def update_run(self, run_id: str, **fields) -> None: ...


class Ledger(Protocol):
    """The department's indexed documents as the pipeline announced them
    (`sentra.documents.v1.indexed`, `…deleted`)."""

    async def indexed_since(self, department: str, since: datetime | None) -> list[str]: ...


# (cron expression, time zone, after) → the next time it fires after `after`, in UTC;
# ValueError for a bad expression or time zone.
NextRun = Callable[[str, str, datetime], datetime]




@dataclass(frozen=True)
class ScheduleSpec:
    department: str
    adapter_name: str
    cron: str = ""
    time_zone: str = ""
    min_new_documents: int = 0
    min_score: float = 0.0
    settings: dict = field(default_factory=dict)


class Schedules:
    def __init__(self, store: ScheduleStore, ledger: Ledger, datasets: Datasets, jobs: TrainingJobs,
                 next_run: NextRun, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.ledger = ledger
        self.datasets = datasets
        self.jobs = jobs
        self.next_run = next_run
        self.clock = clock
        self._lock = asyncio.Lock()

    # ---- the doors

    async def create(self, principal: Principal, spec: ScheduleSpec) -> ScheduleRecord:
        department = validate_department(spec.department)
        _require_admin(principal, department)
        if not ADAPTER_NAME_RE.fullmatch(spec.adapter_name):
            raise InvalidArgument(f"adapter name {spec.adapter_name!r} is not valid: use 1-64 lowercase letters, "
                                  "digits, '-' or '_'")
        cron, zone = spec.cron.strip(), spec.time_zone.strip() or "UTC"
        if not cron and spec.min_new_documents <= 0:
            raise InvalidArgument("a schedule needs a cron expression (\"0 18 * * fri\") or a number of new "
                                  "documents (min_new_documents), or both")
        if spec.min_new_documents < 0 or spec.min_new_documents > 100_000:
            raise InvalidArgument("min_new_documents must be between 0 and 100000")
        min_score = spec.min_score or 0.5
        if not 0 < min_score <= 1:
            raise InvalidArgument("min_score must be in (0, 1]")
        now = self.clock()
        next_run = None
        if cron:
            try:
                next_run = self.next_run(cron, zone, now)
            except ValueError as exc:
                raise InvalidArgument(str(exc)) from None
        else:
            try:
                self.next_run("0 0 * * *", zone, now)  # the time zone is checked all the same
            except ValueError as exc:
                raise InvalidArgument(str(exc)) from None
        try:
            settings = self.jobs.core.settings(spec.settings)
        except ValueError as exc:
            raise InvalidArgument(str(exc)) from None
        record = ScheduleRecord(
            id=str(uuid.uuid4()), department=department, adapter_name=spec.adapter_name, cron=cron, time_zone=zone,
            min_new_documents=spec.min_new_documents, min_score=min_score, settings=settings,
            created_by=principal.subject, created_at=now, next_run_at=next_run,
        )
        await self.store.insert(record)
        logger.info("schedule %s created for %s by %s (cron %r %s, %d new documents)", record.id, department,
                    principal.subject, cron, zone, spec.min_new_documents)
        return await self._counted(record)

    async def list(self, principal: Principal, department: str = "") -> list[ScheduleRecord]:
        departments = departments_to_list(principal, department)
        return [await self._counted(r) for r in await self.store.list(departments)]

    async def pause(self, principal: Principal, schedule_id: str, paused: bool) -> ScheduleRecord:
        record = await self._readable(principal, schedule_id)
        _require_admin(principal, record.department)
        fields: dict = {"paused": paused}
        if not paused and record.cron:  # resumed: from now on, not the runs it slept through
            fields["next_run_at"] = self.next_run(record.cron, record.time_zone, self.clock())
        await self.store.update(schedule_id, **fields)
        return await self._counted(await self.store.get(schedule_id))

    async def delete(self, principal: Principal, schedule_id: str) -> None:
        record = await self._readable(principal, schedule_id)
        _require_admin(principal, record.department)
        await self.store.delete(schedule_id)

    async def history(self, principal: Principal, schedule_id: str) -> list[RunRecord]:
        await self._readable(principal, schedule_id)
        return sorted(await self.store.runs(schedule_id), key=lambda r: r.started_at, reverse=True)

    # ---- the loop

    async def tick(self) -> None:
        """Follow the runs in progress, then fire the schedules that are due."""
        async with self._lock:
            for run in await self.store.runs(state="RUNNING"):
                await self._follow(run)
            busy = {r.schedule_id for r in await self.store.runs(state="RUNNING")}
            now = self.clock()
            for record in await self.store.list(None):
                if record.paused or record.id in busy:
                    continue
                reason = await self._due(record, now)
                if reason:
                    await self._fire(record, reason, now)

    async def _due(self, record: ScheduleRecord, now: datetime) -> str:
        if record.cron and record.next_run_at is not None and record.next_run_at <= now:
            return "missed" if now - record.next_run_at > MISSED_AFTER else "cron"
        if record.min_new_documents > 0:
            fresh = await self.ledger.indexed_since(record.department, record.last_run_at or record.created_at)
            if len(fresh) >= record.min_new_documents:
                return "documents"
        return ""

    async def _fire(self, record: ScheduleRecord, reason: str, now: datetime) -> None:
        run = RunRecord(id=str(uuid.uuid4()), schedule_id=record.id, reason=reason, started_at=now)
        next_run = self.next_run(record.cron, record.time_zone, now) if record.cron else None
        await self.store.update(record.id, last_run_at=now, next_run_at=next_run)
        await self.store.insert_run(run)
        logger.info("schedule %s fired (%s) for %s", record.id, reason, record.department)
        try:
            documents = await self.ledger.indexed_since(record.department, None)
            dataset = await self.datasets.create_scheduled(record.department, documents, _acting(record))
        except Exception as exc:  # recorded in the history, in words
            await self._finish(run, "FAILED", f"no dataset: {getattr(exc, 'message', None) or exc}")
            return
        await self.store.update_run(run.id, dataset_id=dataset.id)

    async def _follow(self, run: RunRecord) -> None:
        record = await self.store.get(run.schedule_id)
        if record is None:
            await self._finish(run, "FAILED", "the schedule was deleted")
            return
        acting = _acting(record)
        if not run.job_id:
            if not run.dataset_id:
                await self._finish(run, "FAILED", "interrupted before its dataset was made")
                return
            dataset = await self.datasets.get(acting, run.dataset_id)
            if dataset.state == DatasetState.GENERATING:
                return
            if dataset.state == DatasetState.FAILED:
                await self._finish(run, "FAILED", f"dataset failed: {dataset.failure_reason}")
                return
            approved, _ = await self.datasets.review(acting, dataset.id, ItemStatus.APPROVED, [], record.min_score)
            try:
                request = await self.datasets.start_request(acting, dataset.id, record.adapter_name,
                                                            dict(record.settings), lineage={"schedule_id": record.id})
                job = await self.jobs.start(acting, request)
            except (FailedPrecondition, InvalidArgument) as exc:
                await self._finish(run, "FAILED", f"not trained: {exc.message}")
                return
            await self.store.update_run(run.id, job_id=job.id, detail={"approved": approved})
            return
        job = await self.jobs.store.get(run.job_id)
        if job is None or not job.state.ended:
            return
        if job.state == JobState.SUCCEEDED:
            verdict = "promoted" if job.promoted else "not promoted"
            await self._finish(run, "SUCCEEDED", f"{verdict}: {job.decision}", promoted=job.promoted)
        else:
            await self._finish(run, "FAILED", f"job {job.state.value.lower()}: {job.failure_reason}")

    async def _finish(self, run: RunRecord, state: str, outcome: str, promoted: bool = False) -> None:
        await self.store.update_run(run.id, state=state, outcome=outcome, promoted=promoted,
                                    finished_at=self.clock())
        logger.info("schedule run %s %s: %s", run.id, state, outcome)

    # ---- helpers

    async def _readable(self, principal: Principal, schedule_id: str) -> ScheduleRecord:
        record = await self.store.get(schedule_id) if is_uuid(schedule_id) else None
        if record is None or not principal.may_access_department(record.department):
            raise NotFound(f"schedule {schedule_id} not found")
        if not (READ_ROLES & set(principal.roles)):
            raise PermissionDenied("schedules need the trainer or department-admin role")
        return record

    async def _counted(self, record: ScheduleRecord) -> ScheduleRecord:
        record.new_documents = len(await self.ledger.indexed_since(record.department,
                                                                   record.last_run_at or record.created_at))
        return record


def _acting(record: ScheduleRecord) -> Principal:
    return Principal(f"schedule:{record.id}", departments=(record.department,), roles=("trainer",))


def _require_admin(principal: Principal, department: str) -> None:
    require_department_member(principal, department)
    if not (ADMIN_ROLES & set(principal.roles)):
        raise PermissionDenied("schedules are set up by the department's admin; ask them")
