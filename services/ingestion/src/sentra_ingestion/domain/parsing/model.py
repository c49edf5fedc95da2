"""Value types shared by every parser and by the chunker.

Everything here is plain data: parsers produce `Section`s wrapped in a
`ParsedDocument`, the chunker turns sections into `ChunkDraft`s, and any
problem with the input is reported as a `ParseError` whose `reason` is meant
to be shown to the person who uploaded the file.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, model_validator

SUPPORTED_FORMATS = "PDF, DOCX, HTML, Markdown, TXT, EML, XLSX, CSV"

# Canonical MIME types of the formats that can be parsed.
PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HTML = "text/html"
MARKDOWN = "text/markdown"
TEXT = "text/plain"
CSV = "text/csv"
EML = "message/rfc822"

# Short names used in messages shown to users.
FORMAT_NAMES: dict[str, str] = {
    PDF: "PDF",
    DOCX: "DOCX",
    XLSX: "XLSX",
    HTML: "HTML",
    MARKDOWN: "Markdown",
    TEXT: "TXT",
    CSV: "CSV",
    EML: "EML",
}


@dataclass(frozen=True)
class Section:
    """A piece of text with its location, used for citations.

    `page` is 1-based, or 0 when the format has no pages. `heading` is a path
    such as "Vacaciones > Solicitud" or "Sheet: Tarifas"; Sections of e-mail
    attachments are prefixed, e.g. "Attachment: tarifas.xlsx > Sheet: Dietas".
    """

    text: str
    page: int = 0
    heading: str = ""


@dataclass(frozen=True)
class ParsedDocument:
    """The text of a document split into located sections."""

    sections: list[Section]
    content_type: str
    page_count: int = 0
    title: str | None = None


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


@dataclass(frozen=True)
class ChunkDraft:
    """A chunk of text ready to be embedded; it never spans pages or headings."""

    text: str
    page: int
    heading: str


class ParseError(Exception):
    """The document cannot be processed.

    `reason` is shown to the user as-is, so it says what is wrong and what to
    do, e.g. "PDF is encrypted; upload an unencrypted copy".
    """

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return self.reason
