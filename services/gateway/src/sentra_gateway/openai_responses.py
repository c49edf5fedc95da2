"""`POST /v1/responses`: Sentra's answers in the shape of OpenAI's Responses API, which
n8n's OpenAI chat node (and newer OpenAI clients) call by default. The same answers as
`/v1/chat/completions` (InferenceService.Answer / StreamAnswer, the gateway's one path).

Request: `model` (as for chat), `input` — a string (the question) or a list of messages
(`{"role", "content"}` with a string or `input_text` parts; `type: "message"` items too):
the question comes from its user messages exactly as for chat (a follow-up is refined by
the latest earlier user message that is not one, see `openai_api.question_from_turns`) —,
`max_output_tokens`, `stream`. `instructions` and system/developer/assistant messages are
accepted and not used: answers are grounded in the documents, not steered by a prompt.
Refused, with OpenAI's error shape: `previous_response_id` (no conversation is stored: send
the earlier turns in `input`), non-empty `tools`, images and files. Sampling parameters,
`store`, `metadata`, `text`, `reasoning`, `user`… are accepted and not used.

Answer: a `response` object whose one output item is an assistant message with one
`output_text` part; each citation also appears as a `file_citation` annotation (`file_id`:
the document id, `filename`: its title, `index`: where `[n]` stands in the text); Sentra's
`citations` and `sentra` extension fields as for chat. Status `incomplete`
(`max_output_tokens`) when a generated answer used the whole budget.

Streamed (`stream: true`): server-sent events `response.created`, `response.in_progress`,
`response.output_item.added`, `response.content_part.added`, `response.output_text.delta`…,
`response.output_text.done`, `response.content_part.done`, `response.output_item.done`,
then `response.completed` (or `response.incomplete`) carrying the whole response, each with
its `sequence_number`. An error after the stream started is an `error` event followed by
`response.failed`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sentra.inference.v1 import inference_pb2
from sentra_common.api_names import strategy_value, streamed_remainder
from sentra_common.errors import InvalidArgument, SentraError, Unavailable

from sentra_gateway.core import Call, Gateway
from sentra_gateway.openai_api import (
    DEFAULT_MODEL,
    INFERENCE,
    INT32_MAX,
    ChatMessage,
    InternalError,
    SentraOptions,
    error_body,
    extensions,
    pump_events,
    question_from_turns,
    user_turns,
)

logger = logging.getLogger(__name__)
TEXT_PARTS = ("input_text", "text", "output_text")


class ResponsesRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str = Field(min_length=1, description="`sentra`, an adapter alias, `name@version` or the base model id.")
    input: str | list[dict[str, Any]]
    instructions: str | None = None
    max_output_tokens: int | None = Field(default=None, ge=1, le=INT32_MAX)
    stream: bool = False
    previous_response_id: str | None = None
    tools: list[Any] | None = None
    temperature: float | None = None
    top_p: float | None = None
    sentra: SentraOptions = Field(default_factory=SentraOptions)


def question_of(body: ResponsesRequest) -> str:
    if body.previous_response_id:
        raise InvalidArgument("previous_response_id is not supported: Sentra stores no conversation; send the "
                              "earlier turns in input", param="previous_response_id")
    if body.tools:
        raise InvalidArgument("tools are not supported: Sentra answers from your documents", param="tools")
    if isinstance(body.input, str):
        if not body.input.strip():
            raise InvalidArgument("input has no text", param="input")
        return body.input
    messages: list[ChatMessage] = []
    for index, item in enumerate(body.input):
        kind = item.get("type", "message")
        if kind != "message" or "role" not in item:
            raise InvalidArgument(f"input[{index}] is a {kind!r} item; Sentra takes messages (role and content)",
                                  param=f"input.{index}")
        try:
            messages.append(ChatMessage.model_validate({"role": item["role"], "content": item.get("content")}))
        except ValueError:
            raise InvalidArgument(f"input[{index}].content must be a string or a list of text parts",
                                  param=f"input.{index}.content") from None
    return question_from_turns(user_turns(messages, "input", TEXT_PARTS), body.sentra.history)


def answer_request(body: ResponsesRequest) -> inference_pb2.AnswerRequest:
    return inference_pb2.AnswerRequest(
        question=question_of(body), adapter="" if body.model == DEFAULT_MODEL else body.model,
        max_tokens=body.max_output_tokens or 0, top_k=body.sentra.top_k, departments=body.sentra.departments,
        strategy=strategy_value(body.sentra.strategy),
    )


def cut(body: ResponsesRequest, reply: inference_pb2.AnswerResponse) -> bool:
    budget = body.max_output_tokens
    return bool(reply.strategy == inference_pb2.ANSWER_STRATEGY_GENERATIVE and budget
                and reply.completion_tokens >= budget)


def annotations(text: str, reply: inference_pb2.AnswerResponse) -> list[dict[str, Any]]:
    found = []
    for c in reply.citations:
        marker = text.find(f"[{c.number}]")
        found.append({"type": "file_citation", "file_id": c.document_id, "filename": c.title or c.document_id,
                      "index": marker if marker >= 0 else len(text)})
    return found


def usage(reply: inference_pb2.AnswerResponse) -> dict[str, Any]:
    return {
        "input_tokens": reply.prompt_tokens, "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": reply.completion_tokens, "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": reply.prompt_tokens + reply.completion_tokens,
    }


def message_item(item_id: str, text: str, reply: inference_pb2.AnswerResponse | None, status: str) -> dict[str, Any]:
    content = [] if reply is None else [{"type": "output_text", "text": text, "annotations": annotations(text, reply),
                                         "logprobs": []}]
    return {"type": "message", "id": item_id, "status": status, "role": "assistant", "content": content}


def response_body(
    request_id: str, body: ResponsesRequest, created: int, reply: inference_pb2.AnswerResponse | None,
    question: str, status: str = "completed", error: SentraError | None = None,
) -> dict[str, Any]:
    """The `response` object; `reply` None while in progress (or failed before an answer)."""
    item_id = f"msg_{request_id}"
    if reply is not None and status == "completed" and cut(body, reply):
        status = "incomplete"
    output = [] if reply is None else [message_item(item_id, reply.answer, reply,
                                                    "completed" if status == "completed" else "incomplete")]
    data: dict[str, Any] = {
        "id": f"resp_{request_id}", "object": "response", "created_at": created, "status": status,
        "model": body.model, "output": output, "instructions": body.instructions,
        "max_output_tokens": body.max_output_tokens, "parallel_tool_calls": False, "tool_choice": "none",
        "tools": [], "temperature": body.temperature, "top_p": body.top_p, "text": {"format": {"type": "text"}},
        "previous_response_id": None, "metadata": {}, "store": False,
        "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
        "error": None if error is None else {"code": error.code.name.lower(), "message": error.message},
        "usage": None if reply is None else usage(reply),
    }
    if reply is not None:
        data.update(extensions(reply, question))
    return data


def register(api: APIRouter, gateway: Gateway, new_call: Callable[[Request, str], Call]) -> None:
    @api.post("/responses", response_model=None)
    async def responses(request: Request, body: ResponsesRequest) -> JSONResponse | StreamingResponse:
        """A RAG answer over your documents in the Responses API's shape, with citations."""
        message = answer_request(body)
        created = int(time.time())
        if not body.stream:
            call = new_call(request, INFERENCE + "Answer")
            reply = await gateway.unary(call, message, None)
            return JSONResponse(response_body(call.request_id, body, created, reply, message.question))
        call = new_call(request, INFERENCE + "StreamAnswer")
        events = gateway.server_stream(call, message, None)
        first = await anext(events, None)  # refusals before the stream starts get their HTTP status
        return StreamingResponse(
            stream(events, first, call.request_id, body, created, message.question), media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )


