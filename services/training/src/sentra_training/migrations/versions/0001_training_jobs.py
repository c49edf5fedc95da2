"""Training jobs.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "training_jobs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("department", sa.String(128), nullable=False),
        sa.Column("adapter_name", sa.String(128), nullable=False),
        sa.Column("created_by", sa.String(256), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("failure_reason", sa.Text, nullable=False),
        sa.Column("reproducibility", sa.JSON, nullable=False),
        sa.Column("metrics", sa.JSON, nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("total_steps", sa.Integer, nullable=False),
        sa.Column("loss", sa.Float, nullable=False),
        sa.Column("tokens_per_second", sa.Float, nullable=False),
        sa.Column("eta_seconds", sa.Float, nullable=False),
        sa.Column("resumed_from_step", sa.Integer, nullable=False),
        sa.Column("restarts", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_training_jobs_state", "training_jobs", ["state", "created_at"])
    op.create_index("ix_training_jobs_department", "training_jobs", ["department", "created_at"])


def downgrade() -> None:
    op.drop_table("training_jobs")
