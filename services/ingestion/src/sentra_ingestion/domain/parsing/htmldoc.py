"""HTML parsing with BeautifulSoup (lxml).

Scripts, navigation, headers/footers, cookie banners and other boilerplate
are removed; <main> (or a single <article>) is preferred over the whole body.
Headings h1-h6 start new Sections with a heading path, tables become one
"Header: value; ..." line per row, list items become "- item" lines.
"""

from __future__ import annotations

import logging
import re
import warnings

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import PreformattedString

from .encoding import bom_encoding, decode_text
from .model import HTML, ParsedDocument, ParseError, Section
from .tables import render_table

logger = logging.getLogger(__name__)

_REMOVE_TAGS = (
    "script", "style", "noscript", "template", "nav", "footer", "aside", "form",
    "iframe", "svg", "canvas", "object", "embed", "button", "select", "dialog",
)  # fmt: skip
_SKIP_TAGS = {"head", "title", "meta", "link", "img", "input", "textarea", "video", "audio"}
_BOILERPLATE = {
    "nav", "navbar", "navigation", "menu", "menubar", "footer", "cookie", "cookies",
    "consent", "sidebar", "breadcrumb", "breadcrumbs", "banner",
}  # fmt: skip
_BOILERPLATE_ROLES = {"navigation", "banner", "contentinfo", "complementary", "menu", "menubar"}
_KEEP = {"html", "body", "main", "article"}
_HEADINGS = {f"h{level}": level for level in range(1, 7)}
_BLOCKS = {
    "address", "article", "blockquote", "body", "caption", "center", "dd", "details", "div",
    "dl", "dt", "fieldset", "figcaption", "figure", "header", "hr", "li", "main", "p",
    "section", "summary", "td", "th", "tr",
}  # fmt: skip
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_TOKEN_SPLIT = re.compile(r"[^a-z0-9]+")
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)


def parse_html(data: bytes) -> ParsedDocument:
    """Decode (BOM, <meta charset>, detection) and parse an HTML document."""
    sections, title = html_sections(decode_html(data))
    if not sections:
        raise ParseError("HTML page contains no readable text")
    return ParsedDocument(sections, HTML, title=title)


def decode_html(data: bytes) -> str:
    """Text of an HTML file honouring a BOM, then <meta charset>, then detection."""
    if bom_encoding(data):
        return decode_text(data)
    match = _META_CHARSET.search(data[:4096])
    return decode_text(data, match.group(1).decode("ascii") if match else None)


def html_sections(markup: str) -> tuple[list[Section], str | None]:
    """Sections and title of an HTML string (also used for HTML e-mail bodies)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # bs4 warns about markup that looks like a URL/file
        soup = BeautifulSoup(markup, "lxml")
    title = _text(soup.title) if soup.title else ""
    _remove_boilerplate(soup)
    articles = soup.find_all("article")
    root = soup.find("main") or (articles[0] if len(articles) == 1 else None)
    walker = _Walker()
    walker.walk(root or soup.body or soup)
    sections = walker.finish()
    return sections, title or walker.first_h1


def _text(node: Tag) -> str:
    """Visible text of an element with whitespace collapsed."""
    return " ".join(node.get_text(" ").split())


def _remove_boilerplate(soup: BeautifulSoup) -> None:
    """Drop non-content elements in one top-down pass (removed subtrees are
    not visited). Site <header>s go; an article's own header holds its title."""
    stack: list[tuple[Tag, bool]] = [(soup, False)]
    while stack:
        node, in_article = stack.pop()
        for child in list(node.children):
            if not isinstance(child, Tag):
                continue
            name = child.name
            if name not in _KEEP and (
                name in _REMOVE_TAGS or (name == "header" and not in_article) or _is_boilerplate(child)
            ):
                child.decompose()
            else:
                stack.append((child, in_article or name in ("article", "main")))


def _is_boilerplate(tag: Tag) -> bool:
    """Hidden, or marked as navigation/menu/footer/cookie/sidebar/... by its
    role, id or class (matched as whole words, camelCase split)."""
    attrs = tag.attrs or {}
    if "hidden" in attrs or str(attrs.get("aria-hidden", "")).lower() == "true":
        return True
    if _HIDDEN_STYLE.search(str(attrs.get("style", ""))):
        return True
    if str(attrs.get("role", "")).strip().lower() in _BOILERPLATE_ROLES:
        return True
    classes = attrs.get("class", [])
    values = [*classes] if isinstance(classes, list) else [str(classes)]
    values.append(str(attrs.get("id", "")))
    for value in values:
        tokens = _TOKEN_SPLIT.split(_CAMEL.sub(r"\1 \2", str(value)).lower())
        if _BOILERPLATE.intersection(tokens):
            return True
    return False


