"""Entry point of document parsing: detect the format, run its parser, and
turn every failure into a ParseError with a reason fit for the user."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from . import model
from .detect import BINARY, EXTENSION_TYPES, OLE, OLE_ENCRYPTED, ZIP, detect_content_type
from .encoding import BINARY_REASON, clean_text
from .model import ParsedDocument, ParseError, Section
from .names import file_extension

if TYPE_CHECKING:
    from .policy import ParseLimits

logger = logging.getLogger(__name__)

EMPTY_REASON = "file is empty (0 bytes); upload a file with content"

Parser = Callable[[bytes, "ParseLimits", int], ParsedDocument]

# Each format's parser (and its library: pypdf, python-docx, openpyxl, BeautifulSoup…) is
# imported when the first document of that format arrives; the parser's fork server
# (adapters/parse_worker.py) loads them all once, before its first document.


def _pdf(data: bytes, limits: ParseLimits, depth: int) -> ParsedDocument:
    from .pdf import parse_pdf

    return parse_pdf(data, limits)


def _docx(data: bytes, limits: ParseLimits, depth: int) -> ParsedDocument:
    from .word import parse_docx

    return parse_docx(data, limits)


def _xlsx(data: bytes, limits: ParseLimits, depth: int) -> ParsedDocument:
    from .spreadsheet import parse_xlsx

    return parse_xlsx(data, limits)


def _html(data: bytes, limits: ParseLimits, depth: int) -> ParsedDocument:
    from .htmldoc import parse_html

    return parse_html(data)


def _markdown(data: bytes, limits: ParseLimits, depth: int) -> ParsedDocument:
    from .markdown import parse_markdown
    from .text import decode_limited

    return parse_markdown(decode_limited(data, limits))


def _text(data: bytes, limits: ParseLimits, depth: int) -> ParsedDocument:
    from .text import parse_text

    return parse_text(data, limits)


def _csv(data: bytes, limits: ParseLimits, depth: int) -> ParsedDocument:
    from .text import parse_csv

    return parse_csv(data, limits)


def _email(data: bytes, limits: ParseLimits, depth: int) -> ParsedDocument:
    from .mail import parse_email

    return parse_email(data, limits, depth, _parse)


_PARSERS: dict[str, Parser] = {
    model.PDF: _pdf,
    model.DOCX: _docx,
    model.XLSX: _xlsx,
    model.HTML: _html,
    model.MARKDOWN: _markdown,
    model.TEXT: _text,
    model.CSV: _csv,
    model.EML: _email,
}


def parse_document(data: bytes, filename: str, limits: ParseLimits | None = None) -> ParsedDocument:
    """Parse an uploaded file into located Sections.

    The format is detected from the content first and the extension of
    `filename` second; `filename` is never used to touch the filesystem.
    Raises ParseError (and nothing else for bad input) with a reason that can
    be shown to the user.
    """
    if limits is None:
        from .policy import ParseLimits

        limits = ParseLimits()
    return _parse(data, filename, limits, 0)


def _parse(data: bytes, filename: str, limits: ParseLimits, depth: int) -> ParsedDocument:
    if not data:
        raise ParseError(EMPTY_REASON)
    content_type = detect_content_type(data, filename)
    parser = _PARSERS.get(content_type)
    if parser is None:
        raise ParseError(_unsupported_reason(content_type, file_extension(filename)))
    try:
        document = parser(data, limits, depth)
    except ParseError:
        raise
    except MemoryError as exc:
        raise ParseError("document is too large to process; split it into smaller files") from exc
    except RecursionError as exc:
        raise ParseError("document structure is nested too deeply to process; simplify it and upload again") from exc
    except Exception as exc:  # last line of defence: never leak library errors
        name = model.FORMAT_NAMES.get(content_type, content_type)
        logger.warning("unexpected %s while parsing %s", type(exc).__name__, content_type)
        raise ParseError(
            f"{name} file could not be read ({type(exc).__name__}); "
            "it may be damaged — save it again and upload the new copy"
        ) from exc
    return _finish(document, content_type, limits)


def _finish(document: ParsedDocument, content_type: str, limits: ParseLimits) -> ParsedDocument:
    """Clean every Section, drop empty ones and enforce the text limit."""
    sections = []
    total = 0
    for section in document.sections:
        text = clean_text(section.text)
        if not text:
            continue
        total += len(text)
        if total > limits.max_text_chars:
            raise ParseError(
                f"document has more than {limits.max_text_chars} characters of text; split it into smaller files"
            )
        heading = " ".join(clean_text(section.heading).split())
        sections.append(Section(text, max(section.page, 0), heading))
    if not sections:
        raise ParseError("document contains no text")
    title = " ".join(clean_text(document.title).split()) if document.title else ""
    return ParsedDocument(
        sections=sections,
        content_type=content_type,
        page_count=document.page_count,
        title=title or None,
    )


def _unsupported_reason(content_type: str, ext: str) -> str:
    """Why a file without a parser is refused, mentioning a misleading extension."""
    supported = f"supported: {model.SUPPORTED_FORMATS}"
    expected = model.FORMAT_NAMES.get(EXTENSION_TYPES.get(ext, ""))
    if content_type == OLE_ENCRYPTED:
        return "Office file is protected with a password; remove the password, save it again and upload the new copy"
    if content_type == OLE:
        return "file is in a legacy Microsoft Office format (.doc/.xls/.ppt); save it as DOCX or XLSX and upload again"
    if content_type == BINARY:
        if expected in ("PDF", "DOCX", "XLSX"):
            return (
                f"file is named .{ext} but is not a {expected} file (its content is not "
                f"recognised); check the file and upload it again — {supported}"
            )
        if expected or not ext:
            return BINARY_REASON
        return f"unsupported file type '{ext}'; {supported}"
    if content_type == ZIP:
        if expected:
            return (
                f"file is named .{ext} but is a ZIP archive, not a {expected} file; "
                f"upload the document itself — {supported}"
            )
        return f"unsupported file type '{ext or 'zip'}'; {supported}"
    if expected:
        return (
            f"file is named .{ext} but its content is '{content_type}', which is an unsupported file type; {supported}"
        )
    return f"unsupported file type '{ext or content_type}'; {supported}"
