"""The parser's limits and the chunking policy: validated models (the service's
`SENTRA_INGESTION_LIMITS__*` and `SENTRA_INGESTION_CHUNKING__*` settings extend them).

The parsing code only reads their attributes, so a parser process is handed their
values as a plain namespace (`parse_worker`) and never imports this module.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ParseLimits(BaseModel):
    """Resource limits applied while parsing untrusted files (the service's
    `SENTRA_INGESTION_LIMITS__*` settings extend this model: one source for each value)."""

    model_config = ConfigDict(frozen=True)

    max_uncompressed_bytes: int = Field(default=200 * 1024 * 1024, ge=1)
    max_compression_ratio: float = Field(default=200.0, gt=1)
    max_pages: int = Field(default=5000, ge=1)
    max_rows_per_sheet: int = Field(default=200_000, ge=1)
    max_attachment_depth: int = Field(default=2, ge=0)
    max_text_chars: int = Field(default=20_000_000, ge=1)


class ChunkingPolicy(BaseModel):
    """How sections become chunks (`chunk_sections`); the service's
    `SENTRA_INGESTION_CHUNKING__*` settings extend this model."""

    model_config = ConfigDict(frozen=True)

    target_chars: int = Field(default=700, ge=100)
    max_chars: int = Field(default=1000, ge=200)
    overlap_chars: int = Field(default=100, ge=0)
    # Tables (spreadsheets, CSV, tables in documents) are chunked a few rows at a time.
    table_target_chars: int = Field(default=300, ge=50)

    @model_validator(mode="after")
    def _consistent(self) -> ChunkingPolicy:
        if self.max_chars < self.target_chars:
            raise ValueError("chunking: max_chars must be at least target_chars")
        if self.overlap_chars >= self.target_chars:
            raise ValueError("chunking: overlap_chars must be smaller than target_chars")
        return self
