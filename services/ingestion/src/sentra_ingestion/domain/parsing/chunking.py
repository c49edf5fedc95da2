"""Structure-aware chunking of Sections.

Rules:
- a chunk never mixes pages or headings: consecutive Sections with the same
  page and heading are chunked together, anything else separately;
- text is split at paragraph boundaries, then sentence boundaries (., ?, !,
  with Spanish ¿¡ openings and newlines), then words, aiming at
  `target_chars` and never exceeding `max_chars`;
- small consecutive paragraphs are merged up to the target;
- when a section is split, the next chunk starts with up to `overlap_chars`
  of whole trailing sentences of the previous chunk (never table rows);
- table-like paragraphs (one "Header: value; ..." row per line) are split
  only between rows; a single row longer than `max_chars` is split between
  its fields;
- chunks with no letters or digits are dropped. Output is deterministic.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .model import ChunkDraft, Section

if TYPE_CHECKING:
    from .policy import ChunkingPolicy

logger = logging.getLogger(__name__)


_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n+")
# Each alternative starts only at the beginning of a run (look-behind), which
# keeps matching linear even on hostile input such as millions of dots.
_SENTENCE_END = re.compile(r"(?<![.!?…])[.!?…]+(?![.!?…])[\"'”’»)\]]*[ \t]+|(?<![。！？])[。！？]+\s*|\n+")
_OPENERS = "\"'“‘«([¿¡"
_ROW = re.compile(r"^[^\n:]{1,200}: \S")
_ABBREVIATIONS = frozenset(
    "sr sra srta sres dr dra drs ud uds vd vds lic ing arq prof profa av avda pág págs pag "
    "núm num nº art arts cap dpto depto ej pp ref tel fig vol ed aprox approx "
    "mr mrs ms st jr vs e.g i.e cf inc ltd co corp".split()
)


@dataclass(frozen=True)
class _Unit:
    """An indivisible piece of text and the separator that precedes it."""

    text: str
    sep: str
    row: bool = False


def chunk_sections(sections: list[Section], policy: ChunkingPolicy | None = None) -> list[ChunkDraft]:
    """Split Sections into ChunkDrafts of about `policy.target_chars` characters
    (never more than `max_chars`), each with exactly one page and heading.

    Runs made only of table rows are packed to `table_target_chars`: a few rows per
    chunk, so a search for one row's value finds (and cites) that row rather than a
    long slice of the table."""
    if policy is None:
        from .policy import ChunkingPolicy

        policy = ChunkingPolicy()
    target_chars, max_chars = policy.target_chars, policy.max_chars
    overlap_chars, table_target_chars = policy.overlap_chars, policy.table_target_chars
    table_target = min(table_target_chars, target_chars)
    chunks: list[ChunkDraft] = []
    for page, heading, text in _groups(sections):
        units: list[_Unit] = []
        for paragraph in _PARAGRAPH_BREAK.split(text):
            new = _paragraph_units(paragraph.strip("\n"), target_chars, max_chars)
            if new and not (new[0].row and units and units[-1].row):
                new[0] = _Unit(new[0].text, "\n\n", new[0].row)  # rows of one table stay together
            units.extend(new)
        target = table_target if units and all(u.row for u in units) else target_chars
        for chunk in _pack(units, target, max_chars, overlap_chars):
            if any(ch.isalnum() for ch in chunk):
                chunks.append(ChunkDraft(text=chunk, page=page, heading=heading))
    return chunks


def _groups(sections: list[Section]) -> Iterator[tuple[int, str, str]]:
    """(page, heading, text) for runs of consecutive Sections with the same location."""
    key: tuple[int, str] | None = None
    texts: list[str] = []
    for section in sections:
        text = section.text.replace("\r\n", "\n").replace("\r", "\n").strip()
        if not text:
            continue
        if (section.page, section.heading) != key:
            if key is not None and texts:
                yield key[0], key[1], "\n\n".join(texts)
            key, texts = (section.page, section.heading), []
        texts.append(text)
    if key is not None and texts:
        yield key[0], key[1], "\n\n".join(texts)


def is_table(paragraph: str) -> bool:
    """True for rendered table rows: every line is "Header: value[; ...]"."""
    lines = [line for line in paragraph.split("\n") if line.strip()]
    if not lines or not all(_ROW.match(line) for line in lines):
        return False
    return len(lines) > 1 or "; " in lines[0]


def _paragraph_units(paragraph: str, target: int, limit: int) -> list[_Unit]:
    """Indivisible pieces of one paragraph: table rows, the whole paragraph
    when it is short, else its sentences (over-long ones cut between words)."""
    if not paragraph.strip():
        return []
    if is_table(paragraph):
        units = []
        for line in (line.strip() for line in paragraph.split("\n")):
            if not line:
                continue
            pieces = [line] if len(line) <= limit else _split_fields(line, target, limit)
            units.extend(_Unit(piece, "\n", row=True) for piece in pieces)
        return units
    paragraph = paragraph.strip()
    if len(paragraph) <= target:
        return [_Unit(paragraph, "\n\n")]
    units = []
    for sentence, sep in sentence_spans(paragraph):
        if len(sentence) <= limit:
            units.append(_Unit(sentence, sep))
        else:
            pieces = _split_words(sentence, target, limit)
            units.append(_Unit(pieces[0], sep))
            units.extend(_Unit(piece, " ") for piece in pieces[1:])
    return units


def sentence_spans(text: str) -> list[tuple[str, str]]:
    """Sentences of `text` as (sentence, separator before it); the separator
    is "\\n" for line breaks and " " otherwise ("" for the first sentence)."""
    result: list[tuple[str, str]] = []
    start = 0
    sep = ""
    for match in _SENTENCE_END.finditer(text):
        end = match.end()
        if "\n" not in match.group() and not _is_boundary(text, match.start(), end):
            continue
        sentence = text[start:end].strip()
        if sentence:
            result.append((sentence, sep))
            sep = "\n" if "\n" in match.group() else " "
        elif "\n" in match.group() and result:
            sep = "\n"
        start = end
    tail = text[start:].strip()
    if tail:
        result.append((tail, sep))
    return result


def _is_boundary(text: str, punct_start: int, next_start: int) -> bool:
    """A terminal mark followed by space ends a sentence when the next word
    starts like a sentence and the word before is not an abbreviation."""
    if text[punct_start] in "。！？":
        return True
    following = text[next_start : next_start + 3].lstrip(_OPENERS)
    if not following:
        return next_start >= len(text)
    if text[next_start] in "¿¡":
        return True
    if not (following[0].isupper() or following[0].isdigit()):
        return False
    if text[punct_start] != ".":
        return True
    before = text[max(0, punct_start - 40) : punct_start].split()
    word = before[-1].lower().lstrip(_OPENERS) if before else ""
    if len(word) == 1 and word.isalpha():
        return False  # an initial, e.g. "J. García"
    return word not in _ABBREVIATIONS


def _split_words(text: str, target: int, limit: int) -> list[str]:
    """Pieces of about `target` characters cut between words; a word longer
    than `limit` is cut into `limit`-sized slices."""
    pieces: list[str] = []
    current = ""
    for word in text.split():
        while len(word) > limit:
            if current:
                pieces.append(current)
                current = ""
            pieces.append(word[:limit])
            word = word[limit:]
        if current and len(current) + 1 + len(word) > target:
            pieces.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        pieces.append(current)
    return pieces


def _split_fields(row: str, target: int, limit: int) -> list[str]:
    """An over-long table row split between its "; "-separated fields (then words)."""
    pieces: list[str] = []
    current = ""
    for field in row.split("; "):
        if len(field) > limit:
            if current:
                pieces.append(current)
                current = ""
            pieces.extend(_split_words(field, target, limit))
            continue
        if current and len(current) + 2 + len(field) > limit:
            pieces.append(current)
            current = field
        else:
            current = f"{current}; {field}" if current else field
    if current:
        pieces.append(current)
    return pieces


def _pack(units: list[_Unit], target: int, limit: int, overlap: int) -> list[str]:
    """Greedy packing of units into chunks of about `target` characters."""
    chunks: list[str] = []
    buffer = ""
    has_content = False  # False while `buffer` holds only the overlap
    last_row = False
    for unit in units:
        if has_content:
            size = len(buffer) + len(unit.sep) + len(unit.text)
            if size <= target or (size <= limit and len(buffer) < target // 2):
                buffer += unit.sep + unit.text
                last_row = unit.row
                continue
            chunks.append(buffer)
            buffer = "" if last_row or unit.row else _overlap_text(buffer, overlap)
            has_content = False
        if buffer and len(buffer) + len(unit.sep) + len(unit.text) <= limit:
            buffer += unit.sep + unit.text
        else:
            buffer = unit.text
        has_content = True
        last_row = unit.row
    if has_content:
        chunks.append(buffer)
    return chunks


def _overlap_text(chunk: str, overlap: int) -> str:
    """Up to `overlap` characters of whole sentences from the end of `chunk`
    (never the whole chunk)."""
    if overlap <= 0:
        return ""
    sentences = sentence_spans(chunk)
    best = ""
    for start in range(len(sentences) - 1, 0, -1):
        candidate = _join(sentences[start:])
        if len(candidate) > overlap:
            break
        best = candidate
    return best


def _join(sentences: list[tuple[str, str]]) -> str:
    text = sentences[0][0]
    for sentence, sep in sentences[1:]:
        text += sep + sentence
    return text
