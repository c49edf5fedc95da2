"""The audit log's schema, and who owns it.

One machine (SQLite, `database.migrate=true`, the default): the gateway migrates its
database at start-up. Whoever can write the file can also drop its triggers; the hash
chain (`sentra audit verify`) is what catches a change there.

PostgreSQL: the table, its append-only triggers and the chain head belong to an owner
role the gateway does not run as. `python -m sentra_gateway.migrate` runs the migrations
as that owner and grants the gateway's role (`database.runtime_role`) SELECT and INSERT
on the audit log, SELECT and UPDATE on the chain head (appends lock and move it),
SELECT, INSERT and UPDATE on the API keys (created, read on every call, revoked) and
SELECT on the version table, nothing else: no UPDATE, DELETE or TRUNCATE on the log, and
as it owns nothing it can neither drop nor disable the triggers. The gateway, started
with `database.migrate=false`, only checks that the schema is current and that its role
cannot change the log, and refuses to start otherwise.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sentra_common.auditchain import AUDIT_TABLE, CHAIN_TABLE
from sentra_common.db import migrate, schema_revision
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from sentra_gateway.config import AuditDatabaseSettings

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version_gateway"
API_KEYS_TABLE = "gateway_api_keys"
OWNER_ONLY = ("UPDATE", "DELETE", "TRUNCATE")
logger = logging.getLogger(__name__)


class SchemaNotReady(RuntimeError):
    """The owner's migration cannot grant what was asked."""


async def prepare(engine: AsyncEngine, settings: AuditDatabaseSettings) -> None:
    """At the gateway's start-up: migrate (one machine) or check (an owner migrated)."""
    if settings.migrate:
        await migrate(engine, MIGRATIONS, VERSION_TABLE)
        if engine.dialect.name == "postgresql":
            logger.warning(
                "the audit log's tables and append-only triggers are owned by the role the gateway connects as, "
                "which could drop them: run `python -m sentra_gateway.migrate` as a separate owner role with "
                "SENTRA_GATEWAY_DATABASE__RUNTIME_ROLE=<the gateway's role>, and start the gateway with "
                "SENTRA_GATEWAY_DATABASE__MIGRATE=false"
            )
        return
    problems = await runtime_problems(engine)
    for problem in problems:
        logger.error("the gateway does not start: %s", problem)
    if problems:
        raise SystemExit(2)


async def runtime_problems(engine: AsyncEngine) -> list[str]:
    """Why the gateway, connected as it is, must not serve (empty: it may)."""
    current, head = await schema_revision(engine, MIGRATIONS, VERSION_TABLE)
    if current != head:
        return [f"the audit database is at revision {current or 'none'}, not {head}: run "
                "`python -m sentra_gateway.migrate` as the schema's owner first"]
    if engine.dialect.name != "postgresql":
        return []
    async with engine.connect() as conn:
        row = (await conn.execute(text(
            "SELECT current_user AS me, t.tableowner AS owner, r.rolsuper AS superuser, "
            "pg_has_role(current_user, t.tableowner, 'MEMBER') AS member, "
            + ", ".join(f"has_table_privilege(current_user, t.schemaname || '.' || t.tablename, '{p}') AS {p.lower()}"
                        for p in OWNER_ONLY)
            + " FROM pg_tables t, pg_roles r WHERE t.tablename = :table AND t.schemaname = current_schema() "
            "AND r.rolname = current_user"
        ), {"table": AUDIT_TABLE})).mappings().one()
    if row["superuser"]:
        return [f"the gateway connects as {row['me']}, a superuser: it could change the audit log; "
                "connect as a role with only the grants of `python -m sentra_gateway.migrate`"]
    if row["member"]:
        return [f"the gateway's role {row['me']} is (or is a member of) {row['owner']}, the owner of "
                f"{AUDIT_TABLE}: it could drop the append-only triggers; connect as another role"]
    allowed = [p for p in OWNER_ONLY if row[p.lower()]]
    if allowed:
        return [f"the gateway's role {row['me']} may {', '.join(allowed)} {AUDIT_TABLE}; "
                f"REVOKE {', '.join(allowed)} ON {AUDIT_TABLE} FROM {row['me']} (the migrate command grants only "
                "SELECT and INSERT)"]
    return []


async def migrate_as_owner(engine: AsyncEngine, runtime_role: str) -> None:
    """Migrate as the schema's owner and grant the gateway's role what it needs, no more."""
    await migrate(engine, MIGRATIONS, VERSION_TABLE)
    if not runtime_role:
        return
    if engine.dialect.name != "postgresql":
        raise SchemaNotReady("database.runtime_role applies to PostgreSQL only; SQLite has no roles")
    async with engine.begin() as conn:
        exists = (await conn.execute(text("SELECT rolname = current_user FROM pg_roles WHERE rolname = :r"),
                                     {"r": runtime_role})).first()
        if exists is None:
            raise SchemaNotReady(f"role {runtime_role} does not exist: create it (CREATE ROLE {runtime_role} LOGIN "
                                 "PASSWORD '…') and run this again")
        if exists[0]:
            raise SchemaNotReady(f"the runtime role {runtime_role} is the role migrating (the owner); the gateway "
                                 "must connect as another role")
        role = conn.dialect.identifier_preparer.quote(runtime_role)
        for statement in (
            f"REVOKE ALL ON {AUDIT_TABLE}, {CHAIN_TABLE}, {API_KEYS_TABLE}, {VERSION_TABLE} FROM {role}",
            f"GRANT SELECT, INSERT ON {AUDIT_TABLE} TO {role}",
            f"GRANT SELECT, UPDATE ON {CHAIN_TABLE} TO {role}",
            f"GRANT SELECT, INSERT, UPDATE ON {API_KEYS_TABLE} TO {role}",
            f"GRANT SELECT ON {VERSION_TABLE} TO {role}",
        ):
            await conn.execute(text(statement))
    logger.info("granted %s SELECT and INSERT on the audit log", runtime_role)
