"""XLSX parsing with openpyxl (read-only, cached formula values).

In each sheet the first non-empty row is the header; every following
non-empty row becomes "Header1: v1; Header2: v2", and rows are grouped into
Sections headed "Sheet: <name>".
"""

from __future__ import annotations

import io
import logging
import warnings
from typing import TYPE_CHECKING

import openpyxl
from openpyxl.utils import get_column_letter

from .model import XLSX, ParsedDocument, ParseError, Section
from .tables import format_value, group_rows, render_row
from .zipguard import check_zip

if TYPE_CHECKING:
    from .policy import ParseLimits

logger = logging.getLogger(__name__)


def parse_xlsx(data: bytes, limits: ParseLimits) -> ParsedDocument:
    """Sections of ~20 rendered rows per sheet; raises ParseError when the
    workbook is damaged, too large or has no data."""
    check_zip(data, limits, "XLSX", "xl/workbook.xml")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about unsupported extensions
            workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
    except Exception as exc:  # openpyxl raises many types for broken packages
        logger.debug("XLSX unreadable: %s", type(exc).__name__)
        raise ParseError(
            "XLSX file is damaged or not a valid Excel workbook; "
            "open it in Excel, save it again as .xlsx and upload the new copy"
        ) from exc
    sections: list[Section] = []
    try:
        for sheet in workbook.worksheets:
            sections.extend(_sheet_sections(sheet, limits))
        title = _title(workbook)
    except ParseError:
        raise
    except Exception as exc:
        logger.debug("XLSX sheet unreadable: %s", type(exc).__name__)
        raise ParseError(
            "XLSX file is damaged (a sheet cannot be read); open it in Excel, save it again and upload the new copy"
        ) from exc
    finally:
        workbook.close()
    if not sections:
        raise ParseError("spreadsheet has no data (all sheets are empty); upload a workbook with data")
    return ParsedDocument(sections, XLSX, title=title)


def _sheet_sections(sheet, limits: ParseLimits) -> list[Section]:
    """Sections of one sheet. A lone caption cell above a wider table (a
    common "title row") becomes its own Section instead of the header row."""
    name = " ".join(str(sheet.title).split()) or "Sheet"
    heading = f"Sheet: {name}"
    if hasattr(sheet, "reset_dimensions"):
        sheet.reset_dimensions()  # stored dimensions are often wrong; read every cell
    pending: list[str] | None = None  # a one-cell first row: caption or 1-column header
    caption = ""
    header_cells: list[str] = []
    headers: list[str] | None = None
    lines: list[str] = []
    for row in sheet.iter_rows():
        cells = [_cell_text(cell) for cell in row]
        filled = sum(1 for cell in cells if cell)
        if not filled:
            continue
        if headers is None:
            if pending is None and filled == 1:
                pending = cells
                continue
            if pending is not None and filled == 1:
                header_cells, pending = pending, None  # and this row is data
            else:
                caption = _joined(pending or [])
                header_cells, pending = cells, None
            headers = [cell or f"Column {get_column_letter(i + 1)}" for i, cell in enumerate(header_cells)]
            if header_cells is cells:
                continue
        if len(lines) >= limits.max_rows_per_sheet:
            raise ParseError(
                f"sheet '{name}' has more than {limits.max_rows_per_sheet} rows; split the workbook into smaller files"
            )
        lines.append(render_row(headers, cells))
    if pending is not None:
        lines = [_joined(pending)]  # a sheet with a single filled cell
    elif headers is not None and not lines:
        lines = [_joined(header_cells)]  # a header-only sheet still says something
    sections = [Section(caption, 0, heading)] if caption else []
    return sections + group_rows(lines, heading)


def _joined(cells: list[str]) -> str:
    return "; ".join(cell for cell in cells if cell)


def _cell_text(cell) -> str:
    value = getattr(cell, "value", None)
    if value is None:
        return ""
    number_format = getattr(cell, "number_format", "") or ""
    return format_value(value, number_format if isinstance(number_format, str) else "")


def _title(workbook) -> str | None:
    try:
        title = workbook.properties.title
    except Exception:
        return None
    title = " ".join(str(title or "").split())
    return title or None
