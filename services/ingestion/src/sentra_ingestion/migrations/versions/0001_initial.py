"""Document registry, stage log and folder-connector state.

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
        "ingestion_documents",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("department", sa.String(128), nullable=False),
        sa.Column("source_uri", sa.String(2048), nullable=False),
        sa.Column("title", sa.String(512), nullable=False),
        sa.Column("filename", sa.String(512), nullable=False),
        sa.Column("access_list", sa.JSON, nullable=False),
        sa.Column("content_type", sa.String(128), nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("blob_key", sa.String(64), nullable=True),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("failure_reason", sa.Text, nullable=False),
        sa.Column("failure_stage", sa.String(32), nullable=False),
        sa.Column("chunk_count", sa.Integer, nullable=False),
        sa.Column("page_count", sa.Integer, nullable=False),
        sa.Column("requeues", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("department", "source_uri", name="uq_ingestion_documents_source"),
    )
    op.create_index("ix_ingestion_documents_state", "ingestion_documents", ["state", "updated_at"])
    op.create_table(
        "ingestion_stages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "document_id", sa.String(36),
            sa.ForeignKey("ingestion_documents.id", ondelete="CASCADE"), nullable=False,
        ),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("stage", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.BigInteger, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("service", sa.String(32), nullable=False),
    )
    op.create_index("ix_ingestion_stages_document", "ingestion_stages", ["document_id", "id"])
    op.create_table(
        "ingestion_connector_files",
        sa.Column("connector", sa.String(256), primary_key=True),
        sa.Column("rel_path", sa.String(2048), primary_key=True),
        sa.Column("mtime_ns", sa.BigInteger, nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("document_id", sa.String(36), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ingestion_connector_files")
    op.drop_index("ix_ingestion_stages_document", "ingestion_stages")
    op.drop_table("ingestion_stages")
    op.drop_index("ix_ingestion_documents_state", "ingestion_documents")
    op.drop_table("ingestion_documents")
