"""The MCP server: Sentra's documents, search and answers as tools for agents, over MCP's
streamable HTTP transport at `/mcp` on the gateway's HTTP port (official `mcp` SDK).

Tools (all read-only, each answer also as structured output):
- `search_documents`: passages of your documents for a query, each with its document,
  title, page or heading, and the sentence of the passage that shares most words with
  the query (`quote`);
- `ask`: an answer from your documents with its citations (document, title, page or
  heading, the quoted sentence), or `not_found` when they do not say;
- `list_documents`: your documents with their state (INDEXED, PROCESSING, FAILED and why);
- `get_document_text`: a document's indexed text, passage by passage with page and heading.
Resources: `sentra://documents/{document_id}` (the document's indexed text); the list of
resources is your INDEXED documents, paged.

Who calls: every request carries `Authorization: Bearer <token>`, verified by the
gateway's own authenticator through the SDK's `token_verifier` (a realm access token or
an API key; in development mode the `x-sentra-dev-identity` header with any bearer
value, since the transport wants one). Every tool call and resource read is then one or
more calls through the gateway's core — permission table, rate limit, signed principal
to the service that owns the data, audit (detail `(mcp tool …)`) — so a tool sees only
the caller's departments, exactly as the HTTP API does. A refused caller is counted in the
audit log's refusal digest. Stateless transport: no session lives in one gateway replica.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import AsyncIterator
from typing import Literal

from google.protobuf import json_format
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, ListResourcesResult, PaginatedRequestParams, Resource, ToolAnnotations
from pydantic import BaseModel, Field
from sentra.inference.v1 import inference_pb2
from sentra.ingestion.v1 import ingestion_pb2
from sentra.retrieval.v1 import retrieval_pb2
from sentra_common.api_names import DOCUMENT_STATE_NAMES, DOCUMENT_STATES, strategy_value
from sentra_common.config import is_loopback
from sentra_common.errors import InvalidArgument, SentraError
from sentra_common.logging import request_id_var
from sentra_common.sentences import quote, split_sentences
from sentra_common.text import stems, tokenize

from sentra_gateway.auth import DEV_IDENTITY_HEADER, Credentials
from sentra_gateway.config import HttpSettings
from sentra_gateway.core import Gateway

logger = logging.getLogger(__name__)

PATH = "/mcp"
URI_PREFIX = "sentra://documents/"
INGESTION = "/sentra.ingestion.v1.IngestionService/"
RETRIEVAL = "/sentra.retrieval.v1.RetrievalService/"
INFERENCE = "/sentra.inference.v1.InferenceService/"
MAX_TEXT_CHUNKS = 1000
READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=False)
INSTRUCTIONS = (
    "Sentra holds your company's documents. Use search_documents to find passages, ask for an answer with "
    "citations, list_documents to see what exists and its state, get_document_text to read one. You only see "
    "the documents of your departments; cite the document and page or heading you used."
)


# Structured output ----------------------------------------------------------------------------


class Hit(BaseModel):
    document_id: str
    title: str
    department: str
    page: int = Field(description="1-based page, 0 when the format has no pages")
    heading: str = Field(description="the nearest heading above the passage")
    quote: str = Field(description="the sentence of the passage that shares most words with the query")
    text: str = Field(description="the whole passage")
    score: float
    chunk_id: str


class SearchResult(BaseModel):
    query: str
    hits: list[Hit]


class Citation(BaseModel):
    number: int = Field(description="the [n] in the answer")
    document_id: str
    title: str
    page: int
    heading: str
    quote: str = Field(description="the quoted sentence the answer rests on")
    score: float


class AskResult(BaseModel):
    answer: str
    direct_answer: str = Field(description="the short answer alone (empty when there is none)")
    not_found: bool = Field(description="true when your documents do not answer the question")
    citations: list[Citation]


class DocumentInfo(BaseModel):
    document_id: str
    title: str
    filename: str
    department: str
    state: str = Field(description="PROCESSING, INDEXED or FAILED")
    failure_reason: str
    chunk_count: int
    page_count: int
    updated_at: str
    uri: str = Field(description="the document as an MCP resource")


class DocumentList(BaseModel):
    documents: list[DocumentInfo]
    next_page_token: str = Field(description="pass it as page_token for the next page (empty: no more)")


class Passage(BaseModel):
    chunk_index: int
    page: int
    heading: str
    text: str


class DocumentText(BaseModel):
    document_id: str
    title: str
    department: str
    passages: list[Passage]
    truncated: bool = Field(description="true when the document has more passages than max_passages")


# The server -----------------------------------------------------------------------------------


class GatewayTokenVerifier:
    """The SDK's `TokenVerifier` on the gateway's own authenticator: what the HTTP API
    accepts, MCP accepts, and nothing else. The headers besides the token (the development
    identity, the peer) come from the request being served (`McpEndpoint.__call__`)."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def verify_token(self, token: str) -> AccessToken | None:
        credentials = _current_credentials.get() or Credentials()
        credentials = Credentials(authorization=f"Bearer {token}", dev_identity=credentials.dev_identity,
                                  peer=credentials.peer)
        try:
            principal = await self.gateway.check_caller(credentials, f"MCP {PATH}", request_id_var.get())
        except SentraError as exc:
            logger.info("MCP caller refused", extra={"reason": exc.message})
            return None
        return AccessToken(token=token, client_id=principal.subject, scopes=[], subject=principal.subject,
                           claims={"iss": "sentra-gateway"})


