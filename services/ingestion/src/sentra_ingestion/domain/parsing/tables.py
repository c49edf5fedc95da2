"""Rendering of tabular data (spreadsheets, CSV, HTML/Markdown/Word tables).

Every data row becomes one self-contained line, "Header1: v1; Header2: v2",
so that a chunk holding any subset of rows still carries the column names.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from collections.abc import Iterable, Sequence

from .model import Section

ROWS_PER_SECTION = 20
CHARS_PER_SECTION = 800

_WHITESPACE = re.compile(r"\s+")


def format_value(value: object, number_format: str = "") -> str:
    """Text for one cell value: integral floats without ".0" (85.0 -> "85"),
    other numbers with their significant decimals, dates in ISO 8601,
    percentages when the cell is formatted as one, whitespace collapsed."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float | decimal.Decimal) and "%" in number_format:
        return _format_number(float(value) * 100) + "%"
    if isinstance(value, float | decimal.Decimal):
        return _format_number(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    return _WHITESPACE.sub(" ", str(value)).strip()


def _format_number(value: float | decimal.Decimal) -> str:
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            return str(value)
        value = float(value)
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return format(value, ".15g")


def header_names(cells: Sequence[str], placeholder: str = "Column {n}") -> list[str]:
    """Column names from a header row; empty cells get "Column <n>" (1-based)."""
    return [cell or placeholder.format(n=i + 1) for i, cell in enumerate(cells)]


def render_row(headers: Sequence[str], cells: Sequence[str]) -> str:
    """ "Header1: v1; Header2: v2" for the non-empty cells of a row; cells
    beyond the header row are labelled "Column <n>"."""
    parts = []
    for i, cell in enumerate(cells):
        if not cell:
            continue
        name = headers[i] if i < len(headers) else f"Column {i + 1}"
        parts.append(f"{name}: {cell}")
    return "; ".join(parts)


def render_table(rows: Sequence[Sequence[str]]) -> list[str]:
    """Lines for a small table whose first non-empty row holds the headers.
    A table with a single row is rendered as its values joined by "; "."""
    rows = [row for row in rows if any(row)]
    if not rows:
        return []
    if len(rows) == 1:
        return ["; ".join(cell for cell in rows[0] if cell)]
    headers = header_names(rows[0])
    return [line for line in (render_row(headers, row) for row in rows[1:]) if line]


def group_rows(
    lines: Iterable[str],
    heading: str,
    page: int = 0,
    max_rows: int = ROWS_PER_SECTION,
    max_chars: int = CHARS_PER_SECTION,
) -> list[Section]:
    """Pack rendered rows into Sections of at most `max_rows` rows and about
    `max_chars` characters (a single longer row gets a Section of its own)."""
    sections: list[Section] = []
    batch: list[str] = []
    size = 0
    for line in lines:
        if batch and (len(batch) >= max_rows or size + len(line) + 1 > max_chars):
            sections.append(Section("\n".join(batch), page, heading))
            batch, size = [], 0
        batch.append(line)
        size += len(line) + 1
    if batch:
        sections.append(Section("\n".join(batch), page, heading))
    return sections
