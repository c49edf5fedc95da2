"""Alembic environment of the inference service (run through sentra_common.db.migrate)."""

from alembic import context
from sentra_common.db import run_migrations_on

from sentra_inference.adapters.registry_store import metadata

run_migrations_on(
    context.config.attributes["connection"], metadata, context.config.attributes["version_table"]
)
