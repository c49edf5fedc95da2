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

# Every pattern is anchored or length-bounded so that hostile input (very long
# lines full of markup characters) cannot trigger super-linear backtracking.
_ATX = re.compile(r"^ {0,3}(#{1,6})(?=[ \t]|$)(.*)$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_SEPARATOR_CELL = re.compile(r":?-+:?")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)
_FRONT_TITLE = re.compile(r"^title:[ \t]*(.+)$", re.M)
_LINK_DEFINITION = re.compile(r"^ {0,3}\[[^\]\n]{1,500}\]:\s")

_IMAGE = re.compile(r"!\[[^\]\n]{0,500}\](?:\([^)\n]{0,2000}\)|\[[^\]\n]{0,200}\])")
_LINK = re.compile(r"\[([^\]\n]{1,500})\]\((?:[^()\n]|\([^()\n]{0,500}\)){0,2000}\)")
_REF_LINK = re.compile(r"\[([^\]\n]{1,500})\]\[[^\]\n]{0,200}\]")
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^>\s]{1,2000})>")
_HTML_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]{0,50}(?:\s[^<>\n]{0,1000})?/?>")
_CODE = re.compile(r"(`{1,3})([^\n]{1,1000}?)\1")
# Emphasis markers are removed one by one (no pairing): "**", "~~", "__" at
# word edges, and single "*"/"_" that touch a word on one side only.
_EMPHASIS = re.compile(
    r"\*\*+|~~+|(?<!\w)__+|__+(?!\w)"
    r"|(?<![\w*])\*(?=\S)|(?<=\S)\*(?![\w*])"
    r"|(?<![\w_])_(?=\S)|(?<=\S)_(?![\w_])"
)
# Escaped punctuation is swapped for private-use characters while markup is stripped.
_ESCAPE = re.compile(r"\\([*_#`\[\]()~|<>!\\])")
_PROTECT = {char: chr(0xE000 + i) for i, char in enumerate("*_#`[]()~|<>!\\")}
_RESTORE = {ord(private): char for char, private in _PROTECT.items()}
_QUOTE = re.compile(r"^ {0,3}(?:> ?)+")
_BULLET = re.compile(r"^(\s*)[*+-][ \t]+")


def parse_markdown(text: str) -> ParsedDocument:
    """Sections split at headings; title from the first H1 (or front matter)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    front_title = None
    front = _FRONT_MATTER.match(text[:10_000])
    if front:
        found = _FRONT_TITLE.search(front.group(1))
        front_title = found.group(1).strip().strip("\"'") if found else None
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
            builder.heading(len(atx.group(1)), strip_inline(_atx_text(atx.group(2))))
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
    """Remove inline Markdown markup, keeping the visible text; backslash
    escapes (\\* \\_ \\# ...) keep their character."""
    text = _ESCAPE.sub(lambda m: _PROTECT[m.group(1)], text)
    text = _IMAGE.sub("", text)
    text = _LINK.sub(r"\1", text)
    text = _REF_LINK.sub(r"\1", text)
    text = _AUTOLINK.sub(r"\1", text)
    text = _CODE.sub(lambda m: m.group(2).strip(), text)
    text = _HTML_TAG.sub("", text)
    text = _EMPHASIS.sub("", text)
    return text.translate(_RESTORE).strip()


def _atx_text(rest: str) -> str:
    """Heading text without an optional closing sequence of "#"s."""
    rest = rest.strip()
    stripped = rest.rstrip("#")
    if stripped != rest and (not stripped or stripped[-1] in " \t"):
        rest = stripped.strip()
    return rest


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
    return "|" in lines[i] and i + 1 < len(lines) and "|" in lines[i + 1] and _is_separator(lines[i + 1])


def _is_separator(line: str) -> bool:
    """A table delimiter row such as "|---|:---:|"."""
    cells = line.strip().strip("|").split("|")
    return all(_SEPARATOR_CELL.fullmatch(cell.strip()) for cell in cells)


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
