"""`POST /v1/embeddings`: the platform's embedding model (the one that indexes the
documents; all-MiniLM-L6-v2 by default, 384 dimensions) for OpenAI clients, so LangChain,
LlamaIndex and n8n's vector nodes embed with it. Through EmbeddingService.Embed, on the
gateway's one path (permission table, rate limit, audit).

- `model`: the model's name as the service reports it (`all-MiniLM-L6-v2`; also with an
  organisation prefix, `sentence-transformers/all-MiniLM-L6-v2`) or `sentra-embedding`;
  `GET /v1/models` lists it. Any other name is refused (404): vectors of another model
  would silently not match.
- `input`: a string or a list of strings (1..MAX_INPUTS, none empty). Token ids (lists of
  integers) are refused: the model has its own tokenizer (LangChain:
  `check_embedding_ctx_length=False`). Long texts are cut by the model at its window.
- `encoding_format`: `float` (default) or `base64` (little-endian float32, what the
  `openai` client asks for by default).
- `dimensions`: only the model's own (384); any other is refused, the vectors cannot be
  shortened.
- `usage.prompt_tokens` counts words (whitespace-separated), an approximation: the service
  does not report tokens.
"""

from __future__ import annotations

import base64
import struct
import time
from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from sentra.embedding.v1 import embedding_pb2
from sentra_common.errors import InvalidArgument, NotFound

from sentra_gateway.core import Call, Gateway

EMBEDDING = "/sentra.embedding.v1.EmbeddingService/"
ALIAS = "sentra-embedding"
MAX_INPUTS = 256
MAX_INPUT_CHARS = 32_000
INFO_TTL_SECONDS = 300.0


class EmbeddingRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # `user` and others: accepted, unused
    model: str = Field(min_length=1, description=f"The platform's embedding model (GET /v1/models) or `{ALIAS}`.")
    input: str | list[str] | list[int] | list[list[int]]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(default=None, ge=1)


class ModelInfo:
    """The embedding model's name and dimension, asked of the service as the caller and kept
    for a few minutes (the model changes only with a redeploy)."""

    def __init__(self, gateway: Gateway, new_call: Callable[[Request, str], Call]) -> None:
        self.gateway = gateway
        self.new_call = new_call
        self._info: embedding_pb2.GetModelInfoResponse | None = None
        self._at = float("-inf")

    @property
    def deployed(self) -> bool:
        return "embedding" in self.gateway.channels

    async def get(self, request: Request) -> embedding_pb2.GetModelInfoResponse:
        if self._info is None or time.monotonic() - self._at > INFO_TTL_SECONDS:
            call = self.new_call(request, EMBEDDING + "GetModelInfo")
            self._info = await self.gateway.unary(call, embedding_pb2.GetModelInfoRequest(), None)
            self._at = time.monotonic()
        return self._info


def accepts(model: str, info: embedding_pb2.GetModelInfoResponse) -> bool:
    name = model.strip().lower()
    return name == ALIAS or name == info.model.lower() or name.rsplit("/", 1)[-1] == info.model.lower()


def texts_of(body: EmbeddingRequest) -> list[str]:
    value = body.input
    if isinstance(value, str):
        value = [value]
    if not value:
        raise InvalidArgument("input is empty: send a string or a list of strings", param="input")
    if any(not isinstance(v, str) for v in value):
        raise InvalidArgument(
            "input as token ids is not supported: the model has its own tokenizer; send text "
            "(LangChain's OpenAIEmbeddings: check_embedding_ctx_length=False)", param="input")
    if len(value) > MAX_INPUTS:
        raise InvalidArgument(f"input has {len(value)} texts; at most {MAX_INPUTS} per request", param="input")
    for index, text in enumerate(value):
        if not text.strip():
            raise InvalidArgument(f"input[{index}] is empty", param="input")
        if len(text) > MAX_INPUT_CHARS:
            raise InvalidArgument(f"input[{index}] has {len(text)} characters; at most {MAX_INPUT_CHARS}",
                                  param="input")
    return list(value)


def encode(values, encoding_format: str) -> list[float] | str:
    if encoding_format == "base64":
        return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()
    return list(values)


def embeddings_body(body: EmbeddingRequest, texts: list[str], reply: embedding_pb2.EmbedResponse) -> dict[str, Any]:
    words = sum(len(t.split()) for t in texts)
    return {
        "object": "list",
        "data": [{"object": "embedding", "index": i, "embedding": encode(v.values, body.encoding_format)}
                 for i, v in enumerate(reply.vectors)],
        "model": reply.model,
        "usage": {"prompt_tokens": words, "total_tokens": words},
    }


def register(api: APIRouter, gateway: Gateway, new_call: Callable[[Request, str], Call], info: ModelInfo) -> None:
    @api.post("/embeddings")
    async def embeddings(request: Request, body: EmbeddingRequest) -> dict[str, Any]:
        """Vectors of your texts from the platform's embedding model."""
        texts = texts_of(body)
        model = await info.get(request)
        if not accepts(body.model, model):
            raise NotFound(f"model {body.model!r} is not served for embeddings; use {model.model!r} (or {ALIAS!r})",
                           param="model")
        if body.dimensions is not None and body.dimensions != model.dimension:
            raise InvalidArgument(
                f"dimensions: {model.model} gives {model.dimension}-dimensional vectors and cannot shorten them; "
                f"leave dimensions out (or send {model.dimension})", param="dimensions")
        call = new_call(request, EMBEDDING + "Embed")
        reply = await gateway.unary(call, embedding_pb2.EmbedRequest(texts=texts, is_query=False), None)
        return embeddings_body(body, texts, reply)
