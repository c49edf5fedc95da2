"""How well retrieved passages support a question, sentence by sentence.

Retrieval ranks passages; it does not say whether any of them answers the question. Here
every passage is split into sentences (table rows and list items count as sentences) and
each sentence is scored by the share of the question's content terms it contains,
weighted by how rare each term is among the retrieved sentences (a word that is in every
passage says little; a name, a code or a number that only one sentence has says a lot).
Terms are compared after the same analysis retrieval uses (accent folding, stopwords,
Spanish and English stems: `sentra_common.text`), so "vacaciones" meets "vacación".

- `support` of a passage: coverage of the question by the passage with its title and
  heading. Below `min_support`, nothing relevant was found and Sentra says so instead of
  answering.
- the extractive answer quotes the best supporting sentences with their citation numbers.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field

from sentra_common.sentences import quote, split_sentences, split_units
from sentra_common.stopwords import ENGLISH_STOPWORDS, SPANISH_STOPWORDS
from sentra_common.text import ENGLISH, content_tokens, detect_language, stems, tokenize

_SPANISH_LETTERS = re.compile("[ñáéíóúü]", re.IGNORECASE)
_MAIL_HEADER = re.compile(r"^(from|to|cc|subject|date|de|para|asunto|fecha):", re.I)
_SYMBOLS = {"€": "euros", "£": "pounds", "$": "dollars", "%": "percent"}
_SYMBOL = re.compile("[€£$%]")
_NUMBERISH = re.compile(r"\d|@")


@dataclass
class Passage:
    """A retrieved chunk, numbered for citation (1-based)."""

    number: int
    document_id: str
    chunk_id: str
    title: str
    text: str
    page: int = 0
    heading: str = ""
    score: float = 0.0
    department: str = ""
    sentences: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Evidence:
    passage: Passage
    sentence: str
    score: float
    # The sentence's stems.
    terms: frozenset[str]


def term_groups(text: str, *, query: bool) -> set[frozenset[str]]:
    """Content terms of a text, each as the set of its stems (one match is enough)."""
    return set(_ordered_terms(text, query=query))


def _ordered_terms(text: str, *, query: bool) -> list[frozenset[str]]:
    return [frozenset(stems(token)) for token in content_tokens(tokenize(_symbols(text)), query=query)]


def _symbols(text: str) -> str:
    return _SYMBOL.sub(lambda m: f" {_SYMBOLS[m.group()]} ", text)


def _stem_set(text: str) -> set[str]:
    found: set[str] = set()
    for group in term_groups(text, query=False):
        found |= group
    return found


def question_language(question: str) -> str:
    """"es" or "en". Questions are short, so when the stopword evidence is thin: Spanish
    punctuation or letters (¿ ¡ ñ, accents) say Spanish, then the larger count of either
    language's function words decides (Spanish on a tie: the corpus's main language)."""
    tokens = tokenize(question)
    language = detect_language(tokens)
    if language is not None:
        return language
    if question.lstrip().startswith(("¿", "¡")) or _SPANISH_LETTERS.search(question):
        return "es"
    english = sum(t in ENGLISH_STOPWORDS for t in tokens)
    spanish = sum(t in SPANISH_STOPWORDS for t in tokens)
    return ENGLISH if english > spanish else "es"


class SupportScorer:
    """Scores the sentences of retrieved passages against one question."""

    def __init__(self, question: str, passages: list[Passage]) -> None:
        self._question_text = question
        self.question_terms = list(term_groups(question, query=True))
        self.passages = passages
        self._local_headings: dict[tuple[int, int], str] = {}
        for passage in passages:
            units = split_units(passage.text)
            passage.sentences = [sentence for sentence, _ in units]
            for i, (_, heading) in enumerate(units):
                self._local_headings[(passage.number, i)] = heading
        # Each sentence is analysed once: its terms in order, and the union of their stems.
        self._sentence_terms = {
            (p.number, i): _ordered_terms(s, query=False) for p in passages for i, s in enumerate(p.sentences)
        }
        self._sentence_stems = {key: frozenset().union(*terms) for key, terms in self._sentence_terms.items()}
        self._passage_stems = {
            p.number: _stem_set(f"{p.title}\n{p.heading}\n{p.text}") for p in passages
        }
        total = max(1, len(self._sentence_stems))
        self.weights = []
        for group in self.question_terms:
            df = sum(1 for found in self._sentence_stems.values() if group & found)
            self.weights.append(math.log((total + 1) / (df + 0.5)) + 1.0)
        self._norm = sum(self.weights) or 1.0

    def coverage(self, found: set[str]) -> float:
        if not self.question_terms:
            return 0.0
        hit = sum(w for group, w in zip(self.question_terms, self.weights, strict=True) if group & found)
        return hit / self._norm

    def passage_support(self, passage: Passage) -> float:
        return self.coverage(self._passage_stems[passage.number])

    def best_support(self) -> float:
        return max((self.passage_support(p) for p in self.passages), default=0.0)

    def evidence(self) -> list[Evidence]:
        """Sentences ordered by how likely they hold the answer:

        - coverage of the question by the sentence alone and with its context (the
          passage's title and heading and the heading-like line above it: a table row
          rarely repeats what the table is about),
        - a bonus for question terms that appear side by side ("jefe de almacén"),
        - a bonus for a number, code or address the question does not contain (most
          questions about business documents ask for one),
        - less for a sentence that adds nothing to the question (a heading that repeats
          it) and for e-mail header lines.
        """
        scored = []
        question_numbers = set(re.findall(r"\w*\d\w*", " ".join(self._question_text.split())))
        for passage in self.passages:
            context = _stem_set(f"{passage.title}\n{passage.heading}")
            rank_prior = 0.02 * (len(self.passages) - passage.number)
            for index, sentence in enumerate(passage.sentences):
                terms = self._sentence_terms[(passage.number, index)]
                found = self._sentence_stems[(passage.number, index)]
                local = _stem_set(self._local_headings[(passage.number, index)])
                own = self.coverage(found)
                score = 0.5 * own + 0.5 * self.coverage(found | context | local) + rank_prior
                score += min(0.15, 0.05 * self._adjacent_pairs(terms))
                numbers = set(re.findall(r"\w*\d\w*", sentence)) - question_numbers
                if numbers or "@" in sentence:
                    score += 0.1
                novel = {t for t in terms if not any(t & q for q in self.question_terms)}
                if len(novel) < 2:
                    score *= 0.6
                if _MAIL_HEADER.match(sentence):
                    score *= 0.5
                scored.append(Evidence(passage, sentence, score, found))
        scored.sort(key=lambda e: e.score, reverse=True)
        return scored

    def _adjacent_pairs(self, sentence_terms: list[frozenset[str]]) -> int:
        """Pairs of question terms that follow each other in the sentence."""
        in_question = [next((i for i, q in enumerate(self.question_terms) if q & t), -1) for t in sentence_terms]
        return sum(1 for a, b in itertools.pairwise(in_question) if a >= 0 and b >= 0 and a != b)


def extractive_answer(scorer: SupportScorer, max_sentences: int = 2) -> tuple[str, list[Evidence]]:
    """The best supporting sentences, quoted with their citation numbers. A second sentence
    is added only when it is nearly as good as the first or covers question terms the
    first one lacks."""
    ranked = scorer.evidence()
    if not ranked:
        return "", []
    chosen = [ranked[0]]
    first_terms = ranked[0].terms
    for candidate in ranked[1:]:
        if len(chosen) >= max_sentences:
            break
        if candidate.sentence == chosen[0].sentence:
            continue
        adds = scorer.coverage(first_terms | candidate.terms) - scorer.coverage(first_terms)
        if candidate.score >= 0.85 * ranked[0].score or adds >= 0.25:
            chosen.append(candidate)
    parts = [f"{quote(e.sentence)} [{e.passage.number}]" for e in chosen]
    return " ".join(parts), chosen


def best_sentence_for(text: str, passage: Passage) -> str:
    """The sentence of `passage` that shares most terms with `text` (a generated answer):
    the span a citation quotes."""
    wanted = _stem_set(text)
    sentences = passage.sentences or split_sentences(passage.text)
    if not sentences:
        return ""
    best = max(sentences, key=lambda s: len(_stem_set(s) & wanted))
    return quote(best)


NOT_FOUND = {
    "es": "Los documentos a los que tienes acceso no contienen esa información.",
    ENGLISH: "The documents you have access to do not contain that information.",
}


def not_found_message(question: str) -> str:
    return NOT_FOUND.get(question_language(question), NOT_FOUND["es"])
