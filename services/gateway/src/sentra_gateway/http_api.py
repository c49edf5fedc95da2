"""The public HTTP API (JSON). Every endpoint goes through the same path as gRPC
(authentication, permission table, rate limit, audit) and answers with the same
messages rendered as JSON (proto field names).

- resource endpoints for documents (their text too, chunk by chunk), search, the caller,
  the audit log, API keys and the review of training datasets (items listed, approved or
  rejected, edited; JSONL out and in);
- `POST /api/v1/rpc/{service}/{method}`: any unary RPC of the public API with its request
  as JSON (answers, datasets, training jobs, adapters…);
- `/v1/…`: the OpenAI-compatible API (`openai_api`), with errors in OpenAI's shape;
- `/mcp`: the MCP server (`mcp_server`), streamable HTTP.

OpenAPI documentation is served at `/docs`.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import grpc
from fastapi import FastAPI, File, Form, Query, Request, UploadFile
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from google.protobuf import json_format
from pydantic import BaseModel, Field
from sentra.gateway.v1 import gateway_pb2
from sentra.ingestion.v1 import ingestion_pb2
from sentra.retrieval.v1 import retrieval_pb2
from sentra.training.v1 import training_pb2
from sentra_common.api_names import DOCUMENT_STATES
from sentra_common.errors import InvalidArgument, NotFound, SentraError
from sentra_common.logging import request_id_var

from sentra_gateway import openai_api
from sentra_gateway.auth import DEV_IDENTITY_HEADER, Credentials
from sentra_gateway.config import HttpSettings
from sentra_gateway.core import Call, Gateway, RateLimited
from sentra_gateway.http_guard import BodyTooLarge, RequestGuard
from sentra_gateway.mcp_server import PATH as MCP_PATH
from sentra_gateway.mcp_server import McpEndpoint
from sentra_gateway.routes import Kind

GATEWAY = "/sentra.gateway.v1.GatewayService/"
INGESTION = "/sentra.ingestion.v1.IngestionService/"
TRAINING = "/sentra.training.v1.TrainingService/"
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


class CreateDatasetBody(BaseModel):
    department: str
    document_ids: list[str] = Field(default_factory=list, description="only these documents (default: every "
                                    "indexed document of the department)")
    since: datetime | None = Field(default=None, description="only documents indexed at or after this time "
                                   "(a date, or a date and time; UTC unless it says otherwise)")
    pii_mode: str = Field(default="", description="mask (default), pseudonymise or keep")
    questions_per_chunk: int = Field(default=0, ge=0, description="0: the default (2)")
    max_examples: int = Field(default=0, ge=0, description="0: the service's limit")
    seed: int = 0


class CreateApiKeyBody(BaseModel):
    name: str = Field(description="What the key is for, e.g. \"n8n facturas\".")
    department: str = Field(description="The one department the key acts in.")
    role: str = Field(default="member", description="member, trainer or dept-admin")
    expires_in_seconds: int = Field(default=0, ge=0, description="0: never expires")


class ReviewBody(BaseModel):
    decision: str = Field(description="approved or rejected")
    item_ids: list[str] = Field(default_factory=list)
    min_score: float = Field(default=0.0, ge=0.0, le=1.0, description="instead of item_ids: every pending item "
                             "whose score is at least this")


class EditItemBody(BaseModel):
    question: str = Field(default="", description="empty: unchanged")
    answer: str = Field(default="", description="empty: unchanged")


ITEM_STATUSES = {
    name.removeprefix("ITEM_STATUS_").lower(): value for name, value in training_pb2.ItemStatus.items() if value
}
DECISIONS = {name: ITEM_STATUSES[name] for name in ("approved", "rejected")}


def item_status(field: str, value: str, allowed: dict[str, int], *, optional: bool) -> int:
    """A status given as a lower-case word (`approved`) → its proto enum value."""
    if optional and not value:
        return 0
    if value.lower() not in allowed:
        raise InvalidArgument(f"{field} must be one of {', '.join(allowed)}, not {value!r}")
    return allowed[value.lower()]


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

    @app.get("/api/v1/documents/{document_id}/text")
    async def document_text(request: Request, document_id: str):
        """The document's indexed text, chunk by chunk in order (page, heading, chunk id: what
        citations name)."""
        call = new_call(request, "/sentra.retrieval.v1.RetrievalService/ListChunks")
        message = retrieval_pb2.ListChunksRequest(document_ids=[document_id], page_size=1000)
        chunks = [
            {"chunk_id": c.chunk_id, "chunk_index": c.chunk_index, "text": c.text, "page": c.page,
             "heading": c.heading}
            async for page in gateway.server_stream(call, message, None) for c in page.chunks
        ]
        if not chunks:
            raise NotFound(f"document {document_id} has no indexed text you may read (not indexed yet, or not "
                           "yours); `sentra documents` shows its state")
        return {"document_id": document_id, "chunks": chunks}

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

    @app.post("/api/v1/api-keys")
    async def create_api_key(request: Request, body: CreateApiKeyBody):
        """An API key for an automation tool; `secret` is shown in this answer only."""
        message = gateway_pb2.CreateApiKeyRequest(
            name=body.name, department=body.department, role=body.role, expires_in_seconds=body.expires_in_seconds)
        return await unary(request, GATEWAY + "CreateApiKey", message)

    @app.get("/api/v1/api-keys")
    async def list_api_keys(request: Request, department: str = "", include_revoked: bool = False):
        message = gateway_pb2.ListApiKeysRequest(department=department, include_revoked=include_revoked)
        return await unary(request, GATEWAY + "ListApiKeys", message)

    @app.delete("/api/v1/api-keys/{key_id}")
    async def revoke_api_key(request: Request, key_id: str):
        return await unary(request, GATEWAY + "RevokeApiKey", gateway_pb2.RevokeApiKeyRequest(key_id=key_id))

    @app.get("/api/v1/datasets")
    async def list_datasets(request: Request, department: str = ""):
        message = training_pb2.ListDatasetsRequest(department=department)
        return await unary(request, TRAINING + "ListDatasets", message)

    @app.post("/api/v1/datasets")
    async def create_dataset(request: Request, body: CreateDatasetBody):
        message = training_pb2.CreateDatasetRequest(
            department=body.department, document_ids=body.document_ids, pii_mode=body.pii_mode,
            questions_per_chunk=body.questions_per_chunk, max_examples=body.max_examples, seed=body.seed,
        )
        if body.since is not None:
            message.since.FromDatetime(body.since if body.since.tzinfo else body.since.replace(tzinfo=UTC))
        return await unary(request, TRAINING + "CreateDataset", message)

    @app.post("/api/v1/datasets/import")
    async def import_dataset(
        request: Request,
        file: UploadFile = File(..., description="JSONL: one example per line, {\"messages\": [...]} or "
                                                 "{\"instruction\", \"input\"?, \"output\"}"),
        department: str = Form(...),
        pii_mode: str = Form("", description="mask (default), pseudonymise or keep"),
        approved: bool = Form(False, description="import as approved (default: pending review)"),
    ):
        message = training_pb2.ImportDatasetRequest(
            department=department, jsonl=await file.read(), filename=file.filename or "import.jsonl",
            pii_mode=pii_mode, approved=approved,
        )
        return await unary(request, TRAINING + "ImportDataset", message)

    @app.get("/api/v1/datasets/{dataset_id}")
    async def get_dataset(request: Request, dataset_id: str):
        message = training_pb2.GetDatasetRequest(dataset_id=dataset_id)
        return await unary(request, TRAINING + "GetDataset", message)

    @app.get("/api/v1/datasets/{dataset_id}/items")
    async def list_dataset_items(
        request: Request, dataset_id: str, status: str = "", document_id: str = "", text: str = "", split: str = "",
        page_size: int = 100, page_token: str = "",
    ):
        message = training_pb2.ListDatasetItemsRequest(
            dataset_id=dataset_id, status=item_status("status", status, ITEM_STATUSES, optional=True),
            document_id=document_id, text=text, split=split, page_size=page_size, page_token=page_token,
        )
        return await unary(request, TRAINING + "ListDatasetItems", message)

    @app.post("/api/v1/datasets/{dataset_id}/review")
    async def review_dataset_items(request: Request, dataset_id: str, body: ReviewBody):
        message = training_pb2.ReviewDatasetItemsRequest(
            dataset_id=dataset_id, decision=item_status("decision", body.decision, DECISIONS, optional=False),
            item_ids=body.item_ids, min_score=body.min_score,
        )
        return await unary(request, TRAINING + "ReviewDatasetItems", message)

    @app.patch("/api/v1/datasets/{dataset_id}/items/{item_id}")
    async def edit_dataset_item(request: Request, dataset_id: str, item_id: str, body: EditItemBody):
        message = training_pb2.EditDatasetItemRequest(
            dataset_id=dataset_id, item_id=item_id, question=body.question, answer=body.answer)
        return await unary(request, TRAINING + "EditDatasetItem", message)

    @app.get("/api/v1/datasets/{dataset_id}/export", response_class=Response,
             responses={200: {"content": {"application/x-ndjson": {}}, "description": "one example per line"}})
    async def export_dataset(
        request: Request, dataset_id: str,
        fmt: str = Query("", alias="format", description="messages (default) or instruction"),
        items: str = Query("", description="approved (default) or all (every item not withdrawn)"),
        split: str = Query("", description="train, validation or test (default: all)"),
    ):
        message = training_pb2.ExportDatasetRequest(dataset_id=dataset_id, format=fmt, items=items, split=split)
        reply = await gateway.unary(new_call(request, TRAINING + "ExportDataset"), message, None)
        return Response(reply.jsonl, media_type="application/x-ndjson", headers={
            "Content-Disposition": f'attachment; filename="dataset-{re.sub(r"[^A-Za-z0-9._-]", "", dataset_id)}.jsonl"',
            "X-Sentra-Items": str(reply.items),
        })

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
    # MCP's streamable HTTP transport (its task group: `app.state.mcp.running()`).
    app.state.mcp = McpEndpoint(gateway, settings or HttpSettings())
    app.add_route(MCP_PATH, app.state.mcp, include_in_schema=False)
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
