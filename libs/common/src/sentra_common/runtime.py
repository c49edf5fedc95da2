"""Process entry point shared by the services: settings → logging → tracing → metrics →
the service's composition root (an async context manager) → wait for SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TypeVar

from sentra_common.config import ServiceSettings, load_settings
from sentra_common.grpc_server import GrpcServer, PrincipalVerifier, assertion_verifier, install_shutdown_signals
from sentra_common.identity import AssertionSigner, AssertionVerifier
from sentra_common.logging import configure_logging
from sentra_common.metrics import start_metrics_server
from sentra_common.nats import EventBus
from sentra_common.telemetry import configure_tracing, shutdown_tracing
from sentra_common.tls import TlsMaterial

logger = logging.getLogger(__name__)

S = TypeVar("S", bound=ServiceSettings)


@asynccontextmanager
async def serving(server: GrpcServer, connect_events: Callable[[], Awaitable[EventBus | None]] | None = None):
    """Start `server`, connect its event bus (`connect_events` returns it, or None when the
    service consumes no events), then mark it SERVING; on the way out NOT_SERVING first,
    the bus closed, the server drained."""
    bus: EventBus | None = None
    try:
        await server.start()
        if connect_events is not None:
            bus = await connect_events()
        await server.set_serving(True)
        yield server
    finally:
        await server.set_serving(False)
        if bus is not None:
            await bus.close()
        await server.stop()


async def every(seconds: float, job: Callable[[], Awaitable[object]], name: str) -> None:
    """Run `job` every `seconds`, forever (cancel the task to stop). A failed pass is
    logged and the next one runs on time: a database or service away for a moment
    must not end a periodic task (the reconciler, the watchdog, a folder connector)."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await job()
        except Exception:
            logger.warning("%s failed; trying again in %.0f s", name, seconds, exc_info=True)


def principal_verifier(service: str, settings: ServiceSettings) -> PrincipalVerifier:
    """How this service trusts its callers: signed principal assertions checked against
    the trust file (`SENTRA_<SERVICE>_IDENTITY__TRUST_FILE`). A service without one
    refuses to start rather than run open."""
    prefix = f"SENTRA_{service.upper()}_IDENTITY__TRUST_FILE"
    if settings.identity.trust_file is None:
        print(
            f"{prefix} is not set: an internal service only accepts principals signed by the gateway; "
            "`sentra up` generates the keys, in Kubernetes mount the sentra-identity secret",
            file=sys.stderr,
        )
        raise SystemExit(2)
    try:
        verifier = AssertionVerifier.from_file(settings.identity.trust_file, audience=service)
    except ValueError as exc:
        print(f"{prefix}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    verifier.replay.max_entries = settings.identity.max_remembered_assertions
    return assertion_verifier(verifier)


def tls_material(service: str, settings: ServiceSettings) -> TlsMaterial | None:
    """The service's mutual-TLS files (`SENTRA_<SERVICE>_TLS__*`), or None when TLS is off;
    unreadable files stop the start."""
    try:
        return settings.tls.material()
    except ValueError as exc:
        print(f"SENTRA_{service.upper()}_TLS: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def required_signer(service: str, settings: ServiceSettings, issuer: str, purpose: str) -> AssertionSigner:
    """The key this process signs principals with (`SENTRA_<SERVICE>_IDENTITY__SIGNING_KEY_FILE`);
    without a readable one the process refuses to start. `purpose` says what it signs."""
    variable = f"SENTRA_{service.upper()}_IDENTITY__SIGNING_KEY_FILE"
    path = settings.identity.signing_key_file
    if path is None:
        print(
            f"{variable} is not set: {purpose}; `sentra up` generates the keys, "
            "in Kubernetes mount the sentra-identity secret",
            file=sys.stderr,
        )
        raise SystemExit(2)
    try:
        return AssertionSigner.from_file(path, issuer, settings.identity.assertion_ttl_seconds)
    except ValueError as exc:
        print(f"{variable}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


async def serve(
    service: str, settings: S, app_factory: Callable[[S], AbstractAsyncContextManager]
) -> None:
    provider = configure_tracing(service, settings.telemetry.otlp_endpoint)
    start_metrics_server(settings.telemetry.metrics_host, settings.telemetry.metrics_port)
    stop = asyncio.Event()
    install_shutdown_signals(stop)
    try:
        async with app_factory(settings):
            logger.info("%s service ready", service)
            await stop.wait()
            logger.info("%s service stopping", service)
    finally:
        await asyncio.to_thread(shutdown_tracing, provider)


def main(service: str, settings_cls: type[S], app_factory: Callable[[S], AbstractAsyncContextManager]) -> None:
    settings = load_settings(settings_cls)
    configure_logging(service, settings.telemetry.log_level, settings.telemetry.log_json)
    asyncio.run(serve(service, settings, app_factory))
