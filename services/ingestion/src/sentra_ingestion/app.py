"""Composition root of the ingestion service."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
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
from sentra_ingestion.adapters.parser_pool import ParserPool, SandboxUnavailable, output_limit
from sentra_ingestion.adapters.registry import Registry
from sentra_ingestion.adapters.sandbox import NONE as NO_SANDBOX
from sentra_ingestion.adapters.sandbox import Confinement, ParserSandbox
from sentra_ingestion.config import IngestionSettings
from sentra_ingestion.domain.folder_sync import FolderSync
from sentra_ingestion.domain.parsing import ChunkingPolicy, ParseLimits
from sentra_ingestion.domain.service import DocumentService, Limits
from sentra_ingestion.events import BusPipelineEvents, subscribe
from sentra_ingestion.servicer import IngestionServicer
from sentra_ingestion.telemetry import IngestionMetrics
from sentra_ingestion.telemetry import refresh as refresh_metrics

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


def build_parser(settings: IngestionSettings) -> ParserPool:
    lim = settings.limits
    sandbox = ParserSandbox(
        settings.parser_sandbox,
        Confinement(lim.parse_memory_mb, lim.parse_cpu_seconds, lim.parse_file_mb, lim.parse_max_processes),
        bwrap=settings.parser_sandbox_bwrap, uid_base=settings.parser_sandbox_uid_base,
    )
    return ParserPool(settings.parse_workers, lim.parse_timeout_seconds, sandbox, output_limit(lim))


async def start_parser(parser: ParserPool) -> None:
    """Parser processes start, sandboxed, or the service does not: no silent fallback."""
    if parser.sandbox.mode == NO_SANDBOX:
        logger.warning(
            "SENTRA_INGESTION_PARSER_SANDBOX=none: parsers are NOT sandboxed; they run as plain child processes "
            "with the service's network, files and user (no environment variables, the resource limits); "
            "use it on a development machine only"
        )
    try:
        await parser.start()
    except SandboxUnavailable as exc:
        print(f"SENTRA_INGESTION_PARSER_SANDBOX={parser.sandbox.mode}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


@asynccontextmanager
async def ingestion_app(settings: IngestionSettings):
    metrics = ServiceMetrics(SERVICE)
    own_metrics = IngestionMetrics()
    tls = tls_material(SERVICE, settings)
    server = GrpcServer(SERVICE, settings.grpc, metrics, principal_verifier(SERVICE, settings), tls)
    engine = create_engine(settings.database.url)
    parser = build_parser(settings)
    bus = EventBus(settings.nats, SERVICE, metrics)
    tasks: list[asyncio.Task] = []
    try:
        await start_parser(parser)
        await migrate(engine, MIGRATIONS, "alembic_version_ingestion")
        registry = Registry(engine, own_metrics)
        announce = BusPipelineEvents(bus, settings.chunking.bulk_threshold_chunks)
        service = DocumentService(registry, BlobStore(settings.blob_dir), parser, announce, build_limits(settings))
        servicer = IngestionServicer(service, own_metrics)
        server.add_service(
            "sentra.ingestion.v1.IngestionService",
            lambda s: ingestion_pb2_grpc.add_IngestionServiceServicer_to_server(servicer, s),
        )
        await server.start()
        await bus.connect()
        server.report_refusals(refusal_reporter(bus, SERVICE))
        subscribe(bus, service, settings.parse_workers, own_metrics)
        tasks.append(asyncio.create_task(
            every(settings.watchdog_interval_seconds, service.requeue_stalled, "stalled-document check")
        ))
        await refresh_metrics(own_metrics, registry)
        tasks.append(asyncio.create_task(every(
            settings.telemetry.poll_seconds, lambda: refresh_metrics(own_metrics, registry), "documents metrics")))
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
        await parser.close()
        await engine.dispose()
