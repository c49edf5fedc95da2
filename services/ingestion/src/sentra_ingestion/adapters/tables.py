"""Tables of the ingestion service (schema changes go through migrations/)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

documents = Table(
    "ingestion_documents",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("department", String(128), nullable=False),
    # Identity of the source: uploads with the same department and source are versions.
    Column("source_uri", String(2048), nullable=False),
    Column("title", String(512), nullable=False),
    Column("filename", String(512), nullable=False),
    Column("access_list", JSON, nullable=False),
    Column("content_type", String(128), nullable=False, default=""),
    Column("content_sha256", String(64), nullable=False),
    Column("blob_key", String(64), nullable=True),
    Column("size_bytes", BigInteger, nullable=False),
    Column("version", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("failure_reason", Text, nullable=False, default=""),
    Column("failure_stage", String(32), nullable=False, default=""),
    Column("chunk_count", Integer, nullable=False, default=0),
    Column("page_count", Integer, nullable=False, default=0),
    Column("requeues", Integer, nullable=False, default=0),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("department", "source_uri", name="uq_ingestion_documents_source"),
    Index("ix_ingestion_documents_state", "state", "updated_at"),
)

stages = Table(
    "ingestion_stages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("document_id", String(36), ForeignKey("ingestion_documents.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("stage", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("duration_ms", BigInteger, nullable=False, default=0),
    Column("detail", Text, nullable=False, default=""),
    Column("service", String(32), nullable=False, default=""),
    Index("ix_ingestion_stages_document", "document_id", "id"),
)

connector_files = Table(
    "ingestion_connector_files",
    metadata,
    Column("connector", String(256), primary_key=True),
    Column("rel_path", String(2048), primary_key=True),
    Column("mtime_ns", BigInteger, nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("document_id", String(36), nullable=False),
)
