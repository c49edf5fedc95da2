"""Composition root of the retrieval service."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from pathlib import Path

from sentra.retrieval.v1 import retrieval_pb2_grpc
from sentra_common.config import service_principal
from sentra_common.grpc_server import GrpcServer
from sentra_common.identity import service_issuer
from sentra_common.metrics import ServiceMetrics
from sentra_common.nats import event_consumer
from sentra_common.runtime import principal_verifier, required_signer, serving, tls_material

from sentra_retrieval.adapters.embedder import EmbeddingClient
from sentra_retrieval.adapters.registry_client import RegistryClient
from sentra_retrieval.config import RetrievalSettings
from sentra_retrieval.domain.lexical import SparseEncoder
from sentra_retrieval.domain.ports import VectorStore
from sentra_retrieval.domain.service import RetrievalService
from sentra_retrieval.events import subscribe
from sentra_retrieval.servicer import RetrievalServicer
from sentra_retrieval.telemetry import RetrievalMetrics

SERVICE = "retrieval"


def open_store(
    kind: str,
    *,
    path: str | Path | None = None,
    url: str | None = None,
    api_key: str | None = None,
) -> VectorStore:
    """Open a store: ``"edge"`` (Qdrant Edge under ``path``) or ``"qdrant"`` (server at
    ``url``)."""
    if kind == "edge":
        if path is None:
            raise ValueError("the edge store needs a path")
        from sentra_retrieval.adapters.edge_store import EdgeStore

        return EdgeStore(Path(path))
    if kind == "qdrant":
        if not url:
            raise ValueError("the qdrant store needs a url")
        from sentra_retrieval.adapters.qdrant_store import QdrantServerStore

        return QdrantServerStore(url=url, api_key=api_key)
    raise ValueError(f"unknown vector store kind {kind!r} (expected 'edge' or 'qdrant')")


def build_store(settings: RetrievalSettings) -> VectorStore:
    if settings.engine == "qdrant":
        return open_store("qdrant", url=settings.qdrant_url, api_key=settings.qdrant_api_key or None)
    settings.edge_path.mkdir(parents=True, exist_ok=True)
    return open_store("edge", path=settings.edge_path)


@asynccontextmanager
async def retrieval_app(settings: RetrievalSettings):
    metrics = ServiceMetrics(SERVICE)
    own_metrics = RetrievalMetrics()
    tls = tls_material(SERVICE, settings)
    server = GrpcServer(SERVICE, settings.grpc, metrics, principal_verifier(SERVICE, settings), tls)
    signer = required_signer(SERVICE, settings, service_issuer(SERVICE),
                             "retrieval embeds queries and asks the registry about documents as itself")
    own = signer.provider(service_principal(SERVICE))
    embedder = EmbeddingClient(settings.embedding_target, settings.client.deadline_seconds, own,
                               tls.channel() if tls else None)
    registry = RegistryClient(settings.ingestion_target, settings.client.deadline_seconds, own,
                              tls.channel() if tls else None)
    store = await asyncio.to_thread(build_store, settings)
    try:
        # The collection's dimension comes from the embedding model in use.
        dimension = await asyncio.wait_for(embedder.dimension(), timeout=300)
        await asyncio.to_thread(store.ensure_collection, dimension)
        service = RetrievalService(
            store, embedder, SparseEncoder(), candidates=settings.candidates, rrf_k=settings.rrf_k,
            weights=(settings.dense_weight, settings.lexical_weight), max_top_k=settings.max_top_k,
            max_query_chars=settings.max_query_chars, model_languages=tuple(settings.model_languages),
            other_language_dense_factor=settings.other_language_dense_factor,
        )
        servicer = RetrievalServicer(service, store.engine, own_metrics)
        server.add_service(
            "sentra.retrieval.v1.RetrievalService",
            lambda s: retrieval_pb2_grpc.add_RetrievalServiceServicer_to_server(servicer, s),
        )
        connect_events = event_consumer(settings.consume_events, settings.nats, SERVICE, metrics, server,
                                        lambda bus: subscribe(bus, service, registry, own_metrics))

        async with serving(server, connect_events):
            yield server
    finally:
        await embedder.close()
        await registry.close()
        await asyncio.to_thread(store.close)
