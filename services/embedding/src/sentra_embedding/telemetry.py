"""The embedding service's own metrics (beside `sentra_common.metrics.ServiceMetrics`):
texts and tokens the model embedded, its calls and their batch sizes, the vector cache's
hits and misses. Names are listed in docs/metrics.md.

`MeteredBackend` wraps the backend the service uses, so every model call — a query the
micro-batcher coalesced or a pipeline batch — is counted once, where it happens.
"""

from __future__ import annotations

import time

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from sentra_common.metrics import LATENCY_BUCKETS, MeteredWrapper, ReadCounter

from sentra_embedding.domain.cache import VectorCache
from sentra_embedding.domain.ports import EmbeddingBackend

_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


class EmbeddingMetrics:
    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.registry = registry
        self.texts = Counter(
            "sentra_embedding_texts_embedded_total",
            "Texts the embedding model turned into vectors (cached vectors not included).",
            registry=registry,
        )
        self.model_calls = Histogram(
            "sentra_embedding_model_call_duration_seconds",
            "Time of one call of the embedding model on a batch of texts.",
            buckets=LATENCY_BUCKETS, registry=registry,
        )
        self.batch_size = Histogram(
            "sentra_embedding_batch_size_texts",
            "Texts per call of the embedding model (queries coalesced by the micro-batcher, chunk batches).",
            buckets=_BATCH_BUCKETS, registry=registry,
        )
        self.failures = Counter(
            "sentra_embedding_model_call_failures_total",
            "Calls of the embedding model that failed (a TEI server unreachable, a model error).",
            registry=registry,
        )

    def watch(self, backend: EmbeddingBackend, cache: VectorCache) -> None:
        """Export what the backend and the cache count themselves."""
        ReadCounter(
            "sentra_embedding_tokens_embedded_total",
            "Tokens the embedding model read (after truncation, before padding); backends that tokenize "
            "themselves (ONNX, OpenVINO) only.",
            [], lambda: {(): backend.tokens_embedded} if hasattr(backend, "tokens_embedded") else {},
            self.registry,
        )
        ReadCounter("sentra_embedding_cache_hits_total",
                    "Chunk texts whose vector came from the cache (unchanged chunks of re-uploaded documents).",
                    [], lambda: {(): cache.hits}, self.registry)
        ReadCounter("sentra_embedding_cache_misses_total", "Chunk texts not found in the vector cache.",
                    [], lambda: {(): cache.misses}, self.registry)


class MeteredBackend(MeteredWrapper):
    """An `EmbeddingBackend` that counts what the backend it wraps does."""

    def __init__(self, backend: EmbeddingBackend, metrics: EmbeddingMetrics) -> None:
        super().__init__(backend, metrics)

    async def embed(self, texts: list[str]) -> list[list[float]]:
        started = time.perf_counter()
        try:
            vectors = await self.inner.embed(texts)
        except Exception:
            self.metrics.failures.inc()
            raise
        self.metrics.model_calls.observe(time.perf_counter() - started)
        self.metrics.batch_size.observe(len(texts))
        self.metrics.texts.inc(len(texts))
        return vectors
