"""Composition root of the embedding service."""

from __future__ import annotations

from contextlib import asynccontextmanager

from sentra.embedding.v1 import embedding_pb2_grpc
from sentra_common.grpc_server import GrpcServer
from sentra_common.metrics import ServiceMetrics
from sentra_common.nats import event_consumer
from sentra_common.runtime import principal_verifier, serving, tls_material

from sentra_embedding.adapters.backends import (
    LocalBackend,
    OnnxBackend,
    OpenVinoBackend,
    TeiBackend,
    openvino_has_bf16,
)
from sentra_embedding.config import EmbeddingSettings
from sentra_embedding.domain.batcher import MicroBatcher
from sentra_embedding.domain.cache import VectorCache
from sentra_embedding.domain.ports import EmbeddingBackend
from sentra_embedding.domain.service import EmbeddingService
from sentra_embedding.events import subscribe
from sentra_embedding.servicer import EmbeddingServicer
from sentra_embedding.telemetry import EmbeddingMetrics, MeteredBackend

SERVICE = "embedding"


def build_backend(settings: EmbeddingSettings) -> EmbeddingBackend:
    if settings.backend == "tei":
        return TeiBackend(settings.tei_url, settings.tei_timeout_seconds)
    if settings.backend == "local":
        return LocalBackend(settings.model_path, settings.torch_threads, settings.max_batch_size)
    engine = settings.backend
    if engine == "auto":
        engine = "openvino" if openvino_has_bf16() else "onnx"
    if engine == "openvino":
        return OpenVinoBackend(settings.onnx_dir, settings.onnx_threads, settings.max_batch_size,
                               settings.onnx_max_batch_tokens, settings.openvino_precision)
    return OnnxBackend(settings.onnx_dir, settings.onnx_threads, settings.max_batch_size,
                       settings.onnx_max_batch_tokens)


@asynccontextmanager
async def embedding_app(settings: EmbeddingSettings, backend: EmbeddingBackend | None = None):
    metrics = ServiceMetrics(SERVICE)
    own_metrics = EmbeddingMetrics()
    backend = MeteredBackend(backend or build_backend(settings), own_metrics)
    tls = tls_material(SERVICE, settings)
    server = GrpcServer(SERVICE, settings.grpc, metrics, principal_verifier(SERVICE, settings), tls)
    await backend.start()
    batcher = MicroBatcher(backend.embed, settings.max_batch_size, settings.max_wait_ms)
    batcher.start()
    cache = VectorCache(settings.cache_entries)
    service = EmbeddingService(
        backend, batcher,
        max_texts_per_request=settings.max_texts_per_request, max_text_chars=settings.max_text_chars,
        cache=cache,
    )
    own_metrics.watch(backend.inner, cache)
    servicer = EmbeddingServicer(service, settings.max_batch_size)
    server.add_service(
        "sentra.embedding.v1.EmbeddingService",
        lambda s: embedding_pb2_grpc.add_EmbeddingServiceServicer_to_server(servicer, s),
    )
    connect_events = event_consumer(settings.consume_events, settings.nats, SERVICE, metrics, server,
                                    lambda bus: subscribe(bus, service))

    try:
        async with serving(server, connect_events):
            yield server
    finally:
        await batcher.close()
        await backend.close()
