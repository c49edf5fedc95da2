"""OpenAI-compatible endpoints, so OpenAI clients and tools talk to Sentra unchanged:

- `GET /v1/models` (and `/v1/models/{id}`): `sentra` (the default: RAG with the active
  adapter of the department asked), the base model's id (no adapter), every active
  alias (`legal`) and every served adapter version (`legal@3`, and the version it would
  roll back to) of the caller's departments, from InferenceService.ListAdapters;
- `POST /v1/chat/completions`, plain or streamed (`stream: true`, server-sent events):
  a RAG answer over the caller's documents from InferenceService.Answer / StreamAnswer;
  `stream_options.include_usage` adds a last chunk with the usage;
- `POST /v1/responses` (`openai_responses`): the same answers in the Responses API's
  shape, plain or streamed with its event types (n8n's OpenAI chat node calls it);
- `POST /v1/embeddings` (`openai_embeddings`): the platform's embedding model.

Every call takes the same path as gRPC and the rest of the HTTP API (authentication,
permission table, rate limit, audit). The api key is the access token of the Sentra realm
(`Authorization: Bearer <token>`) or a Sentra API key (`sk-sentra-…`, `sentra api-keys
create`); in development mode, also `x-sentra-dev-identity` (OpenAI client:
`default_headers=`).

Chat semantics: the question is the text of the last `user` message, refined by an
earlier one when it is a follow-up (`question_from_turns`): a last user message of at
most FOLLOW_UP_WORDS words, or one opening with a connective ("y", "¿y en…", "and",
"what about", "también"…), is answered together with the latest earlier user message
that is not itself a follow-up: "¿Cuánto es la dieta diaria en Oporto?" then "¿y en
Valencia?" asks "¿Cuánto es la dieta diaria en Oporto? ¿y en Valencia?", which the
service answers part by part. Nothing else of the conversation is used: system and
assistant messages, `instructions`, older turns (each answer is retrieved and grounded
afresh). The question answered is in the answer's `sentra.question`; `sentra.history:
false` uses the last user message alone. `n` other than 1 is refused (one answer per
request). `model` picks the adapter: `sentra` → the service's choice, anything else is
passed as the adapter (alias, `name@version` or the base model's id).
`max_tokens`/`max_completion_tokens` bound the answer; sampling parameters (temperature,
top_p, stop…) are accepted and ignored. Sentra's own options ride in the body under
`sentra` (OpenAI client: `extra_body={"sentra": {...}}`): `departments`, `top_k`,
`strategy` (`reader`, `extractive` or `generative`), `history`. Answers carry two extension
fields: `citations` (proto field names) and `sentra` (`not_found`, `adapter`, `strategy`,
`direct_answer`: the short answer, `parts`: one short answer per part of the question,
each with its citation number, and `question`); in a stream they ride on the last content
chunk.

Errors use OpenAI's shape `{"error": {"message", "type", "param", "code"}}` with the same
HTTP statuses as the rest of the API; an error after a stream has started is sent as a
last `data: {"error": …}` event (no `[DONE]` follows it).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

import anyio
import grpc
from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from google.protobuf import json_format
from pydantic import BaseModel, ConfigDict, Field
from sentra.inference.v1 import inference_pb2
from sentra_common.api_names import STRATEGY_NAMES, strategy_value, streamed_remainder
from sentra_common.errors import InvalidArgument, NotFound, SentraError, Unavailable

from sentra_gateway.core import Call, Gateway

logger = logging.getLogger(__name__)

PREFIX = "/v1/"
DEFAULT_MODEL = "sentra"
INFERENCE = "/sentra.inference.v1.InferenceService/"
INT32_MAX = 2**31 - 1


# OpenAI's error `type` for each status Sentra answers with.
ERROR_TYPES = {
    grpc.StatusCode.INVALID_ARGUMENT: "invalid_request_error",
    grpc.StatusCode.OUT_OF_RANGE: "invalid_request_error",
    grpc.StatusCode.UNAUTHENTICATED: "authentication_error",
    grpc.StatusCode.PERMISSION_DENIED: "permission_error",
    grpc.StatusCode.NOT_FOUND: "not_found_error",
    grpc.StatusCode.ALREADY_EXISTS: "conflict_error",
    grpc.StatusCode.FAILED_PRECONDITION: "conflict_error",
    grpc.StatusCode.ABORTED: "conflict_error",
    grpc.StatusCode.RESOURCE_EXHAUSTED: "rate_limit_error",
    grpc.StatusCode.UNAVAILABLE: "service_unavailable_error",
    grpc.StatusCode.DEADLINE_EXCEEDED: "timeout_error",
}

NewCall = Callable[[Request, str], Call]


class InternalError(SentraError):
    code = grpc.StatusCode.INTERNAL


# Request bodies ---------------------------------------------------------------------------


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[ContentPart] | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class SentraOptions(BaseModel):
    """Sentra's extension (OpenAI client: `extra_body={"sentra": {...}}`)."""

    model_config = ConfigDict(extra="forbid")
    departments: list[str] = Field(default_factory=list, description="Narrow retrieval to these departments.")
    top_k: int = Field(default=0, ge=0, le=INT32_MAX, description="Passages to retrieve; 0: the service default.")
    strategy: Literal["", "reader", "extractive", "generative"] = ""
    history: bool = Field(default=True, description="An earlier user message refines a follow-up question.")


