"""Value types shared by every parser and by the chunker.

Everything here is plain data: parsers produce `Section`s wrapped in a
`ParsedDocument`, the chunker turns sections into `ChunkDraft`s, and any
problem with the input is reported as a `ParseError` whose `reason` is meant
to be shown to the person who uploaded the file. The limits and the chunking
policy (pydantic models, extended by the service's settings) live in `policy.py`:
a parser process receives their values and does not build the models, so it starts
without pydantic (about 90 ms of every document's start-up).
"""

from __future__ import annotations

from dataclasses import dataclass

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
