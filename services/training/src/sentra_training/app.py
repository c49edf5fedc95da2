"""Composition root of the training service."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextlib import asynccontextmanager
from pathlib import Path

from sentra.training.v1 import training_pb2_grpc
from sentra_common.config import service_principal
from sentra_common.db import create_engine, migrate
from sentra_common.grpc_server import GrpcServer
from sentra_common.identity import service_issuer
from sentra_common.metrics import ServiceMetrics
from sentra_common.nats import EventBus, refusal_reporter
from sentra_common.runtime import every, principal_verifier, required_signer, tls_material
from sentra_common.sealed import SealedFiles, load_files

from sentra_training.adapters.cron import next_run
from sentra_training.adapters.dataset_store import DatasetStore
from sentra_training.adapters.evaluator import ProcessEvaluator
from sentra_training.adapters.generation import LocalItemWriter
from sentra_training.adapters.lora_core import LoraCore, parse_example
from sentra_training.adapters.prompted_generator import PromptedGenerator
from sentra_training.adapters.publisher import AdapterHandOff
from sentra_training.adapters.ray_jobs import RayJobsRunner
from sentra_training.adapters.runner import ProcessRunner
from sentra_training.adapters.schedule_store import DocumentLedger, ScheduleStore
from sentra_training.adapters.sources import PlatformChunks
from sentra_training.adapters.store import JobStore
from sentra_training.config import TrainingSettings
from sentra_training.datasets.qg import ASSET_DIR as GENERATOR_DIR
from sentra_training.domain.datasets import DatasetLimits, Datasets
from sentra_training.domain.ports import Runner
from sentra_training.domain.schedules import Schedules
from sentra_training.domain.service import Environment, PromotionRules, TrainingJobs
from sentra_training.events import subscribe
from sentra_training.servicer import TrainingServicer
from sentra_training.telemetry import TrainingMetrics
from sentra_training.telemetry import refresh as refresh_metrics

SERVICE = "training"
MIGRATIONS = Path(__file__).parent / "migrations"
logger = logging.getLogger(__name__)


def code_version() -> str:
    """The package version and, in a git checkout, its commit (stored with every job)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        text = f"sentra {version('sentra')}"
    except PackageNotFoundError:
        text = "sentra (not installed)"
    head = Path(__file__).resolve().parents[4] / ".git" / "HEAD"
    with contextlib.suppress(OSError):
        ref = head.read_text().strip()
        if ref.startswith("ref: "):
            ref = (head.parent / ref[5:]).read_text().strip()
        text += f" @ {ref[:12]}"
    return text


def build_runner(settings: TrainingSettings) -> Runner:
    """By the address: a process per run on this machine, or submissions to a Ray cluster's
    Jobs API (see `config.TrainingSettings.ray_address`)."""
    if not settings.ray_address:
        return ProcessRunner(settings.stop_grace_seconds)
    token = ""
    if settings.ray_token_file is not None:
        try:
            token = settings.ray_token_file.read_text().strip()
        except OSError as exc:
            raise SystemExit(f"SENTRA_TRAINING_RAY_TOKEN_FILE {settings.ray_token_file} cannot be read ({exc}): "
                             "it holds the Ray cluster's token") from None
        if not token:
            raise SystemExit(f"SENTRA_TRAINING_RAY_TOKEN_FILE {settings.ray_token_file} is empty: it holds the Ray "
                             "cluster's token")
    logger.info("training jobs run on the Ray cluster %s (Jobs API); job directories under %s must be shared with it",
                settings.ray_address, settings.jobs_dir.resolve())
    return RayJobsRunner(settings.ray_address, token=token, ca_file=settings.ray_ca_file,
                         deadline_seconds=settings.ray_deadline_seconds, stop_grace_seconds=settings.stop_grace_seconds,
                         unreachable_seconds=settings.ray_unreachable_seconds)


def build_environment(settings: TrainingSettings) -> Environment:
    return Environment(
        jobs_dir=settings.jobs_dir.resolve(), base_model_dir=settings.base_model_dir.expanduser().resolve(),
        code_version=code_version(),
        ray_address=settings.ray_address, workers=settings.workers,
        threads_per_worker=settings.threads_per_worker, memory_mb=settings.memory_mb,
        max_running_jobs=settings.max_running_jobs, max_dataset_bytes=settings.max_dataset_bytes,
        max_examples=settings.max_examples, promotion=PromotionRules(**settings.promotion.model_dump()),
        gpu=settings.gpu.model_dump(),
        files=sealed_files(settings),
        key_file=str(settings.encryption_key_file.resolve()) if settings.encryption_key_file else "",
    )


def sealed_files(settings: TrainingSettings) -> SealedFiles:
    """Files through the service's keyring (encryption at rest), or plain without one."""
    return load_files(settings.encryption_key_file, "SENTRA_TRAINING_ENCRYPTION_KEY_FILE")


def shipped_reader_dir() -> Path:
    """The reader the answers use (shipped with the inference service's package)."""
    import importlib.util

    spec = importlib.util.find_spec("sentra_inference")
    if spec is None or spec.origin is None:
        raise RuntimeError("the reader is not installed (package sentra_inference); "
                           "set SENTRA_TRAINING_DATASETS__READER_DIR")
    return Path(spec.origin).parent / "assets" / "reader"