class ChatCompletionRequest(BaseModel):
    # OpenAI sends many optional fields (temperature, top_p, stop, user, seed…): accepted, unused.
    model_config = ConfigDict(extra="allow")
    model: str = Field(min_length=1, description="`sentra`, an adapter alias, `name@version` or the base model id.")
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(default=None, ge=1, le=INT32_MAX)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=INT32_MAX)
    n: int | None = None
    tools: list[Any] | None = None
    sentra: SentraOptions = Field(default_factory=SentraOptions)


# Errors -------------------------------------------------------------------------------------


def serves(path: str) -> bool:
    return path.startswith(PREFIX)


def error_body(exc: SentraError) -> dict[str, Any]:
    return {"error": {
        "message": exc.message,
        "type": ERROR_TYPES.get(exc.code, "server_error"),
        "param": exc.fields.get("param"),
        "code": exc.code.name.lower(),
    }}


def invalid_body(exc: RequestValidationError) -> InvalidArgument:
    """FastAPI's validation errors as one InvalidArgument naming the first bad field."""
    errors = exc.errors()
    if not errors:
        return InvalidArgument("the request body is not valid")
    first = errors[0]
    if first.get("type") == "json_invalid":
        reason = (first.get("ctx") or {}).get("error", "")
        return InvalidArgument(f"the request body is not valid JSON: {reason}".rstrip(": "))
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    param = ".".join(loc) or None
    where = f"{param}: " if param else ""
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    return InvalidArgument(f"{where}{first.get('msg', 'invalid value')}{more}", param=param)


# Endpoints ----------------------------------------------------------------------------------


