"""Dataset versions, their items, and the documents withdrawn from them.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("department", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(256), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pii_mode", sa.String(16), nullable=False),
        sa.Column("generator_id", sa.String(128), nullable=False, server_default=""),
        sa.Column("failure_reason", sa.Text, nullable=False, server_default=""),
        sa.Column("chunks_done", sa.Integer, nullable=False, server_default="0"),
        sa.Column("chunks_total", sa.Integer, nullable=False, server_default="0"),
        sa.Column("request", sa.JSON, nullable=False),
        sa.Column("document_ids", sa.JSON, nullable=False),
        sa.Column("withdrawn_document_ids", sa.JSON, nullable=False),
        sa.Column("dropped", sa.JSON, nullable=False),
        sa.Column("pii_found", sa.JSON, nullable=False),
        sa.Column("timings", sa.JSON, nullable=False),
        sa.UniqueConstraint("department", "version", name="uq_datasets_department_version"),
    )
    op.create_table(
        "dataset_items",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("dataset_id", sa.String(36), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("split", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("context", sa.Text, nullable=False, server_default=""),
        sa.Column("document_id", sa.String(64), nullable=False, server_default=""),
        sa.Column("document_version", sa.Integer, nullable=False, server_default="0"),
        sa.Column("chunk_id", sa.String(64), nullable=False, server_default=""),
        sa.Column("document_title", sa.Text, nullable=False, server_default=""),
        sa.Column("language", sa.String(8), nullable=False, server_default=""),
        sa.Column("context_language", sa.String(8), nullable=False, server_default=""),
        sa.Column("score", sa.Float, nullable=False, server_default="0"),
        sa.Column("pii", sa.JSON, nullable=False),
        sa.Column("generator_id", sa.String(128), nullable=False, server_default=""),
        sa.Column("edited", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("original_question", sa.Text, nullable=False, server_default=""),
        sa.Column("original_answer", sa.Text, nullable=False, server_default=""),
        sa.Column("reviewed_by", sa.String(256), nullable=False, server_default=""),
    )
    op.create_index("ix_dataset_items_dataset", "dataset_items", ["dataset_id", "position"])
    op.create_index("ix_dataset_items_document", "dataset_items", ["document_id"])
    op.create_table(
        "withdrawn_documents",
        sa.Column("document_id", sa.String(64), primary_key=True),
        sa.Column("department", sa.String(128), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("withdrawn_documents")
    op.drop_index("ix_dataset_items_document", "dataset_items")
    op.drop_index("ix_dataset_items_dataset", "dataset_items")
    op.drop_table("dataset_items")
    op.drop_table("datasets")
