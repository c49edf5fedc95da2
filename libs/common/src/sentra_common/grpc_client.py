"""Outbound gRPC: every call carries a deadline, a signed principal (assertion) for its
target service, the request id and the trace context; each call is a client span (child
of the span serving the request that made it, parent of the server span at the callee)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

import grpc
from opentelemetry import trace

from sentra_common import telemetry
from sentra_common.identity import ASSERTION_METADATA_KEY, Credentials, forwarded_credentials
from sentra_common.logging import request_id_var
from sentra_common.tls import ChannelTls

# Given the target service's name, the credentials (assertion metadata) for one call.
CredentialProvider = Callable[[str], Credentials]
MetadataProvider = Callable[[], Iterable[tuple[str, str]]]


class _Outbound:
    """Adds deadline, assertion, extra metadata, request id and trace context to outgoing calls."""

    def __init__(
        self, deadline_seconds: float, audience: str, credentials: CredentialProvider, extra: MetadataProvider | None
    ) -> None:
        self.deadline_seconds = deadline_seconds
        self.audience = audience
        self.credentials = credentials
        self.extra = extra

    def _details(self, details: grpc.aio.ClientCallDetails, span) -> grpc.aio.ClientCallDetails:
        metadata = list(details.metadata or [])
        if self.extra is not None:
            metadata.extend(self.extra())
        keys = {k for k, _ in metadata}
        if ASSERTION_METADATA_KEY not in keys:
            metadata.extend(self.credentials(self.audience))
        if (rid := request_id_var.get()) and "x-request-id" not in keys:
            metadata.append(("x-request-id", rid))
        metadata.extend(telemetry.inject_span(span, {}).items())
        timeout = details.timeout if details.timeout is not None else self.deadline_seconds
        return grpc.aio.ClientCallDetails(
            details.method, timeout, grpc.aio.Metadata(*metadata), details.credentials, details.wait_for_ready
        )

    async def _call(self, continuation, details: grpc.aio.ClientCallDetails, request):
        """Start the call inside a client span that ends when the call does."""
        method = details.method.decode() if isinstance(details.method, bytes) else details.method
        span = telemetry.client_span(method)
        try:
            call = await continuation(self._details(details, span), request)
        except BaseException as exc:
            span.set_status(trace.Status(trace.StatusCode.ERROR, type(exc).__name__))
            span.end()
            raise
        call.add_done_callback(lambda done: _end_client_span(span, done))
        return call


_ending: set[asyncio.Task] = set()


def _end_client_span(span, call) -> None:
    """The call is done: end its span with its status (read asynchronously, as grpc.aio
    gives it)."""
    task = asyncio.get_running_loop().create_task(_finish_client_span(span, call))
    _ending.add(task)
    task.add_done_callback(_ending.discard)


async def _finish_client_span(span, call) -> None:
    try:
        code = await call.code()
    except BaseException:  # cancelled before a status: nothing to read
        code = None
    if code is None:
        span.set_status(trace.Status(trace.StatusCode.ERROR, "CANCELLED"))
    else:
        span.set_attribute("rpc.grpc.status_code", code.value[0])
        if code != grpc.StatusCode.OK:
            span.set_status(trace.Status(trace.StatusCode.ERROR, code.name))
    span.end()


# grpc.aio files each interceptor under one call kind only, so there is one class per kind.
class _UnaryUnary(_Outbound, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation, client_call_details, request):
        return await self._call(continuation, client_call_details, request)


class _UnaryStream(_Outbound, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation, client_call_details, request):
        return await self._call(continuation, client_call_details, request)


class _StreamUnary(_Outbound, grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(self, continuation, client_call_details, request_iterator):
        return await self._call(continuation, client_call_details, request_iterator)


class _StreamStream(_Outbound, grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(self, continuation, client_call_details, request_iterator):
        return await self._call(continuation, client_call_details, request_iterator)


def open_channel(
    target: str,
    *,
    audience: str,
    deadline_seconds: float = 30.0,
    credentials: CredentialProvider | None = None,
    metadata: MetadataProvider | None = None,
    max_message_bytes: int = 16 * 1024 * 1024,
    tls: ChannelTls | None = None,
) -> grpc.aio.Channel:
    """A channel to the service `audience` at `target`.

    `credentials` gives the signed principal for each call (a service acting for itself:
    `AssertionSigner.provider`); by default the onward assertion for `audience` that came
    with the call being served is forwarded. `metadata` adds headers to every call (the
    CLI's bearer token). With `tls` the channel is mutual TLS (see `sentra_common.tls`);
    without it, plaintext (loopback, or a mesh / network policy in a cluster).
    """
    provider = credentials or forwarded_credentials
    interceptors = [
        kind(deadline_seconds, audience, provider, metadata)
        for kind in (_UnaryUnary, _UnaryStream, _StreamUnary, _StreamStream)
    ]
    options = [
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
    ]
    if tls is not None:
        return grpc.aio.secure_channel(target, tls.credentials(), interceptors=interceptors,
                                       options=[*options, *tls.options(audience)])
    return grpc.aio.insecure_channel(target, interceptors=interceptors, options=options)


def no_credentials(_audience: str) -> Credentials:
    """For channels whose calls carry their credentials themselves (the gateway's)."""
    return ()
