"""Composition root of the embedding service."""

from __future__ import annotations

from contextlib import asynccontextmanager

from sentra.embedding.v1 import embedding_pb2_grpc
from sentra_common.grpc_server import GrpcServer
from sentra_common.metrics import ServiceMetrics
from sentra_common.nats import EventBus, connect_reporting_refusals
from sentra_common.runtime import principal_verifier

from sentra_embedding.adapters.backends import LocalBackend, TeiBackend
from sentra_embedding.config import EmbeddingSettings
from sentra_embedding.domain.batcher import MicroBatcher
from sentra_embedding.domain.ports import EmbeddingBackend
from sentra_embedding.domain.service import EmbeddingService
from sentra_embedding.events import subscribe
from sentra_embedding.servicer import EmbeddingServicer

SERVICE = "embedding"


def build_backend(settings: EmbeddingSettings) -> EmbeddingBackend:
    if settings.backend == "tei":
        return TeiBackend(settings.tei_url, settings.tei_timeout_seconds)
    return LocalBackend(settings.model_path, settings.torch_threads, settings.max_batch_size)


@asynccontextmanager
async def embedding_app(settings: EmbeddingSettings, backend: EmbeddingBackend | None = None):
    metrics = ServiceMetrics(SERVICE)
    backend = backend or build_backend(settings)
    server = GrpcServer(SERVICE, settings.grpc, metrics, principal_verifier(SERVICE, settings))
    await backend.start()
    batcher = MicroBatcher(backend.embed, settings.max_batch_size, settings.max_wait_ms)
    batcher.start()
    service = EmbeddingService(
        backend, batcher,
        max_texts_per_request=settings.max_texts_per_request, max_text_chars=settings.max_text_chars,
    )
    servicer = EmbeddingServicer(service, settings.max_batch_size)
    server.add_service(
        "sentra.embedding.v1.EmbeddingService",
        lambda s: embedding_pb2_grpc.add_EmbeddingServiceServicer_to_server(servicer, s),
    )
    bus: EventBus | None = None
    try:
        await server.start()
        if settings.consume_events:
            bus = await connect_reporting_refusals(settings.nats, SERVICE, metrics, server)
            subscribe(bus, service)
        await server.set_serving(True)
        yield server
    finally:
        await server.set_serving(False)
        if bus is not None:
            await bus.close()
        await server.stop()
        await batcher.close()
        await backend.close()
