"""Training schedules, their runs, and the ledger of indexed documents they count.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "training_schedules",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("department", sa.String(128), nullable=False),
        sa.Column("adapter_name", sa.String(128), nullable=False),
        sa.Column("cron", sa.String(256), nullable=False, server_default=""),
        sa.Column("time_zone", sa.String(64), nullable=False, server_default="UTC"),
        sa.Column("min_new_documents", sa.Integer, nullable=False, server_default="0"),
        sa.Column("min_score", sa.Float, nullable=False, server_default="0.5"),
        sa.Column("settings", sa.JSON, nullable=False),
        sa.Column("created_by", sa.String(256), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paused", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "training_schedule_runs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("schedule_id", sa.String(36), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("dataset_id", sa.String(36), nullable=False, server_default=""),
        sa.Column("job_id", sa.String(36), nullable=False, server_default=""),
        sa.Column("promoted", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("outcome", sa.Text, nullable=False, server_default=""),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("detail", sa.JSON, nullable=False),
    )
    op.create_index("ix_training_schedule_runs_schedule", "training_schedule_runs", ["schedule_id", "started_at"])
    op.create_table(
        "indexed_documents",
        sa.Column("document_id", sa.String(64), primary_key=True),
        sa.Column("department", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("indexed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_indexed_documents_department", "indexed_documents", ["department", "indexed_at"])


def downgrade() -> None:
    op.drop_index("ix_indexed_documents_department", "indexed_documents")
    op.drop_table("indexed_documents")
    op.drop_index("ix_training_schedule_runs_schedule", "training_schedule_runs")
    op.drop_table("training_schedule_runs")
    op.drop_table("training_schedules")
