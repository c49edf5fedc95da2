"""From a department's chunks to dataset items: answers picked (`answers.py`), questions
written by the question generator (`qg.py`), kept only when they pass the filters, PII
masked, and every document put in one split.

A chunk in a language the generator does not write (`Writer.languages`; the CPU generator
is trained on SQuAD-es, so Spanish only) is not asked about: a Spanish question about an
English paragraph trains nothing useful. Its answer candidates are counted as dropped
``language``. A chunk whose language is not detected (a table, a list of names) is asked.

The generator is given the answer and its window of the chunk (`qg.window`: the answer's
sentence with a neighbour each side, at most 420 characters), the passage shape it was
trained on; given the whole chunk it asked about the wrong sentence more often (on the
example corpus 59 % of questions supported with the whole chunk, 71 % with the window, on
the same 80 answers).

The filters, in order (each drop is counted by reason):
- ``empty``: the generator wrote nothing usable (no question mark, under 3 words);
- ``leaks_answer``: the question holds its own answer;
- ``generic``: the question could be asked of any document ("what is this document about")
  or shares no content word with its chunk beyond the answer;
- ``unsupported``: the reader (the MiniLM reader the answers use, `sentra_common.reader`)
  reading the question against the chunk does not rank the answer's sentence among its two
  best (`SUPPORT_TOP`), or scores it below its answerability threshold; the item's score is
  the reader's probability for that sentence;
- ``duplicate``: a near-duplicate of a question kept before (`NearDuplicates`): the same
  question after normalisation, most of its words shared, most of its characters in the same
  order (one slot apart: "¿Dónde está la zona de Barcelona?" / "…de Valencia?"), or a cosine
  similarity of at least `near_duplicate` (the reader's bi-encoder);
- ``pii_answer``: masking left nothing of the answer (it was a phone number, an e-mail…).

PII is masked in the question, the answer and the stored context, before anything is
stored (`pii.py`).
"""

from __future__ import annotations

import math
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Protocol

from sentra_common.text import detect_language, normalize, tokenize

from sentra_training.datasets.answers import candidates
from sentra_training.datasets.qg import Request, window

SPLITS = ("train", "validation", "test")
_GENERIC = re.compile(
    r"\b(?:de qu[ée] (?:trata|habla|va)|(?:este|el|ese) (?:documento|texto|art[íi]culo|p[áa]rrafo|pasaje)|"
    r"what is (?:this|the) (?:document|text|article|passage)|(?:this|the) (?:document|text|passage) about|"
    r"seg[úu]n el (?:texto|documento|pasaje))\b",
    re.IGNORECASE,
)
# The answer's sentence must be among the reader's 2 best. Fitted on SQuAD-es (the reader's
# calibration split, XQuAD removed; 150 questions): with the people's own questions the
# reader supports 78 % at top 1 and 85 % at top 2 (above its threshold either way), and a
# question of another paragraph 1.3 % either way — top 2 keeps more good items, no more bad.
SUPPORT_TOP = 2
# Two questions sharing this share of their words are the same question (one word apart).
NEAR_DUPLICATE_WORDS = 0.8
# Two questions whose letters match in order this much (difflib's ratio over the words) ask
# the same thing of another slot: "¿Cuántos días se puede solicitar permiso?" / "¿Cuántas
# semanas…?" (0.89). A template question repeated with each row of a table teaches the model
# the template, not the table. Set with the dataset benchmark's definition of a near-duplicate.
NEAR_DUPLICATE_CHARACTERS = 0.85
_MASK_TOKEN = re.compile(r"<[A-Z_]+(?:_[0-9a-f]{8})?>")


@dataclass(frozen=True)
class SourceChunk:
    chunk_id: str
    document_id: str
    document_version: int
    title: str
    text: str
    chunk_index: int = 0


@dataclass(frozen=True)
class GeneratedItem:
    chunk: SourceChunk
    question: str
    answer: str
    context: str
    language: str
    context_language: str
    score: float
    pii: dict[str, int]


