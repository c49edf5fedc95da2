"""Where the adapter registry lives: SQLite on one machine, PostgreSQL in a cluster
(tables created by the service's Alembic migrations). Implements the domain's
`RegistryStore` port."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, DateTime, Integer, MetaData, String, Table, Text, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from sentra_inference.domain.ports import AdapterRecord, AliasRecord

metadata = MetaData()

adapters = Table(
    "inference_adapters",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("department", String(64), nullable=False),
    Column("base_model", String(256), nullable=False),
    Column("artifact_uri", Text, nullable=False),
    Column("metrics", JSON, nullable=False),
    Column("state", String(16), nullable=False),
    Column("error", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(256), nullable=False),
    Column("artifact_digest", String(80), nullable=False, server_default=""),
)

aliases = Table(
    "inference_aliases",
    metadata,
    Column("alias", String(64), primary_key=True),
    Column("department", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("history", JSON, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", String(256), nullable=False),
)

class SqlRegistryStore:
    """`RegistryStore` on SQLAlchemy tables."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def snapshot(self) -> tuple[list[AdapterRecord], list[AliasRecord]]:
        async with self.engine.connect() as conn:
            found = (await conn.execute(select(adapters).order_by(adapters.c.name, adapters.c.version))).mappings()
            records = [AdapterRecord(**row) for row in found]
            found = (await conn.execute(select(aliases).order_by(aliases.c.alias))).mappings()
            return records, [AliasRecord(**{**row, "history": list(row["history"])}) for row in found]

    async def next_version(self, name: str) -> int:
        async with self.engine.connect() as conn:
            latest = await conn.scalar(select(func.max(adapters.c.version)).where(adapters.c.name == name))
        return (latest or 0) + 1

    async def add_adapter(self, record: AdapterRecord) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(insert(adapters).values(**_columns(record)))

    async def set_state(self, name: str, version: int, state: str, error: str = "") -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                adapters.update().where((adapters.c.name == name) & (adapters.c.version == version))
                .values(state=state, error=error[:2000])
            )

    async def save_alias(self, alias: AliasRecord, states: dict[int, str]) -> None:
        """Write the alias and its adapters' states in one transaction."""
        async with self.engine.begin() as conn:
            exists = await conn.scalar(select(aliases.c.alias).where(aliases.c.alias == alias.alias))
            values = _columns(alias)
            if exists:
                await conn.execute(aliases.update().where(aliases.c.alias == alias.alias).values(**values))
            else:
                await conn.execute(insert(aliases).values(**values))
            for version, state in states.items():
                await conn.execute(
                    adapters.update().where((adapters.c.name == alias.alias) & (adapters.c.version == version))
                    .values(state=state, error="")
                )


def _columns(record) -> dict:
    return dict(record.__dict__)
