"""Alembic environment of the training service (run through sentra_common.db.migrate)."""

from alembic import context
from sentra_common.db import run_migrations_on

from sentra_training.adapters.tables import metadata

run_migrations_on(
    context.config.attributes["connection"], metadata, context.config.attributes["version_table"]
)
