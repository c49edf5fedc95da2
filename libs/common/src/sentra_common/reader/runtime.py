"""The reader at work: split the passages into sentences, score every (question, sentence)
pair with the cross-encoder and the bi-encoder, add the lexical features, weigh them with
the fitted combiner, and return each passage's best candidates. Synchronous and CPU-bound;
the inference service runs it on a worker thread."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sentra_common.reader.combiner import Combiner
from sentra_common.reader.features import lexical_features
from sentra_common.reader.model import BiEncoder, CrossEncoder, ReaderConfig, load_model
from sentra_common.reader.reading import PassageReading, SpanCandidate
from sentra_common.sentences import sentence_spans


class Reader:
    def __init__(self, cross: CrossEncoder, bi: BiEncoder, config: ReaderConfig) -> None:
        self.cross, self.bi, self.config = cross, bi, config
        self.combiner = Combiner.from_dict(config.combiner) if config.combiner else None

    @classmethod
    def load(cls, directory: Path, *, dtype: str = "float32") -> Reader:
        model, tokenizer, config = load_model(directory)
        return cls(CrossEncoder(model, tokenizer, config, dtype=dtype), BiEncoder(config.base_model), config)

    @property
    def threshold(self) -> float:
        return self.config.threshold

    def candidates(
        self, question: str, passages: Sequence[str], contexts: Sequence[str] | None = None,
    ) -> list[SpanCandidate]:
        """Every sentence of every passage, with its features and its score (the combiner's,
        or the cross-encoder's relevance when there is no combiner yet)."""
        units = [(p, a, b) for p, text in enumerate(passages) for a, b in sentence_spans(text)]
        if not units:
            return []
        sentences = [passages[p][a:b] for p, a, b in units]
        scored = self.cross.score(question, sentences)
        similarity = self.bi.similarity(question, sentences)
        lexical = lexical_features(question, [(p, s) for (p, _, _), s in zip(units, sentences, strict=True)],
                                   passages, contexts or [""] * len(passages))
        out = []
        for (p, a, b), (relevance, span), cosine, features in zip(units, scored, similarity, lexical, strict=True):
            start, end, span_score = (a + span[0], a + span[1], span[2]) if span else (a, b, 0.0)
            features = {"cross": relevance, "span": span_score, "bi": cosine, **features}
            score = self.combiner.score(features) if self.combiner else relevance
            out.append(SpanCandidate(p, start, end, score, a, b, features))
        return out

    def read(
        self, question: str, passages: Sequence[str], contexts: Sequence[str] | None = None, top: int = 3,
    ) -> list[PassageReading]:
        """One reading per passage, its `top` best sentences first."""
        readings = [PassageReading(p, []) for p in range(len(passages))]
        for candidate in self.candidates(question, passages, contexts):
            readings[candidate.passage].spans.append(candidate)
        for reading in readings:
            reading.spans = sorted(reading.spans, key=lambda c: c.score, reverse=True)[:top]
        return readings
