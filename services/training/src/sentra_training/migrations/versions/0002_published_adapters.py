"""What became of a job's adapter: evaluated, published, promoted or not (and why).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("training_jobs") as batch:
        batch.add_column(sa.Column("promoted", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("decision", sa.Text, nullable=False, server_default=""))
        batch.add_column(sa.Column("artifact_path", sa.String(1024), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("training_jobs") as batch:
        batch.drop_column("artifact_path")
        batch.drop_column("decision")
        batch.drop_column("promoted")
