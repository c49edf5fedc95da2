"""Migrations run on SQLite and on a real PostgreSQL, and are idempotent."""

from __future__ import annotations

import pytest
from sentra_common.db import create_engine, migrate, sqlite_url
from sentra_ingestion.app import MIGRATIONS
from sqlalchemy import inspect


async def _tables(engine) -> set[str]:
    async with engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


async def _check(url: str) -> None:
    engine = create_engine(url)
    try:
        await migrate(engine, MIGRATIONS, "alembic_version_ingestion")
        await migrate(engine, MIGRATIONS, "alembic_version_ingestion")  # idempotent
        tables = await _tables(engine)
        assert {"ingestion_documents", "ingestion_stages", "ingestion_connector_files"} <= tables
        assert "alembic_version_ingestion" in tables
    finally:
        await engine.dispose()


async def test_migrations_on_sqlite(tmp_path):
    await _check(sqlite_url(tmp_path / "meta.db"))


@pytest.mark.integration
async def test_migrations_on_postgresql(postgres_url):
    await _check(postgres_url)
