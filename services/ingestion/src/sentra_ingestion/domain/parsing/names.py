"""Handling of untrusted file names.

File names only ever serve two purposes here: their extension is a hint for
format detection, and a cleaned-up version is shown in headings such as
"Attachment: informe.pdf". Nothing ever touches the filesystem.
"""

from __future__ import annotations

import re
import unicodedata

MAX_FILENAME_CHARS = 200
FALLBACK_FILENAME = "document"

_SEPARATORS = re.compile(r"[\\/]")
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_SPACES = re.compile(r"\s+")


def safe_filename(name: str) -> str:
    """Return a harmless display name: the base name only, without path
    separators, control or bidi-override characters, at most 200 characters,
    or "document" when nothing usable is left."""
    if not isinstance(name, str):
        return FALLBACK_FILENAME
    name = unicodedata.normalize("NFC", name)
    name = _UNSAFE.sub("", name)
    base = _SEPARATORS.split(name)[-1]
    base = _SPACES.sub(" ", base).strip().strip(".").strip()
    if not base:
        return FALLBACK_FILENAME
    if len(base) > MAX_FILENAME_CHARS:
        stem, dot, ext = base.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            base = stem[: MAX_FILENAME_CHARS - len(ext) - 1].rstrip() + "." + ext
        else:
            base = base[:MAX_FILENAME_CHARS].rstrip()
    return base or FALLBACK_FILENAME


def file_extension(name: str) -> str:
    """Lower-case extension of a (possibly hostile) file name, without the dot;
    "" when there is none or it does not look like an extension."""
    stem, dot, ext = safe_filename(name).rpartition(".")
    if not dot or not stem or not ext or len(ext) > 10 or not ext.isalnum():
        return ""
    return ext.lower()
