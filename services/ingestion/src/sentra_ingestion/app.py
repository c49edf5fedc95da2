"""Composition root of the ingestion service."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextlib import asynccontextmanager
from pathlib import Path

from pydantic import BaseModel
from sentra.ingestion.v1 import ingestion_pb2_grpc
from sentra_common.blobs import BlobStore
from sentra_common.db import create_engine, migrate
from sentra_common.grpc_server import GrpcServer
from sentra_common.metrics import ServiceMetrics
from sentra_common.nats import EventBus, refusal_reporter
from sentra_common.principal import Principal
from sentra_common.runtime import every, principal_verifier, tls_material

from sentra_ingestion.adapters.folder import LocalFolder
from sentra_ingestion.adapters.parser_pool import ParserPool
from sentra_ingestion.adapters.registry import Registry
from sentra_ingestion.config import IngestionSettings
from sentra_ingestion.domain.folder_sync import FolderSync
from sentra_ingestion.domain.parsing import ChunkingPolicy, ParseLimits
from sentra_ingestion.domain.service import DocumentService, Limits
from sentra_ingestion.events import BusPipelineEvents, subscribe
from sentra_ingestion.servicer import IngestionServicer

SERVICE = "ingestion"
MIGRATIONS = Path(__file__).parent / "migrations"
logger = logging.getLogger(__name__)


def _part(model: type[BaseModel], settings: BaseModel):
    """The `model` part of settings that extend it (sent to parser workers as it is)."""
    return model.model_validate(settings.model_dump(include=set(model.model_fields)))


def build_limits(settings: IngestionSettings) -> Limits:
    lim, ch = settings.limits, settings.chunking
    return Limits(
        max_upload_bytes=lim.max_upload_bytes,
        parse=_part(ParseLimits, lim),
        max_chunks_per_document=lim.max_chunks_per_document,
        chunking=_part(ChunkingPolicy, ch),
        batch_size=ch.batch_size,
        stall_timeout_seconds=settings.stall_timeout_seconds,
        stall_requeues=settings.stall_requeues,
    )


@asynccontextmanager
async def ingestion_app(settings: IngestionSettings):
    metrics = ServiceMetrics(SERVICE)
    tls = tls_material(SERVICE, settings)
    server = GrpcServer(SERVICE, settings.grpc, metrics, principal_verifier(SERVICE, settings), tls)
    engine = create_engine(settings.database.url)
    parser = ParserPool(settings.parse_workers, settings.limits.parse_timeout_seconds, settings.limits.parse_memory_mb)
    bus = EventBus(settings.nats, SERVICE, metrics)
    tasks: list[asyncio.Task] = []
    try:
        await migrate(engine, MIGRATIONS, "alembic_version_ingestion")
        registry = Registry(engine)
        service = DocumentService(registry, BlobStore(settings.blob_dir), parser, BusPipelineEvents(bus),
                                  build_limits(settings))
        servicer = IngestionServicer(service)
        server.add_service(
            "sentra.ingestion.v1.IngestionService",
            lambda s: ingestion_pb2_grpc.add_IngestionServiceServicer_to_server(servicer, s),
        )
        await server.start()
        await bus.connect()
        server.report_refusals(refusal_reporter(bus, SERVICE))
        subscribe(bus, service, settings.parse_workers)
        tasks.append(asyncio.create_task(
            every(settings.watchdog_interval_seconds, service.requeue_stalled, "stalled-document check")
        ))
        for connector in settings.connectors:
            name = connector.name or connector.department
            sync = FolderSync(
                service, registry, name=name, folder=LocalFolder(connector.path), department=connector.department,
                access_list=connector.access_list,
                principal=Principal(
                    subject=f"connector:{name}", departments=(connector.department,), roles=("service",)
                ),
            )
            await sync.sync_once()
            tasks.append(asyncio.create_task(every(connector.interval_seconds, sync.sync_once, f"folder {name}")))
        await server.set_serving(True)
        yield server
    finally:
        await server.set_serving(False)
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await server.stop()
        await bus.close()
        parser.close()
        await engine.dispose()
