"""E-mail (RFC 822 / MIME) parsing with the standard library.

The first Section holds a header summary and the body (text/plain preferred,
otherwise the HTML body converted like an HTML page). Every attachment,
including attached e-mails, is parsed with the general dispatcher and its
Sections are headed "Attachment: <name> > ...". An attachment that cannot be
read is reported in a short note Section instead of failing the e-mail.
Malformed MIME never raises anything but ParseError.
"""

from __future__ import annotations

import email
import logging
import mimetypes
from collections.abc import Callable
from dataclasses import dataclass, field
from email import errors, policy
from email.header import decode_header, make_header
from email.message import Message
from typing import TYPE_CHECKING

from .encoding import decode_text, fix_surrogates
from .htmldoc import html_sections
from .model import EML, ParsedDocument, ParseError, Section
from .names import safe_filename

if TYPE_CHECKING:
    from .policy import ParseLimits

logger = logging.getLogger(__name__)

# Parses an attachment's bytes: (data, filename, limits, depth) -> ParsedDocument.
AttachmentParser = Callable[[bytes, str, "ParseLimits", int], ParsedDocument]

NO_CONTENT_REASON = "e-mail has no readable body or attachments"
MAX_MIME_DEPTH = 50
MAX_PARTS = 1000
_SUMMARY_HEADERS = ("From", "To", "Cc", "Date", "Subject")


@dataclass
class _Parts:
    """What a walk over one message found."""

    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    attachments: list[tuple[str, Message]] = field(default_factory=list)


def parse_email(data: bytes, limits: ParseLimits, depth: int, parse_attachment: AttachmentParser) -> ParsedDocument:
    """Parse an e-mail at attachment nesting `depth` (0 for an uploaded file)."""
    try:
        message = email.message_from_bytes(data, policy=policy.default)
    except Exception as exc:  # the parser is lenient; this is a last resort
        logger.debug("e-mail unreadable: %s", type(exc).__name__)
        raise ParseError("e-mail is malformed and cannot be read; export it again as .eml") from exc
    if any(isinstance(defect, errors.StartBoundaryNotFoundDefect) for defect in message.defects):
        # Its parts cannot be told apart: what is left is headers and raw MIME source.
        boundary = message.get_param("boundary") or ""
        raise ParseError(
            f"the e-mail declares MIME parts separated by {str(boundary)[:70]!r}, but that boundary never appears, "
            "so its body and attachments cannot be read; export the message again as .eml"
        )
    sections, title = _message_sections(message, limits, depth, parse_attachment)
    return ParsedDocument(sections, EML, title=title)


def _message_sections(
    message: Message, limits: ParseLimits, depth: int, parse_attachment: AttachmentParser
) -> tuple[list[Section], str | None]:
    subject = _header(message, "Subject")
    parts = _walk(message)
    body = _body_sections(parts)
    summary = "; ".join(f"{name}: {value}" for name in _SUMMARY_HEADERS if (value := _header(message, name)))
    attached: list[Section] = []
    readable_attachments = False
    for name, part in parts.attachments:
        sections, ok = _attachment_sections(name, part, limits, depth, parse_attachment)
        attached.extend(sections)
        readable_attachments = readable_attachments or ok
    if not body and not readable_attachments and not subject:
        raise ParseError(NO_CONTENT_REASON)
    if body and not body[0].heading:
        body[0] = Section(f"{summary}\n\n{body[0].text}".strip(), 0, "")
    elif summary:
        body.insert(0, Section(summary))
    return body + attached, subject or None


def _walk(message: Message) -> _Parts:
    """Collect body texts and attachments without descending into attachments."""
    found = _Parts()
    stack: list[tuple[Message, int]] = [(message, 0)]
    seen = 0
    while stack and seen < MAX_PARTS:
        part, level = stack.pop()
        seen += 1
        try:
            content_type = part.get_content_type()
            if content_type == "message/rfc822" and part is not message:
                found.attachments.append((_attachment_name(part, len(found.attachments)), part))
            elif part.is_multipart():
                if level < MAX_MIME_DEPTH:
                    children = part.get_payload()
                    if isinstance(children, list):
                        stack.extend((child, level + 1) for child in reversed(children))
            else:
                _leaf(part, content_type, found)
        except ParseError:
            raise
        except Exception as exc:  # a broken part must not lose the rest of the message
            logger.debug("skipping unreadable MIME part: %s", type(exc).__name__)
    return found


