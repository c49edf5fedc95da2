"""Sentences of a passage, as people read them: table rows and list items count as
sentences, and lines wrapped inside a sentence (PDF text) are joined first. The reader is
trained and run on these sentences; the inference service scores evidence and quotes
answers with them."""

from __future__ import annotations

import itertools
import re

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'«¿¡(]?[A-ZÁÉÍÓÚÑÜ0-9])")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
_TABLE_ROW = re.compile(r"^[^:;]{1,60}: [^;]*;")
_LINE = re.compile(r"[^\n]+")
MAX_QUOTE_CHARS = 400


def _continues(previous: str, raw: str, line: str) -> bool:
    """A line continues the previous one when that one does not end a sentence and this
    one starts in lower case, or when the previous one ends with a colon ("…provider:" /
    "Freephone: 0808…"); a new list item starts a new sentence unless a colon introduced it."""
    if not previous or _TABLE_ROW.search(previous) or previous.endswith((".", "!", "?", ";")):
        return False
    if not (line[0].islower() or previous.endswith(":")):
        return False
    return not _BULLET.match(raw) or previous.endswith(":")


def split_units(text: str) -> list[tuple[str, str]]:
    """Sentences of a passage, each with the nearest heading-like line above it."""
    lines: list[str] = []
    for raw in text.splitlines():
        line = _BULLET.sub("", raw).strip()
        if not line:
            continue
        if lines and _continues(lines[-1], raw, line):
            lines[-1] = f"{lines[-1]} {line}"
        else:
            lines.append(line)
    units: list[tuple[str, str]] = []
    heading = ""
    for line in lines:
        for part in _SENTENCE_END.split(line):
            part = part.strip()
            if part:
                units.append((part, heading))
        if _is_heading(line):
            heading = line
    return units


def split_sentences(text: str) -> list[str]:
    return [sentence for sentence, _ in split_units(text)]


def _is_heading(line: str) -> bool:
    return len(line.split()) <= 8 and not line.endswith((".", ";", ",")) and not _TABLE_ROW.search(line)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) character offsets of the sentences of `text`, by the same rules as
    `split_units` (wrapped lines joined, rows and list items on their own)."""
    starts = {0}
    previous = ""
    for match in _LINE.finditer(text):
        raw = match.group()
        line = _BULLET.sub("", raw).strip()
        if not line:
            continue
        if not _continues(previous, raw, line):
            starts.add(match.start())
            previous = line
        else:
            previous = f"{previous} {line}"
    starts.update(m.end() for m in _SENTENCE_END.finditer(text))
    spans = []
    for a, b in itertools.pairwise([*sorted(starts), len(text)]):
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if a < b:
            spans.append((a, b))
    return spans


def quote(sentence: str, focus: tuple[int, int] | None = None) -> str:
    """A sentence on one line (runs of whitespace collapsed), cut to MAX_QUOTE_CHARS around
    `focus` (the character span of an answer inside it; the start otherwise), with "…"
    where it was cut."""
    text, (start, end) = _collapse(sentence, focus or (0, 0))
    if len(text) <= MAX_QUOTE_CHARS:
        return text
    room = max(0, MAX_QUOTE_CHARS - (end - start)) // 2
    left = max(0, start - room)
    right = min(len(text), end + room + max(0, room - start))
    if left > 0:
        left = text.find(" ", left, start) + 1 or left
    if right < len(text):
        cut = text.rfind(" ", end, right)
        right = cut if cut > end else right
    return ("… " if left > 0 else "") + text[left:right].strip() + (" …" if right < len(text) else "")


def _collapse(text: str, span: tuple[int, int]) -> tuple[str, tuple[int, int]]:
    """`text` with whitespace runs collapsed to one space and trimmed, and `span` moved along."""
    out: list[str] = []
    where: list[int] = []
    for ch in text:
        where.append(len(out))
        if not ch.isspace():
            out.append(ch)
        elif out and out[-1] != " ":
            out.append(" ")
    where.append(len(out))
    collapsed = "".join(out).rstrip()
    return collapsed, (min(where[span[0]], len(collapsed)), min(where[span[1]], len(collapsed)))
