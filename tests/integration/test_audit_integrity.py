"""The audit log on a real PostgreSQL with two roles, the way a cluster runs it: the
schema migrated by `python -m sentra_gateway.migrate` as an owner role, the gateway
connected as a role that may only read and append. Every attack is performed: as the
gateway's role UPDATE, DELETE, TRUNCATE, disabling or dropping the triggers, replacing
their function and removing the chain head are refused, and a row it inserts around the
chain is reported; as the owner the triggers refuse UPDATE/DELETE/TRUNCATE, and a change
and a deletion it forces by disabling them are caught by `sentra audit verify` (a real
process); the gateway refuses to start on a role that could change the log."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime

import psycopg
import pytest
from sentra_common.auditchain import verify_database
from sentra_common.db import create_engine
from sentra_gateway.audit import AuditLog, AuditRecord
from sentra_gateway.config import AuditDatabaseSettings
from sentra_gateway.schema import prepare, runtime_problems
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

pytestmark = pytest.mark.integration

OWNER, GATEWAY, DATABASE = "sentra_audit_owner", "sentra_audit_gateway", "sentra_audit"


def _url(base: str, user: str, database: str = DATABASE) -> str:
    return make_url(base).set(username=user, database=database).render_as_string(hide_password=False)


def _python(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "COLUMNS": "200", **(env or {})})


@pytest.fixture(scope="module")
def urls(postgres_url):
    """An owner role owning a database, and the gateway's login role, created by the superuser."""
    with psycopg.connect(postgres_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {OWNER} LOGIN")
        conn.execute(f"CREATE ROLE {GATEWAY} LOGIN")
        conn.execute(f"CREATE DATABASE {DATABASE} OWNER {OWNER}")
        conn.execute(f"CREATE DATABASE {DATABASE}_empty OWNER {OWNER}")
    return {"owner": _url(postgres_url, OWNER), "gateway": _url(postgres_url, GATEWAY),
            "superuser": _url(postgres_url, make_url(postgres_url).username),
            "empty": _url(postgres_url, GATEWAY, f"{DATABASE}_empty")}


@pytest.fixture(scope="module")
async def migrated(urls):
    env = {"SENTRA_GATEWAY_DATABASE__URL": urls["owner"], "SENTRA_GATEWAY_DATABASE__RUNTIME_ROLE": GATEWAY}
    for _ in range(2):  # idempotent: a Job that runs on every deploy
        job = _python("-m", "sentra_gateway.migrate", env=env)
        assert job.returncode == 0, job.stderr
    engine = create_engine(urls["gateway"])
    await prepare(engine, AuditDatabaseSettings(url=urls["gateway"], migrate=False))  # the gateway's start-up
    log = AuditLog(engine)
    for n in range(1, 6):
        await log.append(AuditRecord(method=f"/x/Call{n}", result="OK", subject=f"user{n}", departments=("legal",),
                                     document_ids=[f"d{n}"]))
    yield urls
    await engine.dispose()


async def _refused(url: str, statement: str, match: str) -> None:
    engine = create_engine(url)
    try:
        with pytest.raises(DBAPIError, match=match):
            async with engine.begin() as conn:
                await conn.execute(text(statement))
    finally:
        await engine.dispose()


async def test_the_gateway_role_appends_and_reads_but_cannot_change_the_log(migrated):
    gateway = migrated["gateway"]
    for statement, match in (
        ("UPDATE gateway_audit_log SET result = 'OK' WHERE id = 2", "permission denied for table gateway_audit_log"),
        ("DELETE FROM gateway_audit_log WHERE id = 2", "permission denied for table gateway_audit_log"),
        ("TRUNCATE gateway_audit_log", "permission denied for table gateway_audit_log"),
        ("ALTER TABLE gateway_audit_log DISABLE TRIGGER gateway_audit_log_no_change", "must be owner"),
        ("DROP TRIGGER gateway_audit_log_no_change ON gateway_audit_log", "must be owner"),
        ("CREATE OR REPLACE FUNCTION gateway_audit_log_append_only() RETURNS trigger AS $$ BEGIN RETURN NEW; END $$ "
         "LANGUAGE plpgsql", "must be owner of function|permission denied for schema public"),
        ("DROP TABLE gateway_audit_log", "must be owner"),
        ("DELETE FROM gateway_audit_chain", "permission denied for table gateway_audit_chain"),
    ):
        await _refused(gateway, statement, match)
    engine = create_engine(gateway)
    try:
        assert await runtime_problems(engine) == []
        report = await verify_database(engine)
        assert report.intact and report.entries == 5 and report.head_id == 5
        # What the role can do, INSERT, does not go unnoticed around the chain.
        async with engine.begin() as conn:
            await conn.execute(text(
                "INSERT INTO gateway_audit_log (id, at, request_id, subject, departments, roles, method, result, "
                "detail, document_ids, department, peer, duration_ms) VALUES (6, :at, '', 'ghost', ',legal,', '', "
                "'/x/Call', 'OK', '', '[]', '', '', 1)"), {"at": datetime.now(UTC)})
        report = await verify_database(engine)
        assert [(b.kind, b.id) for b in report.breaks] == [("inserted", 6)]
    finally:
        await engine.dispose()


async def test_the_owner_is_refused_by_the_triggers_and_a_change_it_forces_is_caught(migrated):
    owner = migrated["owner"]
    for statement in ("UPDATE gateway_audit_log SET result = 'OK'", "DELETE FROM gateway_audit_log",
                      "TRUNCATE gateway_audit_log", "DELETE FROM gateway_audit_chain"):
        await _refused(owner, statement, "append-only|never removed")
    engine = create_engine(owner)
    try:
        async with engine.begin() as conn:  # what only the owner (or a superuser) can do
            await conn.execute(text("ALTER TABLE gateway_audit_log DISABLE TRIGGER gateway_audit_log_no_change"))
            await conn.execute(text("UPDATE gateway_audit_log SET result = 'PERMISSION_DENIED' WHERE id = 2"))
            await conn.execute(text("DELETE FROM gateway_audit_log WHERE id = 4"))
            await conn.execute(text("ALTER TABLE gateway_audit_log ENABLE TRIGGER gateway_audit_log_no_change"))
    finally:
        await engine.dispose()
    verify = _python("-m", "sentra_cli.main", "audit", "verify", env={"SENTRA_AUDIT_DATABASE_URL": migrated["gateway"]})
    assert verify.returncode == 1, verify.stdout + verify.stderr
    assert "first broken entry 2 (changed)" in verify.stderr
    assert "entry 4 (deleted): entry 4 is missing" in verify.stderr


async def test_the_gateway_refuses_to_start_on_a_role_that_could_change_the_log(migrated):
    async def problems(url: str) -> str:
        engine = create_engine(url)
        try:
            return " ".join(await runtime_problems(engine))
        finally:
            await engine.dispose()

    assert "the owner of gateway_audit_log" in await problems(migrated["owner"])
    assert "a superuser" in await problems(migrated["superuser"])
    assert "revision none" in await problems(migrated["empty"])
    owner = create_engine(migrated["owner"])
    try:
        async with owner.begin() as conn:
            await conn.execute(text(f"GRANT UPDATE, DELETE ON gateway_audit_log TO {GATEWAY}"))
        assert f"may UPDATE, DELETE gateway_audit_log; REVOKE UPDATE, DELETE ON gateway_audit_log FROM {GATEWAY}" \
            in await problems(migrated["gateway"])
        gateway = create_engine(migrated["gateway"])
        try:
            with pytest.raises(SystemExit):
                await prepare(gateway, AuditDatabaseSettings(url=migrated["gateway"], migrate=False))
        finally:
            await gateway.dispose()
    finally:
        async with owner.begin() as conn:
            await conn.execute(text(f"REVOKE UPDATE, DELETE ON gateway_audit_log FROM {GATEWAY}"))
        await owner.dispose()
    assert await problems(migrated["gateway"]) == ""
