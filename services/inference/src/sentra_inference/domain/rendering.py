"""Short answers in the question's language.

A direct answer is a span of the document: "2 días", "23 días laborables", "5 mph",
"1 de marzo de 2026". When someone asks in English about a Spanish document (or the
reverse), the answer is rendered word by word with a small glossary of what short answers
are made of — units of time, money, measure and quantity, months, weekdays, number words
and a few joining words — and dates are reordered. Numbers, codes and names are kept
exactly as written. When any word of the span is not in the glossary, the span is given
as written: a wrong translation would be worse than the original words.
"""

from __future__ import annotations

import re

_ES_EN_PHRASES = {
    "días laborables": "working days", "día laborable": "working day", "días hábiles": "working days",
    "día hábil": "working day", "días naturales": "calendar days", "día natural": "calendar day",
    "a la semana": "a week", "por semana": "per week", "al día": "a day", "por día": "per day",
    "al mes": "a month", "por mes": "per month", "al año": "a year", "por año": "per year",
    "a la hora": "an hour", "por hora": "per hour", "por ciento": "percent", "como máximo": "at most",
    "como mínimo": "at least", "más de": "more than", "menos de": "less than", "millones de": "million",
    "millón de": "million", "mil millones de": "billion", "mil millones": "billion",
}
_ES_EN_WORDS = {
    "día": "day", "días": "days", "semana": "week", "semanas": "weeks", "mes": "month", "meses": "months",
    "año": "year", "años": "years", "hora": "hour", "horas": "hours", "minuto": "minute", "minutos": "minutes",
    "segundo": "second", "segundos": "seconds", "euro": "euro", "euros": "euros", "libra": "pound",
    "libras": "pounds", "dólar": "dollar", "dólares": "dollars", "céntimos": "cents", "millón": "million",
    "millones": "million", "mil": "thousand", "kilómetros": "kilometres", "kilómetro": "kilometre",
    "metros": "metres", "metro": "metre", "kilos": "kilos", "kilogramos": "kilograms", "toneladas": "tonnes",
    "litros": "litres", "grados": "degrees", "caracteres": "characters", "palets": "pallets", "palet": "pallet",
    "personas": "people", "empleados": "employees", "trabajadores": "workers", "veces": "times",
    "máximo": "maximum", "mínimo": "minimum", "aproximadamente": "approximately", "unos": "about",
    "unas": "about", "de": "of", "del": "of the", "y": "and", "o": "or", "a": "to", "entre": "between",
    "desde": "from", "hasta": "until", "en": "in", "el": "the", "la": "the", "los": "the", "las": "the",
    "sí": "yes", "no": "no", "diarios": "daily", "diaria": "daily", "mensuales": "monthly",
    "anuales": "yearly", "uno": "one", "una": "one", "dos": "two", "tres": "three", "cuatro": "four",
    "cinco": "five", "seis": "six", "siete": "seven", "ocho": "eight", "nueve": "nine", "diez": "ten",
    "once": "eleven", "doce": "twelve", "quince": "fifteen", "veinte": "twenty", "treinta": "thirty",
    "cien": "one hundred", "medio": "half", "media": "half",
}
_MONTHS = [
    ("enero", "January"), ("febrero", "February"), ("marzo", "March"), ("abril", "April"), ("mayo", "May"),
    ("junio", "June"), ("julio", "July"), ("agosto", "August"), ("septiembre", "September"),
    ("octubre", "October"), ("noviembre", "November"), ("diciembre", "December"),
]
_WEEKDAYS = [
    ("lunes", "Monday"), ("martes", "Tuesday"), ("miércoles", "Wednesday"), ("jueves", "Thursday"),
    ("viernes", "Friday"), ("sábado", "Saturday"), ("domingo", "Sunday"),
]
for _es, _en in (*_MONTHS, *_WEEKDAYS):
    _ES_EN_WORDS[_es] = _en

_EN_ES_PHRASES = {en: es for es, en in _ES_EN_PHRASES.items() if " " in en} | {
    "working days": "días laborables", "working day": "día laborable", "a week": "a la semana",
    "per week": "por semana", "a day": "al día", "per day": "por día", "a month": "al mes", "a year": "al año",
    "per cent": "por ciento", "at most": "como máximo", "at least": "como mínimo", "more than": "más de",
    "less than": "menos de",
}
_EN_ES_WORDS = {en.casefold(): es for es, en in _ES_EN_WORDS.items() if " " not in en} | {
    "days": "días", "day": "día", "weeks": "semanas", "months": "meses", "years": "años", "hours": "horas",
    "minutes": "minutos", "pounds": "libras", "dollars": "dólares", "euros": "euros", "million": "millones",
    "thousand": "mil", "percent": "por ciento", "kilometres": "kilómetros", "kilometers": "kilómetros",
    "metres": "metros", "meters": "metros", "miles": "millas", "of": "de", "and": "y", "or": "o",
    "to": "a", "between": "entre", "from": "desde", "until": "hasta", "in": "en", "the": "el",
    "yes": "sí", "no": "no", "daily": "diarios", "monthly": "mensuales", "yearly": "anuales", "about": "unos",
    "maximum": "máximo", "minimum": "mínimo", "pallets": "palets", "characters": "caracteres",
    "people": "personas", "employees": "empleados", "times": "veces", "one": "uno", "two": "dos",
    "three": "tres", "four": "cuatro", "five": "cinco", "ten": "diez", "twelve": "doce", "twenty": "veinte",
}
for _es, _en in (*_MONTHS, *_WEEKDAYS):
    _EN_ES_WORDS[_en.casefold()] = _es