def _leaf(part: Message, content_type: str, found: _Parts) -> None:
    disposition = part.get_content_disposition()
    filename = _filename(part)
    maintype = content_type.split("/")[0]
    if disposition != "attachment" and filename is None:
        if content_type == "text/plain":
            found.plain.append(_decoded_text(part))
            return
        if content_type == "text/html":
            found.html.append(_decoded_text(part))
            return
    if disposition != "attachment" and maintype in ("image", "audio", "video"):
        return  # inline images (signatures, logos) are not documents
    if disposition != "attachment" and filename is None and maintype == "multipart":
        found.plain.append(_decoded_text(part))  # boundary missing: keep the raw text
        return
    found.attachments.append((_attachment_name(part, len(found.attachments)), part))


def _body_sections(parts: _Parts) -> list[Section]:
    plain = "\n\n".join(text.strip() for text in parts.plain if text.strip())
    if plain:
        return [Section(plain)]
    sections: list[Section] = []
    for markup in parts.html:
        try:
            sections.extend(html_sections(markup)[0])
        except Exception as exc:  # a broken HTML body leaves the rest readable
            logger.debug("e-mail HTML body unreadable: %s", type(exc).__name__)
    return sections


def _attachment_sections(
    name: str,
    part: Message,
    limits: ParseLimits,
    depth: int,
    parse_attachment: AttachmentParser,
) -> tuple[list[Section], bool]:
    """Sections of one attachment, or a note explaining why it was skipped."""
    prefix = f"Attachment: {name}"
    if depth + 1 > limits.max_attachment_depth:
        reason = (
            f"(attachment {name} was not read: attachments nested more than "
            f"{limits.max_attachment_depth} levels deep are skipped)"
        )
        return [_note(prefix, reason)], False
    try:
        if part.get_content_type() == "message/rfc822":
            inner = part.get_payload()
            inner = inner[0] if isinstance(inner, list) and inner else inner
            if not isinstance(inner, Message):
                raise ParseError("the attached e-mail is empty")
            sections, _ = _message_sections(inner, limits, depth + 1, parse_attachment)
        else:
            payload = part.get_payload(decode=True)
            if not payload:
                raise ParseError("it is empty")
            sections = parse_attachment(payload, name, limits, depth + 1).sections
    except ParseError as exc:
        return [_note(prefix, f"(attachment {name} could not be read: {exc.reason})")], False
    except Exception as exc:  # e.g. MIME decoding errors
        logger.debug("attachment unreadable: %s", type(exc).__name__)
        return [_note(prefix, f"(attachment {name} could not be read: it is malformed)")], False
    return [Section(s.text, s.page, f"{prefix} > {s.heading}" if s.heading else prefix) for s in sections], True


def _note(heading: str, text: str) -> Section:
    return Section(text, 0, heading)


def _decoded_text(part: Message) -> str:
    payload = part.get_payload(decode=True) or b""
    if isinstance(payload, str):
        return payload
    try:
        charset = part.get_content_charset()
    except Exception:
        charset = None
    try:
        return decode_text(payload, charset)
    except ParseError:
        return ""  # a binary "text" part is ignored


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:
        return None
    return fix_surrogates(str(name)) if name else None


def _attachment_name(part: Message, index: int) -> str:
    """Safe display name: the declared file name, the subject of an attached
    e-mail, or "attachment-<n>" with an extension guessed from the MIME type."""
    name = _filename(part)
    if not name and part.get_content_type() == "message/rfc822":
        inner = part.get_payload()
        inner = inner[0] if isinstance(inner, list) and inner else None
        subject = _header(inner, "Subject") if isinstance(inner, Message) else ""
        name = f"{subject[:100]}.eml" if subject else "message.eml"
    if not name:
        extension = mimetypes.guess_extension(part.get_content_type()) or ".bin"
        name = f"attachment-{index + 1}{extension}"
    return safe_filename(name)


def _header(message: Message, name: str) -> str:
    """A header as readable text; never raises, even for malformed values."""
    try:
        value = message.get(name)
        text = "" if value is None else str(value)
    except Exception:
        text = _raw_header(message, name)
    return " ".join(fix_surrogates(text).split())


def _raw_header(message: Message, name: str) -> str:
    """Fallback when the policy's header parser fails: decode RFC 2047 words
    of the raw value, or return it as it is."""
    try:
        raw = next((v for k, v in message.raw_items() if k.lower() == name.lower()), "")
    except Exception:
        return ""
    try:
        return str(make_header(decode_header(str(raw))))
    except Exception:
        return str(raw)
