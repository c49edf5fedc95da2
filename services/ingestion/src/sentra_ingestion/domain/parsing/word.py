"""DOCX parsing with python-docx.

Body paragraphs and tables are read in document order (including content
controls). Paragraphs styled "Heading 1..9" (or localised equivalents) build
the heading path of the following Sections; tables are rendered one row per
line with the first row as headers.
"""

from __future__ import annotations

import io
import logging
import re
from typing import TYPE_CHECKING

import docx
from docx.oxml.ns import qn
from docx.text.paragraph import Paragraph

from .encoding import clean_text
from .model import DOCX, ParsedDocument, ParseError, Section
from .tables import format_value, render_table
from .zipguard import check_zip

if TYPE_CHECKING:
    from .policy import ParseLimits

logger = logging.getLogger(__name__)

_HEADING_STYLE = re.compile(r"^(?:heading|título|titulo|überschrift|titre|titolo|kop|nagłówek)\s*([1-9])$", re.I)
_TITLE_STYLES = {"title", "título", "titulo", "titel", "titre", "titolo"}
_P, _TBL, _SDT, _SDT_CONTENT = qn("w:p"), qn("w:tbl"), qn("w:sdt"), qn("w:sdtContent")
_T, _TAB, _BR, _CR = qn("w:t"), qn("w:tab"), qn("w:br"), qn("w:cr")
_TR, _TC = qn("w:tr"), qn("w:tc")
_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_OUTLINE = qn("w:outlineLvl")


def parse_docx(data: bytes, limits: ParseLimits) -> ParsedDocument:
    """Sections split at headings, with heading paths like "Vacaciones > Solicitud"."""
    check_zip(data, limits, "DOCX", "word/document.xml")
    try:
        document = docx.Document(io.BytesIO(data))
        body = document.element.body
    except Exception as exc:  # python-docx raises many types for broken packages
        logger.debug("DOCX unreadable: %s", type(exc).__name__)
        raise ParseError(
            "DOCX file is damaged or not a valid Word document; "
            "open it in Word, save it again as .docx and upload the new copy"
        ) from exc
    builder = _SectionBuilder()
    for element in _block_elements(body):
        if element.tag == _TBL:
            builder.add_block("\n".join(render_table(_table_rows(element))))
            continue
        paragraph = Paragraph(element, document)
        text = " ".join(_xml_text(element).split())
        if not text:
            continue
        level = _heading_level(paragraph)
        if level == 0:
            builder.title_candidate(text)
            builder.add_block(text)
        elif level:
            builder.heading(level, text)
        else:
            builder.add_block(("- " + text) if _is_list(paragraph) else text)
    sections = builder.finish()
    if not sections:
        raise ParseError("DOCX document contains no text")
    return ParsedDocument(sections, DOCX, title=_core_title(document) or builder.title)


class _SectionBuilder:
    """Accumulates blocks under the current heading path."""

    def __init__(self) -> None:
        self.sections: list[Section] = []
        self.path: list[tuple[int, str]] = []
        self.blocks: list[str] = []
        self.title: str | None = None

    def title_candidate(self, text: str) -> None:
        if self.title is None:
            self.title = text

    def heading(self, level: int, text: str) -> None:
        self._flush()
        if level == 1:
            self.title_candidate(text)
        self.path = [(lvl, name) for lvl, name in self.path if lvl < level]
        self.path.append((level, text))

    def add_block(self, text: str) -> None:
        if text.strip():
            self.blocks.append(text)

    def finish(self) -> list[Section]:
        self._flush()
        return self.sections

    def _flush(self) -> None:
        if self.blocks:
            heading = " > ".join(name for _, name in self.path)
            self.sections.append(Section("\n\n".join(self.blocks), 0, heading))
            self.blocks = []


def _block_elements(body):
    """Body-level paragraphs and tables in order, looking inside content controls."""
    stack = list(reversed(list(body)))
    while stack:
        element = stack.pop()
        if element.tag in (_P, _TBL):
            yield element
        elif element.tag in (_SDT, _SDT_CONTENT):
            stack.extend(reversed(list(element)))


def _xml_text(element) -> str:
    """Visible text of a paragraph/cell: text runs (including insertions and
    text boxes), tabs and breaks as spaces, without duplicated fallback content."""
    parts: list[str] = []
    stack = [element]
    while stack:
        node = stack.pop()
        tag = node.tag
        if tag == _FALLBACK:
            continue
        if tag == _T:
            parts.append(node.text or "")
        elif tag in (_TAB, _BR, _CR):
            parts.append(" ")
        elif tag == _P and node is not element:
            parts.append(" ")
        stack.extend(reversed(list(node)))
    return "".join(parts)


def _table_rows(table) -> list[list[str]]:
    """Cell texts per row; merged cells appear once."""
    rows = []
    for tr in table.iter(_TR):
        if tr.getparent() is not table:
            continue  # rows of nested tables are part of their cell's text
        rows.append([format_value(_xml_text(tc)) for tc in tr if tc.tag == _TC])
    return rows


def _heading_level(paragraph: Paragraph) -> int | None:
    """0 for a title, 1-9 for headings, None for body text."""
    try:
        name = (paragraph.style.name or "").strip() if paragraph.style is not None else ""
    except Exception:  # a dangling style reference is not worth failing for
        name = ""
    if name.lower() in _TITLE_STYLES:
        return 0
    match = _HEADING_STYLE.match(name)
    if match:
        return int(match.group(1))
    ppr = paragraph._p.pPr
    outline = ppr.find(_OUTLINE) if ppr is not None else None
    if outline is not None:
        value = outline.get(qn("w:val"), "")
        if value.isdigit() and int(value) < 9:
            return int(value) + 1
    return None


def _is_list(paragraph: Paragraph) -> bool:
    try:
        name = paragraph.style.name if paragraph.style is not None else ""
    except Exception:
        return False
    ppr = paragraph._p.pPr
    return (name or "").lower().startswith("list") or (ppr is not None and ppr.numPr is not None)


def _core_title(document) -> str | None:
    try:
        title = document.core_properties.title
    except Exception:
        return None
    title = " ".join(clean_text(title or "").split())
    return title or None
