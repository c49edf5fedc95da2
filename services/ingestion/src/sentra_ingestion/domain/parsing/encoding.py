"""Turning untrusted bytes into clean text.

Decoding never fails: byte-order marks win, then strict UTF-8 (or UTF-8 with a
few broken bytes), then a declared charset, then charset-normalizer's guess,
then cp1252 with replacement characters. Content that looks binary is
rejected before decoding so that garbage never reaches the index.
"""

from __future__ import annotations

import codecs
import logging
import re
import unicodedata

from charset_normalizer import from_bytes

from .model import SUPPORTED_FORMATS, ParseError

logger = logging.getLogger(__name__)

SNIFF_BYTES = 8192
_GUESS_SAMPLE_BYTES = 256 * 1024

BINARY_REASON = "file looks binary, not text; upload it in a supported format: " + SUPPORTED_FORMATS

# (BOM, codec) — UTF-32 before UTF-16 because the UTF-32-LE BOM starts with the UTF-16-LE one.
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

# Non-ASCII characters that are normal in Western European text; used to tell
# cp1252 text apart from other single-byte encodings.
_WESTERN = set("áéíóúüñçàèìòùâêîôûäëïöÿãõåæøœßÁÉÍÓÚÜÑÇÀÈÌÒÙÂÊÎÔÛÄËÏÖŸÃÕÅÆØŒ¿¡ºª°€£¥©®™§¶·«»‘’“”„–—…•±×÷½¼¾µ\u00a0")

_CONTROL_BYTES = frozenset(range(0x20)) - {0x09, 0x0A, 0x0C, 0x0D, 0x1B} | {0x7F}
_CONTROL_CHARS = re.compile("[\x00-\x08\x0e-\x1f\x7f\x80-\x84\x86-\x9f\ufffe\uffff\u200b\ufeff]")
_SURROGATES = re.compile("[\ud800-\udfff]")
_TRAILING_SPACE = re.compile(r"(?<![ \t\u00a0])[ \t\u00a0]+\n")
_MANY_NEWLINES = re.compile(r"\n{3,}")