@dataclass
class Generation:
    items: list[GeneratedItem] = field(default_factory=list)
    dropped: Counter = field(default_factory=Counter)
    pii_found: Counter = field(default_factory=Counter)
    timings: dict[str, float] = field(default_factory=dict)
    candidates: int = 0


class Writer(Protocol):
    """The question generator (`qg.QuestionGenerator`, or the prompted one on vLLM).

    `languages`: the languages it writes questions in (`sentra_common.text` codes), or None
    for any; a writer without the attribute writes any."""

    generator_id: str

    def generate(self, requests: Sequence[Request]) -> list[str]: ...


class Masker(Protocol):
    """`pii.PiiMasker`."""

    def mask(self, text: str, language: str = "es"): ...


def language_of(text: str) -> str:
    return detect_language(tokenize(text)) or ""


def assign_splits(document_ids: Sequence[str], seed: int) -> dict[str, str]:
    """Each document in one split, 80/10/10 by document, drawn from `seed`: with 10
    documents, 8/1/1; with fewer than 3, all train (too few to hold any out)."""
    order = sorted(set(document_ids))
    random.Random(seed).shuffle(order)
    n = len(order)
    held = 0 if n < 3 else max(1, round(n * 0.1))
    test, validation = order[:held], order[held : 2 * held]
    out = dict.fromkeys(order, "train")
    out.update(dict.fromkeys(test, "test"))
    out.update(dict.fromkeys(validation, "validation"))
    return out


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


class NearDuplicates:
    """The questions kept so far, and whether a new one repeats one of them (see the module
    docstring). Each check is linear in the questions kept; the character test runs difflib's
    cheap upper bounds first, so a dataset of thousands of items stays fast."""

    def __init__(self, cosine: float) -> None:
        self.cosine = cosine
        self._texts: set[str] = set()
        self._words: list[frozenset[str]] = []
        self._letters: list[str] = []
        self._vectors: list = []

    @staticmethod
    def _letters_of(question: str) -> str:
        return " ".join(re.findall(r"\w+", question.casefold()))

    def seen(self, question: str, vector) -> bool:
        if normalize(question) in self._texts:
            return True
        words = frozenset(tokenize(question))
        if any(_jaccard(words, w) >= NEAR_DUPLICATE_WORDS for w in self._words):
            return True
        letters = self._letters_of(question)
        matcher = SequenceMatcher(None, autojunk=False)
        matcher.set_seq2(letters)
        for other in self._letters:
            matcher.set_seq1(other)
            if (matcher.real_quick_ratio() >= NEAR_DUPLICATE_CHARACTERS
                    and matcher.quick_ratio() >= NEAR_DUPLICATE_CHARACTERS
                    and matcher.ratio() >= NEAR_DUPLICATE_CHARACTERS):
                return True
        return any(float(vector @ v) >= self.cosine for v in self._vectors)

    def add(self, question: str, vector) -> None:
        self._texts.add(normalize(question))
        self._words.append(frozenset(tokenize(question)))
        self._letters.append(self._letters_of(question))
        self._vectors.append(vector)


def _sigmoid(value: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, value))))


