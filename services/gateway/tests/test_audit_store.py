"""The audit log on SQLite and on a real PostgreSQL: migrations are idempotent, entries
are appended (also concurrently, from two engines) into one hash chain and queried, and
the database refuses to change or delete them; a gateway that does not migrate refuses
a schema that is not current."""

from __future__ import annotations

import asyncio

import pytest
from sentra_common.auditchain import verify_database
from sentra_common.db import create_engine, migrate, sqlite_url
from sentra_common.principal import Principal
from sentra_gateway.app import MIGRATIONS
from sentra_gateway.audit import AuditLog, AuditQuery, AuditRecord
from sentra_gateway.config import AuditDatabaseSettings
from sentra_gateway.schema import prepare, runtime_problems
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

ROOT = Principal("root", (), ("platform-admin",))
LEGAL_ADMIN = Principal("ana", ("legal",), ("dept-admin",))


async def _check(url: str) -> None:
    engine = create_engine(url)
    try:
        await migrate(engine, MIGRATIONS, "alembic_version_gateway")
        await migrate(engine, MIGRATIONS, "alembic_version_gateway")  # idempotent
        log = AuditLog(engine)
        await log.append(AuditRecord(method="/x/Search", result="OK", subject="dani", departments=("legal",),
                                     document_ids=["d1", "d2"]))
        await log.append(AuditRecord(method="/x/ListDocuments", result="PERMISSION_DENIED", subject="bruno",
                                     departments=("rrhh",), department="legal"))
        await log.append(AuditRecord(method="/x/ListDocuments", result="OK", subject="bruno", departments=("rrhh",)))
        everything, _ = await log.query(ROOT, AuditQuery())
        assert len(everything) >= 3
        legal, _ = await log.query(LEGAL_ADMIN, AuditQuery())
        assert {(e.subject, e.result) for e in legal} >= {("dani", "OK"), ("bruno", "PERMISSION_DENIED")}
        assert ("bruno", "OK") not in {(e.subject, e.result) for e in legal}
        touched, _ = await log.query(ROOT, AuditQuery(document_id="d2"))
        assert [e.subject for e in touched] == ["dani"]
        other = create_engine(url)  # a second replica: appends from both form one chain
        try:
            logs = (log, AuditLog(other))
            await asyncio.gather(*(logs[n % 2].append(AuditRecord(method="/x/Race", result="OK", subject=f"r{n}"))
                                   for n in range(20)))
        finally:
            await other.dispose()
        report = await verify_database(engine)
        assert report.intact and report.entries >= 23, report.breaks
        for statement in ("UPDATE gateway_audit_log SET result = 'OK'", "DELETE FROM gateway_audit_log"):
            with pytest.raises(DBAPIError, match="append-only"):
                async with engine.begin() as conn:
                    await conn.execute(text(statement))
    finally:
        await engine.dispose()


async def test_audit_log_on_sqlite(tmp_path):
    await _check(sqlite_url(tmp_path / "audit.db"))


@pytest.mark.integration
async def test_audit_log_on_postgresql(postgres_url):
    await _check(postgres_url)


async def test_a_gateway_that_does_not_migrate_refuses_a_schema_that_is_not_current(tmp_path):
    url = sqlite_url(tmp_path / "audit.db")
    engine = create_engine(url)
    try:
        assert "revision none" in " ".join(await runtime_problems(engine))
        with pytest.raises(SystemExit):
            await prepare(engine, AuditDatabaseSettings(url=url, migrate=False))
        await prepare(engine, AuditDatabaseSettings(url=url))  # migrates (one machine)
        assert await runtime_problems(engine) == []
        await prepare(engine, AuditDatabaseSettings(url=url, migrate=False))
    finally:
        await engine.dispose()