async def stream(
    events: AsyncIterator[inference_pb2.StreamAnswerResponse], first: inference_pb2.StreamAnswerResponse | None,
    request_id: str, body: ResponsesRequest, created: int, question: str,
) -> AsyncIterator[bytes]:
    """StreamAnswer events as the Responses API's events. The gateway's stream is read in a
    task of its own, as for chat (`openai_api.sse`), so a client that goes away still
    leaves the call's audit entry."""
    sequence = 0
    item_id = f"msg_{request_id}"
    where = {"item_id": item_id, "output_index": 0, "content_index": 0}

    def event(kind: str, **data: Any) -> bytes:
        nonlocal sequence
        payload = {"type": kind, "sequence_number": sequence, **data}
        sequence += 1
        return f"event: {kind}\ndata: {json.dumps(payload, ensure_ascii=False, separators=(',', ':'))}\n\n".encode()

    queue: asyncio.Queue = asyncio.Queue()
    if first is not None:
        queue.put_nowait(first)
    reader = asyncio.create_task(pump_events(events, queue))
    try:
        pending = response_body(request_id, body, created, None, question, status="in_progress")
        yield event("response.created", response=pending)
        yield event("response.in_progress", response=pending)
        yield event("response.output_item.added", output_index=0,
                    item=message_item(item_id, "", None, "in_progress"))
        yield event("response.content_part.added", **where,
                    part={"type": "output_text", "text": "", "annotations": [], "logprobs": []})
        streamed: list[str] = []
        final: inference_pb2.AnswerResponse | None = None
        while (item := await queue.get()) is not None:  # to the end: the call is audited when it ends
            if isinstance(item, Exception):
                raise item
            kind = item.WhichOneof("event")
            if kind == "text" and final is None:
                streamed.append(item.text)
                yield event("response.output_text.delta", **where, delta=item.text, logprobs=[])
            elif kind == "final" and final is None:
                final = item.final
        if final is None:
            raise Unavailable("the inference service ended the answer without its final message; try again")
        rest = streamed_remainder("".join(streamed), final.answer)
        if rest:
            yield event("response.output_text.delta", **where, delta=rest, logprobs=[])
        done = response_body(request_id, body, created, final, question)
        item_done = done["output"][0]
        yield event("response.output_text.done", **where, text=final.answer, logprobs=[])
        yield event("response.content_part.done", **where, part=item_done["content"][0])
        yield event("response.output_item.done", output_index=0, item=item_done)
        yield event("response.completed" if done["status"] == "completed" else "response.incomplete", response=done)
    except Exception as exc:
        error = exc if isinstance(exc, SentraError) else InternalError(
            f"internal error (request id {request_id}); the operators can find details in the logs")
        if not isinstance(exc, SentraError):
            logger.exception("streamed response failed", extra={"request_id": request_id})
        shape = error_body(error)["error"]
        yield event("error", code=shape["code"], message=shape["message"], param=shape["param"])
        yield event("response.failed", response=response_body(request_id, body, created, None, question,
                                                              status="failed", error=error))
    finally:
        reader.cancel()
        with anyio.CancelScope(shield=True):
            await asyncio.wait([reader], timeout=10)
