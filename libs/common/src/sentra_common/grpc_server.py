"""gRPC server bootstrap: one interceptor for errors, principal, tracing and metrics;
health and reflection; graceful shutdown on SIGTERM.

Services build a `GrpcServer`, register their servicers, then `await server.start()`
and mark themselves SERVING once their dependencies are ready.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from opentelemetry import trace

from sentra_common import telemetry
from sentra_common.config import GrpcServerSettings
from sentra_common.errors import SentraError, Unauthenticated
from sentra_common.identity import (
    ASSERTION_METADATA_KEY,
    ONWARD_METADATA_KEY,
    AssertionVerifier,
    onward_tokens,
    reset_onward,
    set_onward,
)
from sentra_common.metrics import ServiceMetrics
from sentra_common.principal import Principal, reset_principal, set_principal
from sentra_common.tls import TlsMaterial

logger = logging.getLogger(__name__)

# Methods anyone may call without a principal: health checks and reflection.
PUBLIC_PREFIXES = ("/grpc.health.v1.", "/grpc.reflection.")

# Given the call's metadata and method, returns the verified principal and the onward
# assertions (by audience) to forward on outbound calls made for it.
PrincipalVerifier = Callable[[Any, str], tuple[Principal, dict[str, str]] | None]


@dataclass(frozen=True)
class RefusedCall:
    method: str
    code: str
    detail: str
    peer: str
    request_id: str


def assertion_verifier(verifier: AssertionVerifier) -> PrincipalVerifier:
    """Accept the signed principal assertion in call metadata (see `sentra_common.identity`)."""

    def verify(metadata: Iterable[tuple[str, Any]], method: str) -> tuple[Principal, dict[str, str]] | None:
        assertion, onward = None, []
        for key, value in metadata:
            value = value.decode() if isinstance(value, bytes) else value
            if key == ASSERTION_METADATA_KEY:
                if assertion is not None:
                    raise Unauthenticated("a call carries one principal assertion, this one carries several")
                assertion = value
            elif key == ONWARD_METADATA_KEY:
                onward.append(value)
        if assertion is None:
            return None
        return verifier.verify(assertion, method), onward_tokens(onward)

    return verify


class SentraServerInterceptor(grpc.aio.ServerInterceptor):
    """Wraps every handler: request id, trace span, principal, error mapping, metrics.

    `verify_principal` receives the invocation metadata and returns the verified
    principal or None; a call to a non-public method without one is refused with
    UNAUTHENTICATED. Without a `verify_principal` (the gateway, which authenticates end
    users itself) the interceptor does everything else.
    """

    def __init__(self, metrics: ServiceMetrics, verify_principal: PrincipalVerifier | None) -> None:
        self.metrics = metrics
        self.verify_principal = verify_principal
        # Called with every call refused for want of a valid principal (see report_refusals).
        self.on_refused: Callable[[RefusedCall], None] | None = None
        # method → (the handler served, its wrapped handler): wrapped once, not per call.
        self._wrapped: dict[str, tuple[Any, Any]] = {}

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        if method.startswith(PUBLIC_PREFIXES):
            return handler
        cached = self._wrapped.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = self._wrap(handler, method)
        self._wrapped[method] = (handler, wrapped)
        return wrapped

    def _wrap(self, handler, method: str):
        wrap = _Wrapper(self, method)
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                wrap.unary(handler.unary_unary), handler.request_deserializer, handler.response_serializer
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                wrap.unary(handler.stream_unary), handler.request_deserializer, handler.response_serializer
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                wrap.streaming(handler.unary_stream), handler.request_deserializer, handler.response_serializer
            )
        return grpc.stream_stream_rpc_method_handler(
            wrap.streaming(handler.stream_stream), handler.request_deserializer, handler.response_serializer
        )


class _Wrapper:
    def __init__(self, interceptor: SentraServerInterceptor, method: str) -> None:
        self.i = interceptor
        self.method = method

    def _enter(self, context: grpc.aio.ServicerContext):
        metadata = tuple(context.invocation_metadata() or ())
        carrier = {k: v for k, v in metadata if isinstance(v, str)}
        scope = contextlib.ExitStack()
        rid = scope.enter_context(telemetry.server_request(self.method, carrier))
        if self.i.verify_principal is None:
            return rid, scope, None  # the servicer authenticates its callers (the gateway)
        try:
            verified = self.i.verify_principal(metadata, self.method)
        except SentraError as exc:
            verified, err = None, exc
        else:
            err = None if verified is not None else Unauthenticated(
                "this call carries no signed principal; internal services are reached through the gateway"
            )
        if err is not None and self.i.on_refused is not None:
            self.i.on_refused(RefusedCall(
                method=self.method, code=err.code.name, detail=err.message, peer=context.peer() or "",
                request_id=rid,
            ))
        principal, onward = verified if verified is not None else (None, None)
        principal_token = set_principal(principal)
        onward_token = set_onward(onward)
        scope.callback(reset_principal, principal_token)
        scope.callback(reset_onward, onward_token)
        return rid, scope, err

    @staticmethod
    def _exit(scope: contextlib.ExitStack) -> None:
        scope.close()

    async def _abort(self, context, exc: BaseException, rid: str) -> grpc.StatusCode:
        if isinstance(exc, SentraError):
            code, message = exc.code, exc.message
            level = logging.INFO if code != grpc.StatusCode.UNKNOWN else logging.ERROR
            logger.log(level, "call refused", extra={"method": self.method, "code": code.name})
        else:
            code = grpc.StatusCode.INTERNAL
            message = f"internal error (request id {rid}); the operators can find details in the logs"
            logger.exception("unexpected error", extra={"method": self.method})
        trace.get_current_span().set_status(trace.Status(trace.StatusCode.ERROR, code.name))
        self.i.metrics.grpc_requests.labels(self.method, code.name).inc()
        trailers = exc.trailing_metadata() if isinstance(exc, SentraError) else ()
        await context.abort(code, message, trailing_metadata=trailers)
        return code  # not reached: abort raises

    @contextlib.asynccontextmanager
    async def _serving(self, context: grpc.aio.ServicerContext):
        """One call: its request scope, the principal check, errors turned into statuses,
        and its metrics."""
        started = time.perf_counter()
        rid, scope, err = self._enter(context)
        try:
            if err is not None:
                raise err
            yield
            code = context.code() or grpc.StatusCode.OK
            self.i.metrics.grpc_requests.labels(self.method, getattr(code, "name", "OK")).inc()
        except (grpc.aio.AbortError, asyncio.CancelledError):
            raise
        except BaseException as exc:
            await self._abort(context, exc, rid)
        finally:
            self.i.metrics.grpc_duration.labels(self.method).observe(time.perf_counter() - started)
            self._exit(scope)

    def unary(self, behavior):
        async def wrapped(request, context):
            async with self._serving(context):
                return await behavior(request, context)

        return wrapped

    def streaming(self, behavior):
        async def wrapped(request, context):
            async with self._serving(context):
                async for item in behavior(request, context):
                    yield item

        return wrapped


class GrpcServer:
    """A grpc.aio server with the Sentra interceptor, health and reflection."""

    def __init__(
        self,
        service_name: str,
        settings: GrpcServerSettings,
        metrics: ServiceMetrics,
        verify_principal: PrincipalVerifier | None,
        tls: TlsMaterial | None = None,
    ) -> None:
        """`verify_principal` None: calls are not checked for a signed principal (the
        gateway authenticates end users itself); request ids, spans, error mapping and
        metrics apply to every server alike. With `tls` the port requires mutual TLS."""
        self.settings = settings
        self.tls = tls
        self.service_name = service_name
        options = [
            ("grpc.max_receive_message_length", settings.max_message_bytes),
            ("grpc.max_send_message_length", settings.max_message_bytes),
        ]
        self.interceptor = SentraServerInterceptor(metrics, verify_principal)
        self.server = grpc.aio.server(interceptors=[self.interceptor], options=options)
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self._service_names: list[str] = [reflection.SERVICE_NAME, health.SERVICE_NAME]
        self.port: int | None = None

    def report_refusals(self, report: Callable[[RefusedCall], None]) -> None:
        """Have every call refused for want of a valid principal reported (the services
        publish them for the gateway's audit log)."""
        self.interceptor.on_refused = report

    def add_service(self, full_name: str, register: Callable[[Any], None]) -> None:
        """Register a servicer; `full_name` is e.g. `sentra.ingestion.v1.IngestionService`."""
        register(self.server)
        self._service_names.append(full_name)

    def add_generic_handler(self, handler: grpc.GenericRpcHandler, full_names: Iterable[str]) -> None:
        """Serve the services `full_names` through one generic handler (the gateway's public
        API); they are listed in reflection and health like registered servicers."""
        self.server.add_generic_rpc_handlers((handler,))
        self._service_names.extend(full_names)

    async def start(self) -> int:
        reflection.enable_server_reflection(self._service_names, self.server)
        address = f"{self.settings.host}:{self.settings.port}"
        if self.tls is not None:
            self.port = self.server.add_secure_port(address, self.tls.server_credentials())
        else:
            self.port = self.server.add_insecure_port(address)
        await self.server.start()
        await self.set_serving(False)
        if self.settings.port_file:
            write_port_file(self.settings.port_file, self.port)
        logger.info("gRPC server listening", extra={"address": f"{self.settings.host}:{self.port}"})
        return self.port

    async def set_serving(self, serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ["", *self._service_names[2:]]:
            await self.health.set(name, status)

    async def stop(self) -> None:
        await self.set_serving(False)
        await self.server.stop(self.settings.grace_seconds)

    async def wait_for_termination(self) -> None:
        await self.server.wait_for_termination()


def write_port_file(path: Path, port: int) -> None:
    """Write the bound port atomically, for supervisors that started us on port 0."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(str(port))
    tmp.replace(path)


def install_shutdown_signals(stop: asyncio.Event) -> None:
    """SIGTERM and SIGINT set `stop`; the service then goes NOT_SERVING and drains."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
