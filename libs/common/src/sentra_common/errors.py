"""Domain errors that know their gRPC status code.

Domain code raises these; one server interceptor (`sentra_common.grpc_server`) turns
them into `context.abort(code, message)`. Messages are shown to users, so they say
what went wrong and what to do about it.
"""

from __future__ import annotations

from typing import Any, ClassVar

import grpc


class SentraError(Exception):
    """Base class: a failure the caller can understand and act on."""

    code: ClassVar[grpc.StatusCode] = grpc.StatusCode.UNKNOWN

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields

    def __str__(self) -> str:
        return self.message

    def trailing_metadata(self) -> tuple[tuple[str, str | bytes], ...]:
        """Extra gRPC trailers sent with the error (e.g. when to retry); none by default."""
        return ()


class InvalidArgument(SentraError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(SentraError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(SentraError):
    code = grpc.StatusCode.ALREADY_EXISTS


class FailedPrecondition(SentraError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class PermissionDenied(SentraError):
    code = grpc.StatusCode.PERMISSION_DENIED


class Unauthenticated(SentraError):
    code = grpc.StatusCode.UNAUTHENTICATED


class ResourceExhausted(SentraError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unavailable(SentraError):
    code = grpc.StatusCode.UNAVAILABLE


class RemoteError(SentraError):
    """A service this one called refused or failed; its status (and, for refusals, its
    message) passes through to our caller."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self._code = code

    @property
    def code(self) -> grpc.StatusCode:  # type: ignore[override]
        return self._code


# Status codes that mean "no answer" rather than "an answer that says no".
_NO_ANSWER = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED)
# How gRPC itself (not the called service) words a call that never reached a handler.
_TRANSPORT_WORDING = ("failed to connect", "connections to all backends failing", "dns resolution failed",
                      "socket closed", "connection reset", "deadline exceeded", "cancelled")


def from_rpc_error(exc: grpc.aio.AioRpcError, service: str) -> RemoteError:
    """The one translation of a failed call to another Sentra service. A refusal keeps
    its code and message (they were written for users); a call that got no answer
    becomes "the <service> service did not answer", without the transport's details
    (addresses, socket errors)."""
    code, details = exc.code(), exc.details() or ""
    if code in _NO_ANSWER and (not details or details.lower().startswith(_TRANSPORT_WORDING)):
        return RemoteError(code, f"the {service} service did not answer ({code.name}); try again shortly")
    return RemoteError(code, details or f"the {service} service failed ({code.name})")
