"""One path for every public call, gRPC or HTTP:

authenticate → permission table → rate limit → sign the principal → forward to the
internal service (or answer locally) → audit, refusals included.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from sentra_common.errors import PermissionDenied, ResourceExhausted, SentraError, Unavailable, from_rpc_error
from sentra_common.identity import AssertionSigner
from sentra_common.identity import Credentials as Assertions
from sentra_common.metrics import ServiceMetrics
from sentra_common.principal import Principal

from sentra_gateway.audit import AuditLog, AuditRecord
from sentra_gateway.auth import Authenticator, Credentials, resolve_access_list
from sentra_gateway.ratelimit import RateLimiter
from sentra_gateway.refusals import RefusalDigest
from sentra_gateway.routes import Route, document_ids, request_department, rewrite_access_lists
from sentra_gateway.telemetry import GatewayUsage, requested_departments, usage_department

logger = logging.getLogger(__name__)


class RateLimited(ResourceExhausted):
    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def trailing_metadata(self) -> tuple[tuple[str, str | bytes], ...]:
        """google.rpc.RetryInfo in grpc-status-details-bin, and a plain retry-after-ms header."""
        milliseconds = max(1, round(self.retry_after * 1000))
        delay = duration_pb2.Duration()
        delay.FromMilliseconds(milliseconds)
        detail = any_pb2.Any()
        detail.Pack(error_details_pb2.RetryInfo(retry_delay=delay))
        status = status_pb2.Status(code=code_pb2.RESOURCE_EXHAUSTED, message=self.message, details=[detail])
        return ("grpc-status-details-bin", status.SerializeToString()), ("retry-after-ms", str(milliseconds))


@dataclass
class Call:
    """One call in flight: what the audit entry will say."""

    route: Route
    credentials: Credentials
    request_id: str
    transport: str = "grpc"  # or "http" (the HTTP API, /v1 and MCP)
    started: float = field(default_factory=time.perf_counter)
    principal: Principal | None = None
    department: str = ""
    # The departments the request asks about (an answer's scope), for the usage metrics.
    scope: tuple[str, ...] = ()
    documents: list[str] = field(default_factory=list)
    # What a successful call did, when its method alone does not say (e.g. which API key).
    note: str = ""
    # The door it came through, when not the API of its method (e.g. "mcp tool ask").
    via: str = ""

    @property
    def usage_department(self) -> str:
        return usage_department(self.principal, self.department, self.scope)

    def record(self, result: str, detail: str = "") -> AuditRecord:
        p = self.principal
        return AuditRecord(
            method=self.route.path, result=result, subject=p.subject if p else "",
            departments=p.departments if p else (), roles=p.roles if p else (), detail=detail,
            document_ids=self.documents, department=self.department, peer=self.credentials.peer,
            request_id=self.request_id, duration_ms=int((time.perf_counter() - self.started) * 1000),
        )


class Gateway:
    def __init__(
        self,
        routes: dict[str, Route],
        authenticator: Authenticator,
        limiter: RateLimiter,
        audit: AuditLog,
        signer: AssertionSigner,
        channels: dict[str, grpc.aio.Channel],
        metrics: ServiceMetrics,
        default_deadline: float = 60.0,
        refusals: RefusalDigest | None = None,
        usage: GatewayUsage | None = None,
    ) -> None:
        self.routes = routes
        self.authenticator = authenticator
        self.limiter = limiter
        self.audit = audit
        self.signer = signer
        self.channels = channels
        self.metrics = metrics
        self.default_deadline = default_deadline
        self.refusals = refusals or RefusalDigest(audit)
        self.usage = usage
        self.local: dict[str, Callable[[Call, Any], Awaitable[Any]]] = {}

    # Steps shared by every call kind ---------------------------------------------------

    def new_call(self, route: Route, credentials: Credentials, request_id: str | None,
                 transport: str = "grpc") -> Call:
        return Call(route, credentials, request_id or uuid.uuid4().hex[:16], transport)

    async def check_caller(self, credentials: Credentials, method: str, request_id: str) -> Principal:
        """Authenticate a caller before its request body is read (HTTP), or before MCP's
        transport serves it: an anonymous or refused caller never gets a body spooled or
        parsed. Its refusal is rate-limited per peer and counted in the audit digest."""
        try:
            return await self.authenticator.authenticate(credentials)
        except SentraError as exc:
            refusal: SentraError = exc
            try:
                self._limit(f"peer:{credentials.peer}")
            except RateLimited as limited:
                refusal = limited
            await self.refusals.count(source="gateway", peer=credentials.peer, method=method,
                                      code=refusal.code.name, reason=refusal.message, request_id=request_id)
            raise refusal from None

    async def admit(self, call: Call) -> Assertions:
        """Authenticate, authorize and rate-limit; returns the signed principal to forward
        (one assertion for the route's service, and the onward ones it forwards)."""
        try:
            principal = await self.authenticator.authenticate(call.credentials)
        except SentraError:
            self._limit(f"peer:{call.credentials.peer}")
            raise
        call.principal = principal
        if not call.route.allows(principal.roles):
            needed = ", ".join(sorted(call.route.roles))
            raise PermissionDenied(
                f"{principal.subject} may not call {call.route.name}: it needs one of the roles {needed}; "
                "ask a platform administrator (`sentra admin users grant-role`)"
            )
        self._limit(f"principal:{principal.subject}")
        if call.route.backend == "gateway":
            return ()
        return self.signer.credentials(principal, call.route.backend)

    def _limit(self, key: str) -> None:
        wait = self.limiter.acquire(key)
        if wait > 0:
            raise RateLimited(
                f"rate limit of {self.limiter.rate:g} requests/s (burst {self.limiter.burst:g}) reached for "
                f"{key.split(':', 1)[1] or 'this caller'}; retry in {wait:.2f} s",
                retry_after=wait,
            )

    async def finish(self, call: Call, error: BaseException | None) -> None:
        if error is None:
            result, detail = "OK", call.note
        elif isinstance(error, SentraError):
            result, detail = error.code.name, error.message
        else:
            result, detail = "INTERNAL", f"internal error (request id {call.request_id})"
        if call.via:
            detail = f"({call.via}) {detail}".strip()
        if self.authenticator.development:
            detail = f"[development identity] {detail}".strip()
        if call.transport == "http":  # gRPC calls are counted by the shared server interceptor
            self.metrics.grpc_requests.labels(call.route.path, result).inc()
            self.metrics.grpc_duration.labels(call.route.path).observe(time.perf_counter() - call.started)
        if self.usage is not None:
            self.usage.finished(call.route.path, call.usage_department, result)
        if call.principal is None and error is not None:
            # Nobody identified: counted per peer and reason, not one entry per call.
            await self.refusals.count(source="gateway", peer=call.credentials.peer, method=call.route.path,
                                      code=result, reason=detail, request_id=call.request_id)
            return
        try:
            await self.audit.append(call.record(result, detail))
        except Exception:
            # The call has already happened; losing its audit entry must be loud.
            logger.exception("AUDIT WRITE FAILED", extra={"method": call.route.path, "request_id": call.request_id})
            raise Unavailable("the audit log cannot be written; the operators must check the gateway's database") \
                from None

    def _observe(self, call: Call, response: Any) -> None:
        """Usage metrics of a response (answers and their tokens, per department)."""
        if self.usage is not None:
            self.usage.response(call.usage_department, response)

    @staticmethod
    def _inbound(call: Call, request: Any) -> None:
        """Access lists in a request name users by account id (`auth.resolve_access_list`)."""
        assert call.principal is not None
        principal = call.principal
        rewrite_access_lists(request, lambda entries: resolve_access_list(principal, entries))

    @staticmethod
    def _metadata(call: Call, credentials: Assertions) -> tuple[tuple[str, str], ...]:
        return *credentials, ("x-request-id", call.request_id)

    def _target(self, call: Call) -> grpc.aio.Channel:
        channel = self.channels.get(call.route.backend)
        if channel is None:
            raise Unavailable(f"the {call.route.backend} service is not deployed in this Sentra installation")
        return channel

    # The three call kinds ----------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def audited(self, call: Call) -> AsyncIterator[None]:
        """Audit the call once it ends, with its outcome."""
        error: BaseException | None = None
        try:
            yield
        except BaseException as exc:
            error = exc
            raise
        finally:
            await self.finish(call, error)

    def _stub(self, call: Call):
        """The channel's multi-callable for the route's kind (unary_unary, stream_unary…)."""
        factory = getattr(self._target(call), call.route.kind.value)
        return factory(
            call.route.path, request_serializer=call.route.request.SerializeToString,
            response_deserializer=call.route.response.FromString,
        )

    async def unary(self, call: Call, request: Any, timeout: float | None) -> Any:
        async with self.audited(call):
            metadata = self._metadata(call, await self.admit(call))
            self._inbound(call, request)
            call.department = request_department(request)
            call.scope = requested_departments(request)
            call.documents.extend(document_ids(request))
            if call.route.backend == "gateway":
                response = await self.local[call.route.name](call, request)
            else:
                stub = self._stub(call)
                deadline = timeout or self.default_deadline
                response = await _backend(call, stub(request, timeout=deadline, metadata=metadata))
            call.documents.extend(document_ids(response))
            self._observe(call, response)
            return response

    async def client_stream(self, call: Call, requests: AsyncIterator[Any], timeout: float | None) -> Any:
        async with self.audited(call):
            metadata = self._metadata(call, await self.admit(call))
            first = await anext(aiter(requests), None)

            async def replay() -> AsyncIterator[Any]:
                if first is not None:
                    yield first
                async for item in requests:
                    yield item

            if first is not None:
                self._inbound(call, first)
                call.department = request_department(first)
            stub = self._stub(call)
            response = await _backend(call, stub(replay(), timeout=timeout or self.default_deadline, metadata=metadata))
            call.documents.extend(document_ids(response))
            return response

    async def server_stream(self, call: Call, request: Any, timeout: float | None) -> AsyncIterator[Any]:
        async with self.audited(call):
            metadata = self._metadata(call, await self.admit(call))
            self._inbound(call, request)
            call.department = request_department(request)
            call.scope = requested_departments(request)
            call.documents.extend(document_ids(request))
            stream = self._stub(call)(request, timeout=timeout or self.default_deadline, metadata=metadata)
            try:
                async for item in stream:
                    call.documents.extend(document_ids(item))
                    self._observe(call, item)
                    yield item
            except grpc.aio.AioRpcError as exc:
                raise from_rpc_error(exc, call.route.backend) from None


async def _backend(call: Call, awaitable: Awaitable[Any]) -> Any:
    try:
        return await awaitable
    except grpc.aio.AioRpcError as exc:
        raise from_rpc_error(exc, call.route.backend) from None

