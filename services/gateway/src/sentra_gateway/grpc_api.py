"""The public gRPC API: one generic handler serves every route of the permission table
with the same messages as the internal services, so clients use the ordinary stubs
(`IngestionServiceStub(channel_to_gateway)`)."""

from __future__ import annotations

import asyncio
import logging

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from sentra_common.errors import SentraError

from sentra_gateway.auth import DEV_IDENTITY_HEADER, Credentials
from sentra_gateway.core import Call, Gateway, RateLimited
from sentra_gateway.routes import Kind, Route

logger = logging.getLogger(__name__)


def credentials_of(context: grpc.aio.ServicerContext) -> tuple[Credentials, str | None]:
    metadata = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
    return (
        Credentials(
            authorization=metadata.get("authorization"),
            dev_identity=metadata.get(DEV_IDENTITY_HEADER),
            peer=_peer_host(context.peer() or ""),
        ),
        metadata.get("x-request-id"),
    )


def _peer_host(peer: str) -> str:
    # ipv4:127.0.0.1:5123 → 127.0.0.1 (rate limits of unauthenticated callers are per host)
    kind, _, rest = peer.partition(":")
    if kind == "ipv4":
        return rest.rsplit(":", 1)[0]
    if kind == "ipv6":
        return rest.rsplit(":", 1)[0].strip("[]")
    return peer


async def abort(context: grpc.aio.ServicerContext, call: Call, exc: BaseException) -> None:
    if isinstance(exc, RateLimited):
        await context.abort(exc.code, exc.message, trailing_metadata=_retry_metadata(exc))
    if isinstance(exc, SentraError):
        await context.abort(exc.code, exc.message)
    logger.exception("unexpected error", extra={"method": call.route.path})
    await context.abort(
        grpc.StatusCode.INTERNAL,
        f"internal error (request id {call.request_id}); the operators can find details in the logs",
    )


def _retry_metadata(exc: RateLimited) -> tuple[tuple[str, str | bytes], ...]:
    """google.rpc.RetryInfo in grpc-status-details-bin, and a plain retry-after-ms header."""
    delay = duration_pb2.Duration()
    delay.FromMilliseconds(max(1, round(exc.retry_after * 1000)))
    detail = any_pb2.Any()
    detail.Pack(error_details_pb2.RetryInfo(retry_delay=delay))
    status = status_pb2.Status(code=code_pb2.RESOURCE_EXHAUSTED, message=exc.message, details=[detail])
    return (
        ("grpc-status-details-bin", status.SerializeToString()),
        ("retry-after-ms", str(max(1, round(exc.retry_after * 1000)))),
    )


class PublicApi(grpc.GenericRpcHandler):
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    def service(self, handler_call_details):
        route = self.gateway.routes.get(handler_call_details.method)
        if route is None:
            return None
        if route.kind is Kind.UNARY:
            return grpc.unary_unary_rpc_method_handler(
                self._single_response(route, self.gateway.unary), route.request.FromString,
                route.response.SerializeToString,
            )
        if route.kind is Kind.CLIENT_STREAM:
            return grpc.stream_unary_rpc_method_handler(
                self._single_response(route, self.gateway.client_stream), route.request.FromString,
                route.response.SerializeToString,
            )
        return grpc.unary_stream_rpc_method_handler(
            self._server_stream(route), route.request.FromString, route.response.SerializeToString
        )

    def _call(self, route: Route, context) -> Call:
        credentials, request_id = credentials_of(context)
        return self.gateway.new_call(route, credentials, request_id)

    def _single_response(self, route: Route, run):
        """Unary and client-streaming calls: `run` is Gateway.unary or Gateway.client_stream."""
        async def handle(request_or_iterator, context):
            call = self._call(route, context)
            try:
                return await run(call, request_or_iterator, context.time_remaining())
            except (grpc.aio.AbortError, asyncio.CancelledError):
                raise
            except BaseException as exc:
                await abort(context, call, exc)

        return handle

    def _server_stream(self, route: Route):
        async def handle(request, context):
            call = self._call(route, context)
            try:
                async for item in self.gateway.server_stream(call, request, context.time_remaining()):
                    yield item
            except (grpc.aio.AbortError, asyncio.CancelledError):
                raise
            except BaseException as exc:
                await abort(context, call, exc)

        return handle
