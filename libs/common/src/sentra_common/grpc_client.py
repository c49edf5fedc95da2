"""Outbound gRPC: every call carries a deadline, the caller's signed principal
(assertion), the request id and the trace context."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import grpc

from sentra_common import telemetry
from sentra_common.identity import ASSERTION_METADATA_KEY, current_assertion
from sentra_common.logging import request_id_var

AssertionProvider = Callable[[], str | None]
MetadataProvider = Callable[[], Iterable[tuple[str, str]]]


class _Outbound:
    """Adds deadline, assertion, extra metadata, request id and trace context to outgoing calls."""

    def __init__(
        self, deadline_seconds: float, assertion: AssertionProvider, extra: MetadataProvider | None
    ) -> None:
        self.deadline_seconds = deadline_seconds
        self.assertion = assertion
        self.extra = extra

    def _details(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        metadata = list(details.metadata or [])
        if self.extra is not None:
            metadata.extend(self.extra())
        keys = {k for k, _ in metadata}
        assertion = self.assertion()
        if assertion and ASSERTION_METADATA_KEY not in keys:
            metadata.append((ASSERTION_METADATA_KEY, assertion))
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
    deadline_seconds: float = 30.0,
    assertion: AssertionProvider | None = None,
    metadata: MetadataProvider | None = None,
    max_message_bytes: int = 16 * 1024 * 1024,
) -> grpc.aio.Channel:
    """An insecure channel (in-cluster traffic is protected by the mesh / network policy).

    `assertion` provides the signed principal to send (a service acting for itself, see
    `AssertionSigner.provider`); by default the assertion of the call being served is
    forwarded. `metadata` adds headers to every call (the CLI's bearer token).
    """
    provider = assertion or current_assertion
    return grpc.aio.insecure_channel(
        target,
        interceptors=[
            kind(deadline_seconds, provider, metadata)
            for kind in (_UnaryUnary, _UnaryStream, _StreamUnary, _StreamStream)
        ],
        options=[
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
        ],
    )