# The credentials of the HTTP request being served, for the token verifier (which sees the token only).
_current_credentials: contextvars.ContextVar[Credentials | None] = contextvars.ContextVar(
    "sentra_mcp_credentials", default=None)


class McpEndpoint:
    """The MCP server mounted in the gateway's HTTP app, and the task group its transport
    runs in (`running()`, entered by whoever serves the app)."""

    def __init__(self, gateway: Gateway, settings: HttpSettings) -> None:
        self.gateway = gateway
        issuer = gateway.authenticator.settings.issuer or "http://127.0.0.1/development-identity"
        self.server = MCPServer(
            "sentra", title="Sentra", instructions=INSTRUCTIONS,
            token_verifier=GatewayTokenVerifier(gateway),
            # No protected-resource metadata is published (resource_server_url=None): clients are
            # given a token or an API key; the issuer is named for the SDK's settings only.
            auth=AuthSettings(issuer_url=issuer, resource_server_url=None),
        )
        self._register()
        # Host/Origin checks against DNS rebinding on loopback (the SDK's defaults). Behind a
        # Service or an ingress the Host is the installation's name; every request carries a
        # bearer token there, which a rebound page does not have.
        security = None if is_loopback(settings.host) else TransportSecuritySettings(
            enable_dns_rebinding_protection=False)
        self.app = self.server.streamable_http_app(
            streamable_http_path=PATH, stateless_http=True, transport_security=security, host=settings.host,
            max_request_body_size=settings.max_body_bytes,
        )

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """The transport's task group, in a task of its own (an anyio task group must be left
        by the task that entered it; whoever serves the app may start and stop it from two)."""
        started, stop = asyncio.Event(), asyncio.Event()

        async def run() -> None:
            async with self.server.session_manager.run():
                started.set()
                await stop.wait()

        task = asyncio.create_task(run())
        waiting = asyncio.create_task(started.wait())
        await asyncio.wait([task, waiting], return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        if task.done():
            task.result()  # it failed to start: raise why
        try:
            yield
        finally:
            stop.set()
            await task

    async def __call__(self, scope, receive, send) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", ())}
        client = scope.get("client")
        token = _current_credentials.set(Credentials(
            authorization=headers.get("authorization"), dev_identity=headers.get(DEV_IDENTITY_HEADER),
            peer=client[0] if client else ""))
        try:
            await self.app(scope, receive, send)
        finally:
            _current_credentials.reset(token)

    # Calls through the gateway's core ------------------------------------------------------

    def _call(self, request, path: str, via: str):
        """A call of the core for `path`, with the credentials of the HTTP request (Starlette's)."""
        credentials = Credentials(
            authorization=request.headers.get("authorization"), dev_identity=request.headers.get(DEV_IDENTITY_HEADER),
            peer=request.client.host if request.client else "",
        )
        call = self.gateway.new_call(self.gateway.routes[path], credentials, request_id_var.get() or None,
                                     transport="http")
        call.via = via
        return call

    async def unary(self, request, path: str, message, via: str):
        return await self.gateway.unary(self._call(request, path, via), message, None)

    async def chunks(self, request, document_id: str, via: str) -> list[retrieval_pb2.SearchHit]:
        call = self._call(request, RETRIEVAL + "ListChunks", via)
        found: list[retrieval_pb2.SearchHit] = []
        # Read to the end: the core audits the call when its stream ends.
        async for page in self.gateway.server_stream(
            call, retrieval_pb2.ListChunksRequest(document_ids=[document_id], page_size=1000), None,
        ):
            found.extend(page.chunks)
        return found

    async def document_text(self, request, document_id: str, max_passages: int, via: str) -> DocumentText:
        if not 1 <= max_passages <= MAX_TEXT_CHUNKS:
            raise InvalidArgument(f"max_passages must be between 1 and {MAX_TEXT_CHUNKS}")
        reply = await self.unary(request, INGESTION + "GetDocument",
                                 ingestion_pb2.GetDocumentRequest(document_id=document_id), via)
        doc = reply.document
        if doc.state != ingestion_pb2.DOCUMENT_STATE_INDEXED:
            state = DOCUMENT_STATE_NAMES.get(doc.state, "UNKNOWN")
            why = f": {doc.failure_reason}" if doc.failure_reason else ""
            raise InvalidArgument(f"document {document_id} is {state}{why}; its text is readable once INDEXED")
        chunks = await self.chunks(request, document_id, via)
        return DocumentText(
            document_id=doc.document_id, title=doc.title or doc.filename, department=doc.department,
            passages=[Passage(chunk_index=c.chunk_index, page=c.page, heading=c.heading, text=c.text)
                      for c in chunks[:max_passages]],
            truncated=len(chunks) > max_passages,
        )

    # Tools and resources -------------------------------------------------------------------

    def _register(self) -> None:
        server = self.server

        @server.tool(annotations=READ_ONLY, structured_output=True)
        async def search_documents(
            query: str, ctx: Context, top_k: int = 5, mode: Literal["hybrid", "dense", "lexical"] = "hybrid",
            departments: list[str] | None = None,
        ) -> SearchResult:
            """Search your departments' documents: the passages that best match the query, each with its
            document, title, page or heading, and the best-matching sentence."""
            message = retrieval_pb2.SearchRequest(
                query=query, top_k=top_k, departments=departments or [],
                mode=retrieval_pb2.SearchMode.Value(f"SEARCH_MODE_{mode.upper()}"))
            with _as_tool_error():
                reply = await self.unary(ctx.request_context.request, RETRIEVAL + "Search", message,
                                         "mcp tool search_documents")
            return SearchResult(query=query, hits=[_hit(query, h) for h in reply.hits])

        @server.tool(annotations=READ_ONLY, structured_output=True)
        async def ask(
            question: str, ctx: Context, departments: list[str] | None = None,
            strategy: Literal["", "reader", "extractive", "generative"] = "",
        ) -> AskResult:
            """Answer a question from your departments' documents, with citations (document, title, page or
            heading, the quoted sentence). not_found is true when the documents do not answer it."""
            message = inference_pb2.AnswerRequest(question=question, departments=departments or [],
                                                  strategy=strategy_value(strategy))
            with _as_tool_error():
                reply = await self.unary(ctx.request_context.request, INFERENCE + "Answer", message, "mcp tool ask")
            return AskResult(
                answer=reply.answer, direct_answer=reply.direct_answer, not_found=reply.not_found,
                citations=[Citation(number=c.number, document_id=c.document_id, title=c.title, page=c.page,
                                    heading=c.heading, quote=c.quote, score=round(c.score, 4))
                           for c in reply.citations])

        @server.tool(annotations=READ_ONLY, structured_output=True)
        async def list_documents(
            ctx: Context, department: str = "", state: Literal["", "PROCESSING", "INDEXED", "FAILED"] = "",
            page_size: int = 50, page_token: str = "",
        ) -> DocumentList:
            """Your departments' documents with their state (PROCESSING, INDEXED, FAILED and why), newest
            first, one page at a time."""
            message = ingestion_pb2.ListDocumentsRequest(
                department=department, state=DOCUMENT_STATES[state] if state else 0, page_size=page_size,
                page_token=page_token)
            with _as_tool_error():
                reply = await self.unary(ctx.request_context.request, INGESTION + "ListDocuments", message,
                                         "mcp tool list_documents")
            return DocumentList(documents=[_document(d) for d in reply.documents],
                                next_page_token=reply.next_page_token)

        @server.tool(annotations=READ_ONLY, structured_output=True)
        async def get_document_text(document_id: str, ctx: Context, max_passages: int = 200) -> DocumentText:
            """The indexed text of one of your documents, passage by passage, each with its page and heading
            (cite those). Only INDEXED documents have text."""
            with _as_tool_error():
                return await self.document_text(ctx.request_context.request, document_id, max_passages,
                                                "mcp tool get_document_text")

        @server.resource(URI_PREFIX + "{document_id}", name="document", mime_type="text/markdown",
                         description="The indexed text of one of your documents, with page and heading marks.")
        async def document(document_id: str, ctx: Context) -> str:
            try:
                text = await self.document_text(ctx.request_context.request, document_id, MAX_TEXT_CHUNKS,
                                                "mcp resource")
            except SentraError as exc:
                raise ResourceError(f"{exc.code.name}: {exc.message}") from None
            return _markdown(text)

        async def list_resources(ctx, params: PaginatedRequestParams) -> ListResourcesResult:
            message = ingestion_pb2.ListDocumentsRequest(
                state=ingestion_pb2.DOCUMENT_STATE_INDEXED, page_size=100, page_token=params.cursor or "")
            try:
                reply = await self.unary(ctx.request, INGESTION + "ListDocuments", message, "mcp resources/list")
            except SentraError as exc:
                raise MCPError(code=INVALID_PARAMS, message=f"{exc.code.name}: {exc.message}") from None
            return ListResourcesResult(
                resources=[Resource(uri=URI_PREFIX + d.document_id, name=d.document_id, title=d.title or d.filename,
                                    description=f"{d.department}: {d.filename}", mime_type="text/markdown")
                           for d in reply.documents],
                next_cursor=reply.next_page_token or None,
            )

        server._lowlevel_server.add_request_handler("resources/list", PaginatedRequestParams, list_resources)


@contextlib.contextmanager
def _as_tool_error():
    """A refusal or failure as the tool's error result, with its status and message (no stack trace)."""
    try:
        yield
    except SentraError as exc:
        raise ToolError(f"{exc.code.name}: {exc.message}") from None


def _hit(query: str, hit: retrieval_pb2.SearchHit) -> Hit:
    return Hit(document_id=hit.document_id, title=hit.title, department=hit.department, page=hit.page,
               heading=hit.heading, quote=best_sentence(query, hit.text), text=hit.text, score=round(hit.score, 4),
               chunk_id=hit.chunk_id)


def best_sentence(query: str, text: str) -> str:
    """The sentence of `text` sharing the most word stems with `query` (the first on a tie)."""
    wanted = {s for token in tokenize(query) for s in stems(token)}
    sentences = split_sentences(text) or [text]

    def shared(sentence: str) -> int:
        return len(wanted & {s for token in tokenize(sentence) for s in stems(token)})

    return quote(max(sentences, key=shared))


def _document(doc: ingestion_pb2.Document) -> DocumentInfo:
    updated = json_format.MessageToDict(doc.updated_at) if doc.HasField("updated_at") else ""
    return DocumentInfo(
        document_id=doc.document_id, title=doc.title or doc.filename, filename=doc.filename,
        department=doc.department, state=DOCUMENT_STATE_NAMES.get(doc.state, "UNKNOWN"),
        failure_reason=doc.failure_reason, chunk_count=doc.chunk_count, page_count=doc.page_count,
        updated_at=str(updated), uri=URI_PREFIX + doc.document_id,
    )


def _markdown(text: DocumentText) -> str:
    lines = [f"# {text.title}", ""]
    for p in text.passages:
        where = ", ".join(x for x in (f"page {p.page}" if p.page else "", p.heading) if x)
        lines += [f"<!-- passage {p.chunk_index}{': ' + where if where else ''} -->", p.text, ""]
    if text.truncated:
        lines.append(f"<!-- truncated at {len(text.passages)} passages -->")
    return "\n".join(lines)
