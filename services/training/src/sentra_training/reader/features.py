"""Training examples for the reader: (question, sentence) pairs with a relevance label and,
for the sentence that answers, the answer span.

For each question:
- answerable: the sentence holding the gold answer is a positive (with the span); the
  sentences of the same paragraph that share most words with the question are negatives
  (the near misses the reader must learn to tell apart), and so is the best-matching
  sentence of another paragraph of the same article that does not contain the answer (what
  retrieval returns next to the right passage);
- unanswerable (SQuAD 2.0): its paragraph's sentences that share most words with the
  question are negatives — one of them holds the plausible but wrong answer.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sentra_common.reader.model import Item, ReaderConfig, encode_items
from sentra_common.sentences import sentence_spans

from sentra_training.lexical import BM25, terms
from sentra_training.squad import Paragraph


@dataclass(frozen=True)
class Example:
    question: str
    sentence: str
    # 1: the sentence answers the question.
    label: int
    # Character span of the answer in the sentence (positives only).
    answer: tuple[int, int] | None = None


@dataclass
class LabelledItem(Item):
    label: int = 0
    start_position: int = 0
    end_position: int = 0


def _answer_sentence(spans: list[tuple[int, int]], start: int, end: int) -> tuple[int, int] | None:
    """The sentence (or run of sentences) that holds [start, end)."""
    covering = [(a, b) for a, b in spans if a < end and b > start]
    if not covering or covering[0][0] > start or covering[-1][1] < end:
        return None
    return covering[0][0], covering[-1][1]


def _hardest(question_terms: set[str], sentences: list[tuple[str, set[str]]], k: int) -> list[str]:
    ranked = sorted(sentences, key=lambda s: len(question_terms & s[1]), reverse=True)
    return [text for text, _ in ranked[:k]]


def training_examples(
    paragraphs: Sequence[Paragraph], *, negatives: int = 3, other_paragraph: float = 1.0, seed: int = 13,
) -> list[Example]:
    """`negatives`: same-paragraph negatives per question; `other_paragraph`: share of
    answerable questions that also get a negative from another paragraph."""
    rng = random.Random(seed)
    by_article: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(paragraphs):
        by_article[p.article].append(i)
    index = BM25([p.context for p in paragraphs]) if other_paragraph > 0 else None
    split = [[(p.context[a:b], set(terms(p.context[a:b]))) for a, b in sentence_spans(p.context)] for p in paragraphs]
    examples: list[Example] = []
    for i, p in enumerate(paragraphs):
        spans = sentence_spans(p.context)
        for q in p.questions:
            wanted = set(terms(q.question, query=True))
            if q.impossible or not q.answers:
                examples.extend(Example(q.question, s, 0) for s in _hardest(wanted, split[i], negatives))
                continue
            gold = q.answers[0]
            bounds = _answer_sentence(spans, gold.start, gold.start + len(gold.text))
            if bounds is None:
                continue
            a, b = bounds
            examples.append(Example(q.question, p.context[a:b], 1, (gold.start - a, gold.start + len(gold.text) - a)))
            golds = [g.text.casefold() for g in q.answers]
            others = [s for s in split[i] if not any(g in s[0].casefold() for g in golds)]
            examples.extend(Example(q.question, s, 0) for s in _hardest(wanted, others, negatives))
            if index is None or rng.random() >= other_paragraph:
                continue
            for other in index.top(q.question, 4, by_article[p.article]):
                if other == i:
                    continue
                candidates = [s for s in split[other] if not any(g in s[0].casefold() for g in golds)]
                examples.extend(Example(q.question, s, 0) for s in _hardest(wanted, candidates, 1))
                break
    return examples


def label_items(tokenizer, config: ReaderConfig, examples: Sequence[Example]) -> list[LabelledItem]:
    """Model inputs with labels; a positive whose answer was cut off the window is dropped."""
    items = encode_items(tokenizer, config, [e.question for e in examples], [e.sentence for e in examples])
    labelled = []
    for example, item in zip(examples, items, strict=True):
        start_token = end_token = 0
        if example.label:
            assert example.answer is not None
            start, end = example.answer
            inside = [j for j, o in enumerate(item.offsets) if o is not None]
            if not inside or item.offsets[inside[-1]][1] < end:
                continue
            start_token = next(j for j in inside if item.offsets[j][1] > start)
            end_token = max(j for j in inside if item.offsets[j][0] < end)
            if end_token < start_token:
                continue
        labelled.append(LabelledItem(item.input_ids, item.token_type_ids, item.offsets, example.label,
                                     start_token, end_token))
    return labelled


def length_grouped_batches(
    items: Sequence[LabelledItem], batch_size: int, rng: random.Random, group: int = 50,
) -> list[list[LabelledItem]]:
    """Batches of items of similar length (less padding), in random order."""
    order = list(items)
    rng.shuffle(order)
    batches = []
    span = batch_size * group
    for i in range(0, len(order), span):
        block = sorted(order[i : i + span], key=lambda item: len(item.input_ids))
        batches.extend(block[j : j + batch_size] for j in range(0, len(block), batch_size))
    rng.shuffle(batches)
    return batches
