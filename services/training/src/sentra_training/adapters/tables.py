"""Tables of the training service (schema changes go through migrations/)."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, DateTime, Float, Index, Integer, MetaData, String, Table, Text

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
