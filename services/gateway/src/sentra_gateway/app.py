"""Composition root of the gateway: public gRPC and HTTP (with the web console) on one
event loop, the audit database, the realm's keys, the signing key for internal assertions,
channels to the internal services."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextlib import asynccontextmanager

import uvicorn
from sentra_common.db import create_engine
from sentra_common.grpc_client import no_credentials, open_channel
from sentra_common.grpc_server import GrpcServer, write_port_file
from sentra_common.identity import GATEWAY_ISSUER
from sentra_common.metrics import ServiceMetrics
from sentra_common.nats import EventBus
from sentra_common.runtime import required_signer, tls_material

from sentra_gateway import console, local, schema
from sentra_gateway.apikeys import ApiKeys
from sentra_gateway.audit import AuditLog
from sentra_gateway.auth import Authenticator
from sentra_gateway.config import GatewaySettings
from sentra_gateway.core import Gateway
from sentra_gateway.events import subscribe
from sentra_gateway.grpc_api import PublicApi
from sentra_gateway.http_api import create_http_app
from sentra_gateway.ratelimit import RateLimiter
from sentra_gateway.refusals import RefusalDigest
from sentra_gateway.routes import build_routes, public_services
from sentra_gateway.telemetry import GatewayUsage

SERVICE = "gateway"
MIGRATIONS = schema.MIGRATIONS
logger = logging.getLogger(__name__)


@asynccontextmanager
async def gateway_app(settings: GatewaySettings):
    signer = required_signer(
        SERVICE, settings, GATEWAY_ISSUER, "the gateway signs the principals it forwards to the internal services"
    )
    if settings.auth.mode == "development":
        logger.warning(
            "DEVELOPMENT MODE: no identity provider; callers assert who they are (x-sentra-dev-identity). "
            "Install Keycloak (see the README) and set SENTRA_GATEWAY_AUTH__MODE=keycloak for real use"
        )
    metrics = ServiceMetrics(SERVICE)
    server = GrpcServer(SERVICE, settings.grpc, metrics, None)
    tls = tls_material(SERVICE, settings)  # the channels to the internal services
    engine = create_engine(settings.database.url)
    api_keys = ApiKeys(engine)
    authenticator = Authenticator(settings.auth, api_keys=api_keys)
    targets = {
        "ingestion": settings.ingestion_target, "retrieval": settings.retrieval_target,
        "inference": settings.inference_target, "training": settings.training_target,
        "embedding": settings.embedding_target,
    }
    channels = {
        name: open_channel(target, audience=name, deadline_seconds=settings.client.deadline_seconds,
                           credentials=no_credentials, max_message_bytes=settings.grpc.max_message_bytes,
                           tls=tls.channel() if tls else None)
        for name, target in targets.items() if target
    }
    bus = EventBus(settings.nats, SERVICE, metrics)
    stack = contextlib.AsyncExitStack()
    http_server: uvicorn.Server | None = None
    http_task: asyncio.Task | None = None
    digest_task: asyncio.Task | None = None
    audit: AuditLog | None = None
    refusals: RefusalDigest | None = None
    try:
        await schema.prepare(engine, settings.database)
        audit = AuditLog(engine)
        refusals = RefusalDigest(audit, settings.rate_limit.refusal_audit_window_seconds,
                                 settings.rate_limit.refusal_audit_max_keys)
        digest_task = asyncio.create_task(refusals.run())
        gateway = Gateway(
            build_routes(), authenticator, RateLimiter(settings.rate_limit), audit, signer, channels, metrics,
            default_deadline=settings.client.deadline_seconds, refusals=refusals, usage=GatewayUsage(),
        )
        local.install(gateway, audit, api_keys)
        server.add_generic_handler(PublicApi(gateway), public_services())
        await server.start()
        await bus.connect()
        subscribe(bus, refusals)
        if settings.http.port >= 0:
            http_server, http_task = await _start_http(gateway, settings, stack)
        await server.set_serving(True)
        yield server
    finally:
        if http_server is not None:
            http_server.should_exit = True
            if http_task is not None:
                await asyncio.wait([http_task], timeout=5)
        await stack.aclose()
        await server.stop()
        await bus.close()
        if digest_task is not None:
            digest_task.cancel()
        if refusals is not None:
            with contextlib.suppress(Exception):
                await refusals.flush()
        for channel in channels.values():
            await channel.close()
        await authenticator.close()
        if audit is not None:
            audit.close()
        await engine.dispose()


async def _start_http(
    gateway: Gateway, settings: GatewaySettings, stack: contextlib.AsyncExitStack,
) -> tuple[uvicorn.Server, asyncio.Task]:
    app = create_http_app(gateway, settings.http)
    await stack.enter_async_context(app.state.mcp.running())  # MCP's transport, stopped after the server
    console.mount(app, settings.console, settings.auth, gateway.routes)
    config = uvicorn.Config(
        app, host=settings.http.host, port=settings.http.port, log_config=None,
        access_log=False, lifespan="off", h11_max_incomplete_event_size=64 * 1024,
    )
    http_server = uvicorn.Server(config)
    http_server.capture_signals = contextlib.nullcontext  # the service's own SIGTERM handling stops it
    task = asyncio.create_task(http_server.serve())
    while not http_server.started:
        if task.done():
            task.result()
            raise RuntimeError("the HTTP API did not start")
        await asyncio.sleep(0.05)
    port = http_server.servers[0].sockets[0].getsockname()[1]
    if settings.http.port_file:
        write_port_file(settings.http.port_file, port)
    logger.info("HTTP API listening", extra={"address": f"{settings.http.host}:{port}"})
    return http_server, task
