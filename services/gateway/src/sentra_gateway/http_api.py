"""The public HTTP API (JSON). Every endpoint goes through the same path as gRPC
(authentication, permission table, rate limit, audit) and answers with the same
messages rendered as JSON (proto field names).

- resource endpoints for documents, search, the caller and the audit log;
- `POST /api/v1/rpc/{service}/{method}`: any unary RPC of the public API with its request
  as JSON (answers, datasets, training jobs, adapters…);
- `/v1/models`, `/v1/chat/completions`: OpenAI-compatible answers (`openai_api`), with
  errors in OpenAI's shape.

OpenAPI documentation is served at `/docs`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from google.protobuf import json_format
from pydantic import BaseModel, Field
from sentra.gateway.v1 import gateway_pb2
from sentra.ingestion.v1 import ingestion_pb2
from sentra.retrieval.v1 import retrieval_pb2
from sentra_common.api_names import DOCUMENT_STATES
from sentra_common.errors import InvalidArgument, NotFound, SentraError
from sentra_common.logging import request_id_var

from sentra_gateway import openai_api
from sentra_gateway.auth import DEV_IDENTITY_HEADER, Credentials
from sentra_gateway.config import HttpSettings
from sentra_gateway.core import Call, Gateway, RateLimited
from sentra_gateway.http_guard import BodyTooLarge, RequestGuard
from sentra_gateway.routes import Kind

INGESTION = "/sentra.ingestion.v1.IngestionService/"
UPLOAD_PIECE = 256 * 1024

HTTP_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}


class SearchBody(BaseModel):
    query: str
    top_k: int = Field(default=10, ge=1, le=100)
    mode: str = Field(default="hybrid", description="hybrid, dense or lexical")
    departments: list[str] = Field(default_factory=list)
    document_ids: list[str] = Field(default_factory=list)


def to_json(message) -> dict[str, Any]:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def create_http_app(gateway: Gateway, settings: HttpSettings | None = None) -> FastAPI:
    app = FastAPI(
        title="Sentra API",
        description="Documents, search, answers, training and adapters of your departments. "
        "Send `Authorization: Bearer <access token>` from the Sentra realm.",
        version="1",
    )

    def new_call(request: Request, path: str) -> Call:
        route = gateway.routes[path]
        credentials = Credentials(
            authorization=request.headers.get("authorization"),
            dev_identity=request.headers.get(DEV_IDENTITY_HEADER),
            peer=request.client.host if request.client else "",
        )
        return gateway.new_call(route, credentials, request_id_var.get(), transport="http")

    async def unary(request: Request, path: str, message) -> dict[str, Any]:
        return to_json(await gateway.unary(new_call(request, path), message, None))

    @app.exception_handler(SentraError)
    async def sentra_error(request: Request, exc: SentraError) -> JSONResponse:
        headers = {}
        if isinstance(exc, RateLimited):
            headers["Retry-After"] = str(max(1, round(exc.retry_after + 0.5)))
        return JSONResponse(error_body(request.url.path, exc), status_code=http_status(exc), headers=headers)

    @app.exception_handler(BodyTooLarge)
    async def too_large(request: Request, exc: BodyTooLarge) -> JSONResponse:
        return JSONResponse({"error": {"code": "PAYLOAD_TOO_LARGE", "message": exc.detail}}, status_code=413)

    # The front door (http_guard): request id and span, authentication before any body is
    # read, bodies bounded. Pure ASGI: no BaseHTTPMiddleware between it and the routes.
    app.add_middleware(RequestGuard, gateway=gateway, settings=settings or HttpSettings(), status_of=http_status,
                       error_body=error_body)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        if openai_api.serves(request.url.path):
            return await sentra_error(request, openai_api.invalid_body(exc))
        return await request_validation_exception_handler(request, exc)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/v1/whoami")
    async def whoami(request: Request):
        return await unary(request, "/sentra.gateway.v1.GatewayService/WhoAmI", gateway_pb2.WhoAmIRequest())

    @app.get("/api/v1/documents")
    async def list_documents(
        request: Request, department: str = "", state: str = "", page_size: int = 100, page_token: str = ""
    ):
        states = {"": 0, **{s.lower(): v for s, v in DOCUMENT_STATES.items()}}
        if state.lower() not in states:
            raise InvalidArgument(f"state must be one of {', '.join(k for k in states if k)}")
        message = ingestion_pb2.ListDocumentsRequest(
            department=department, state=states[state.lower()], page_size=page_size, page_token=page_token
        )
        return await unary(request, INGESTION + "ListDocuments", message)

    @app.get("/api/v1/documents/{document_id}")
    async def get_document(request: Request, document_id: str):
        message = ingestion_pb2.GetDocumentRequest(document_id=document_id)
        return await unary(request, INGESTION + "GetDocument", message)

    @app.delete("/api/v1/documents/{document_id}")
    async def delete_document(request: Request, document_id: str):
        message = ingestion_pb2.DeleteDocumentRequest(document_id=document_id)
        return await unary(request, INGESTION + "DeleteDocument", message)

    @app.post("/api/v1/documents/{document_id}/retry")
    async def retry_document(request: Request, document_id: str):
        message = ingestion_pb2.RetryDocumentRequest(document_id=document_id)
        return await unary(request, INGESTION + "RetryDocument", message)

    @app.get("/api/v1/documents/{document_id}/content")
    async def download_document(request: Request, document_id: str):
        call = new_call(request, INGESTION + "DownloadDocument")
        stream = gateway.server_stream(call, ingestion_pb2.DownloadDocumentRequest(document_id=document_id), None)
        first = await anext(stream, None)
        if first is None or first.WhichOneof("payload") != "document":
            raise NotFound(f"document {document_id} has no content")
        doc = first.document

        async def body() -> AsyncIterator[bytes]:
            async for piece in stream:
                yield piece.data

        filename = doc.filename.replace('"', "")
        return StreamingResponse(
            body(), media_type=doc.content_type or "application/octet-stream",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    @app.post("/api/v1/documents")
    async def upload_document(
        request: Request,
        file: UploadFile = File(...),
        department: str = Form(...),
        access_list: str = Form("", description="comma-separated: user:<account id> (or your own username), "
                                                 "group:<department>, group:/<group path>"),
        source_uri: str = Form(""),
        title: str = Form(""),
    ):
        call = new_call(request, INGESTION + "UploadDocument")

        async def messages() -> AsyncIterator[ingestion_pb2.UploadDocumentRequest]:
            yield ingestion_pb2.UploadDocumentRequest(metadata=ingestion_pb2.UploadMetadata(
                filename=file.filename or "upload", department=department,
                access_list=[a.strip() for a in access_list.split(",") if a.strip()],
                source_uri=source_uri, title=title, size_bytes=file.size or 0,
            ))
            while piece := await file.read(UPLOAD_PIECE):
                yield ingestion_pb2.UploadDocumentRequest(data=piece)

        return to_json(await gateway.client_stream(call, messages(), None))

    @app.post("/api/v1/search")
    async def search(request: Request, body: SearchBody):
        modes = {m.lower(): v for m, v in _modes().items()}
        if body.mode.lower() not in modes:
            raise InvalidArgument(f"mode must be one of {', '.join(modes)}")
        message = retrieval_pb2.SearchRequest(
            query=body.query, top_k=body.top_k, mode=modes[body.mode.lower()],
            departments=body.departments, document_ids=body.document_ids,
        )
        return await unary(request, "/sentra.retrieval.v1.RetrievalService/Search", message)

    @app.get("/api/v1/audit")
    async def audit(
        request: Request, subject: str = "", method: str = "", result: str = "", document_id: str = "",
        page_size: int = 100, page_token: str = "",
    ):
        message = gateway_pb2.QueryAuditLogRequest(
            subject=subject, method=method, result=result, document_id=document_id,
            page_size=page_size, page_token=page_token,
        )
        return await unary(request, "/sentra.gateway.v1.GatewayService/QueryAuditLog", message)

    @app.post("/api/v1/rpc/{service}/{method}")
    async def rpc(request: Request, service: str, method: str) -> Response:
        path = f"/{service}/{method}"
        route = gateway.routes.get(path)
        if route is None or route.kind is not Kind.UNARY:
            raise NotFound(f"{path} is not a unary RPC of the public API; see /docs")
        try:
            body = await request.json() if await request.body() else {}
            message = json_format.ParseDict(body, route.request())
        except (ValueError, json_format.ParseError) as exc:
            raise InvalidArgument(f"the body is not a valid {route.request.DESCRIPTOR.full_name}: {exc}") from None
        return JSONResponse(await unary(request, path, message))

    app.include_router(openai_api.router(gateway, new_call))
    return app


def http_status(exc: SentraError) -> int:
    return HTTP_STATUS.get(exc.code, 500)


def error_body(path: str, exc: SentraError) -> dict[str, Any]:
    """An error in the shape of the API that was called (OpenAI's on its endpoints)."""
    if openai_api.serves(path):
        return openai_api.error_body(exc)
    return {"error": {"code": exc.code.name, "message": exc.message}}


def _modes() -> dict[str, int]:
    return {
        name.removeprefix("SEARCH_MODE_"): value
        for name, value in retrieval_pb2.SearchMode.items()
        if value
    }