def build_datasets(settings: TrainingSettings, engine, documents, source, own_source=None) -> Datasets:
    d = settings.datasets
    prompted = None
    if d.generator_url:
        key = d.generator_api_key_file.read_text().strip() if d.generator_api_key_file else ""

        def prompted():
            return PromptedGenerator(d.generator_url, d.generator_model, api_key=key)

    writer = LocalItemWriter(
        settings.base_model_dir.expanduser().resolve(), (d.reader_dir or shipped_reader_dir()).resolve(),
        (d.generator_dir or GENERATOR_DIR).resolve(), threads=d.threads, near_duplicate=d.near_duplicate,
        batch_size=d.batch_size, prompted=prompted,
    )
    secret = d.pii_secret_file.read_bytes().strip() if d.pii_secret_file else b""
    limits = DatasetLimits(
        max_examples=d.max_examples, questions_per_chunk=d.questions_per_chunk, max_documents=d.max_documents,
        max_import_bytes=d.max_import_bytes, max_import_examples=d.max_import_examples, default_pii_mode=d.pii_mode,
    )
    return Datasets(DatasetStore(engine), documents, source, writer, settings.datasets_dir.resolve(), limits=limits,
                    pii_secret=secret, parse_line=parse_example, own_source=own_source,
                    files=sealed_files(settings))


@asynccontextmanager
async def training_app(settings: TrainingSettings):
    metrics = ServiceMetrics(SERVICE)
    own_metrics = TrainingMetrics()
    tls = tls_material(SERVICE, settings)
    server = GrpcServer(SERVICE, settings.grpc, metrics, principal_verifier(SERVICE, settings), tls)
    engine = create_engine(settings.database.url)
    runner = build_runner(settings)
    tickers: list[asyncio.Task] = []
    channel_tls = tls.channel() if tls else None
    ledger = DocumentLedger(engine)
    source = PlatformChunks(settings.retrieval_target, settings.client.deadline_seconds, channel_tls)
    # Schedules read a department's department-wide chunks as the service itself.
    signer = required_signer(SERVICE, settings, service_issuer(SERVICE), "its schedules' reads of department chunks")
    own_source = PlatformChunks(settings.retrieval_target, settings.client.deadline_seconds, channel_tls,
                                credentials=signer.provider(service_principal(SERVICE)))
    datasets: Datasets | None = None
    # The bus carries the hand-off to serving (and reports refused calls).
    bus = EventBus(settings.nats, SERVICE, metrics)
    try:
        await migrate(engine, MIGRATIONS, "alembic_version_training")
        hand_off = AdapterHandOff(settings.adapter_root.resolve(), bus, sealed_files(settings))
        evaluator = ProcessEvaluator(
            settings.base_model_dir.expanduser().resolve(), threads=settings.workers * settings.threads_per_worker,
            max_examples=settings.promotion.max_test_examples, max_new_tokens=settings.promotion.max_new_tokens,
            regression_texts=settings.promotion.regression_texts,
            timeout_seconds=settings.evaluate_timeout_seconds, work_dir=settings.data_dir.resolve() / "evaluations",
            key_file=settings.encryption_key_file, files=hand_off.files)
        jobs = TrainingJobs(JobStore(engine), runner, build_environment(settings), hand_off, LoraCore(),
                            evaluator=evaluator)
        datasets = build_datasets(settings, engine, ledger, source, own_source)
        schedules = Schedules(ScheduleStore(engine), ledger, datasets, jobs, next_run)
        servicer = TrainingServicer(jobs, datasets, schedules)
        server.add_service(
            "sentra.training.v1.TrainingService",
            lambda s: training_pb2_grpc.add_TrainingServiceServicer_to_server(servicer, s),
        )
        await server.start()
        await bus.connect()
        server.report_refusals(refusal_reporter(bus, SERVICE))
        subscribe(bus, datasets, ledger)
        await datasets.resume()
        await jobs.tick()  # jobs that were running when the service stopped start again now
        await schedules.tick()  # runs missed while the service was down fire now, once
        tickers.append(asyncio.create_task(every(settings.poll_seconds, jobs.tick, "training jobs")))
        tickers.append(asyncio.create_task(every(settings.schedule_poll_seconds, schedules.tick,
                                                 "training schedules")))
        await refresh_metrics(own_metrics, engine)
        tickers.append(asyncio.create_task(every(settings.telemetry.poll_seconds,
                                                 lambda: refresh_metrics(own_metrics, engine), "training metrics")))
        await server.set_serving(True)
        yield server
    finally:
        await server.set_serving(False)
        for ticker in tickers:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
        if datasets is not None:
            await datasets.close()
        await bus.close()
        await server.stop()
        await source.close()
        await own_source.close()
        # A stop (not a crash): local runs end with the service and resume when it is back;
        # runs on a Ray cluster go on and are found again.
        await asyncio.to_thread(runner.stop_all)
        await engine.dispose()
