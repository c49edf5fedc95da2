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
