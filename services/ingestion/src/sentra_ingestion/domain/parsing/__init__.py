"""Document parsing and chunking for the ingestion service.

Plain Python with no I/O besides the bytes given: `parse_document` turns an
uploaded file into located `Section`s (or raises `ParseError` with a reason
for the user) and `chunk_sections` turns Sections into `ChunkDraft`s.
"""

from .chunking import chunk_sections
from .detect import detect_content_type
from .dispatch import parse_document
from .model import ChunkDraft, ParsedDocument, ParseError, Section
from .names import safe_filename


def __getattr__(name: str):
    # The validated models load on first use: a parser process never asks for them.
    if name in ("ChunkingPolicy", "ParseLimits"):
        from . import policy

        return getattr(policy, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ChunkDraft",
    "ChunkingPolicy",
    "ParseError",
    "ParseLimits",
    "ParsedDocument",
    "Section",
    "chunk_sections",
    "detect_content_type",
    "parse_document",
    "safe_filename",
]
