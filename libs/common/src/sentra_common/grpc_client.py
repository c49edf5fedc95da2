"""Outbound gRPC: every call carries a deadline, a signed principal (assertion) for its
target service, the request id and the trace context."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import grpc

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

    def _details(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        metadata = list(details.metadata or [])
        if self.extra is not None:
            metadata.extend(self.extra())
        keys = {k for k, _ in metadata}
        if ASSERTION_METADATA_KEY not in keys:
            metadata.extend(self.credentials(self.audience))
        if (rid := request_id_var.get()) and "x-request-id" not in keys:
            metadata.append(("x-request-id", rid))
        metadata.extend(telemetry.inject({}).items())
        timeout = details.timeout if details.timeout is not None else self.deadline_seconds
        return grpc.aio.ClientCallDetails(
            details.method, timeout, grpc.aio.Metadata(*metadata), details.credentials, details.wait_for_ready
        )


# grpc.aio files each interceptor under one call kind only, so there is one class per kind.
class _UnaryUnary(_Outbound, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation, client_call_details, request):
        return await continuation(self._details(client_call_details), request)


class _UnaryStream(_Outbound, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation, client_call_details, request):
        return await continuation(self._details(client_call_details), request)


class _StreamUnary(_Outbound, grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(self, continuation, client_call_details, request_iterator):
        return await continuation(self._details(client_call_details), request_iterator)


class _StreamStream(_Outbound, grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(self, continuation, client_call_details, request_iterator):
        return await continuation(self._details(client_call_details), request_iterator)


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