class _Walker:
    """Walks the tree in document order (iteratively, so deep nesting cannot
    overflow the stack) and builds Sections."""

    def __init__(self) -> None:
        self.sections: list[Section] = []
        self.path: list[tuple[int, str]] = []
        self.blocks: list[str] = []
        self.inline: list[str] = []
        self.first_h1: str | None = None

    def walk(self, root: Tag) -> None:
        stack: list[tuple[object, bool]] = [(root, False)]
        while stack:
            node, leaving = stack.pop()
            if leaving:
                self._end_block()
            elif isinstance(node, NavigableString):
                if not isinstance(node, PreformattedString):  # comments, doctype, CDATA
                    self.inline.append(str(node))
            elif isinstance(node, Tag):
                self._enter(node, stack)

    def _enter(self, node: Tag, stack: list[tuple[object, bool]]) -> None:
        name = node.name
        if name in _SKIP_TAGS:
            return
        if name == "br":
            self.inline.append("\n")
        elif name in _HEADINGS:
            self._heading(_HEADINGS[name], _text(node))
        elif name == "table":
            self._end_block()
            self._add("\n".join(render_table(_table_rows(node))))
        elif name in ("ul", "ol"):
            self._end_block()
            self._add("\n".join(_list_lines(node)))
        elif name == "pre":
            self._end_block()
            self._add(node.get_text().strip("\n"))
        else:
            if name in _BLOCKS:
                self._end_block()
                stack.append((node, True))
            stack.extend((child, False) for child in reversed(node.contents))

    def _heading(self, level: int, text: str) -> None:
        self._end_block()
        if not text:
            return
        self._flush()
        if level == 1 and self.first_h1 is None:
            self.first_h1 = text
        self.path = [(lvl, name) for lvl, name in self.path if lvl < level]
        self.path.append((level, text))

    def _end_block(self) -> None:
        if self.inline:
            lines = (" ".join(line.split()) for line in "".join(self.inline).split("\n"))
            self._add("\n".join(line for line in lines if line))
            self.inline = []

    def _add(self, block: str) -> None:
        if block.strip():
            self.blocks.append(block)

    def _flush(self) -> None:
        if self.blocks:
            heading = " > ".join(name for _, name in self.path)
            self.sections.append(Section("\n\n".join(self.blocks), 0, heading))
            self.blocks = []

    def finish(self) -> list[Section]:
        self._end_block()
        self._flush()
        return self.sections


def _table_rows(table: Tag) -> list[list[str]]:
    rows = []
    for tr in table.find_all("tr"):
        if tr.find_parent("table") is not table:
            continue
        rows.append([_text(cell) for cell in tr.find_all(("td", "th"), recursive=False)])
    return rows


def _list_lines(node: Tag) -> list[str]:
    """ "- item" lines, indented by nesting depth; a nested list follows its
    parent item instead of being repeated inside the item's text."""
    lines: list[str] = []
    work: list[tuple[Tag, int]] = [(node, -1)]
    while work:
        tag, depth = work.pop()
        if tag.name in ("ul", "ol"):
            items = [child for child in tag.children if isinstance(child, Tag)]
            work.extend((item, depth + 1) for item in reversed(items))
            continue
        text, nested = _item_text(tag)
        if text:
            lines.append("  " * max(depth, 0) + "- " + text)
        work.extend((sublist, depth) for sublist in reversed(nested))
    return lines


def _item_text(item: Tag) -> tuple[str, list[Tag]]:
    """Text of a list item without its nested lists, and those nested lists."""
    parts: list[str] = []
    nested: list[Tag] = []
    stack: list[object] = list(reversed(item.contents))
    while stack:
        node = stack.pop()
        if isinstance(node, Tag):
            if node.name in ("ul", "ol"):
                nested.append(node)
            elif node.name not in _SKIP_TAGS:
                if node.name in _BLOCKS or node.name == "br":
                    parts.append(" ")
                stack.extend(reversed(node.contents))
        elif isinstance(node, NavigableString) and not isinstance(node, PreformattedString):
            parts.append(str(node))
    return " ".join("".join(parts).split()), nested
