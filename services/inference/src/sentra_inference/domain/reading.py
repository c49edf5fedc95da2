"""Answers read by the learned reader: does any retrieved passage answer the question,
what is the shortest answer, and which sentence supports it.

The reader (a port: `Reader`) scores every sentence of the passages the caller may see
(retrieval has already applied the caller's departments and access lists) and marks the
shortest answer in each. The question is answered when the best sentence's score reaches
the reader's calibrated threshold; otherwise the documents do not contain it. A question
with two parts ("how many days … and who approves them?") is read part by part and gets
both answers.

The answer a user sees: the direct answer first (the span, rendered in the question's
language when it is a figure with units, dates or other words the glossary knows; names
and numbers exactly as written), then the supporting sentence of each part, quoted, each
with its citation number. A one-part answer also quotes the next best sentence when the
reader judges that it answers too (another passage often says the same in other words):
at most two quotes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sentra_common.reader.reading import PassageReading, SpanCandidate
from sentra_common.sentences import quote
from sentra_common.text import detect_language, tokenize

from sentra_inference.domain.evidence import NOT_FOUND, Passage, question_language
from sentra_inference.domain.rendering import render_answer


class Reader(Protocol):
    """Reads one question against passages (their texts, and their titles and headings):
    one `PassageReading` per passage, in order, best candidates first."""

    threshold: float

    async def read(self, question: str, passages: Sequence[str], contexts: Sequence[str]) -> list[PassageReading]: ...


@dataclass(frozen=True)
class Finding:
    """The answer to one part of a question, or `None` parts when not found."""

    part: str
    passage: Passage
    span: SpanCandidate
    margin: float
    # The span as written in the document, and rendered for the question's language.
    text: str
    rendered: str
    quote: str


@dataclass
class Reading:
    parts: list[tuple[str, Finding | None]]
    # Another sentence that answers a one-part question: (passage, quote).
    also: tuple[Passage, str] | None = None

    @property
    def found(self) -> bool:
        return any(finding is not None for _, finding in self.parts)

    @property
    def best_margin(self) -> float:
        return max((f.margin for _, f in self.parts if f is not None), default=float("-inf"))


_INTERROGATIVE = (
    r"(?:¿\s*)?(?:(?:a|en|de|con|para|por|desde|hasta)\s+)?"
    r"(?:qu[ée]|cu[áa]l(?:es)?|cu[áa]nt[oa]s?|qui[ée]n(?:es)?|d[óo]nde|cu[áa]ndo|c[óo]mo|por\s+qu[ée]"
    r"|what|which|who|whom|whose|where|when|how|why)\b"
)
_SECOND_PART = re.compile(rf",?\s+(?:y|e|and)\s+(?={_INTERROGATIVE})", re.IGNORECASE)
_TWO_QUESTIONS = re.compile(r"\?\s+(?=¿|[A-ZÁÉÍÓÚÑ])")
_MIN_PART_WORDS = 3
_TRIM = " \t\n,;:.-–—"
_PAIRS = {"(": ")", "«": "»", '"': '"', "“": "”", "[": "]"}


def split_question(question: str) -> list[str]:
    """The parts of a question: two questions in a row, or two joined by "y"/"and" before
    a question word ("¿Cuántos días … y quién los aprueba?"). One part otherwise, and
    whenever a part would be shorter than three words."""
    text = " ".join(question.split())
    for pattern in (_TWO_QUESTIONS, _SECOND_PART):
        pieces = pattern.split(text, maxsplit=1)
        if len(pieces) == 2 and all(len(p.split()) >= _MIN_PART_WORDS for p in pieces):
            return [_as_question(pieces[0], text), _as_question(pieces[1], text)]
    return [text]


def _as_question(part: str, whole: str) -> str:
    part = part.strip().rstrip("?").strip()
    if whole.lstrip().startswith("¿") and not part.startswith("¿"):
        part = "¿" + part
    if part.startswith("¿") or whole.rstrip().endswith("?"):
        part += "?"
    start = 1 if part.startswith("¿") else 0
    return part[:start] + part[start : start + 1].upper() + part[start + 1 :]


def clean_span(text: str) -> str:
    """The span without surrounding punctuation or an unmatched bracket or quote."""
    text = " ".join(text.split()).strip(_TRIM)
    for opening, closing in _PAIRS.items():
        if len(text) > 2 and text[0] == opening and text[-1] == closing and closing not in text[1:-1]:
            text = text[1:-1].strip(_TRIM)
        if text.startswith(opening) and closing not in text[1:]:
            text = text[1:].strip()
        if text.endswith(closing) and opening not in text[:-1]:
            text = text[:-1].strip()
    return text.strip(_TRIM)


def passage_language(passage: Passage) -> str | None:
    return detect_language(tokenize(passage.text))


async def read_question(reader: Reader, question: str, passages: Sequence[Passage]) -> Reading:
    """Read every part of the question against the passages."""
    language = question_language(question)
    parts: list[tuple[str, Finding | None]] = []
    also = None
    questions = split_question(question)
    for part in questions:
        readings = await reader.read(
            part, [p.text for p in passages], [f"{p.title}\n{p.heading}".strip() for p in passages],
        )
        ranked = sorted((c for r in readings for c in r.spans), key=lambda c: c.score, reverse=True)
        finding = _finding(part, ranked[0], passages, language) if ranked and ranked[0].score >= reader.threshold \
            else None
        parts.append((part, finding))
        if finding is not None and len(questions) == 1:
            second = next((c for c in ranked[1:] if c.score >= reader.threshold and (
                c.passage, c.sentence_start) != (ranked[0].passage, ranked[0].sentence_start)), None)
            if second is not None:
                also = (passages[second.passage], _quote(passages[second.passage], second))
    return Reading(parts, also)


def _finding(part: str, candidate: SpanCandidate, passages: Sequence[Passage], language: str) -> Finding | None:
    passage = passages[candidate.passage]
    text = clean_span(passage.text[candidate.start : candidate.end])
    if not text:
        return None
    rendered = render_answer(text, passage_language(passage), language)
    return Finding(part, passage, candidate, candidate.score, text, rendered, _quote(passage, candidate))


def _quote(passage: Passage, candidate: SpanCandidate) -> str:
    sentence = passage.text[candidate.sentence_start : candidate.sentence_end]
    offset = candidate.sentence_start
    return quote(sentence, focus=(candidate.start - offset, candidate.end - offset))


def compose(question: str, reading: Reading) -> tuple[str, str]:
    """(answer text, direct answer) for a reading with at least one part found."""
    language = question_language(question)
    lines, quotes, direct = [], [], []
    numbered = len(reading.parts) > 1
    for i, (_, finding) in enumerate(reading.parts, 1):
        prefix = f"{i}. " if numbered else ""
        if finding is None:
            lines.append(prefix + NOT_FOUND.get(language, NOT_FOUND["es"]))
            continue
        lines.append(f"{prefix}{finding.rendered} [{finding.passage.number}]")
        direct.append(finding.rendered)
        quoted = f"«{finding.quote}» [{finding.passage.number}]"
        if quoted not in quotes:
            quotes.append(quoted)
    if reading.also is not None:
        quotes.append(f"«{reading.also[1]}» [{reading.also[0].number}]")
    return "\n".join(lines) + "\n\n" + "\n".join(quotes[:2]), "; ".join(direct)
