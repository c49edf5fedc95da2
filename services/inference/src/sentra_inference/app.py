"""Composition root of the inference service."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from contextlib import asynccontextmanager
from pathlib import Path

from sentra.inference.v1 import inference_pb2_grpc
from sentra_common.db import create_engine, migrate
from sentra_common.grpc_server import GrpcServer
from sentra_common.metrics import ServiceMetrics
from sentra_common.nats import EventBus, connect_reporting_refusals
from sentra_common.runtime import every, principal_verifier, tls_material
from sentra_common.sealed import SealedFiles, load_files

from sentra_inference.adapters.artifacts import ArtifactRoot
from sentra_inference.adapters.reader import DEFAULT_READER_DIR, LocalReader
from sentra_inference.adapters.registry_store import SqlRegistryStore
from sentra_inference.adapters.retrieval_client import RetrievalClient
from sentra_inference.config import InferenceSettings
from sentra_inference.domain.answering import AnswerService
from sentra_inference.domain.ports import GenerationBackend
from sentra_inference.domain.registry import AdapterRegistry
from sentra_inference.events import subscribe
from sentra_inference.servicer import InferenceServicer
from sentra_inference.telemetry import InferenceMetrics, MeteredBackend

SERVICE = "inference"
MIGRATIONS = Path(__file__).parent / "migrations"
logger = logging.getLogger(__name__)


def sealed_files(settings: InferenceSettings) -> SealedFiles:
    """Adapter files through the keyring (encryption at rest), or plain without one."""
    return load_files(settings.encryption_key_file, "SENTRA_INFERENCE_ENCRYPTION_KEY_FILE")


def build_backend(settings: InferenceSettings, artifacts: ArtifactRoot | None = None) -> GenerationBackend:
    files = artifacts.files if artifacts is not None else sealed_files(settings)
    if settings.backend == "llamacpp":
        return build_llamacpp(settings, artifacts or ArtifactRoot(settings.adapter_root, files=files))
    if settings.backend == "vllm":
        from sentra_inference.adapters.vllm import VllmBackend

        v = settings.vllm
        return VllmBackend(
            served_model=v.served_model, base_model=settings.base_model, urls=v.urls, dns_name=v.dns_name,
            port=v.port, api_key=v.api_key, request_timeout_seconds=v.request_timeout_seconds,
            reconcile_interval_seconds=v.reconcile_interval_seconds,
        )
    from sentra_inference.adapters.local import LocalBackend

    local = settings.local
    return LocalBackend(
        local.model_dir.expanduser(), base_model=settings.base_model, max_batch_size=local.max_batch_size,
        batch_wait_seconds=local.batch_wait_ms / 1000, max_prompt_tokens=local.max_prompt_tokens,
        torch_threads=local.torch_threads, files=files,
    )


def build_llamacpp(settings: InferenceSettings, artifacts: ArtifactRoot) -> GenerationBackend:
    from sentra_inference.adapters.llamacpp import (
        LlamaCppBackend,
        LoraConverter,
        ServerOptions,
        find_binary,
        shipped_model,
    )

    c = settings.llamacpp
    model_dir = settings.local.model_dir.expanduser()
    options = ServerOptions(
        binary=find_binary(c.binary and c.binary.expanduser()), model=(c.model or shipped_model()).expanduser(),
        served_model=settings.base_model, parallel=c.parallel, ctx_per_slot=c.ctx_per_slot, threads=c.threads,
        repack=c.repack, startup_timeout_seconds=c.startup_timeout_seconds,
        log_file=c.log_file.expanduser() if c.log_file else None, files=artifacts.files,
    )
    converter = LoraConverter(c.cache_dir.expanduser(), c.converter_dir.expanduser(), model_dir, artifacts,
                              files=artifacts.files)
    return LlamaCppBackend(options, converter, base_model=settings.base_model,
                           tokenizer_file=model_dir / "tokenizer.json",
                           request_timeout_seconds=c.request_timeout_seconds,
                           group_wait_seconds=c.group_wait_seconds)


def build_reader(settings: InferenceSettings) -> LocalReader | None:
    if not settings.reader.enabled:
        return None
    r = settings.reader
    return LocalReader(r.path or DEFAULT_READER_DIR, dtype=r.dtype, threshold=r.threshold)


def build_artifacts(settings: InferenceSettings) -> ArtifactRoot:
    root = settings.adapter_root
    if root is None:
        logger.warning("no adapter root (SENTRA_INFERENCE_ADAPTER_ROOT): adapters cannot be registered or served")
    else:
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            print(f"SENTRA_INFERENCE_ADAPTER_ROOT: {root} cannot be created ({exc.strerror}); create it or point "
                  "the setting at the adapter volume", file=sys.stderr)
            raise SystemExit(2) from None
    return ArtifactRoot(root, files=sealed_files(settings))


def _census(metrics: InferenceMetrics, registry: AdapterRegistry):
    async def look() -> None:
        metrics.registry_state(registry)

    return look


@asynccontextmanager
async def inference_app(settings: InferenceSettings):
    metrics = ServiceMetrics(SERVICE)
    own_metrics = InferenceMetrics()
    tls = tls_material(SERVICE, settings)
    server = GrpcServer(SERVICE, settings.grpc, metrics, principal_verifier(SERVICE, settings), tls)
    engine = create_engine(settings.database.url)
    artifacts = build_artifacts(settings)
    backend = MeteredBackend(build_backend(settings, artifacts), own_metrics)
    reader = build_reader(settings)
    retrieval = RetrievalClient(settings.retrieval_target, settings.client.deadline_seconds,
                                tls.channel() if tls else None)
    bus: EventBus | None = None
    sync_task: asyncio.Task | None = None
    census_task: asyncio.Task | None = None
    try:
        await migrate(engine, MIGRATIONS, "alembic_version_inference")
        await backend.start()
        if reader is not None:
            await reader.start()
        registry = AdapterRegistry(SqlRegistryStore(engine), backend, artifacts)
        await registry.sync()
        own_metrics.registry_state(registry)
        answers = AnswerService(
            retrieval, registry, backend, settings.answer, reader=reader,
        )
        servicer = InferenceServicer(answers, registry, own_metrics)
        server.add_service(
            "sentra.inference.v1.InferenceService",
            lambda s: inference_pb2_grpc.add_InferenceServiceServicer_to_server(servicer, s),
        )
        await server.start()
        if settings.report_refusals or settings.consume_events:
            bus = await connect_reporting_refusals(settings.nats, SERVICE, metrics, server)
            if settings.consume_events:
                subscribe(bus, registry)  # adapters the training service publishes
        sync_task = asyncio.create_task(
            # The reconciler: re-read the registry and make the backend match.
            every(settings.registry_sync_seconds, registry.sync, "adapter registry sync"))
        census_task = asyncio.create_task(every(
            settings.telemetry.poll_seconds, _census(own_metrics, registry), "adapter metrics"))
        await server.set_serving(True)
        yield server
    finally:
        await server.set_serving(False)
        for task in (sync_task, census_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if bus is not None:
            await bus.close()
        await server.stop()
        await retrieval.close()
        await backend.close()
        if reader is not None:
            await reader.close()
        await engine.dispose()
