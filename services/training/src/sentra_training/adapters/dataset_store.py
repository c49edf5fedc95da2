"""SQL persistence of datasets and their items (SQLite or PostgreSQL)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from sentra_training.adapters.tables import dataset_items, datasets, withdrawn_documents
from sentra_training.domain.datasets import DatasetRecord, DatasetState, ItemFilter, ItemRecord, ItemStatus

_SPLITS = ("train", "validation", "test")


def _aware(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


def _dataset(row: Any) -> DatasetRecord:
    data = dict(row._mapping)
    data["state"] = DatasetState(data["state"])
    data["created_at"] = _aware(data["created_at"])
    data["finished_at"] = _aware(data["finished_at"])
    return DatasetRecord(**data)


def _item(row: Any) -> ItemRecord:
    data = dict(row._mapping)
    data["status"] = ItemStatus(data["status"])
    return ItemRecord(**data)


def _item_values(item: ItemRecord) -> dict:
    values = dict(item.__dict__)
    values["status"] = item.status.value
    return values


class DatasetStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def insert(self, record: DatasetRecord) -> DatasetRecord:
        values = {k: v for k, v in record.__dict__.items() if k != "counts"}
        values["state"] = record.state.value
        for _ in range(5):  # two versions numbered at once: the loser takes the next number
            async with self.engine.connect() as conn:
                latest = (await conn.execute(select(func.max(datasets.c.version))
                                             .where(datasets.c.department == record.department))).scalar()
            values["version"] = (latest or 0) + 1
            try:
                async with self.engine.begin() as conn:
                    await conn.execute(insert(datasets).values(**values))
            except IntegrityError:
                continue
            record.version = values["version"]
            return record
        raise RuntimeError("could not number the dataset version (too many at once); try again")

    async def get(self, dataset_id: str) -> DatasetRecord | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(datasets).where(datasets.c.id == dataset_id))).first()
        return _dataset(row) if row else None

    async def list(self, departments: list[str] | None,
                   states: tuple[DatasetState, ...] = ()) -> list[DatasetRecord]:
        query = select(datasets).order_by(datasets.c.created_at, datasets.c.id)
        if departments is not None:
            query = query.where(datasets.c.department.in_(departments))
        if states:
            query = query.where(datasets.c.state.in_([s.value for s in states]))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_dataset(r) for r in rows]

    async def update(self, dataset_id: str, **fields: Any) -> None:
        if isinstance(fields.get("state"), DatasetState):
            fields["state"] = fields["state"].value
        async with self.engine.begin() as conn:
            await conn.execute(update(datasets).where(datasets.c.id == dataset_id).values(**fields))

    async def add_items(self, dataset_id: str, items: Sequence[ItemRecord]) -> None:
        async with self.engine.begin() as conn:
            # a generation started again replaces what an interrupted one left
            await conn.execute(dataset_items.delete().where(dataset_items.c.dataset_id == dataset_id))
            for start in range(0, len(items), 500):
                await conn.execute(insert(dataset_items), [_item_values(i) for i in items[start : start + 500]])

    def _where(self, query, dataset_id: str, where: ItemFilter):
        query = query.where(dataset_items.c.dataset_id == dataset_id)
        if where.status is not None:
            query = query.where(dataset_items.c.status == where.status.value)
        if where.document_id:
            query = query.where(dataset_items.c.document_id == where.document_id)
        if where.split:
            query = query.where(dataset_items.c.split == where.split)
        if where.text:
            pattern = f"%{where.text.lower()}%"
            query = query.where(or_(func.lower(dataset_items.c.question).like(pattern),
                                    func.lower(dataset_items.c.answer).like(pattern)))
        return query

    async def items(self, dataset_id: str, where: ItemFilter, offset: int,
                    limit: int) -> tuple[list[ItemRecord], int]:
        async with self.engine.connect() as conn:
            total = (await conn.execute(self._where(select(func.count()).select_from(dataset_items), dataset_id,
                                                    where))).scalar() or 0
            if limit <= 0:
                return [], total
            rows = (await conn.execute(self._where(select(dataset_items), dataset_id, where)
                                       .order_by(dataset_items.c.position).offset(offset).limit(limit))).all()
        return [_item(r) for r in rows], total

    async def item(self, dataset_id: str, item_id: str) -> ItemRecord | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(dataset_items).where(
                dataset_items.c.dataset_id == dataset_id, dataset_items.c.id == item_id))).first()
        return _item(row) if row else None

    async def counts(self, dataset_id: str) -> dict[str, int]:
        query = (select(dataset_items.c.status, dataset_items.c.split, func.count())
                 .where(dataset_items.c.dataset_id == dataset_id)
                 .group_by(dataset_items.c.status, dataset_items.c.split))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        counts = dict.fromkeys([*(s.value for s in ItemStatus), *_SPLITS], 0)
        for status, split, count in rows:
            counts[status] += count
            if status != ItemStatus.WITHDRAWN.value:
                counts[split] = counts.get(split, 0) + count
        return counts

    async def update_item(self, dataset_id: str, item_id: str, **fields: Any) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(update(dataset_items).where(
                dataset_items.c.dataset_id == dataset_id, dataset_items.c.id == item_id).values(**fields))

    async def set_status(self, dataset_id: str, status: ItemStatus, reviewed_by: str, *,
                         item_ids: Sequence[str] = (), min_score: float | None = None) -> int:
        query = update(dataset_items).where(dataset_items.c.dataset_id == dataset_id,
                                            dataset_items.c.status != ItemStatus.WITHDRAWN.value)
        if item_ids:
            query = query.where(dataset_items.c.id.in_(list(item_ids)))
        if min_score is not None:
            query = query.where(dataset_items.c.status == ItemStatus.PENDING.value,
                                dataset_items.c.score >= min_score)
        async with self.engine.begin() as conn:
            result = await conn.execute(query.values(status=status.value, reviewed_by=reviewed_by))
        return result.rowcount

    async def withdraw(self, document_id: str, department: str) -> list[str]:
        async with self.engine.begin() as conn:
            known = (await conn.execute(select(withdrawn_documents.c.document_id)
                                        .where(withdrawn_documents.c.document_id == document_id))).first()
            if known is None:
                await conn.execute(insert(withdrawn_documents).values(
                    document_id=document_id, department=department, withdrawn_at=datetime.now(UTC)))
            touched = [r[0] for r in (await conn.execute(
                select(dataset_items.c.dataset_id).where(dataset_items.c.document_id == document_id).distinct()))]
            await conn.execute(update(dataset_items).where(dataset_items.c.document_id == document_id)
                               .values(status=ItemStatus.WITHDRAWN.value))
            for dataset_id in touched:
                row = (await conn.execute(select(datasets.c.withdrawn_document_ids)
                                          .where(datasets.c.id == dataset_id))).first()
                withdrawn = list(row[0] or []) if row else []
                if document_id not in withdrawn:
                    await conn.execute(update(datasets).where(datasets.c.id == dataset_id)
                                       .values(withdrawn_document_ids=[*withdrawn, document_id]))
        return touched

    async def withdrawn_documents(self, document_ids: Sequence[str]) -> set[str]:
        ids = sorted({d for d in document_ids if d})
        if not ids:
            return set()
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(withdrawn_documents.c.document_id)
                                       .where(withdrawn_documents.c.document_id.in_(ids)))).all()
        return {r[0] for r in rows}