def router(gateway: Gateway, new_call: NewCall) -> APIRouter:
    from sentra_gateway import openai_embeddings, openai_responses  # they build on this module

    api = APIRouter(prefix="/v1", tags=["OpenAI-compatible"])
    embedding_model = openai_embeddings.ModelInfo(gateway, new_call)

    async def list_models(request: Request) -> list[dict[str, Any]]:
        call = new_call(request, INFERENCE + "ListAdapters")
        reply = await gateway.unary(call, inference_pb2.ListAdaptersRequest(), None)
        found = models_of(reply)
        if embedding_model.deployed:  # the embedding model too, for /v1/embeddings
            info = await embedding_model.get(request)
            found.append({"id": info.model, "object": "model", "created": 0, "owned_by": "sentra"})
        return found

    @api.get("/models")
    async def models(request: Request) -> dict[str, Any]:
        """The models you may use: `sentra`, the base model, adapter aliases and versions."""
        return {"object": "list", "data": await list_models(request)}

    @api.get("/models/{model_id:path}")
    async def model(request: Request, model_id: str) -> dict[str, Any]:
        for entry in await list_models(request):
            if entry["id"] == model_id:
                return entry
        raise NotFound(f"model {model_id!r} does not exist or is not yours; GET /v1/models lists yours",
                       param="model")

    @api.post("/chat/completions", response_model=None)
    async def chat_completions(request: Request, body: ChatCompletionRequest) -> JSONResponse | StreamingResponse:
        """A RAG answer over your documents to the last user message, with citations."""
        message = answer_request(body)
        if not body.stream:
            call = new_call(request, INFERENCE + "Answer")
            reply = await gateway.unary(call, message, None)
            return JSONResponse(completion(call.request_id, body, reply, message.question))
        call = new_call(request, INFERENCE + "StreamAnswer")
        events = gateway.server_stream(call, message, None)
        # The first event comes before the response starts, so refusals (authentication,
        # permission, rate limit, unknown model) are answered with their HTTP status.
        first = await anext(events, None)
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return StreamingResponse(
            sse(events, first, call.request_id, body, include_usage, message.question), media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    openai_responses.register(api, gateway, new_call)
    openai_embeddings.register(api, gateway, new_call, embedding_model)
    return api


def models_of(reply: inference_pb2.ListAdaptersResponse) -> list[dict[str, Any]]:
    def entry(model_id: str, owner: str, created: int = 0) -> dict[str, Any]:
        return {"id": model_id, "object": "model", "created": created, "owned_by": owner}

    created = {(a.name, a.version): a.created_at.seconds for a in reply.adapters}
    found = [entry(DEFAULT_MODEL, "sentra")]
    if reply.base_model:
        found.append(entry(reply.base_model, "sentra"))
    for alias in sorted(reply.aliases, key=lambda a: a.alias):
        if alias.active:
            found.append(entry(alias.alias, alias.department, created.get((alias.adapter, alias.version), 0)))
    # The versions served: what active aliases point to, and the version each would roll
    # back to (kept loaded); other versions answer FAILED_PRECONDITION until activated.
    served = {(a.name, a.version) for a in reply.adapters if a.state == inference_pb2.ADAPTER_STATE_ACTIVE}
    for alias in reply.aliases:
        if alias.active:
            served |= {(alias.adapter, alias.version), (alias.adapter, alias.previous_version)}
    for adapter in sorted(reply.adapters, key=lambda a: (a.name, a.version)):
        if (adapter.name, adapter.version) in served and adapter.state != inference_pb2.ADAPTER_STATE_FAILED:
            found.append(entry(f"{adapter.name}@{adapter.version}", adapter.department, adapter.created_at.seconds))
    unique: dict[str, dict[str, Any]] = {}
    for m in found:
        unique.setdefault(m["id"], m)
    return list(unique.values())


FOLLOW_UP_WORDS = 4
FOLLOW_UP_OPENERS = re.compile(
    r"^(y|e|and|also|so|then|también|tambien|además|ademas|entonces|pero|but|what about|how about|"
    r"qué hay de|que hay de)\b", re.IGNORECASE)


def is_follow_up(text: str) -> bool:
    """A short question, or one that opens with a connective: it leans on the one before."""
    plain = text.strip().lstrip("¿¡\"'«([ ").strip()
    return len(plain.split()) <= FOLLOW_UP_WORDS or bool(FOLLOW_UP_OPENERS.match(plain))


def question_from_turns(turns: list[str], history: bool = True) -> str:
    """The question to answer from the user turns of a conversation, oldest first: the last
    one, preceded by the latest earlier turn that is not a follow-up when the last one is."""
    last = turns[-1].strip()
    if not history or len(turns) < 2 or not is_follow_up(last):
        return last
    earlier = [t.strip() for t in turns[:-1] if t.strip()]
    anchors = [t for t in earlier if not is_follow_up(t)]
    anchor = (anchors or earlier)[-1] if earlier else ""
    return f"{anchor} {last}".strip()


def message_text(content: str | list[ContentPart] | None, where: str, text_types: tuple[str, ...]) -> str:
    """The text of a message's content (a string or text parts); anything else is refused."""
    if isinstance(content, list):
        kinds = sorted({p.type for p in content if p.type not in text_types})
        if kinds:
            raise InvalidArgument(f"{where} has {', '.join(kinds)} content; Sentra answers text questions only",
                                  param=f"{where}.content")
        return "\n".join(p.text or "" for p in content)
    return content or ""


def user_turns(messages: list[ChatMessage], field: str = "messages",
               text_types: tuple[str, ...] = ("text",)) -> list[str]:
    """The text of every `user` message, oldest first; the last one must have text."""
    turns: list[tuple[int, str]] = []
    for index, msg in enumerate(messages):
        if msg.role == "user":
            turns.append((index, message_text(msg.content, f"{field}[{index}]", text_types)))
    if not turns:
        raise InvalidArgument(f"{field} has no `user` message: the question is the last message with role `user`",
                              param=field)
    index, last = turns[-1]
    if not last.strip():
        raise InvalidArgument(f"{field}[{index}], the last user message, has no text", param=f"{field}.{index}.content")
    return [text for _, text in turns]


def question_of(messages: list[ChatMessage], history: bool = True) -> str:
    return question_from_turns(user_turns(messages), history)


def answer_request(body: ChatCompletionRequest) -> inference_pb2.AnswerRequest:
    if body.n not in (None, 1):
        raise InvalidArgument(f"n must be 1 (or left out), not {body.n}: Sentra gives one answer per request",
                              param="n")
    if body.tools:
        raise InvalidArgument("tools are not supported: Sentra answers from your documents", param="tools")
    return inference_pb2.AnswerRequest(
        question=question_of(body.messages, body.sentra.history),
        adapter="" if body.model == DEFAULT_MODEL else body.model,
        max_tokens=body.max_completion_tokens or body.max_tokens or 0,
        top_k=body.sentra.top_k,
        departments=body.sentra.departments,
        strategy=strategy_value(body.sentra.strategy),
    )


# Responses ----------------------------------------------------------------------------------


def extensions(reply: inference_pb2.AnswerResponse, question: str = "") -> dict[str, Any]:
    return {
        "citations": [
            json_format.MessageToDict(c, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)
            for c in reply.citations
        ],
        "sentra": {
            "not_found": reply.not_found, "adapter": reply.adapter,
            "strategy": STRATEGY_NAMES.get(reply.strategy, ""),
            "direct_answer": reply.direct_answer,
            "parts": [{"question": p.question, "answer": p.answer, "citation": p.citation} for p in reply.parts],
            "question": question,
        },
    }


def finish_reason(body: ChatCompletionRequest, reply: inference_pb2.AnswerResponse) -> str:
    # The service does not say why generation stopped; a generated answer that used the
    # whole token budget was most likely cut.
    budget = body.max_completion_tokens or body.max_tokens
    cut = reply.strategy == inference_pb2.ANSWER_STRATEGY_GENERATIVE and budget and reply.completion_tokens >= budget
    return "length" if cut else "stop"


def usage(reply: inference_pb2.AnswerResponse) -> dict[str, int]:
    return {
        "prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens,
        "total_tokens": reply.prompt_tokens + reply.completion_tokens,
    }


def completion(
    request_id: str, body: ChatCompletionRequest, reply: inference_pb2.AnswerResponse, question: str = "",
) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{request_id}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": reply.answer, "refusal": None},
            "logprobs": None,
            "finish_reason": finish_reason(body, reply),
        }],
        "usage": usage(reply),
        **extensions(reply, question),
    }


