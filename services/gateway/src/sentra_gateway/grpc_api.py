"""The public gRPC API: one generic handler serves every route of the permission table
with the same messages as the internal services, so clients use the ordinary stubs
(`IngestionServiceStub(channel_to_gateway)`)."""

from __future__ import annotations

import logging

import grpc
from sentra_common.logging import request_id_var

from sentra_gateway.auth import DEV_IDENTITY_HEADER, IDENTITY_MODE_HEADER, Credentials
from sentra_gateway.core import Call, Gateway
from sentra_gateway.routes import Kind, Route

logger = logging.getLogger(__name__)


def credentials_of(context: grpc.aio.ServicerContext) -> Credentials:
    metadata = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
    return Credentials(
        authorization=metadata.get("authorization"),
        dev_identity=metadata.get(DEV_IDENTITY_HEADER),
        peer=_peer_host(context.peer() or ""),
    )


def _peer_host(peer: str) -> str:
    # ipv4:127.0.0.1:5123 → 127.0.0.1 (rate limits of unauthenticated callers are per host)
    kind, _, rest = peer.partition(":")
    if kind == "ipv4":
        return rest.rsplit(":", 1)[0]
    if kind == "ipv6":
        return rest.rsplit(":", 1)[0].strip("[]")
    return peer


class PublicApi(grpc.GenericRpcHandler):
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self._handlers: dict[str, grpc.RpcMethodHandler] = {}

    def service(self, handler_call_details):
        route = self.gateway.routes.get(handler_call_details.method)
        if route is None:
            return None
        # One handler per route, made once (the shared interceptor then wraps it once too).
        handler = self._handlers.get(route.path)
        if handler is None:
            handler = self._handlers[route.path] = self._handler(route)
        return handler

    def _handler(self, route: Route):
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

    async def _call(self, route: Route, context) -> Call:
        if self.gateway.authenticator.development:
            # Before anything else, so refusals carry it too.
            await context.send_initial_metadata(((IDENTITY_MODE_HEADER, "development"),))
        # The request id is the one the shared interceptor put on this call's log lines.
        return self.gateway.new_call(route, credentials_of(context), request_id_var.get())

    def _single_response(self, route: Route, run):
        """Unary and client-streaming calls: `run` is Gateway.unary or Gateway.client_stream.
        Errors become statuses in the shared interceptor (`sentra_common.grpc_server`)."""
        async def handle(request_or_iterator, context):
            return await run(await self._call(route, context), request_or_iterator, context.time_remaining())

        return handle

    def _server_stream(self, route: Route):
        async def handle(request, context):
            async for item in self.gateway.server_stream(await self._call(route, context), request,
                                                         context.time_remaining()):
                yield item

        return handle
