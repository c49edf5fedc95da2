"""PDF parsing with pypdf: one Section per page with text.

Encrypted files are opened with the empty password when possible (many PDFs
only restrict printing/copying); damaged files are accepted when pypdf can
still recover text from some pages; PDFs without a text layer are rejected
because OCR is not available.
"""

from __future__ import annotations

import io
import logging
from typing import TYPE_CHECKING

from pypdf import PasswordType, PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError

from .encoding import clean_text
from .model import PDF, ParsedDocument, ParseError, Section

if TYPE_CHECKING:
    from .policy import ParseLimits

logger = logging.getLogger(__name__)

ENCRYPTED_REASON = "PDF is encrypted with a password; upload an unencrypted copy"
SCANNED_REASON = (
    "PDF contains no extractable text (it looks like a scanned image); "
    "OCR is not enabled — upload a PDF with a text layer"
)
# Appended to a truncated file so pypdf rebuilds the cross-reference table.
_RECOVERY_TRAILER = b"\nstartxref\n0\n%%EOF\n"


def parse_pdf(data: bytes, limits: ParseLimits) -> ParsedDocument:
    """One Section per page that has text (page numbers are 1-based)."""
    reader = _open(data)
    _unlock(reader)
    try:
        page_count = len(reader.pages)
    except FileNotDecryptedError as exc:
        raise ParseError(ENCRYPTED_REASON) from exc
    except Exception as exc:
        raise ParseError(_damaged(exc)) from exc
    if page_count > limits.max_pages:
        raise ParseError(
            f"PDF has {page_count} pages, more than the limit of {limits.max_pages}; split it into smaller files"
        )
    sections: list[Section] = []
    failures: list[Exception] = []
    total_chars = 0
    for index in range(page_count):
        try:
            text = clean_text(reader.pages[index].extract_text() or "")
        except FileNotDecryptedError as exc:
            raise ParseError(ENCRYPTED_REASON) from exc
        except Exception as exc:  # one bad page must not lose the others
            logger.debug("PDF page %d unreadable: %s", index + 1, type(exc).__name__)
            failures.append(exc)
            continue
        if text:
            total_chars += len(text)
            if total_chars > limits.max_text_chars:
                raise ParseError(
                    f"PDF has more than {limits.max_text_chars} characters of text; split it into smaller files"
                )
            sections.append(Section(text=text, page=index + 1))
    if not sections:
        if failures:
            raise ParseError(_damaged(failures[0]))
        raise ParseError(SCANNED_REASON)
    if failures:
        logger.info("PDF parsed with %d unreadable pages of %d", len(failures), page_count)
    return ParsedDocument(sections, PDF, page_count=page_count, title=_title(reader))


def _open(data: bytes) -> PdfReader:
    """Open leniently; when the file is truncated, retry with a synthetic
    trailer so pypdf scans the file for its objects."""
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if not reader.is_encrypted:
            len(reader.pages)
        return reader
    except Exception as first:
        logger.debug("PDF unreadable (%s); trying recovery", type(first).__name__)
        try:
            reader = PdfReader(io.BytesIO(data + _RECOVERY_TRAILER), strict=False)
            len(reader.pages)
            return reader
        except Exception:
            raise ParseError(_damaged(first)) from first


def _unlock(reader: PdfReader) -> None:
    """Decrypt with the empty user password, or fail with a clear reason."""
    try:
        if not reader.is_encrypted:
            return
        if reader.decrypt("") != PasswordType.NOT_DECRYPTED:
            return
    except DependencyError as exc:
        raise ParseError("PDF uses an encryption method that is not supported; upload an unencrypted copy") from exc
    except Exception as exc:
        logger.debug("PDF decryption failed: %s", type(exc).__name__)
    raise ParseError(ENCRYPTED_REASON)


def _title(reader: PdfReader) -> str | None:
    try:
        metadata = reader.metadata
        title = clean_text(str(metadata.title)) if metadata and metadata.title else ""
    except Exception:  # broken metadata never matters
        return None
    return " ".join(title.split()) or None


def _damaged(exc: Exception) -> str:
    message = str(exc).lower()
    if "eof" in message or "ended unexpectedly" in message or "truncated" in message:
        detail = "the file ends unexpectedly"
    elif "root" in message or "xref" in message or "trailer" in message:
        detail = "its internal structure is broken"
    else:
        detail = f"{type(exc).__name__}"
    return f"PDF is damaged or truncated ({detail}); re-export it and upload again"
