"""SQL persistence of the document registry (SQLite or PostgreSQL)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from sentra_ingestion.adapters.tables import connector_files, documents, stages
from sentra_ingestion.domain.model import DocumentRecord, DocumentState, StageRecord, utcnow
from sentra_ingestion.telemetry import IngestionMetrics


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _record(row: Any) -> DocumentRecord:
    data = dict(row._mapping)
    data["state"] = DocumentState(data["state"])
    data["access_list"] = list(data["access_list"] or [])
    data["created_at"] = _aware(data["created_at"])
    data["updated_at"] = _aware(data["updated_at"])
    return DocumentRecord(**data)


class Registry:
    def __init__(self, engine: AsyncEngine, metrics: IngestionMetrics | None = None) -> None:
        self.engine = engine
        # Every stage written to the log is also a sample of the stage metrics.
        self.metrics = metrics

    async def get(self, document_id: str) -> DocumentRecord | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(documents).where(documents.c.id == document_id))).first()
        return _record(row) if row else None

    async def find_by_source(self, department: str, source_uri: str) -> DocumentRecord | None:
        query = select(documents).where(
            documents.c.department == department, documents.c.source_uri == source_uri
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return _record(row) if row else None

    async def insert(self, record: DocumentRecord) -> None:
        values = {k: v for k, v in record.__dict__.items()}
        values["state"] = record.state.value
        async with self.engine.begin() as conn:
            await conn.execute(insert(documents).values(**values))

    async def update(
        self,
        document_id: str,
        *,
        expect_version: int | None = None,
        expect_state: DocumentState | None = None,
        **fields: Any,
    ) -> bool:
        """Compare-and-set update; False when the expectations no longer hold."""
        if "state" in fields and isinstance(fields["state"], DocumentState):
            fields["state"] = fields["state"].value
        fields.setdefault("updated_at", utcnow())
        query = update(documents).where(documents.c.id == document_id)
        if expect_version is not None:
            query = query.where(documents.c.version == expect_version)
        if expect_state is not None:
            query = query.where(documents.c.state == expect_state.value)
        async with self.engine.begin() as conn:
            result = await conn.execute(query.values(**fields))
        return result.rowcount > 0

    async def delete(self, document_id: str) -> bool:
        async with self.engine.begin() as conn:
            await conn.execute(delete(stages).where(stages.c.document_id == document_id))
            result = await conn.execute(delete(documents).where(documents.c.id == document_id))
        return result.rowcount > 0

    def _filtered(self, query, departments: list[str] | None, state: DocumentState | None,
                  readers: Sequence[str] | None):
        if departments is not None:
            query = query.where(documents.c.department.in_(departments))
        if state is not None:
            query = query.where(documents.c.state == state.value)
        if readers is not None:
            query = query.where(self._readable_by(readers))
        return query

    def _readable_by(self, readers: Sequence[str]):
        """Documents whose access list is empty (the whole department) or names one of
        `readers`: `sentra_common.access.can_read` inside the query, so pages and counts
        hold only what the caller may read."""
        function = func.json_array_elements_text if self.engine.dialect.name == "postgresql" else func.json_each
        entries = function(documents.c.access_list).table_valued("value")
        named = select(literal(1)).select_from(entries).where(entries.c.value.in_(list(readers))).exists()
        return or_(func.json_array_length(documents.c.access_list) == 0, named)

    async def list(
        self, departments: list[str] | None, state: DocumentState | None, limit: int, offset: int,
        readers: Sequence[str] | None = None,
    ) -> tuple[list[DocumentRecord], dict[str, int]]:
        """A page of documents (newest first) and the counts per state for the filter."""
        page = self._filtered(select(documents), departments, state, readers)
        page = page.order_by(documents.c.created_at.desc(), documents.c.id).limit(limit).offset(offset)
        counts = self._filtered(
            select(documents.c.state, func.count()).group_by(documents.c.state), departments, state, readers
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(page)).all()
            count_rows = (await conn.execute(counts)).all()
        return [_record(r) for r in rows], {s: n for s, n in count_rows}

    async def stalled(self, before: datetime) -> list[DocumentRecord]:
        query = select(documents).where(
            documents.c.state == DocumentState.PROCESSING.value, documents.c.updated_at < before
        )
        async with self.engine.connect() as conn:
            return [_record(r) for r in (await conn.execute(query)).all()]

    async def state_counts(self) -> dict[tuple[str, str], int]:
        """Documents per (state, department), for the metrics."""
        query = select(documents.c.state, documents.c.department, func.count()).group_by(
            documents.c.state, documents.c.department)
        async with self.engine.connect() as conn:
            return {(state, department): n for state, department, n in (await conn.execute(query)).all()}

    async def oldest_processing(self) -> datetime | None:
        """When the PROCESSING document that has waited longest last progressed."""
        query = select(func.min(documents.c.updated_at)).where(documents.c.state == DocumentState.PROCESSING.value)
        async with self.engine.connect() as conn:
            value = (await conn.execute(query)).scalar_one_or_none()
        return _aware(value) if value is not None else None

    async def add_stage(
        self, document_id: str, version: int, stage: str, status: str,
        duration_ms: int = 0, detail: str = "", service: str = "ingestion",
    ) -> None:
        async with self.engine.begin() as conn:
            exists = (
                await conn.execute(select(documents.c.id).where(documents.c.id == document_id))
            ).first()
            if exists is None:
                return
            await conn.execute(
                insert(stages).values(
                    document_id=document_id, version=version, stage=stage, status=status,
                    at=utcnow(), duration_ms=duration_ms, detail=detail[:4000], service=service,
                )
            )
            # Progress: a stalled-document check measures time since the last stage.
            await conn.execute(
                update(documents).where(documents.c.id == document_id).values(updated_at=utcnow())
            )
        if self.metrics is not None:
            self.metrics.stage(stage, status, duration_ms)

    async def stages(self, document_id: str) -> list[StageRecord]:
        query = select(stages).where(stages.c.document_id == document_id).order_by(stages.c.id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            StageRecord(
                version=r.version, stage=r.stage, status=r.status, at=_aware(r.at),
                duration_ms=r.duration_ms, detail=r.detail, service=r.service,
            )
            for r in rows
        ]

    # Folder connector state -------------------------------------------------------------

    async def connector_files(self, connector: str) -> dict[str, tuple[int, int, str]]:
        query = select(connector_files).where(connector_files.c.connector == connector)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {r.rel_path: (r.mtime_ns, r.size_bytes, r.document_id) for r in rows}

    async def put_connector_file(
        self, connector: str, rel_path: str, mtime_ns: int, size: int, document_id: str
    ) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                delete(connector_files).where(
                    connector_files.c.connector == connector, connector_files.c.rel_path == rel_path
                )
            )
            await conn.execute(
                insert(connector_files).values(
                    connector=connector, rel_path=rel_path, mtime_ns=mtime_ns,
                    size_bytes=size, document_id=document_id,
                )
            )

    async def drop_connector_file(self, connector: str, rel_path: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                delete(connector_files).where(
                    connector_files.c.connector == connector, connector_files.c.rel_path == rel_path
                )
            )

    async def blob_in_use(self, blob_key: str) -> bool:
        query = select(func.count()).select_from(documents).where(documents.c.blob_key == blob_key)
        async with self.engine.connect() as conn:
            return (await conn.execute(query)).scalar_one() > 0
