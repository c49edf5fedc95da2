"""SQL persistence of training schedules, their runs, and the ledger of indexed documents."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from sentra_training.adapters.tables import indexed_documents, schedule_runs, schedules
from sentra_training.domain.schedules import RunRecord, ScheduleRecord


def _aware(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


def _schedule(row: Any) -> ScheduleRecord:
    data = dict(row._mapping)
    for name in ("created_at", "last_run_at", "next_run_at"):
        data[name] = _aware(data[name])
    return ScheduleRecord(**data)


def _run(row: Any) -> RunRecord:
    data = dict(row._mapping)
    for name in ("started_at", "finished_at"):
        data[name] = _aware(data[name])
    return RunRecord(**data)


class ScheduleStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def insert(self, record: ScheduleRecord) -> None:
        values = {k: v for k, v in record.__dict__.items() if k != "new_documents"}
        async with self.engine.begin() as conn:
            await conn.execute(insert(schedules).values(**values))

    async def get(self, schedule_id: str) -> ScheduleRecord | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(schedules).where(schedules.c.id == schedule_id))).first()
        return _schedule(row) if row else None

    async def list(self, departments: list[str] | None) -> list[ScheduleRecord]:
        query = select(schedules).order_by(schedules.c.created_at, schedules.c.id)
        if departments is not None:
            query = query.where(schedules.c.department.in_(departments))
        async with self.engine.connect() as conn:
            return [_schedule(r) for r in (await conn.execute(query)).all()]

    async def update(self, schedule_id: str, **fields: Any) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(update(schedules).where(schedules.c.id == schedule_id).values(**fields))

    async def delete(self, schedule_id: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(delete(schedules).where(schedules.c.id == schedule_id))

    async def insert_run(self, run: RunRecord) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(insert(schedule_runs).values(**run.__dict__))

    async def runs(self, schedule_id: str | None = None, state: str | None = None) -> list[RunRecord]:
        query = select(schedule_runs).order_by(schedule_runs.c.started_at, schedule_runs.c.id)
        if schedule_id is not None:
            query = query.where(schedule_runs.c.schedule_id == schedule_id)
        if state is not None:
            query = query.where(schedule_runs.c.state == state)
        async with self.engine.connect() as conn:
            return [_run(r) for r in (await conn.execute(query)).all()]

    async def update_run(self, run_id: str, **fields: Any) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(update(schedule_runs).where(schedule_runs.c.id == run_id).values(**fields))


class DocumentLedger:
    """Which documents of each department are indexed, and since when (from the events)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def indexed(self, document_id: str, department: str, version: int, at: datetime) -> None:
        async with self.engine.begin() as conn:
            row = (await conn.execute(select(indexed_documents.c.version)
                                      .where(indexed_documents.c.document_id == document_id))).first()
            if row is None:
                await conn.execute(insert(indexed_documents).values(
                    document_id=document_id, department=department, version=version, indexed_at=at))
            elif row[0] < version:  # a new version counts as a changed document
                await conn.execute(update(indexed_documents).where(indexed_documents.c.document_id == document_id)
                                   .values(version=version, indexed_at=at))

    async def deleted(self, document_id: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(delete(indexed_documents).where(indexed_documents.c.document_id == document_id))

    async def indexed_since(self, department: str, since: datetime | None) -> list[str]:
        query = (select(indexed_documents.c.document_id).where(indexed_documents.c.department == department)
                 .order_by(indexed_documents.c.indexed_at, indexed_documents.c.document_id))
        if since is not None:
            query = query.where(indexed_documents.c.indexed_at > since)
        async with self.engine.connect() as conn:
            return [r[0] for r in (await conn.execute(query)).all()]
