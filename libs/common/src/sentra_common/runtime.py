"""Process entry point shared by the services: settings → logging → tracing → metrics →
the service's composition root (an async context manager) → wait for SIGTERM."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import TypeVar

from sentra_common.config import ServiceSettings, load_settings
from sentra_common.grpc_server import PrincipalVerifier, install_shutdown_signals, metadata_principal
from sentra_common.logging import configure_logging
from sentra_common.metrics import start_metrics_server
from sentra_common.telemetry import configure_tracing

logger = logging.getLogger(__name__)

S = TypeVar("S", bound=ServiceSettings)


def principal_verifier(service: str, settings: ServiceSettings) -> PrincipalVerifier:
    """How this service trusts the principal in call metadata.

    Only the explicitly enabled development identity exists so far: the caller asserts
    its principal. Without it every call that needs a principal is refused.
    """
    if settings.dev_identity.enabled:
        logger.warning(
            "DEVELOPMENT IDENTITY MODE: %s trusts the principal asserted by callers; "
            "never expose this service outside a development machine",
            service,
        )
        return metadata_principal
    return lambda _metadata: None


async def serve(
    service: str, settings: S, app_factory: Callable[[S], AbstractAsyncContextManager]
) -> None:
    configure_tracing(service, settings.telemetry.otlp_endpoint)
    start_metrics_server(settings.telemetry.metrics_host, settings.telemetry.metrics_port)
    stop = asyncio.Event()
    install_shutdown_signals(stop)
    async with app_factory(settings):
        logger.info("%s service ready", service)
        await stop.wait()
        logger.info("%s service stopping", service)


def main(service: str, settings_cls: type[S], app_factory: Callable[[S], AbstractAsyncContextManager]) -> None:
    settings = load_settings(settings_cls)
    configure_logging(service, settings.telemetry.log_level, settings.telemetry.log_json)
    asyncio.run(serve(service, settings, app_factory))
