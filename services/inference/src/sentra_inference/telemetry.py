"""The inference service's own metrics (beside `sentra_common.metrics.ServiceMetrics`):
answers by strategy and outcome (answered, or declined as not found in the documents),
generation tokens and speed, adapter loads and the registry's adapters by state. Names
are listed in docs/metrics.md.

`MeteredBackend` wraps the generation backend, so answers, Generate calls and the
registry's loads are measured where they reach the engine.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from sentra_common.metrics import SLOW_BUCKETS, GaugeSnapshot, MeteredWrapper

from sentra_inference.domain.answering import STRATEGIES, Answer
from sentra_inference.domain.ports import (
    ACTIVE,
    FAILED,
    INACTIVE,
    REGISTERED,
    AdapterLoadError,
    GenerationBackend,
    GenerationChunk,
    GenerationRequest,
)
from sentra_inference.domain.registry import AdapterRegistry

_SPEED_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000)
_FIRST_TOKEN_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class InferenceMetrics:
    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.answers = Counter(
            "sentra_inference_answers_total",
            "Questions answered, by strategy and outcome: answered, or not_found (the documents do not "
            "contain the answer, and the answer says so instead of inventing one).",
            ["strategy", "outcome"], registry=registry,
        )
        self.answer_duration = Histogram(
            "sentra_inference_answer_duration_seconds",
            "Time to answer one question (search, reading or generation), by strategy.",
            ["strategy"], buckets=SLOW_BUCKETS, registry=registry,
        )
        self.tokens = Counter(
            "sentra_inference_generation_tokens_total",
            "Tokens through the generation engine, by kind (prompt, completion).",
            ["kind"], registry=registry,
        )
        self.generation_duration = Histogram(
            "sentra_inference_generation_duration_seconds",
            "Time of one generation, from the request to the last token.",
            buckets=SLOW_BUCKETS, registry=registry,
        )
        self.first_token = Histogram(
            "sentra_inference_generation_time_to_first_token_seconds",
            "Time from a generation request to its first piece of text.",
            buckets=_FIRST_TOKEN_BUCKETS, registry=registry,
        )
        self.speed = Histogram(
            "sentra_inference_generation_tokens_per_second",
            "Completion tokens per second of one generation (its tokens over its duration).",
            buckets=_SPEED_BUCKETS, registry=registry,
        )
        self.generation_failures = Counter(
            "sentra_inference_generation_failures_total",
            "Generations that failed (the engine unreachable, an adapter not loaded).",
            registry=registry,
        )
        self.adapter_loads = Counter(
            "sentra_inference_adapter_loads_total",
            "Adapter loads into the generation engine, by operation (activate: one version before its alias "
            "moves; reconcile: the registry's desired set applied) and outcome (ok, failed).",
            ["operation", "outcome"], registry=registry,
        )
        self.adapter_load_duration = Histogram(
            "sentra_inference_adapter_load_duration_seconds",
            "Time to load adapters into the generation engine, by operation.",
            ["operation"], buckets=SLOW_BUCKETS, registry=registry,
        )
        self.adapters = GaugeSnapshot(
            "sentra_inference_adapters",
            "Adapter versions in the registry by department and state (registered, active, inactive, failed).",
            ["department", "state"], registry,
        )
        self.adapters_loaded = Gauge(
            "sentra_inference_adapters_loaded",
            "Adapter versions the generation engine is made to serve (each active alias's version and the "
            "one a rollback returns to).",
            registry=registry,
        )
        for strategy in STRATEGIES:
            for outcome in ("answered", "not_found"):
                self.answers.labels(strategy, outcome)
            self.answer_duration.labels(strategy)
        for kind in ("prompt", "completion"):
            self.tokens.labels(kind)
        for operation in ("activate", "reconcile"):
            for outcome in ("ok", "failed"):
                self.adapter_loads.labels(operation, outcome)
            self.adapter_load_duration.labels(operation)

    def answered(self, answer: Answer, seconds: float) -> None:
        self.answers.labels(answer.strategy, "not_found" if answer.not_found else "answered").inc()
        self.answer_duration.labels(answer.strategy).observe(seconds)

    def registry_state(self, registry: AdapterRegistry) -> None:
        """One look at the adapter registry (after its sync)."""
        counts, loaded = registry.census()
        departments = {department for department, _ in counts}
        values = {(d, state): 0 for d in departments for state in (REGISTERED, ACTIVE, INACTIVE, FAILED)}
        values.update(counts)
        self.adapters.replace(values)
        self.adapters_loaded.set(loaded)


class MeteredBackend(MeteredWrapper):
    """A `GenerationBackend` that measures the backend it wraps."""

    def __init__(self, backend: GenerationBackend, metrics: InferenceMetrics) -> None:
        super().__init__(backend, metrics)

    async def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        started = time.perf_counter()
        first: float | None = None
        try:
            async for chunk in self.inner.generate(request):
                if first is None and chunk.text:
                    first = time.perf_counter() - started
                    self.metrics.first_token.observe(first)
                if chunk.finish_reason:
                    self._finished(chunk, time.perf_counter() - started)
                yield chunk
        except GeneratorExit:
            raise
        except Exception:
            self.metrics.generation_failures.inc()
            raise

    def _finished(self, chunk: GenerationChunk, seconds: float) -> None:
        self.metrics.tokens.labels("prompt").inc(chunk.prompt_tokens)
        self.metrics.tokens.labels("completion").inc(chunk.completion_tokens)
        self.metrics.generation_duration.observe(seconds)
        if chunk.completion_tokens and seconds > 0:
            self.metrics.speed.observe(chunk.completion_tokens / seconds)

    async def load_adapter(self, key: str, path: str) -> None:
        await self._loading("activate", self.inner.load_adapter(key, path))

    async def unload_adapter(self, key: str) -> None:
        await self.inner.unload_adapter(key)

    async def loaded_adapters(self) -> set[str]:
        return await self.inner.loaded_adapters()

    async def reconcile(self, desired: dict[str, str]) -> None:
        await self._loading("reconcile", self.inner.reconcile(desired))

    async def _loading(self, operation: str, work) -> None:
        started = time.perf_counter()
        try:
            await work
        except AdapterLoadError:
            self.metrics.adapter_loads.labels(operation, "failed").inc()
            raise
        finally:
            self.metrics.adapter_load_duration.labels(operation).observe(time.perf_counter() - started)
        self.metrics.adapter_loads.labels(operation, "ok").inc()
