"""Tables of the training service (schema changes go through migrations/)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

jobs = Table(
    "training_jobs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("department", String(128), nullable=False),
    Column("adapter_name", String(128), nullable=False),
    Column("created_by", String(256), nullable=False),
    Column("state", String(16), nullable=False),
    Column("failure_reason", Text, nullable=False, default=""),
    Column("reproducibility", JSON, nullable=False),
    Column("metrics", JSON, nullable=False),
    Column("step", Integer, nullable=False, default=0),
    Column("total_steps", Integer, nullable=False, default=0),
    Column("loss", Float, nullable=False, default=0.0),
    Column("tokens_per_second", Float, nullable=False, default=0.0),
    Column("eta_seconds", Float, nullable=False, default=0.0),
    Column("resumed_from_step", Integer, nullable=False, default=0),
    Column("restarts", Integer, nullable=False, default=0),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    # The promotion gate's decision, and where the adapter was handed to serving (relative
    # to the department's adapter directory).
    Column("promoted", Boolean, nullable=False, default=False),
    Column("decision", Text, nullable=False, default=""),
    Column("artifact_path", String(1024), nullable=False, default=""),
    Index("ix_training_jobs_state", "state", "created_at"),
    Index("ix_training_jobs_department", "department", "created_at"),
)

# Dataset versions (issue: datasets from documents) and their items.
datasets = Table(
    "datasets",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("department", String(128), nullable=False),
    Column("version", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("source", String(16), nullable=False),
    Column("created_by", String(256), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("pii_mode", String(16), nullable=False),
    Column("generator_id", String(128), nullable=False, default=""),
    Column("failure_reason", Text, nullable=False, default=""),
    Column("chunks_done", Integer, nullable=False, default=0),
    Column("chunks_total", Integer, nullable=False, default=0),
    Column("request", JSON, nullable=False),
    Column("document_ids", JSON, nullable=False),
    Column("withdrawn_document_ids", JSON, nullable=False),
    Column("dropped", JSON, nullable=False),
    Column("pii_found", JSON, nullable=False),
    Column("timings", JSON, nullable=False),
    UniqueConstraint("department", "version", name="uq_datasets_department_version"),
)

dataset_items = Table(
    "dataset_items",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("dataset_id", String(36), nullable=False),
    Column("position", Integer, nullable=False),
    Column("split", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("question", Text, nullable=False),
    Column("answer", Text, nullable=False),
    Column("context", Text, nullable=False, default=""),
    Column("document_id", String(64), nullable=False, default=""),
    Column("document_version", Integer, nullable=False, default=0),
    Column("chunk_id", String(64), nullable=False, default=""),
    Column("document_title", Text, nullable=False, default=""),
    Column("language", String(8), nullable=False, default=""),
    Column("context_language", String(8), nullable=False, default=""),
    Column("score", Float, nullable=False, default=0.0),
    Column("pii", JSON, nullable=False),
    Column("generator_id", String(128), nullable=False, default=""),
    Column("edited", Boolean, nullable=False, default=False),
    Column("original_question", Text, nullable=False, default=""),
    Column("original_answer", Text, nullable=False, default=""),
    Column("reviewed_by", String(256), nullable=False, default=""),
    Index("ix_dataset_items_dataset", "dataset_id", "position"),
    Index("ix_dataset_items_document", "document_id"),
)

# Documents deleted since datasets were made from them: their items never train again.
withdrawn_documents = Table(
    "withdrawn_documents",
    metadata,
    Column("document_id", String(64), primary_key=True),
    Column("department", String(128), nullable=False),
    Column("withdrawn_at", DateTime(timezone=True), nullable=False),
)

# Training schedules of departments and their runs.
schedules = Table(
    "training_schedules",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("department", String(128), nullable=False),
    Column("adapter_name", String(128), nullable=False),
    Column("cron", String(256), nullable=False, default=""),
    Column("time_zone", String(64), nullable=False, default="UTC"),
    Column("min_new_documents", Integer, nullable=False, default=0),
    Column("min_score", Float, nullable=False, default=0.5),
    Column("settings", JSON, nullable=False),
    Column("created_by", String(256), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("paused", Boolean, nullable=False, default=False),
    Column("last_run_at", DateTime(timezone=True), nullable=True),
    Column("next_run_at", DateTime(timezone=True), nullable=True),
)

schedule_runs = Table(
    "training_schedule_runs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("schedule_id", String(36), nullable=False),
    Column("reason", String(16), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("state", String(16), nullable=False),
    Column("dataset_id", String(36), nullable=False, default=""),
    Column("job_id", String(36), nullable=False, default=""),
    Column("promoted", Boolean, nullable=False, default=False),
    Column("outcome", Text, nullable=False, default=""),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("detail", JSON, nullable=False),
    Index("ix_training_schedule_runs_schedule", "schedule_id", "started_at"),
)

# The pipeline's word on which documents are indexed (sentra.documents.v1.indexed/deleted).
indexed_documents = Table(
    "indexed_documents",
    metadata,
    Column("document_id", String(64), primary_key=True),
    Column("department", String(128), nullable=False),
    Column("version", Integer, nullable=False),
    Column("indexed_at", DateTime(timezone=True), nullable=False),
    Index("ix_indexed_documents_department", "department", "indexed_at"),
)
