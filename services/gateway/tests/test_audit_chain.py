"""Attacks on the audit log's integrity, performed on a real SQLite database the way
someone who can write the database file (and so drop its triggers) would, each one
caught by the hash chain: an entry changed (also with its hash recomputed), deleted
(in the middle, the newest, the oldest) or inserted (bare, or forged with a valid link),
a whole chain rewritten (caught against a head recorded earlier), and `sentra audit
verify` exiting non-zero with the first broken entry and its kind."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.config import Config
from sentra_common.auditchain import GENESIS, entry_hash, verify_database
from sentra_common.db import create_engine, migrate, sqlite_url
from sentra_gateway.app import MIGRATIONS
from sentra_gateway.audit import AuditLog, AuditRecord, audit_chain, audit_log
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.exc import DBAPIError

VERSION_TABLE = "alembic_version_gateway"


@pytest.fixture
async def db(tmp_path):
    url = sqlite_url(tmp_path / "audit.db")
    engine = create_engine(url)
    await migrate(engine, MIGRATIONS, VERSION_TABLE)
    log = AuditLog(engine)
    for n in range(1, 7):
        await log.append(AuditRecord(method=f"/x/Call{n}", result="OK", subject=f"user{n}", departments=("legal",),
                                     document_ids=[f"d{n}"], detail="día ñ", duration_ms=n))
    yield url, engine, log
    await engine.dispose()


async def tamper(engine, *statements) -> None:
    """What a writer of the database file can do: the triggers go, then anything goes."""
    async with engine.begin() as conn:
        await conn.execute(text("DROP TRIGGER IF EXISTS gateway_audit_log_no_update"))
        await conn.execute(text("DROP TRIGGER IF EXISTS gateway_audit_log_no_delete"))
        for statement in statements:
            await conn.execute(statement)


async def first_break(engine, expect=None):
    report = await verify_database(engine, expect)
    assert not report.intact
    return report.first.kind, report.first.id, report.first.message


async def entry(engine, entry_id: int) -> dict:
    async with engine.connect() as conn:
        return dict((await conn.execute(select(audit_log).where(audit_log.c.id == entry_id))).mappings().one())


async def test_appends_form_one_chain_that_verifies(db):
    _, engine, _ = db
    report = await verify_database(engine)
    assert report.intact and report.entries == 6
    newest = await entry(engine, 6)
    assert (report.head_id, report.head_hash) == (6, newest["hash"]) and newest["prev_id"] == 5
    first = await entry(engine, 1)
    assert (first["prev_id"], first["prev_hash"]) == (0, GENESIS)
    assert entry_hash(first) == first["hash"]


async def test_concurrent_appends_from_two_processes_form_one_line(db):
    url, engine, log = db
    other = create_engine(url)  # a second gateway replica on the same database
    try:
        second = AuditLog(other)
        await asyncio.gather(*(
            (log if n % 2 else second).append(AuditRecord(method="/x/Race", result="OK", subject=f"r{n}"))
            for n in range(40)
        ))
    finally:
        await other.dispose()
    report = await verify_database(engine)
    assert report.intact and report.entries == 46
    async with engine.connect() as conn:
        ids = (await conn.execute(select(audit_log.c.id, audit_log.c.prev_id).order_by(audit_log.c.id))).all()
    assert [(i, p) for i, p in ids] == [(n, n - 1) for n in range(1, 47)]


async def test_the_database_still_refuses_changes_through_its_triggers(db):
    _, engine, _ = db
    for statement in ("UPDATE gateway_audit_log SET result = 'OK'", "DELETE FROM gateway_audit_log",
                      "DELETE FROM gateway_audit_chain"):
        with pytest.raises(DBAPIError, match=r"append-only|never removed"):
            async with engine.begin() as conn:
                await conn.execute(text(statement))


async def test_a_changed_entry_is_reported(db):
    _, engine, _ = db
    await tamper(engine, update(audit_log).where(audit_log.c.id == 3).values(result="PERMISSION_DENIED"))
    kind, entry_id, message = await first_break(engine)
    assert (kind, entry_id) == ("changed", 3) and "do not give its hash" in message


async def test_an_entry_changed_into_values_of_the_wrong_type_is_reported(db):
    _, engine, _ = db
    await tamper(engine, text("UPDATE gateway_audit_log SET at = 'yesterday', document_ids = '{not json' WHERE id = 2"),
                 text("UPDATE gateway_audit_log SET duration_ms = 'slow' WHERE id = 5"))
    report = await verify_database(engine)
    assert [(b.kind, b.id) for b in report.breaks] == [("changed", 2), ("changed", 5)]


async def test_a_changed_entry_with_its_hash_recomputed_is_reported(db):
    _, engine, _ = db
    forged = {**await entry(engine, 3), "subject": "somebody-else"}
    await tamper(engine, update(audit_log).where(audit_log.c.id == 3)
                 .values(subject=forged["subject"], hash=entry_hash(forged)))
    kind, entry_id, message = await first_break(engine)
    assert (kind, entry_id) == ("changed", 3) and "recomputed" in message


async def test_a_deleted_entry_is_reported(db):
    _, engine, _ = db
    await tamper(engine, delete(audit_log).where(audit_log.c.id == 3))
    kind, entry_id, message = await first_break(engine)
    assert (kind, entry_id) == ("deleted", 3) and "entry 3 is missing" in message


async def test_deleting_the_newest_entries_is_reported(db):
    _, engine, _ = db
    await tamper(engine, delete(audit_log).where(audit_log.c.id >= 5))
    kind, entry_id, message = await first_break(engine)
    assert (kind, entry_id) == ("deleted", 5) and "entries 5..6 are missing" in message


async def test_deleting_the_oldest_entry_is_reported(db):
    _, engine, _ = db
    await tamper(engine, delete(audit_log).where(audit_log.c.id == 1))
    kind, entry_id, _ = await first_break(engine)
    assert (kind, entry_id) == ("deleted", 1)


async def test_an_inserted_entry_is_reported(db):
    _, engine, log = db
    await tamper(engine, insert(audit_log).values(
        id=7, at=datetime.now(UTC), request_id="", subject="ghost", departments=",legal,", roles="", method="/x/Call",
        result="OK", detail="", document_ids=[], department="", peer="", duration_ms=1))
    assert await first_break(engine) == ("inserted", 7, "entry 7 is not part of the chain: "
                                                        "the chain head follows entry 6")
    # The gateway's next entry goes past it and the chain skips it.
    await log.append(AuditRecord(method="/x/After", result="OK", subject="user8"))
    report = await verify_database(engine)
    assert [(b.kind, b.id) for b in report.breaks] == [("inserted", 7)] and report.head_id == 8


async def test_a_forged_entry_with_a_valid_link_is_reported(db):
    _, engine, _ = db
    last = await entry(engine, 6)
    forged = {**last, "id": 7, "subject": "ghost", "prev_id": 6, "prev_hash": last["hash"]}
    forged["hash"] = entry_hash(forged)
    await tamper(engine, insert(audit_log).values(**forged))
    kind, entry_id, _ = await first_break(engine)
    assert (kind, entry_id) == ("inserted", 7)


async def test_a_rewritten_chain_is_caught_against_a_head_recorded_earlier(db):
    _, engine, _ = db
    recorded = await verify_database(engine)
    # Change entry 2 and recompute every hash after it, the head included.
    rows = [await entry(engine, n) for n in range(2, 7)]
    rows[0]["result"] = "PERMISSION_DENIED"
    statements, prev_hash = [], (await entry(engine, 1))["hash"]
    for row in rows:
        row["prev_hash"] = prev_hash
        row["hash"] = prev_hash = entry_hash(row)
        statements.append(update(audit_log).where(audit_log.c.id == row["id"])
                          .values(result=row["result"], prev_hash=row["prev_hash"], hash=row["hash"]))
    statements.append(update(audit_chain).values(last_hash=prev_hash))
    await tamper(engine, *statements)
    # Without a secret a consistent rewrite verifies on its own; the recorded head does not.
    assert (await verify_database(engine)).intact
    kind, entry_id, message = await first_break(engine, {recorded.head_id: recorded.head_hash})
    assert (kind, entry_id) == ("changed", 6) and "rewritten" in message


async def test_the_migration_chains_the_entries_written_before_it(tmp_path):
    url = sqlite_url(tmp_path / "old.db")
    engine = create_engine(url)
    try:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["version_table"] = VERSION_TABLE

        def to(revision):
            def run(connection):
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
            return run

        async with engine.begin() as conn:
            await conn.run_sync(to("0001"))
            for n in range(1, 4):  # the table as revision 0001 left it
                await conn.execute(text(
                    "INSERT INTO gateway_audit_log (at, request_id, subject, departments, roles, method, result, "
                    "detail, document_ids, department, peer, duration_ms) VALUES (:at, 'r', :s, ',legal,', "
                    "',member,', '/x/Old', 'OK', '', '[\"d1\"]', 'legal', 'ipv4:1', 3)"),
                    {"at": datetime(2025, 1, n, 9, 30, 0, 123456), "s": f"old{n}"})
        await migrate(engine, MIGRATIONS, VERSION_TABLE)
        async with engine.connect() as conn:
            head = (await conn.execute(select(audit_chain))).mappings().one()
        assert head["last_id"] == head["chained_existing_until"] == 3
        await AuditLog(engine).append(AuditRecord(method="/x/New", result="OK", subject="new"))
        report = await verify_database(engine)
        assert report.intact and report.entries == 4 and report.head_id == 4
        await tamper(engine, update(audit_log).where(audit_log.c.id == 2).values(subject="someone"))
        assert (await first_break(engine))[:2] == ("changed", 2)
    finally:
        await engine.dispose()


def sentra(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sentra_cli.main", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "COLUMNS": "200"})


async def test_sentra_audit_verify_exits_non_zero_naming_the_first_broken_entry(db):
    url, engine, _ = db
    ok = await asyncio.to_thread(sentra, "audit", "verify", "--database-url", url)
    assert ok.returncode == 0, ok.stderr
    assert "audit log intact: 6 entries" in ok.stdout
    head = (await entry(engine, 6))["hash"]
    assert f"--expect 6:{head}" in ok.stdout
    await tamper(engine, update(audit_log).where(audit_log.c.id == 2).values(detail="nothing to see"),
                 delete(audit_log).where(audit_log.c.id == 4))
    broken = await asyncio.to_thread(sentra, "audit", "verify", "--database-url", url, "--expect", f"6:{head}")
    assert broken.returncode == 1
    assert "first broken entry 2 (changed)" in broken.stderr
    assert "entry 4 (deleted): entry 4 is missing" in broken.stderr
    assert "2 problem(s) in 5 entries" in broken.stderr
