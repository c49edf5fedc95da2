"""Is the extracted text worth indexing? Obvious garbage is refused with a reason.

Three signs, each judged only on enough text to be sure (short texts always pass):
- binary noise decoded as text: many replacement or control characters, many symbols,
  or most letters outside ASCII (bytes read in a single-byte code page);
- one token repeated: a single token makes up most of the text;
- no words of a known language: hardly any token is a Spanish or English stopword, the
  text is not a table of numbers (numeric tables are content), and hardly any token looks
  like a word, or the letters are not those of a language (random letters have about 23 %
  vowels, Spanish and English text 38-48 %).

The checks look at the whole document, not chunk by chunk: a real document with one
odd table passes. Thresholds are constants here, chosen on the example corpus and the
hostile samples of the tests; every document of the example corpus passes.
"""

from __future__ import annotations

import re
from collections import Counter

from sentra_common.stopwords import ALL_STOPWORDS
from sentra_common.text import tokenize

MIN_TOKENS_TO_JUDGE = 200
MAX_UNREADABLE_SHARE = 0.05
MAX_SYMBOL_SHARE = 0.3
# Spanish text has 3-5 % accented letters; bytes decoded in a single-byte code page, most.
MAX_NON_ASCII_LETTERS = 0.5
MAX_ONE_TOKEN_SHARE = 0.5
MIN_WORDLIKE_SHARE = 0.15
NUMERIC_TABLE_SHARE = 0.4
MIN_VOWEL_SHARE = 0.3
MIN_STOPWORD_SHARE = 0.02

_PUNCTUATION = set(".,;:!?¿¡'\"()-/%€$@#&*+=[]{}<>_|\\·–—“”‘’«»…")
_UNREADABLE = re.compile(r"[\ufffd\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# A word: letters only, 2-24 long, with a vowel, without four consonants in a row.
_VOWEL = re.compile(r"[aeiouy]")
_VOWELS = re.compile(r"[aeiou]")
_CONSONANT_RUN = re.compile(r"[bcdfghjklmnpqrstvwxz]{4,}")


def _wordlike(token: str) -> bool:
    return (token.isalpha() and 2 <= len(token) <= 24 and bool(_VOWEL.search(token))
            and not _CONSONANT_RUN.search(token))


def _numeric(token: str) -> bool:
    return token.replace(".", "").replace(",", "").isdigit()


def garbage_reason(text: str) -> str | None:
    """Why `text` is not worth indexing, or None when it is."""
    if not text:
        return None
    if len(text) >= 1000:
        unreadable = len(_UNREADABLE.findall(text)) / len(text)
        symbols = sum(not (ch.isalnum() or ch.isspace() or ch in _PUNCTUATION) for ch in text) / len(text)
        letters = [ch for ch in text if ch.isalpha()]
        foreign = sum(not ch.isascii() for ch in letters) / len(letters) if letters else 0.0
        if unreadable > MAX_UNREADABLE_SHARE or symbols > MAX_SYMBOL_SHARE or foreign > MAX_NON_ASCII_LETTERS:
            return (f"the text looks like binary data read as text ({unreadable:.0%} unreadable characters, "
                    f"{symbols:.0%} symbols, {foreign:.0%} of the letters outside ASCII); upload the original "
                    "file in a supported format")
    tokens = tokenize(text)
    if len(tokens) < MIN_TOKENS_TO_JUDGE:
        return None
    token, count = Counter(tokens).most_common(1)[0]
    if count / len(tokens) > MAX_ONE_TOKEN_SHARE:
        return (f"one token ({token[:24]!r}) makes up {count / len(tokens):.0%} of the text; "
                "there is nothing else to search in it")
    if sum(t in ALL_STOPWORDS for t in tokens) / len(tokens) >= MIN_STOPWORD_SHARE:
        return None  # sentences of a known language (random letters hit a stopword now and then)
    numeric = sum(_numeric(t) for t in tokens)
    if numeric / len(tokens) >= NUMERIC_TABLE_SHARE:
        return None  # a table of figures: content, even without sentences
    wordlike = sum(_wordlike(t) for t in tokens)
    letters = "".join(t for t in tokens if t.isalpha())
    vowels = len(_VOWELS.findall(letters)) / len(letters) if letters else 0.0
    if wordlike / len(tokens) < MIN_WORDLIKE_SHARE or vowels < MIN_VOWEL_SHARE:
        return (f"no words of a known language in {len(tokens)} tokens (Spanish or English; "
                f"{wordlike / len(tokens):.0%} look like words, {vowels:.0%} of the letters are vowels); "
                "the file holds no readable text")
    return None
