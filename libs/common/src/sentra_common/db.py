"""The SQL data layer: SQLAlchemy async engines for SQLite (embedded default) and
PostgreSQL (cluster), and Alembic migrations owned by each service.

Each service keeps its migrations in its own package (`<service>/migrations`) with its
own version table, so services evolve their schemas independently on one database.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine as sa_create_engine
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

logger = logging.getLogger(__name__)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def create_engine(url: str) -> AsyncEngine:
    """An async engine; SQLite gets WAL, a busy timeout and foreign keys."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def create_sync_engine(async_engine: AsyncEngine) -> Engine:
    """A synchronous engine on the same database as `async_engine` (same settings), for
    short writes run whole in one worker thread: a statement through the async drivers
    costs an event-loop round trip each (about 0.4 ms on SQLite here), a thread hop costs
    one for the whole transaction."""
    url = async_engine.url
    if url.get_backend_name() == "sqlite":
        engine = sa_create_engine(url.set(drivername="sqlite"), connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa_create_engine(url.set(drivername="postgresql+psycopg"), pool_pre_ping=True, pool_size=2,
                            max_overflow=2)


def _alembic_config(script_location: Path, version_table: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.attributes["version_table"] = version_table
    return cfg


def run_migrations_on(connection: Connection, target_metadata, version_table: str) -> None:
    """Body of a service's migrations/env.py: upgrade on the given connection.

    On PostgreSQL an advisory lock serialises replicas that start at the same time.
    """
    from alembic import context

    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(:t))"), {"t": version_table})
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table=version_table,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def migrate(engine: AsyncEngine, script_location: Path, version_table: str) -> None:
    """Upgrade the schema to the newest revision (idempotent)."""
    cfg = _alembic_config(script_location, version_table)

    def _upgrade(connection: Connection) -> None:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")

    async with engine.begin() as conn:
        await conn.run_sync(_upgrade)
    logger.info("database schema is up to date", extra={"version_table": version_table})


async def schema_revision(engine: AsyncEngine, script_location: Path, version_table: str) -> tuple[str | None, str]:
    """(the database's revision, the newest one), changing nothing: for a process that
    does not migrate (its role may not) and must not run on an older schema."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config(script_location, version_table)).get_current_head()

    def current(connection: Connection) -> str | None:
        return MigrationContext.configure(connection, opts={"version_table": version_table}).get_current_revision()

    async with engine.connect() as conn:
        return await conn.run_sync(current), head


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"
