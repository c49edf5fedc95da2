"""Lexical analysis of Spanish and English text, shared by retrieval (BM25 vectors) and
inference (how well a passage supports a question): accent folding, tokenisation,
language detection from stopwords, stopword removal and Snowball stems of both
languages. The rules and the measurements behind them are described in
`sentra_retrieval.domain.lexical`.
"""

from __future__ import annotations

import re
import threading
import unicodedata

import Stemmer

from sentra_common.stopwords import (
    ALL_STOPWORDS,
    ENGLISH_ONLY,
    ENGLISH_STOPWORDS,
    SPANISH_ONLY,
    SPANISH_STOPWORDS,
)

SPANISH = "es"
ENGLISH = "en"
_STEMMER_NAMES = {SPANISH: "spanish", ENGLISH: "english"}
_STOPWORDS = {SPANISH: SPANISH_STOPWORDS, ENGLISH: ENGLISH_STOPWORDS, None: ALL_STOPWORDS}

_SHARED_STOPWORDS = SPANISH_STOPWORDS & ENGLISH_STOPWORDS

_MIN_EVIDENCE = 3
_DOMINANCE = 0.75
_MAX_TOKEN_LEN = 40
_STEM_CACHE_SIZE = 100_000
_COMBINING = re.compile("[\u0300-\u036f]")
_WORD_RUN = re.compile(r"[^\W_]+(?:[-./_][^\W_]+)*")
_PART = re.compile(r"[^\W_]+")
_HAS_DIGIT = re.compile(r"\d")

_local = threading.local()


def normalize(text: str) -> str:
    """NFKD, drop combining marks (accents), casefold."""
    return _COMBINING.sub("", unicodedata.normalize("NFKD", text)).casefold()


def tokenize(text: str) -> list[str]:
    """Normalised tokens of ``text`` (see the module docstring for the rules)."""
    tokens: list[str] = []
    for match in _WORD_RUN.finditer(normalize(text)):
        run = match.group()
        parts = _PART.findall(run) if len(run) > 1 and not run.isalnum() else [run]
        for part in parts:
            if (len(part) > 1 or part.isdigit()) and len(part) <= _MAX_TOKEN_LEN:
                tokens.append(part)
        if len(parts) > 1 and _HAS_DIGIT.search(run):
            joined = "".join(parts)
            if len(joined) <= _MAX_TOKEN_LEN:
                tokens.append(joined)
    return tokens


def detect_language(tokens: list[str]) -> str | None:
    """Return "es", "en", or None when the stopword evidence is too thin or mixed."""
    spanish = english = 0
    for token in tokens:
        if token in SPANISH_ONLY:
            spanish += 1
        elif token in ENGLISH_ONLY:
            english += 1
    total = spanish + english
    if total < _MIN_EVIDENCE:
        return None
    if spanish >= _DOMINANCE * total:
        return SPANISH
    if english >= _DOMINANCE * total:
        return ENGLISH
    return None


def _stemmer(language: str) -> Stemmer.Stemmer:
    # PyStemmer objects must not be used by two threads at once: one per thread.
    stemmers = getattr(_local, "stemmers", None)
    if stemmers is None:
        stemmers = _local.stemmers = {}
    stemmer = stemmers.get(language)
    if stemmer is None:
        stemmer = stemmers[language] = Stemmer.Stemmer(_STEMMER_NAMES[language], 0)
    return stemmer


def stems(token: str) -> tuple[str, ...]:
    """The distinct Spanish and English stems of a token (cached per thread)."""
    cache = getattr(_local, "stems", None)
    if cache is None:
        cache = _local.stems = {}
    stems = cache.get(token)
    if stems is None:
        if _HAS_DIGIT.search(token):
            stems = (token,)
        else:
            spanish = _stemmer(SPANISH).stemWord(token)
            english = _stemmer(ENGLISH).stemWord(token)
            stems = (spanish,) if spanish == english else (spanish, english)
        if len(cache) >= _STEM_CACHE_SIZE:
            cache.clear()
        cache[token] = stems
    return stems


def content_tokens(tokens: list[str], *, query: bool) -> list[str]:
    """Tokens minus the stopwords of the detected language (both when unsure)."""
    language = detect_language(tokens)
    content = [t for t in tokens if t not in _STOPWORDS[language]]
    if not content and query and language is None:
        # "sea", "son", "once": a stopword in one language only may be the whole question.
        content = [t for t in tokens if t not in _SHARED_STOPWORDS]
    return content
