"""The domain's `ItemWriter` on this machine: the question generator (`datasets.qg`), the
reader that checks support (`sentra_common.reader`, the answers' reader) and the PII
masker (`datasets.pii`), loaded once, on first use, and run on the calling thread."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from sentra_training.datasets.generate import Pipeline, SourceChunk, assign_splits
from sentra_training.domain.datasets import Chunk, Generated, ItemRecord


class LocalItemWriter:
    def __init__(self, base_model_dir: Path, reader_dir: Path, generator_dir: Path, *, threads: int = 0,
                 near_duplicate: float = 0.92, batch_size: int = 16,
                 prompted: Callable[[], object] | None = None) -> None:
        self.base_model_dir = base_model_dir
        self.reader_dir = reader_dir
        self.generator_dir = generator_dir
        self.threads = threads
        self.near_duplicate = near_duplicate
        self.batch_size = batch_size
        # builds the prompted generator (a served model) instead of the LoRA one, when configured
        self.prompted = prompted
        self._pipeline: Pipeline | None = None
        self._lock = threading.Lock()
        self._maskers: dict[tuple[str, bytes], object] = {}
        self.load_seconds = 0.0

    def pipeline(self) -> Pipeline:
        with self._lock:
            if self._pipeline is None:
                from sentra_common.reader.runtime import Reader

                from sentra_training.datasets.qg import QuestionGenerator

                started = time.perf_counter()
                if self.prompted is not None:
                    writer = self.prompted()
                else:
                    writer = QuestionGenerator(self.base_model_dir, self.generator_dir, threads=self.threads,
                                               batch_size=self.batch_size)
                reader = Reader.load(self.reader_dir)
                self._pipeline = Pipeline(writer, reader, near_duplicate=self.near_duplicate,
                                          batch_size=self.batch_size)
                self.load_seconds = time.perf_counter() - started
            return self._pipeline

    def masker(self, pii_mode: str, secret: bytes):
        """One masker per mode and secret (building Presidio's engines takes a while)."""
        from sentra_training.datasets.pii import PiiMasker, PiiMode

        with self._lock:
            key = (pii_mode, secret)
            if key not in self._maskers:
                self._maskers[key] = PiiMasker(PiiMode(pii_mode), secret=secret)
            return self._maskers[key]

    def generate(self, chunks: Sequence[Chunk], *, pii_mode: str, secret: bytes, questions_per_chunk: int,
                 max_items: int, seed: int, progress: Callable[[int, int], None]) -> Generated:
        pipeline = self.pipeline()
        masker = self.masker(pii_mode, secret)
        sources = [SourceChunk(c.chunk_id, c.document_id, c.document_version, c.title, c.text, c.chunk_index)
                   for c in chunks]
        result = pipeline.run(sources, masker=masker, questions_per_chunk=questions_per_chunk,
                              max_items=max_items, progress=progress)
        splits = assign_splits([c.document_id for c in chunks], seed)
        generator_id = pipeline.writer.generator_id
        items = [
            ItemRecord(
                id=str(uuid.uuid4()), dataset_id="", position=0, split=splits[g.chunk.document_id],
                question=g.question, answer=g.answer, context=g.context, document_id=g.chunk.document_id,
                document_version=g.chunk.document_version, chunk_id=g.chunk.chunk_id,
                document_title=g.chunk.title, language=g.language, context_language=g.context_language,
                score=g.score, pii=g.pii, generator_id=generator_id,
            )
            for g in result.items
        ]
        timings = dict(result.timings)
        timings["load_models"] = round(self.load_seconds, 3)
        return Generated(items, generator_id, dict(result.dropped), dict(result.pii_found), timings)

    def mask(self, texts: Sequence[str], *, pii_mode: str, secret: bytes) -> tuple[list[str], dict[str, int]]:
        from sentra_training.datasets.generate import language_of

        masker = self.masker(pii_mode, secret)
        found: Counter = Counter()
        out = []
        for text in texts:
            masked = masker.mask(text, language_of(text) or "es")
            found.update(masked.counts())
            out.append(masked.text)
        return out, dict(found)
