"""Markdown parsing without a Markdown library.

ATX headings (# .. ######) and setext headings (=== / ---) start Sections with
a heading path; light inline markup is stripped (emphasis, links keep their
text, images are dropped); fenced code is kept as plain text; pipe tables are
rendered one "Header: value; ..." line per row. YAML front matter is dropped
(its `title:` is used when there is no H1).
"""

from __future__ import annotations

import logging
import re

from .model import MARKDOWN, ParsedDocument, ParseError, Section
from .tables import render_table

logger = logging.getLogger(__name__)

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{1,}:?\s*(\|\s*:?-{1,}:?\s*)*\|?\s*$")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)
_FRONT_TITLE = re.compile(r"^title:\s*(.+?)\s*$", re.M)
_LINK_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s+\S+.*$")

_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)|!\[[^\]]*\]\[[^\]]*\]")
_LINK = re.compile(r"\[([^\]]+)\]\((?:[^()]|\([^)]*\))*\)")
_REF_LINK = re.compile(r"\[([^\]]+)\]\[[^\]]*\]")
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^>\s]+)>")
_HTML_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")
_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_STAR = re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])")
_UNDERSCORE = re.compile(r"(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_CODE = re.compile(r"(`+)(.+?)\1")
_QUOTE = re.compile(r"^ {0,3}(?:> ?)+")
_BULLET = re.compile(r"^(\s*)[*+-][ \t]+")


def parse_markdown(text: str) -> ParsedDocument:
    """Sections split at headings; title from the first H1 (or front matter)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    front_title = None
    front = _FRONT_MATTER.match(text)
    if front:
        found = _FRONT_TITLE.search(front.group(1))
        front_title = found.group(1).strip("\"'") if found else None
        text = text[front.end() :]
    builder = _Builder()
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = _FENCE.match(line)
        if fence:
            i = _code_block(lines, i, fence.group(1), builder)
            continue
        atx = _ATX.match(line)
        if atx:
            builder.heading(len(atx.group(1)), strip_inline(atx.group(2) or ""))
            i += 1
            continue
        if _is_table_start(lines, i):
            i = _table(lines, i, builder)
            continue
        if (
            line.strip()
            and i + 1 < len(lines)
            and _SETEXT.match(lines[i + 1])
            and not builder.paragraph
            and not _BULLET.match(line)
        ):
            level = 1 if lines[i + 1].strip().startswith("=") else 2
            builder.heading(level, strip_inline(line))
            i += 2
            continue
        if not line.strip():
            builder.end_paragraph()
        elif not _LINK_DEFINITION.match(line) and not _SETEXT.match(line):
            builder.paragraph.append(_block_line(line))
        i += 1
    sections = builder.finish()
    if not sections:
        raise ParseError("Markdown document contains no text")
    return ParsedDocument(sections, MARKDOWN, title=builder.first_h1 or front_title)


def strip_inline(text: str) -> str:
    """Remove inline Markdown markup, keeping the visible text."""
    text = _IMAGE.sub("", text)
    text = _LINK.sub(r"\1", text)
    text = _REF_LINK.sub(r"\1", text)
    text = _AUTOLINK.sub(r"\1", text)
    text = _CODE.sub(lambda m: m.group(2).strip(), text)
    text = _HTML_TAG.sub("", text)
    text = _BOLD.sub(r"\2", text)
    text = _STRIKE.sub(r"\1", text)
    text = _STAR.sub(r"\1", text)
    text = _UNDERSCORE.sub(r"\1", text)
    return text.replace("\\*", "*").replace("\\_", "_").replace("\\#", "#").strip()


def _block_line(line: str) -> str:
    """A paragraph line without block quote markers; bullets become "- "."""
    line = _QUOTE.sub("", line)
    bullet = _BULLET.match(line)
    if bullet:
        return bullet.group(1) + "- " + strip_inline(line[bullet.end() :])
    return strip_inline(line)


class _Builder:
    def __init__(self) -> None:
        self.sections: list[Section] = []
        self.path: list[tuple[int, str]] = []
        self.blocks: list[str] = []
        self.paragraph: list[str] = []
        self.first_h1: str | None = None

    def heading(self, level: int, text: str) -> None:
        self.end_paragraph()
        if not text:
            return
        if self.blocks:
            heading = " > ".join(name for _, name in self.path)
            self.sections.append(Section("\n\n".join(self.blocks), 0, heading))
            self.blocks = []
        if level == 1 and self.first_h1 is None:
            self.first_h1 = text
        self.path = [(lvl, name) for lvl, name in self.path if lvl < level]
        self.path.append((level, text))

    def end_paragraph(self) -> None:
        if self.paragraph:
            self.add_block("\n".join(line for line in self.paragraph if line.strip()))
            self.paragraph = []

    def add_block(self, block: str) -> None:
        if block.strip():
            self.blocks.append(block)

    def finish(self) -> list[Section]:
        self.heading(7, "")  # flushes without adding a heading
        if self.blocks:
            heading = " > ".join(name for _, name in self.path)
            self.sections.append(Section("\n\n".join(self.blocks), 0, heading))
            self.blocks = []
        return self.sections


def _code_block(lines: list[str], start: int, marker: str, builder: _Builder) -> int:
    """Keep fenced code as text (without the fences); returns the next index."""
    builder.end_paragraph()
    body = []
    i = start + 1
    while i < len(lines):
        stripped = lines[i].strip()
        if stripped.startswith(marker[0] * len(marker)) and not stripped.strip(marker[0]):
            i += 1
            break
        body.append(lines[i])
        i += 1
    builder.add_block("\n".join(body).strip("\n"))
    return i


def _is_table_start(lines: list[str], i: int) -> bool:
    return (
        "|" in lines[i]
        and i + 1 < len(lines)
        and "|" in lines[i + 1]
        and "-" in lines[i + 1]
        and bool(_TABLE_SEPARATOR.match(lines[i + 1]))
    )


def _table(lines: list[str], start: int, builder: _Builder) -> int:
    """Render a pipe table; returns the index after it."""
    builder.end_paragraph()
    rows = [_cells(lines[start])]
    i = start + 2
    while i < len(lines) and "|" in lines[i] and lines[i].strip():
        rows.append(_cells(lines[i]))
        i += 1
    builder.add_block("\n".join(render_table(rows)))
    return i


def _cells(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    cells = re.split(r"(?<!\\)\|", line)
    return [" ".join(strip_inline(cell.replace("\\|", "|")).split()) for cell in cells]
