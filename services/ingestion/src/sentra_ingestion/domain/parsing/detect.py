"""Content-type detection: magic bytes first, file extension second.

A PDF named "report.docx" is a PDF; a text file named "notes.pdf" is text.
ZIP containers are told apart by their member names (DOCX, XLSX, others).
Only the extension of the (untrusted) file name is ever used.
"""

from __future__ import annotations

import io
import logging
import re
import zipfile

from . import model
from .encoding import SNIFF_BYTES, bom_encoding, looks_binary, utf16_without_bom
from .names import file_extension

logger = logging.getLogger(__name__)

ZIP = "application/zip"
OLE = "application/x-ole-storage"
OLE_ENCRYPTED = "application/x-ole-storage; encrypted-office"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
BINARY = "application/octet-stream"

# Unambiguous signatures of formats we recognise (supported or not).
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", OLE),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"\x1f\x8b", "application/gzip"),
    (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (b"Rar!\x1a\x07", "application/vnd.rar"),
    (b"\x7fELF", "application/x-executable"),
    (b"{\\rtf", "application/rtf"),
)

EXTENSION_TYPES: dict[str, str] = {
    "pdf": model.PDF,
    "docx": model.DOCX,
    "docm": model.DOCX,
    "xlsx": model.XLSX,
    "xlsm": model.XLSX,
    "html": model.HTML,
    "htm": model.HTML,
    "xhtml": model.HTML,
    "md": model.MARKDOWN,
    "markdown": model.MARKDOWN,
    "txt": model.TEXT,
    "text": model.TEXT,
    "csv": model.CSV,
    "tsv": model.CSV,
    "eml": model.EML,
}

_HTML_START = re.compile(r"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html[\s>])", re.I | re.S)
_XHTML_START = re.compile(r"^\s*<\?xml[^>]*>\s*(?:<!doctype\s+html|<html[\s>])", re.I | re.S)
_HEADER_LINE = re.compile(r"^([!-9;-~]+):")
_TYPICAL_HEADERS = {
    "from",
    "received",
    "mime-version",
    "subject",
    "return-path",
    "date",
    "message-id",
    "to",
    "delivered-to",
    "x-mailer",
}


def detect_content_type(data: bytes, filename: str) -> str:
    """MIME type of `data`, decided by content first and by the extension of
    `filename` second. Returns one of the supported types in `model`, or the
    type of a recognised unsupported format, or "application/octet-stream"
    for binary data that is not recognised."""
    ext = file_extension(filename)
    if not data:
        return EXTENSION_TYPES.get(ext, BINARY)
    if _is_pdf(data):
        return model.PDF
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _zip_type(data, ext)
    for magic, content_type in _MAGIC:
        if data.startswith(magic):
            if content_type == OLE and "EncryptedPackage".encode("utf-16-le") in data:
                return OLE_ENCRYPTED
            return content_type
    if looks_binary(data):
        return BINARY
    return _text_type(data, ext)


def _is_pdf(data: bytes) -> bool:
    """The PDF header starts the file, or (as readers allow) appears within the
    first 1024 bytes of a file that also ends like a PDF."""
    position = data.find(b"%PDF-", 0, 1024)
    return position == 0 or (position > 0 and b"%%EOF" in data[-2048:])


def _zip_type(data: bytes, ext: str) -> str:
    """DOCX, XLSX, PPTX or plain ZIP, from the archive's member names. A
    damaged archive is classified from the names visible in its first bytes
    or, failing that, by extension, so the right parser reports the damage."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except Exception as exc:  # damaged archives raise many different errors
        logger.debug("zip container unreadable during detection: %s", type(exc).__name__)
        head = data[: 64 * 1024]
        if b"word/" in head:
            return model.DOCX
        if b"xl/" in head:
            return model.XLSX
        if EXTENSION_TYPES.get(ext) in {model.DOCX, model.XLSX}:
            return EXTENSION_TYPES[ext]
        return ZIP
    if "word/document.xml" in names:
        return model.DOCX
    if "xl/workbook.xml" in names:
        return model.XLSX
    if "ppt/presentation.xml" in names:
        return PPTX
    return ZIP


def _text_head(data: bytes) -> str:
    """Best-effort decoding of the first bytes, only for sniffing."""
    head = data[:SNIFF_BYTES]
    bom = bom_encoding(head)
    if bom:
        return head[bom[1] :].decode(bom[0], errors="replace")
    utf16 = utf16_without_bom(head)
    if utf16:
        return head.decode(utf16, errors="replace")
    return head.decode("latin-1")


def _text_type(data: bytes, ext: str) -> str:
    """Type of text content: HTML by its opening tag, then the text format
    named by the extension, then e-mail by its header block, else plain text."""
    head = _text_head(data)
    if _HTML_START.match(head) or _XHTML_START.match(head):
        return model.HTML
    by_extension = EXTENSION_TYPES.get(ext)
    if by_extension in {model.HTML, model.MARKDOWN, model.CSV, model.EML}:
        return by_extension
    if looks_like_email(head):
        return model.EML
    return model.TEXT


def looks_like_email(head: str) -> bool:
    """True when text starts with an RFC 822 header block: a typical first
    header (From:, Received:, MIME-Version:, ...) and at least two header
    lines before the first blank line, with nothing that is not a header."""
    lines = head.replace("\r\n", "\n").split("\n")
    if lines and lines[0].startswith("From ") and not lines[0].startswith("From:"):
        lines = lines[1:]  # mbox separator line
    first = _HEADER_LINE.match(lines[0]) if lines else None
    if not first or first.group(1).lower() not in _TYPICAL_HEADERS:
        return False
    if len(lines) > 1:
        lines = lines[:-1]  # the sniffed head may end in the middle of a line
    headers = 0
    for line in lines[:200]:
        if not line.strip():
            break
        if line[0] in " \t":
            continue
        if not _HEADER_LINE.match(line):
            return False
        headers += 1
    return headers >= 2
