"""python -m sentra_gateway.migrate: the audit log's schema, run as its owner.

On PostgreSQL run this (a Kubernetes Job or an init container with the owner's secret)
with SENTRA_GATEWAY_DATABASE__URL connecting as the schema's owner role and
SENTRA_GATEWAY_DATABASE__RUNTIME_ROLE naming the role the gateway connects as; then
start the gateway with its own URL and SENTRA_GATEWAY_DATABASE__MIGRATE=false. The
gateway never holds the owner's credentials. See sentra_gateway.schema.
"""

from __future__ import annotations

import asyncio
import logging
import sys

from pydantic_settings import BaseSettings, SettingsConfigDict
from sentra_common.config import load_settings
from sentra_common.db import create_engine

from sentra_gateway.config import AuditDatabaseSettings
from sentra_gateway.schema import SchemaNotReady, migrate_as_owner


class MigrationSettings(BaseSettings):
    """The gateway's database settings alone (SENTRA_GATEWAY_DATABASE__…): this job needs
    neither the identity provider nor the services."""

    model_config = SettingsConfigDict(env_prefix="SENTRA_GATEWAY_", env_nested_delimiter="__", extra="ignore")

    database: AuditDatabaseSettings = AuditDatabaseSettings()


async def run(settings: MigrationSettings) -> None:
    engine = create_engine(settings.database.url)
    try:
        await migrate_as_owner(engine, settings.database.runtime_role)
    finally:
        await engine.dispose()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = load_settings(MigrationSettings)
    try:
        asyncio.run(run(settings))
    except SchemaNotReady as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    print("the audit log's schema is up to date")


if __name__ == "__main__":
    main()
