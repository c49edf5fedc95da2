"""The inference service's metrics: adapter loads (ok, failed) and adapters by state
around a real registry (SQLite, fixtures in conftest.py), generation tokens and speed
around a backend, answers by strategy and outcome."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry
from sentra_common.principal import Principal
from sentra_inference.domain.answering import Answer
from sentra_inference.domain.ports import AdapterLoadError, GenerationChunk, GenerationRequest
from sentra_inference.telemetry import InferenceMetrics, MeteredBackend

from .conftest import make_artifact

TRAINER = Principal("tere", departments=("legal",), roles=("trainer",))


def value(prom, name, **labels):
    return prom.get_sample_value(name, labels)


@pytest.fixture
def metered(registry):
    prom = CollectorRegistry()
    metrics = InferenceMetrics(prom)
    registry.backend = MeteredBackend(registry.backend, metrics)
    return registry, metrics, prom


async def test_adapter_loads_and_adapters_by_state(metered, adapter_root):
    registry, metrics, prom = metered
    assert value(prom, "sentra_inference_adapter_loads_total", operation="activate", outcome="failed") == 0
    make_artifact(adapter_root, "legal", "good")
    make_artifact(adapter_root, "legal", "bad")
    registry.backend.inner.refuse.add(str(adapter_root / "legal" / "bad"))
    await registry.register(TRAINER, name="legal", version=1, department="legal", artifact_uri="good")
    await registry.register(TRAINER, name="legal", version=2, department="legal", artifact_uri="bad")
    await registry.activate(TRAINER, "legal", 1)
    with pytest.raises(AdapterLoadError):
        await registry.activate(TRAINER, "legal", 2)
    assert value(prom, "sentra_inference_adapter_loads_total", operation="activate", outcome="ok") == 1
    assert value(prom, "sentra_inference_adapter_loads_total", operation="activate", outcome="failed") == 1
    assert value(prom, "sentra_inference_adapter_loads_total", operation="reconcile", outcome="ok") >= 1
    metrics.registry_state(registry)
    assert value(prom, "sentra_inference_adapters", department="legal", state="active") == 1
    assert value(prom, "sentra_inference_adapters", department="legal", state="failed") == 1
    assert value(prom, "sentra_inference_adapters", department="legal", state="inactive") == 0
    assert value(prom, "sentra_inference_adapters_loaded") == 1


class Streaming:
    base_model = "gemma-3-270m"

    async def generate(self, request):
        for piece in ("Cinco", " años."):
            yield GenerationChunk(text=piece)
        yield GenerationChunk(finish_reason="stop", completion_tokens=4, prompt_tokens=120)


async def test_generations_count_tokens_and_speed():
    prom = CollectorRegistry()
    backend = MeteredBackend(Streaming(), InferenceMetrics(prom))
    text = "".join([c.text async for c in backend.generate(GenerationRequest(prompt="¿Cuánto dura?"))])
    assert text == "Cinco años."
    assert value(prom, "sentra_inference_generation_tokens_total", kind="completion") == 4
    assert value(prom, "sentra_inference_generation_tokens_total", kind="prompt") == 120
    assert value(prom, "sentra_inference_generation_tokens_per_second_count") == 1
    assert value(prom, "sentra_inference_generation_time_to_first_token_seconds_count") == 1


def test_answers_by_strategy_and_outcome():
    prom = CollectorRegistry()
    metrics = InferenceMetrics(prom)
    metrics.answered(Answer("Cinco años.", strategy="reader"), 0.3)
    metrics.answered(Answer("No está en los documentos.", not_found=True, strategy="reader"), 0.2)
    metrics.answered(Answer("No está.", not_found=True, strategy="extractive"), 0.1)
    assert value(prom, "sentra_inference_answers_total", strategy="reader", outcome="answered") == 1
    assert value(prom, "sentra_inference_answers_total", strategy="reader", outcome="not_found") == 1
    assert value(prom, "sentra_inference_answers_total", strategy="generative", outcome="not_found") == 0
    assert value(prom, "sentra_inference_answer_duration_seconds_count", strategy="reader") == 2
