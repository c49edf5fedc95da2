"""Answers with citations: search as the caller → decide whether anything relevant was
found → answer → structured citations.

Three strategies, selectable per request (`AnswerStrategy`), the default a setting:

- reader (default): the learned reader (`domain.reading`) decides whether the passages
  answer the question, gives the shortest answer and quotes the sentence that supports it.
- extractive: quote the sentences that share most terms with the question, with their
  numbers (no model; the baseline of bench/answers_heldout.py).
- generative: grounded few-shot prompt with numbered passages (`domain.prompts`),
  generated with the department's active adapter and streamed.

When nothing answers the question, the answer says the documents don't contain it, in the
question's language, and nothing is generated. With a reader, its calibrated threshold
decides that for the reader and generative strategies; without one (and always for
extractive) the lexical support of `domain.evidence` does. The passages are searched as
the caller, so the decision only ever sees documents the caller may read.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field
from sentra_common.access import require_department_member, validate_department
from sentra_common.errors import InvalidArgument
from sentra_common.principal import Principal

from sentra_inference.domain.evidence import (
    Passage,
    SupportScorer,
    best_sentence_for,
    extractive_answer,
    not_found_message,
    question_language,
)
from sentra_inference.domain.ports import GenerationBackend, GenerationRequest
from sentra_inference.domain.prompts import generative_request
from sentra_inference.domain.reading import Reader, Reading, compose, read_question
from sentra_inference.domain.registry import AdapterRegistry

EXTRACTIVE = "extractive"
GENERATIVE = "generative"
READER = "reader"
STRATEGIES = (READER, EXTRACTIVE, GENERATIVE)
_CITATION = re.compile(r"\[(\d{1,2})\]")


class Retriever(Protocol):
    async def search(self, question: str, top_k: int, departments: list[str]) -> list[Passage]: ...


class AnswerPolicy(BaseModel):
    """How answers are made; validated once, from `SENTRA_INFERENCE_ANSWER__*` (the service's
    settings hold this model, so there is one source for each value)."""

    model_config = ConfigDict(frozen=True)

    # reader: the learned reader's short answer and supporting quote (measured best on
    # held-out data, see bench/README.md); extractive: quote the sentences that share most
    # terms with the question (no model); generative: grounded few-shot generation.
    default_strategy: Literal["reader", "extractive", "generative"] = READER
    top_k: int = Field(default=6, ge=1)
    max_top_k: int = Field(default=20, ge=1)
    max_question_chars: int = Field(default=2000, ge=1)
    # Without the reader (extractive, or generative with the reader disabled): share of the
    # question's rarity-weighted terms the best passage must contain; below it the answer
    # is "not in the documents". With the reader, its calibrated threshold decides.
    min_support: float = Field(default=0.5, ge=0, le=1)
    # Passages given to the generative prompt, and characters of each.
    generative_passages: int = Field(default=3, ge=1, le=20)
    passage_chars: int = Field(default=700, ge=50)
    max_tokens: int = Field(default=96, ge=1)
    max_tokens_limit: int = Field(default=512, ge=1)
    # completion: few-shot text for a base model; chat: messages for an instruction-tuned one.
    prompt_format: Literal["completion", "chat"] = "completion"


@dataclass(frozen=True)
class Question:
    text: str
    top_k: int = 0
    departments: Sequence[str] = ()
    adapter: str = ""
    strategy: str = ""
    max_tokens: int = 0


@dataclass
class Citation:
    number: int
    passage: Passage
    quote: str


@dataclass(frozen=True)
class AnswerPart:
    question: str
    answer: str
    citation: int


@dataclass
class Answer:
    text: str
    citations: list[Citation] = field(default_factory=list)
    not_found: bool = False
    adapter: str = ""
    strategy: str = EXTRACTIVE
    prompt_tokens: int = 0
    completion_tokens: int = 0
    direct_answer: str = ""
    parts: list[AnswerPart] = field(default_factory=list)


class AnswerService:
    def __init__(
        self, retriever: Retriever, registry: AdapterRegistry, backend: GenerationBackend, policy: AnswerPolicy,
        reader: Reader | None = None,
    ) -> None:
        self.retriever = retriever
        self.registry = registry
        self.backend = backend
        self.policy = policy
        self.reader = reader

    async def answer(self, principal: Principal, question: Question) -> Answer:
        final = None
        async for event in self.stream(principal, question):
            if isinstance(event, Answer):
                final = event
        assert final is not None
        return final

    async def stream(self, principal: Principal, question: Question) -> AsyncIterator[str | Answer]:
        """Text pieces as they are produced, then the complete `Answer`."""
        text, strategy, top_k, max_tokens = self._validate(question)
        departments = [validate_department(d) for d in question.departments]
        for department in departments:
            require_department_member(principal, department)
        adapter = self.registry.resolve(principal, question.adapter, departments)
        passages = await self.retriever.search(text, top_k, departments)
        scorer = None if strategy == READER else SupportScorer(text, passages)
        reading = None
        if strategy == READER or (strategy == GENERATIVE and self.reader is not None):
            reading = await read_question(self.reader, text, passages)
            answered = reading.found
        else:
            answered = bool(passages) and scorer.best_support() >= self.policy.min_support
        if not answered:
            message = not_found_message(text)
            yield message
            yield Answer(message, not_found=True, adapter=adapter, strategy=strategy)
            return
        if strategy == READER:
            answer = self._read_answer(text, reading, adapter)
            yield answer.text
            yield answer
            return
        if strategy == EXTRACTIVE:
            answer, chosen = extractive_answer(scorer)
            yield answer
            yield Answer(
                answer, [Citation(e.passage.number, e.passage, e.sentence) for e in chosen],
                adapter=adapter, strategy=strategy,
            )
            return
        async for event in self._generate(text, scorer, adapter, max_tokens):
            yield event

    @staticmethod
    def _read_answer(question: str, reading: Reading, adapter: str) -> Answer:
        text, direct = compose(question, reading)
        citations: list[Citation] = []
        parts = []
        for part, finding in reading.parts:
            if finding is None:
                continue
            parts.append(AnswerPart(part, finding.rendered, finding.passage.number))
            if not any(c.number == finding.passage.number and c.quote == finding.quote for c in citations):
                citations.append(Citation(finding.passage.number, finding.passage, finding.quote))
        if reading.also is not None:
            citations.append(Citation(reading.also[0].number, reading.also[0], reading.also[1]))
        return Answer(text, citations[:2], adapter=adapter, strategy=READER, direct_answer=direct, parts=parts)

    def _validate(self, question: Question) -> tuple[str, str, int, int]:
        text = question.text.strip()
        if not text:
            raise InvalidArgument("the question is empty; ask something about your documents")
        if len(text) > self.policy.max_question_chars:
            raise InvalidArgument(
                f"the question has {len(text)} characters, more than the limit of "
                f"{self.policy.max_question_chars}; shorten it"
            )
        strategy = question.strategy or self.policy.default_strategy
        if strategy not in STRATEGIES:
            raise InvalidArgument(f"unknown answer strategy {strategy!r}: use reader, extractive or generative")
        if strategy == READER and self.reader is None:
            raise InvalidArgument("this service runs without the reader: use the extractive or generative strategy")
        top_k = question.top_k or self.policy.top_k
        if not 1 <= top_k <= self.policy.max_top_k:
            raise InvalidArgument(f"top_k must be between 1 and {self.policy.max_top_k}")
        max_tokens = question.max_tokens or self.policy.max_tokens
        if not 1 <= max_tokens <= self.policy.max_tokens_limit:
            raise InvalidArgument(f"max_tokens must be between 1 and {self.policy.max_tokens_limit}")
        return text, strategy, top_k, max_tokens

    def generation_request(
        self, question: str, scorer: SupportScorer, adapter: str, max_tokens: int,
    ) -> tuple[list[Passage], GenerationRequest]:
        """The best-supported passages (renumbered 1..n in the prompt and the citations) and
        the generation request built from them."""
        ranked = sorted(scorer.passages, key=scorer.passage_support, reverse=True)
        shown = ranked[: self.policy.generative_passages]
        return shown, generative_request(
            question, shown, language=question_language(question), adapter=adapter, max_tokens=max_tokens,
            passage_chars=self.policy.passage_chars, prompt_format=self.policy.prompt_format,
        )

    async def _generate(
        self, question: str, scorer: SupportScorer, adapter: str, max_tokens: int,
    ) -> AsyncIterator[str | Answer]:
        shown, request = self.generation_request(question, scorer, adapter, max_tokens)
        pieces: list[str] = []
        prompt_tokens = completion_tokens = 0
        async for chunk in self.backend.generate(request):
            if chunk.text:
                pieces.append(chunk.text)
                yield chunk.text
            if chunk.finish_reason:
                prompt_tokens, completion_tokens = chunk.prompt_tokens, chunk.completion_tokens
        text = "".join(pieces).strip()
        cited = [int(n) for n in _CITATION.findall(text) if 1 <= int(n) <= len(shown)]
        if not cited:
            # No marker: cite the passage the answer draws most from.
            cited = [max(range(1, len(shown) + 1), key=lambda n: _overlap(text, shown[n - 1]))]
        citations = [
            Citation(n, shown[n - 1], best_sentence_for(text, shown[n - 1])) for n in dict.fromkeys(cited)
        ]
        yield Answer(
            text, citations, adapter=adapter, strategy=GENERATIVE,
            prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
        )


def _overlap(text: str, passage: Passage) -> int:
    words = set(text.casefold().split())
    return len(words & set(passage.text.casefold().split()))
