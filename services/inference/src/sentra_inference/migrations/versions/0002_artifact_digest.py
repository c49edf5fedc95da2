"""The digest of an adapter's files, recorded at registration and checked at every load.

Adapters registered before it have none ("") and are refused at load: their artifact was
never confined to its department's adapter root, so they must be registered again.

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
    op.add_column(
        "inference_adapters", sa.Column("artifact_digest", sa.String(80), nullable=False, server_default=""),
    )


def downgrade() -> None:
    with op.batch_alter_table("inference_adapters") as batch:
        batch.drop_column("artifact_digest")