class Pipeline:
    def __init__(self, writer: Writer, reader, *, near_duplicate: float = 0.92, batch_size: int = 16) -> None:
        self.writer = writer
        self.reader = reader
        self.near_duplicate = near_duplicate
        self.batch_size = batch_size

    def support(self, question: str, context: str, answer_start: int) -> tuple[bool, float]:
        """(the reader ranks the answer's sentence among its SUPPORT_TOP best and above its
        threshold, the reader's probability for that sentence)."""
        found = sorted(self.reader.candidates(question, [context]), key=lambda c: c.score, reverse=True)
        rank = next((i for i, c in enumerate(found) if c.sentence_start <= answer_start < c.sentence_end), None)
        if rank is None:
            return False, 0.0
        score = found[rank].score
        supported = rank < SUPPORT_TOP and score >= self.reader.threshold
        return supported, round(_sigmoid(score - self.reader.threshold), 4)

    def run(self, chunks: Sequence[SourceChunk], *, masker: Masker, questions_per_chunk: int = 2,
            max_items: int = 0, progress: Callable[[int, int], None] | None = None) -> Generation:
        out = Generation()
        clock: Counter = Counter()
        kept = NearDuplicates(self.near_duplicate)
        contexts: dict[str, tuple] = {}
        done = 0
        pending: list[tuple[SourceChunk, object]] = []
        languages = getattr(self.writer, "languages", None)

        def flush() -> None:
            started = time.perf_counter()
            # the passage as the generator was trained on it: the answer's sentence with a
            # neighbour each side (`qg.window`), never the whole chunk
            questions = self.writer.generate([Request(window(c.text, a.start, a.end), a.text) for c, a in pending])
            clock["generate"] += time.perf_counter() - started
            for (chunk, answer), question in zip(pending, questions, strict=True):
                if max_items and len(out.items) >= max_items:
                    break
                started = time.perf_counter()
                reason, score = self._check(question, answer, chunk)
                clock["filter"] += time.perf_counter() - started
                if reason is None:
                    started = time.perf_counter()
                    vector = self.reader.bi.embed([question])[0]
                    if kept.seen(question, vector):
                        reason = "duplicate"
                    clock["deduplicate"] += time.perf_counter() - started
                if reason is None:
                    started = time.perf_counter()
                    item = self._masked(chunk, question, answer.text, score, masker, contexts)
                    clock["pii"] += time.perf_counter() - started
                    if item is None:
                        reason = "pii_answer"
                if reason is not None:
                    out.dropped[reason] += 1
                    continue
                kept.add(question, vector)
                out.items.append(item)
                out.pii_found.update(item.pii)
            pending.clear()

        for chunk in chunks:
            if max_items and len(out.items) >= max_items:
                break
            started = time.perf_counter()
            found = candidates(chunk.text, questions_per_chunk)
            clock["answers"] += time.perf_counter() - started
            out.candidates += len(found)
            if languages is not None and found and language_of(chunk.text) not in (*languages, ""):
                out.dropped["language"] += len(found)
            else:
                pending.extend((chunk, answer) for answer in found)
            if len(pending) >= self.batch_size:
                flush()
            done += 1
            if progress is not None:
                progress(done, len(chunks))
        if pending:
            flush()
        if progress is not None:
            progress(len(chunks), len(chunks))
        out.timings = {k: round(v, 3) for k, v in clock.items()}
        return out

    def _check(self, question: str, answer, chunk: SourceChunk) -> tuple[str | None, float]:
        words = tokenize(question)
        if len(words) < 3 or "?" not in question:
            return "empty", 0.0
        if normalize(answer.text) and normalize(answer.text) in normalize(question):
            return "leaks_answer", 0.0
        answer_words = set(tokenize(answer.text))
        context_words = set(tokenize(chunk.text)) - answer_words
        content = {w for w in words if len(w) > 3} - answer_words
        if _GENERIC.search(question) or not content & context_words:
            return "generic", 0.0
        supported, score = self.support(question, chunk.text, answer.start)
        return (None if supported else "unsupported"), score

    @staticmethod
    def _masked(chunk: SourceChunk, question: str, answer: str, score: float, masker: Masker,
                contexts: dict) -> GeneratedItem | None:
        if chunk.chunk_id not in contexts:  # the chunk's text, masked and its language told once per run
            context_language = language_of(chunk.text)
            contexts[chunk.chunk_id] = (masker.mask(chunk.text, context_language or "es"), context_language)
        context, context_language = contexts[chunk.chunk_id]
        pii: Counter = Counter(context.counts())
        texts = []
        for text in (question, answer):
            masked = masker.mask(text, context_language or "es")
            pii.update(masked.counts())
            texts.append(masked.text)
        question, answer = texts
        if not _MASK_TOKEN.sub("", answer).strip(" ,.;:"):
            return None
        # a short question rarely has enough stopwords to tell: then it is taken to be in its chunk's
        return GeneratedItem(chunk, question, answer, context.text, language_of(question) or context_language,
                             context_language, score, dict(pii))