def _event(data: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n".encode()


async def pump_events(events: AsyncIterator[Any], queue: asyncio.Queue) -> None:
    """Read the gateway's stream into `queue`: events, then None, or the exception."""
    try:
        async for event in events:
            queue.put_nowait(event)
    except Exception as exc:
        queue.put_nowait(exc)
    else:
        queue.put_nowait(None)


async def sse(
    events: AsyncIterator[inference_pb2.StreamAnswerResponse],
    first: inference_pb2.StreamAnswerResponse | None,
    request_id: str,
    body: ChatCompletionRequest,
    include_usage: bool,
    body_question: str = "",
) -> AsyncIterator[bytes]:
    """StreamAnswer events as `chat.completion.chunk` events.

    One text piece is held back so the citations can ride on the last content chunk.

    The gateway's stream is read in a task of its own: when the client goes away,
    Starlette cancels the response's (anyio) scope, which would cancel every await of the
    gateway's cleanup too and lose the call's audit entry. That task is cancelled once,
    plainly, and its cleanup runs.
    """
    created = int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        data: dict[str, Any] = {
            "id": f"chatcmpl-{request_id}", "object": "chat.completion.chunk", "created": created,
            "model": body.model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if include_usage:
            data["usage"] = None
        return _event({**data, **extra})

    queue: asyncio.Queue = asyncio.Queue()
    if first is not None:
        queue.put_nowait(first)
    reader = asyncio.create_task(pump_events(events, queue))
    held: str | None = None
    try:
        yield chunk({"role": "assistant", "content": ""})
        streamed: list[str] = []
        final: inference_pb2.AnswerResponse | None = None
        # Read to the end: the gateway audits the call when its stream ends.
        while (event := await queue.get()) is not None:
            if isinstance(event, Exception):
                raise event
            kind = event.WhichOneof("event")
            if kind == "text" and final is None:
                if held is not None:
                    yield chunk({"content": held})
                held = event.text
                streamed.append(event.text)
            elif kind == "final" and final is None:
                final = event.final
        if final is None:
            raise Unavailable("the inference service ended the answer without its final message; try again")
        text = "".join(streamed)
        rest = streamed_remainder(text, final.answer)
        yield chunk({"content": (held or "") + rest}, **extensions(final, body_question))
        yield chunk({}, finish_reason(body, final))
        if include_usage:
            yield _event({
                "id": f"chatcmpl-{request_id}", "object": "chat.completion.chunk", "created": created,
                "model": body.model, "choices": [], "usage": usage(final),
            })
        yield b"data: [DONE]\n\n"
    except SentraError as exc:
        if held:
            yield chunk({"content": held})
        yield _event(error_body(exc))
    except Exception:
        logger.exception("streamed answer failed", extra={"request_id": request_id})
        yield _event(error_body(InternalError(
            f"internal error (request id {request_id}); the operators can find details in the logs")))
    finally:
        reader.cancel()  # nothing when it has finished
        with anyio.CancelScope(shield=True):
            await asyncio.wait([reader], timeout=10)
