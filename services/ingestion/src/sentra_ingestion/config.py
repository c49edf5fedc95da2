"""Settings of the ingestion service (`SENTRA_INGESTION_…`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import SettingsConfigDict
from sentra_common.access import validate_department
from sentra_common.config import DatabaseSettings, NatsSettings, ServiceSettings
from sentra_common.errors import InvalidArgument

from sentra_ingestion.domain.parsing import ChunkingPolicy, ParseLimits


class LimitSettings(ParseLimits):
    """Explicit limits on what a document may cost: the parser's (`ParseLimits`: zip
    bombs, pages, rows, text) and these."""

    max_upload_bytes: int = Field(default=100 * 1024 * 1024, ge=1)
    # Wall-clock time to parse one document before it is FAILED (its process is killed).
    parse_timeout_seconds: float = Field(default=120.0, gt=0)
    # Limits of the process that parses one document (applied before it reads the document):
    # address space, MiB (0: unlimited); CPU time, s; the largest file it may write and the
    # size of its private /tmp, MiB; processes and threads it may have at once.
    parse_memory_mb: int = Field(default=2048, ge=0)
    parse_cpu_seconds: int = Field(default=120, ge=1)
    parse_file_mb: int = Field(default=64, ge=1)
    parse_max_processes: int = Field(default=8, ge=1, le=1024)
    # The budget of one document: more chunks than this and it ends FAILED, naming the
    # setting (about 4 minutes of embedding on 2 CPU cores; raise it for larger documents).
    max_chunks_per_document: int = Field(default=5000, ge=1)


class ChunkingSettings(ChunkingPolicy):
    """The chunker's policy (`ChunkingPolicy`) and how chunks are sent on."""

    # Chunks per sentra.chunks.v1.created event.
    batch_size: int = Field(default=32, ge=1, le=512)
    # Documents with more chunks go to the bulk lane (embedded beside, never before, the rest).
    bulk_threshold_chunks: int = Field(default=256, ge=1)


class FolderConnectorSettings(BaseModel):
    """Keep a directory in sync: new and changed files are uploaded, deleted ones removed."""

    path: Path
    department: str
    access_list: list[str] = Field(default_factory=list)
    interval_seconds: float = Field(default=30.0, gt=0)
    # Name used in source URIs (folder:<name>/<relative path>); defaults to the department.
    name: str = ""

    @field_validator("department")
    @classmethod
    def _department(cls, value: str) -> str:
        try:
            return validate_department(value)
        except InvalidArgument as exc:
            raise ValueError(exc.message) from None


class IngestionSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SENTRA_INGESTION_", env_nested_delimiter="__")

    data_dir: Path = Path("./.sentra/data")
    database: DatabaseSettings = DatabaseSettings()
    nats: NatsSettings = NatsSettings()
    limits: LimitSettings = LimitSettings()
    chunking: ChunkingSettings = ChunkingSettings()
    parse_workers: int = Field(default=1, ge=1, le=64)
    # Where parsers run: "bwrap", a bubblewrap sandbox per slot (no network, no
    # environment, a read-only view of nothing but Python), a process per document forked
    # in it under the limits above (see adapters/parse_worker.py); the service
    # refuses to start without it. "none": plain child processes with the same limits and
    # no isolation, for a development machine without bubblewrap (logged as a warning).
    parser_sandbox: Literal["bwrap", "none"] = "bwrap"
    parser_sandbox_bwrap: str = "bwrap"
    # Run as root, the parser of slot i drops to uid and gid parser_sandbox_uid_base + i:
    # ids no other process on the machine uses.
    parser_sandbox_uid_base: int = Field(default=61000, ge=1000, le=2**31 - 1024)
    # A document with no progress for this long is re-queued, then FAILED.
    stall_timeout_seconds: float = Field(default=600.0, gt=0)
    stall_requeues: int = Field(default=2, ge=0)
    watchdog_interval_seconds: float = Field(default=30.0, gt=0)
    connectors: list[FolderConnectorSettings] = Field(default_factory=list)

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"
