"""Plain text and CSV parsing.

Both decode with `encoding.decode_text` (BOM, UTF-8, detection, cp1252
fallback; binary content rejected). Text keeps its blank-line separated
paragraphs; CSV rows are rendered like spreadsheet rows under "Table".
"""

from __future__ import annotations

import csv
import io
import logging
from typing import TYPE_CHECKING

from .encoding import clean_text, decode_text
from .model import CSV, TEXT, ParsedDocument, ParseError, Section
from .tables import group_rows, header_names, render_row

if TYPE_CHECKING:
    from .policy import ParseLimits

logger = logging.getLogger(__name__)

NO_TEXT_REASON = "document contains no text"
_SNIFF_CHARS = 16 * 1024


def decode_limited(data: bytes, limits: ParseLimits) -> str:
    """Decoded text, refusing texts longer than `limits.max_text_chars`."""
    text = decode_text(data)
    if len(text) > limits.max_text_chars:
        raise ParseError(
            f"document has more than {limits.max_text_chars} characters of text; split it into smaller files"
        )
    return text


def parse_text(data: bytes, limits: ParseLimits) -> ParsedDocument:
    """A single Section with the cleaned text (paragraphs kept)."""
    text = clean_text(decode_limited(data, limits))
    if not text:
        raise ParseError(NO_TEXT_REASON)
    return ParsedDocument([Section(text)], TEXT)


def parse_csv(data: bytes, limits: ParseLimits) -> ParsedDocument:
    """Rows rendered as "Header: value; ..." with the first non-empty row as
    header; the delimiter is sniffed among , ; tab and |."""
    text = decode_limited(data, limits).replace("\x00", "")
    if not text.strip():
        raise ParseError(NO_TEXT_REASON)
    reader = csv.reader(io.StringIO(text, newline=""), dialect=_dialect(text))
    headers: list[str] | None = None
    header_line = ""
    lines: list[str] = []
    try:
        for row in reader:
            cells = [" ".join(cell.split()) for cell in row]
            if not any(cells):
                continue
            if headers is None:
                headers = header_names(cells)
                header_line = "; ".join(cell for cell in cells if cell)
                continue
            if len(lines) >= limits.max_rows_per_sheet:
                raise ParseError(f"CSV has more than {limits.max_rows_per_sheet} rows; split it into smaller files")
            lines.append(render_row(headers, cells))
    except csv.Error as exc:
        raise ParseError(
            f"CSV is malformed near line {reader.line_num} ({exc}); fix the file and upload again"
        ) from exc
    if headers is None:
        raise ParseError("CSV file has no data")
    if not lines:
        lines = [header_line]
    return ParsedDocument(group_rows(lines, "Table"), CSV)


def _dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    sample = text[:_SNIFF_CHARS]
    if len(text) > _SNIFF_CHARS and "\n" in sample:
        sample = sample[: sample.rindex("\n")]  # do not feed half a line
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        return _Fallback
    if dialect.delimiter not in ",;\t|":
        return _Fallback
    return dialect


class _Fallback(csv.excel):
    """Comma-separated, as used when sniffing fails."""
