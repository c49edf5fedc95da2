"""The registry filters pages and counts by access list inside the query, on SQLite and
on a real PostgreSQL, matching whole entries only."""

from __future__ import annotations

import uuid

import pytest
from sentra_common.db import create_engine, migrate, sqlite_url
from sentra_ingestion.adapters.registry import Registry
from sentra_ingestion.app import MIGRATIONS
from sentra_ingestion.domain.model import DocumentRecord, DocumentState

LISTS = {
    "open": [],
    "ana": ["user:ana"],
    "ana-and-legal": ["group:legal", "user:ana"],
    "lookalike": ['user:x"user:ana', "user:anabel"],  # contains "user:ana" as text, not as an entry
    "accented": ["user:añá"],
}


def record(department: str, source: str, access_list: list[str]) -> DocumentRecord:
    return DocumentRecord(
        id=str(uuid.uuid4()), department=department, source_uri=source, title=source, filename="a.txt",
        access_list=access_list, content_type="", content_sha256="0" * 64, blob_key=None, size_bytes=1,
        version=1, state=DocumentState.PROCESSING,
    )


async def _check(url: str) -> None:
    engine = create_engine(url)
    try:
        await migrate(engine, MIGRATIONS, "alembic_version_ingestion")
        registry = Registry(engine)
        department = f"legal-{uuid.uuid4().hex[:8]}"  # the PostgreSQL database is shared by the session
        for source, access_list in LISTS.items():
            await registry.insert(record(department, source, access_list))

        async def visible(readers):
            docs, counts = await registry.list([department], None, 100, 0, readers)
            return sorted(d.source_uri for d in docs), counts

        assert await visible(["user:ana"]) == (["ana", "ana-and-legal", "open"], {"PROCESSING": 3})
        assert await visible(["user:bruno", "group:legal"]) == (["ana-and-legal", "open"], {"PROCESSING": 2})
        assert (await visible(["user:añá"]))[0] == ["accented", "open"]
        assert (await visible(None))[0] == sorted(LISTS)
    finally:
        await engine.dispose()


async def test_access_filter_on_sqlite(tmp_path):
    await _check(sqlite_url(tmp_path / "meta.db"))


@pytest.mark.integration
async def test_access_filter_on_postgresql(postgres_url):
    await _check(postgres_url)