_ARTICLES = frozenset({"el", "la", "los", "las", "the", "a", "an"})
# Abbreviations that read the same in both languages.
_SAME = frozenset({"mph", "km", "kg", "g", "m", "cm", "mm", "h", "min", "am", "pm", "gb", "mb", "kb", "ml", "l"})

_MONTH_ES = "|".join(es for es, _ in _MONTHS)
_MONTH_EN = "|".join(en for _, en in _MONTHS)
_DATE_ES = re.compile(rf"\b(\d{{1,2}}) de ({_MONTH_ES})(?: de (\d{{4}}))?\b", re.IGNORECASE)
_DATE_EN = re.compile(rf"\b({_MONTH_EN}) (\d{{1,2}})(?:st|nd|rd|th)?(?:, (\d{{4}}))?\b", re.IGNORECASE)
_TOKEN = re.compile(r"\d[\d.,:/]*\d|\d|[^\W\d_]+|[^\w\s]")


def render_answer(text: str, source: str | None, target: str) -> str:
    """`text` (in language `source`) for a reader of language `target`; unchanged when the
    languages agree, are unknown, or a word is outside the glossary."""
    if source is None or source == target or {source, target} != {"es", "en"}:
        return text
    if source == "es":
        dates, convert, phrases, words = _DATE_ES, _es_date_to_en, _ES_EN_PHRASES, _ES_EN_WORDS
    else:
        dates, convert, phrases, words = _DATE_EN, _en_date_to_es, _EN_ES_PHRASES, _EN_ES_WORDS
    out, position, changed = [], 0, False
    for match in [*dates.finditer(text), None]:
        end = match.start() if match else len(text)
        segment = text[position:end]
        if segment.strip():
            translated = _translate(segment, phrases, words, leading=not out, before_date=match is not None)
            if translated is None:
                return text
            changed |= translated != segment.strip()
            if translated:
                out.append(translated)
        if match:
            out.append(convert(match))
            changed = True
            position = match.end()
    return " ".join(out) if changed else text


def _es_date_to_en(match: re.Match) -> str:
    month = dict(_MONTHS)[match.group(2).casefold()]
    day = match.group(1)
    return f"{month} {day}, {match.group(3)}" if match.group(3) else f"{month} {day}"


def _en_date_to_es(match: re.Match) -> str:
    month = {en.casefold(): es for es, en in _MONTHS}[match.group(1).casefold()]
    day = match.group(2)
    return f"{day} de {month} de {match.group(3)}" if match.group(3) else f"{day} de {month}"


def _translate(text: str, phrases: dict[str, str], words: dict[str, str], leading: bool,
               before_date: bool) -> str | None:
    """The words of `text` from the glossary, or None when one is not in it; spacing as in
    the original. An article at the start of the answer or just before a date is dropped
    ("el 7 %" → "7 %")."""
    tokens = [(m.group(), m.start() > 0 and text[m.start() - 1].isspace()) for m in _TOKEN.finditer(text)]
    if leading:
        while len(tokens) > 1 and tokens[0][0].casefold() in _ARTICLES:
            tokens = tokens[1:]
    if before_date:
        while tokens and tokens[-1][0].casefold() in _ARTICLES:
            tokens = tokens[:-1]
    out: list[tuple[str, bool]] = []
    i = 0
    while i < len(tokens):
        for size in (3, 2):
            group = tokens[i : i + size]
            phrase = " ".join(t for t, _ in group).casefold()
            if len(group) == size and phrase in phrases:
                out.append((phrases[phrase], group[0][1]))
                i += size
                break
        else:
            token, spaced = tokens[i]
            key = token.casefold()
            if key in words:
                out.append((_case_like(token, words[key]), spaced))
            elif token[0].isdigit() or not token[0].isalpha() or key in _SAME or _is_name(token, i):
                out.append((token, spaced))
            else:
                return None
            i += 1
    return "".join((" " if spaced and n else "") + token for n, (token, spaced) in enumerate(out))


def _is_name(token: str, position: int) -> bool:
    """A capitalised word inside the span (a name, a place) or an acronym."""
    return (token.isupper() and len(token) > 1) or (token[0].isupper() and position > 0)


def _case_like(original: str, word: str) -> str:
    if original[0].isupper() and word[0].islower():
        return word[0].upper() + word[1:]
    return word
