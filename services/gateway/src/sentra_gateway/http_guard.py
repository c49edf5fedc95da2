"""The HTTP API's front door, before FastAPI touches a request (pure ASGI):

- the caller is authenticated *before* any request body is read: an anonymous or
  refused caller's upload is never spooled to disk, its JSON never parsed;
- bodies are bounded while they stream in: a declared `Content-Length` over the limit is
  refused at once, and a body that grows past it (chunked) is cut with 413;
- every request gets its request id and server span (as gRPC calls do), every reply
  its `x-request-id`, and in development mode every response says so
  (`x-sentra-identity-mode`).

Routes still authenticate through the gateway's one path (`Gateway.admit`); this check
only makes sure nothing is read for a caller that path would refuse.
"""

from __future__ import annotations

import json

from sentra_common import telemetry
from sentra_common.errors import SentraError
from starlette.exceptions import HTTPException

from sentra_gateway.auth import DEV_IDENTITY_HEADER, IDENTITY_MODE_HEADER, Credentials
from sentra_gateway.config import HttpSettings
from sentra_gateway.core import Gateway, RateLimited

UPLOAD_PATH = "/api/v1/documents"
BODY_METHODS = {"POST", "PUT", "PATCH"}
PUBLIC_PATHS = {"/healthz", "/docs", "/openapi.json", "/docs/oauth2-redirect"}


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int, upload: bool) -> None:
        setting = "SENTRA_GATEWAY_HTTP__MAX_UPLOAD_BYTES" if upload else "SENTRA_GATEWAY_HTTP__MAX_BODY_BYTES"
        super().__init__(413, f"the request body is larger than the {limit} bytes allowed ({setting}); "
                              "send less, or ask the operators to raise the limit")


class RequestGuard:
    def __init__(self, app, gateway: Gateway, settings: HttpSettings, status_of, error_body) -> None:
        self.app = app
        self.gateway = gateway
        self.settings = settings
        self.status_of = status_of  # SentraError → HTTP status
        self.error_body = error_body  # (path, SentraError) → JSON body in the API's shape

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", ())}
        path, method = scope["path"], scope["method"]
        # The request id (the caller's `x-request-id` or a new one) on every log line of the
        # request and in the reply, and a server span, as for gRPC.
        with telemetry.server_request(f"HTTP {method} {path}", headers) as request_id:
            send = _stamped(send, request_id, self.gateway.authenticator.development)
            if method not in BODY_METHODS or path in PUBLIC_PATHS:
                return await self.app(scope, receive, send)
            client = scope.get("client")
            credentials = Credentials(
                authorization=headers.get("authorization"), dev_identity=headers.get(DEV_IDENTITY_HEADER),
                peer=client[0] if client else "",
            )
            try:
                await self.gateway.check_caller(credentials, f"HTTP {method} {path}", request_id)
            except SentraError as exc:
                extra = {"Retry-After": str(max(1, round(exc.retry_after + 0.5)))} \
                    if isinstance(exc, RateLimited) else {}
                return await _reply(send, self.status_of(exc), self.error_body(path, exc), extra)
            upload = path == UPLOAD_PATH
            limit = self.settings.max_upload_bytes if upload else self.settings.max_body_bytes
            declared = headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                too_large = {"error": {"code": "PAYLOAD_TOO_LARGE", "message": BodyTooLarge(limit, upload).detail}}
                return await _reply(send, 413, too_large)
            return await self.app(scope, _bounded(receive, limit, upload), send)


def _bounded(receive, limit: int, upload: bool):
    seen = 0

    async def bounded():
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(limit, upload)
        return message

    return bounded


def _stamped(send, request_id: str, development: bool):
    extra = [(b"x-request-id", request_id.encode())]
    if development:
        extra.append((IDENTITY_MODE_HEADER.encode(), b"development"))

    async def stamped(message):
        if message["type"] == "http.response.start":
            kept = [(k, v) for k, v in message.get("headers", ()) if k.lower() != b"x-request-id"]
            message = {**message, "headers": [*kept, *extra]}
        await send(message)

    return stamped


async def _reply(send, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
    payload = json.dumps(body).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
           *((k.lower().encode(), v.encode()) for k, v in (headers or {}).items())]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})
