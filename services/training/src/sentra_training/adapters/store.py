"""SQL persistence of training jobs (SQLite or PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from sentra_training.adapters.tables import jobs
from sentra_training.domain.model import JobRecord, JobState


def _aware(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


def _record(row: Any) -> JobRecord:
    data = dict(row._mapping)
    data["state"] = JobState(data["state"])
    for name in ("created_at", "started_at", "finished_at"):
        data[name] = _aware(data[name])
    data["metrics"] = dict(data["metrics"] or {})
    return JobRecord(**data)


class JobStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def insert(self, job: JobRecord) -> None:
        values = {k: v for k, v in job.__dict__.items() if k != "queue_position"}
        values["state"] = job.state.value
        async with self.engine.begin() as conn:
            await conn.execute(insert(jobs).values(**values))

    async def get(self, job_id: str) -> JobRecord | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(jobs).where(jobs.c.id == job_id))).first()
        return _record(row) if row else None

    async def list(self, departments: list[str] | None = None, states: tuple[JobState, ...] = ()) -> list[JobRecord]:
        """Oldest first; `departments` None means all."""
        query = select(jobs).order_by(jobs.c.created_at, jobs.c.id)
        if departments is not None:
            query = query.where(jobs.c.department.in_(departments))
        if states:
            query = query.where(jobs.c.state.in_([s.value for s in states]))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_record(r) for r in rows]

    async def update(self, job_id: str, *, expect_state: JobState | None = None, **fields: Any) -> bool:
        """Compare-and-set on the state; False when it no longer holds."""
        if isinstance(fields.get("state"), JobState):
            fields["state"] = fields["state"].value
        query = update(jobs).where(jobs.c.id == job_id)
        if expect_state is not None:
            query = query.where(jobs.c.state == expect_state.value)
        async with self.engine.begin() as conn:
            result = await conn.execute(query.values(**fields))
        return result.rowcount > 0
