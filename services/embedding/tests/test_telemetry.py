"""The embedding service's metrics: model calls, texts and batch sizes counted around the
backend, tokens and cache hits read from what the backend and the cache count."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry
from sentra_embedding.domain.batcher import MicroBatcher
from sentra_embedding.domain.cache import VectorCache
from sentra_embedding.domain.service import EmbeddingService
from sentra_embedding.telemetry import EmbeddingMetrics, MeteredBackend


class Chunk:
    def __init__(self, text):
        self.title, self.heading, self.text = "T", "", text


class CountingBackend:
    name, model, dimension = "fake", "fake-model", 2

    def __init__(self):
        self.tokens_embedded = 0
        self.fail = False

    async def start(self):
        pass

    async def close(self):
        pass

    async def embed(self, texts):
        if self.fail:
            raise RuntimeError("model error")
        self.tokens_embedded += sum(len(t.split()) for t in texts)
        return [[1.0, 0.0] for _ in texts]


@pytest.fixture
async def env():
    prom = CollectorRegistry()
    metrics = EmbeddingMetrics(prom)
    inner = CountingBackend()
    backend = MeteredBackend(inner, metrics)
    cache = VectorCache(100)
    metrics.watch(inner, cache)
    batcher = MicroBatcher(backend.embed, 8, 1)
    batcher.start()
    service = EmbeddingService(backend, batcher, max_texts_per_request=16, max_text_chars=1000, cache=cache)
    yield service, inner, prom
    await batcher.close()


async def test_model_calls_texts_tokens_and_cache_are_counted(env):
    service, _, prom = env
    await service.embed_chunks([Chunk("uno dos"), Chunk("tres"), Chunk("uno dos")])
    assert prom.get_sample_value("sentra_embedding_texts_embedded_total") == 2  # the repeated text once
    assert prom.get_sample_value("sentra_embedding_batch_size_texts_count") == 1
    assert prom.get_sample_value("sentra_embedding_model_call_duration_seconds_count") == 1
    assert prom.get_sample_value("sentra_embedding_tokens_embedded_total") > 0
    assert prom.get_sample_value("sentra_embedding_cache_misses_total") == 3
    await service.embed_chunks([Chunk("tres")])
    assert prom.get_sample_value("sentra_embedding_cache_hits_total") == 1
    assert prom.get_sample_value("sentra_embedding_texts_embedded_total") == 2
    await service.embed(["a query"])
    assert prom.get_sample_value("sentra_embedding_texts_embedded_total") == 3


async def test_a_failed_model_call_is_counted(env):
    service, inner, prom = env
    inner.fail = True
    with pytest.raises(RuntimeError):
        await service.embed_chunks([Chunk("cuatro")])
    assert prom.get_sample_value("sentra_embedding_model_call_failures_total") == 1


def test_a_backend_that_counts_no_tokens_exports_none():
    prom = CollectorRegistry()

    class Tei:
        name, model, dimension = "tei", "tei", 2

    EmbeddingMetrics(prom).watch(Tei(), VectorCache(0))
    assert prom.get_sample_value("sentra_embedding_tokens_embedded_total") is None