def bom_encoding(data: bytes) -> tuple[str, int] | None:
    """(codec, BOM length) when `data` starts with a Unicode byte-order mark."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return codec, len(bom)
    return None


def utf16_without_bom(head: bytes) -> str | None:
    """ "utf-16-le"/"utf-16-be" when BOM-less bytes have the NUL pattern of
    UTF-16 text in a Latin script, otherwise None."""
    if len(head) < 4:
        return None
    even, odd = head[0::2], head[1::2]
    even_nul = even.count(0) / len(even)
    odd_nul = odd.count(0) / len(odd)
    if odd_nul > 0.4 and even_nul < 0.05:
        return "utf-16-le"
    if even_nul > 0.4 and odd_nul < 0.05:
        return "utf-16-be"
    return None


def looks_binary(data: bytes) -> bool:
    """True when the first 8 KB look like binary data rather than text: more
    than 10% NUL bytes, or more than 5% other control bytes, unless the data is
    UTF-16/32 (BOM or NUL pattern)."""
    head = data[:SNIFF_BYTES]
    if not head:
        return False
    if bom_encoding(head) or utf16_without_bom(head):
        return False
    nul = head.count(0)
    control = sum(1 for byte in head if byte in _CONTROL_BYTES) - nul
    return nul / len(head) > 0.10 or control / len(head) > 0.05


def decode_text(data: bytes, declared: str | None = None) -> str:
    """Decode bytes to `str` without ever failing on bad bytes.

    Order: BOM, UTF-16 NUL pattern, UTF-8 (strict, or with replacement when the
    data is clearly UTF-8 with a few broken bytes), `declared` (e.g. from a
    <meta charset> or a MIME header), charset-normalizer's guess (cp1252 is
    preferred when it yields plausible Western text), and finally cp1252 with
    replacement characters. Raises ParseError when the bytes look binary.
    """
    bom = bom_encoding(data)
    if bom:
        codec, size = bom
        return data[size:].decode(codec, errors="replace")
    utf16 = utf16_without_bom(data[:SNIFF_BYTES])
    if utf16:
        return data.decode(utf16, errors="replace")
    if looks_binary(data):
        raise ParseError(BINARY_REASON)
    if b"\x00" in data:
        data = data.replace(b"\x00", b"")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    lenient = data.decode("utf-8", errors="replace")
    if _mostly_utf8(lenient):
        return lenient
    codec = _usable_codec(declared)
    if codec:
        return data.decode(codec, errors="replace")
    return _guess_and_decode(data)


def _mostly_utf8(text: str) -> bool:
    """UTF-8 with some broken bytes: it has valid multi-byte characters (rare
    by chance in single-byte encodings) and not many more broken bytes."""
    bad = text.count("\ufffd")
    good = sum(1 for ch in text if ord(ch) > 0x7F) - bad
    return good > 0 and bad <= good * 2


def _usable_codec(name: str | None) -> str | None:
    """Python codec for a declared charset, following the WHATWG rule that
    Latin-1/ASCII labels mean windows-1252; None when unknown."""
    if not name:
        return None
    name = name.strip().strip("\"'").lower()
    if name in {"iso-8859-1", "iso8859-1", "latin1", "latin-1", "us-ascii", "ascii"}:
        return "cp1252"
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return None
    if info.name in {"utf-8", "utf-16", "utf-32"}:  # already ruled out / need a BOM
        return None
    return info.name


def _guess_and_decode(data: bytes) -> str:
    """Decode non-UTF-8 bytes: cp1252 when that gives Western text, otherwise
    charset-normalizer's best guess, otherwise cp1252 with replacements."""
    western = data.decode("cp1252", errors="replace")
    if _plausibly_western(western):
        return western
    try:
        best = from_bytes(data[:_GUESS_SAMPLE_BYTES]).best()
    except Exception as exc:  # the detector is a heuristic; never let it fail parsing
        logger.debug("charset detection failed: %s", type(exc).__name__)
        best = None
    if best is not None and best.encoding:
        try:
            return data.decode(best.encoding, errors="replace")
        except LookupError:
            pass
    return western


def _plausibly_western(text: str) -> bool:
    """Western European text has few accented letters, all from a known set;
    other single-byte encodings read as cp1252 give mostly accented letters."""
    letters = [ch for ch in text if ch.isalpha()]
    non_ascii = [ch for ch in text if ord(ch) > 0x7F]
    if not non_ascii:
        return True
    accented = sum(1 for ch in letters if ord(ch) > 0x7F)
    if letters and accented / len(letters) > 0.3:
        return False
    return sum(ch in _WESTERN for ch in non_ascii) / len(non_ascii) >= 0.9


def fix_surrogates(text: str) -> str:
    """Replace lone surrogates (from surrogateescape decoding, e.g. 8-bit
    e-mail headers) by re-reading them as UTF-8 bytes or U+FFFD."""
    if not _SURROGATES.search(text):
        return text
    try:
        raw = text.encode("utf-8", errors="surrogateescape")
        return raw.decode("utf-8", errors="replace")
    except UnicodeError:
        return _SURROGATES.sub("\ufffd", text)


def clean_text(text: str) -> str:
    """Normalise extracted text: valid Unicode (NFC), "\\n" line ends, no
    control characters other than tab/newline, no trailing spaces, at most one
    blank line in a row, no leading/trailing whitespace."""
    text = fix_surrogates(text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n")
    text = text.replace("\x0b", "\n").replace("\x0c", "\n\n").replace("\x85", "\n")
    text = text.replace("\u2029", "\n\n")
    text = _CONTROL_CHARS.sub("", text)
    text = unicodedata.normalize("NFC", text)
    text = _TRAILING_SPACE.sub("\n", text)
    text = _MANY_NEWLINES.sub("\n\n", text)
    return text.strip()
