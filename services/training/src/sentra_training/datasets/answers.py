"""Answer candidates in a chunk: the short spans a question can be asked about.

The question generator is trained SQuAD-style (the answer is given), so a dataset needs
answers first. The spans SQuAD's annotators chose are mostly figures, dates and names;
these are found here, in that order of preference, one per sentence at most so a chunk's
questions spread over its content:

1. a figure with what it counts ("2 días", "14 %", "3.500 euros"; never a bare number:
   a code, a reference or a piece of a date asks nothing on its own),
2. a date ("1 de marzo de 2024", "March 2024"),
3. a name: a run of capitalised words that does not start the sentence ("Colin Baker",
   "Ministerio de Sanidad"); at the start, a run of three words or more without its first
   ("Contact Jane Smith" → "Jane Smith"). The same holds where a phrase starts inside a
   sentence (a new line, a list item, a field's value: "Concepto: Taxi o VTC", "• Perímetro
   exterior"): a capitalised word there followed by a lower-case one is capitalised for its
   place, not a name. Two kinds of names are not answers
   (`_name_is_askable`): a name the chunk repeats (its topic: "Jacksonville" in a text about
   Jacksonville; any question about the chunk names it, so the question holds its own
   answer), and a name that qualifies a noun ("la máquina de Turing", "las leyes de
   Newton": the question asks about the machine and names Turing). On SQuAD-es paragraphs
   the generator never saw (the reader's calibration split, XQuAD removed), 35 % of the
   questions about such names were supported, against 68 % for the other names.

Spans are copies of the chunk's text, so every answer is supported by its chunk by
construction; whether the question asks for it is the filters' job (`generate.py`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sentra_common.sentences import sentence_spans
from sentra_common.stopwords import ALL_STOPWORDS

_MONTHS = (
    "enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|octubre|noviembre|diciembre|"
    "january|february|march|april|may|june|july|august|september|october|november|december"
)
_DATE = re.compile(
    rf"\b(?:\d{{1,2}}\s+(?:de\s+)?(?:{_MONTHS})(?:\s+(?:de\s+)?\d{{4}})?|(?:{_MONTHS})\s+(?:de\s+)?\d{{4}}|"
    rf"(?:{_MONTHS})\s+\d{{1,2}},?\s+\d{{4}})\b",
    re.IGNORECASE,
)
# A number (1.500 / 1,500.25 / 14) and, when present, what it counts: a unit sign or one
# word that is not a stopword ("2 días", "45 euros", "10 %").
_FIGURE = re.compile(r"(?<![\w.,])(\d{1,3}(?:[.,]\d{3})+|\d+(?:[.,]\d+)?)(\s?(?:%|€|\$|£|km|kg|m²|h)\b|"
                     r"\s?(?:%|€)|\s+[^\W\d_]{2,})?", re.UNICODE)
_CAPITALISED = re.compile(
    r"\b[A-ZÁÉÍÓÚÑÜ][\wÁÉÍÓÚÑÜáéíóúñü'-]+(?:\s+(?:(?:de|del|la|las|los|y|of|the|and|for)\s+)?"
    r"[A-ZÁÉÍÓÚÑÜ][\wÁÉÍÓÚÑÜáéíóúñü'-]+)*"
)
_STOP = ALL_STOPWORDS
# where a phrase starts inside a sentence: a new line, a list bullet, a "·" separator, a
# field's colon ("Concepto: Taxi o VTC")
_PHRASE_START = re.compile(r"(?:^|[\n•·*:|]|\s-)[ \t]*$")
_LOWER_NEXT = re.compile(r"[ \t]+[a-záéíóúñü]")
# after a name: a colon (it labels a field) or a number (it numbers a page, an annex)
_LABEL_NEXT = re.compile(r"\s*:|[ \t]+(?:\d|[IVX]+\b)")
MAX_ANSWER_CHARS = 80


@dataclass(frozen=True)
class Candidate:
    start: int
    end: int
    text: str
    kind: str  # "figure", "date" or "name"
    sentence_start: int
    sentence_end: int


def _figure_end(text: str, match: re.Match) -> int | None:
    """The figure's end: its unit, or the word it counts; None for a bare number (a code, a
    reference, a piece of a date: nothing a question can be asked about on its own) or a
    number that is part of a code ("OPE-PRO-011", "2026-04-06")."""
    start, end = match.start(1), match.end(1)
    in_code = text[end : end + 1] in ("-", "/") and text[end + 1 : end + 2].isdigit()
    if (start and text[start - 1] in "-/#:._") or in_code:
        return None
    unit = match.group(2)
    if not unit:
        return None
    if not unit.strip()[0].isalpha() or unit.strip() in ("km", "kg", "h"):
        return match.end(2)
    word = unit.strip()
    if word.casefold() in _STOP or word[0].isupper():
        return None
    return match.end(2)


# "<a lower-case noun> de|del|of " just before a name: the name qualifies that noun
_QUALIFIES = re.compile(r"[a-záéíóúñü]{3,}\s+(?:de|del|of)\s+$")


def _name_is_askable(text: str, start: int, name: str) -> bool:
    """False for a name the chunk repeats (its topic) or one that qualifies a noun."""
    repeats = len(re.findall(rf"(?<!\w){re.escape(name)}(?!\w)", text)) > 1
    return not repeats and not _QUALIFIES.search(text[max(0, start - 30) : start])


def _in_sentence(text: str, a: int, b: int) -> list[Candidate]:
    sentence = text[a:b]
    found: list[Candidate] = []
    taken: list[tuple[int, int]] = []

    def add(start: int, end: int, kind: str) -> None:
        start, end = a + start, a + end
        span = text[start:end].strip(" ,;:.()\"'«»")
        if not span or len(span) > MAX_ANSWER_CHARS or any(s < end and start < e for s, e in taken):
            return
        start = text.index(span, start)
        if kind == "name" and not _name_is_askable(text, start, span):
            return
        taken.append((start, start + len(span)))
        found.append(Candidate(start, start + len(span), span, kind, a, b))

    for match in _DATE.finditer(sentence):
        add(match.start(), match.end(), "date")
    for match in _FIGURE.finditer(sentence):
        end = _figure_end(sentence, match)
        if end is not None:
            add(match.start(1), end, "figure")
    for match in _CAPITALISED.finditer(sentence):
        words = match.group().split()
        start = match.start()
        if _LABEL_NEXT.match(sentence, match.end()):
            continue  # a field's label ("País: Francia") or a numbered reference ("Página 5", "Anexo I")
        if not sentence[:start].strip(" \"'«¿¡(-•*"):
            # the sentence's first word is capitalised anyway: keep the rest of a longer run
            if len(words) < 3:
                continue
            words = words[1:]
        elif _PHRASE_START.search(sentence[:start]) and _LOWER_NEXT.match(sentence, match.end()):
            # the first word of a line, a list item or a field's value ("Concepto: Taxi o
            # VTC", "• Perímetro exterior"), capitalised for its place: not a name
            words = words[1:]
        while words and not words[0][0].isupper():  # "Ver la Política" → "Política"
            words = words[1:]
        if not words or (len(words) == 1 and words[0].casefold() in _STOP):
            continue
        add(sentence.index(words[0], start), match.end(), "name")
    return found


_PREFERENCE = {"figure": 0, "date": 1, "name": 2}


def candidates(text: str, limit: int) -> list[Candidate]:
    """Up to `limit` answer spans of `text`, at most one per sentence, preferring figures,
    then dates, then names, and sentences in reading order."""
    per_sentence = []
    for a, b in sentence_spans(text):
        if b - a < 20:  # a heading or a label: nothing to ask about
            continue
        found = sorted(_in_sentence(text, a, b), key=lambda c: (_PREFERENCE[c.kind], c.start))
        if found:
            per_sentence.append(found[0])
    per_sentence.sort(key=lambda c: (_PREFERENCE[c.kind], c.start))
    chosen = per_sentence[:limit]
    return sorted(chosen, key=lambda c: c.start)
