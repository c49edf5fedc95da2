"""`LlamaCppBackend`: the domain's `GenerationBackend` on a supervised llama-server — the
OpenAI-compatible engine's second flavour, beside vLLM (`adapters.vllm`), sharing its
HTTP/SSE client and request body.

- Adapters: each wanted adapter is converted to GGUF once (`convert.LoraConverter`, from
  the verified artifact, cached by digest) and loaded at scale 0 when the server starts.
  llama-server cannot add an adapter at run time, so when a wanted adapter is not in the
  running process a new process is started beside it with the whole wanted set, and the
  old one is stopped when its streams in flight have ended: no request is dropped.
  Unloading only stops serving the key (the process keeps the weights at scale 0 until the
  next restart), so a rollback is instant.
- Requests: every request sends the full `lora` list (its own adapter at scale 1, every
  other at 0; llama-server's prompt cache misbehaves when the list is partial). Chat
  messages are rendered here with Gemma's turn markers and sent as token ids, exactly as the
  local backend does, so text inside a message can never open or close a turn.
- Continuous batching: `parallel` slots of `ctx_per_slot` tokens each, decoded together;
  llama-server batches only slots on the same adapter, so requests are admitted in adapter
  groups (`gate.AdapterGate`).
- A server that died is started again (once per request) before the request fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from sentra_common.errors import InvalidArgument

from sentra_inference.adapters.llamacpp.convert import LoraConverter
from sentra_inference.adapters.llamacpp.gate import AdapterGate
from sentra_inference.adapters.llamacpp.server import LlamaServer, ServerOptions
from sentra_inference.adapters.local import END_OF_TURN, START_OF_TURN, _gemma_turns
from sentra_inference.adapters.vllm.client import ReplicaDown, VllmClient, VllmError, completion_body
from sentra_inference.adapters.vllm.replicas import ReplicaSet
from sentra_inference.domain.ports import (
    AdapterLoadError,
    BackendUnavailable,
    GenerationChunk,
    GenerationRequest,
    Message,
)

logger = logging.getLogger(__name__)


class GemmaPrompt:
    """Chat messages → Gemma token ids, with the base model's own tokenizer."""

    def __init__(self, tokenizer_file: Path) -> None:
        from tokenizers import Tokenizer

        if not tokenizer_file.is_file():
            raise BackendUnavailable(
                f"no tokenizer at {tokenizer_file}; run `python -m sentra_inference.adapters.model_files "
                f"{tokenizer_file.parent}` (make setup does) or set SENTRA_INFERENCE_LOCAL__MODEL_DIR"
            )
        self._tok = Tokenizer.from_file(str(tokenizer_file))
        self._tok.encode_special_tokens = True  # message text never becomes a control token
        self._bos = self._tok.token_to_id("<bos>")
        self._start = self._tok.token_to_id(START_OF_TURN)
        self._end = self._tok.token_to_id(END_OF_TURN)
        self._newline = self._text("\n")

    def _text(self, value: str) -> list[int]:
        return self._tok.encode(value, add_special_tokens=False).ids

    def encode(self, messages: tuple[Message, ...]) -> list[int]:
        ids = [self._bos]
        for role, content in _gemma_turns(messages):
            ids += [self._start, *self._text(f"{role}\n"), *self._text(content), self._end, *self._newline]
        return [*ids, self._start, *self._text("model\n")]


class LlamaCppBackend:
    def __init__(self, options: ServerOptions, converter: LoraConverter, *, base_model: str,
                 tokenizer_file: Path, request_timeout_seconds: float = 300.0,
                 group_wait_seconds: float = 2.0) -> None:
        self.base_model = base_model
        self.options = options
        self.converter = converter
        self._tokenizer_file = tokenizer_file
        self._prompt: GemmaPrompt | None = None
        self._replicas = ReplicaSet(["http://127.0.0.1:0"], "", 0)
        self._client = VllmClient(self._replicas, served_model=options.served_model, api_key="",
                                  request_timeout_seconds=request_timeout_seconds,
                                  connect_timeout_seconds=3.0, max_retries=1)
        self._server: LlamaServer | None = None
        # Served keys → GGUF file; the running server may hold more (at scale 0).
        self._served: dict[str, Path] = {}
        self._paths: dict[str, str] = {}
        self._lock = asyncio.Lock()
        self._retiring: set[asyncio.Task] = set()
        self._gate = AdapterGate(options.parallel, group_wait_seconds)
        self.restarts = 0

    # Lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self._prompt = await asyncio.to_thread(GemmaPrompt, self._tokenizer_file)
        async with self._lock:
            await self._switch(())

    async def close(self) -> None:
        for task in list(self._retiring):
            task.cancel()
        await asyncio.gather(*self._retiring, return_exceptions=True)
        if self._server is not None:
            await self._server.stop()
            self._server = None
        await self._client.close()

    @property
    def url(self) -> str:
        """The running server's base URL (benchmarks compare against it directly)."""
        return self._server.url if self._server is not None else ""

    async def _switch(self, loras: tuple[Path, ...]) -> None:
        """Start a server with `loras` and route new requests to it; the old one stops
        when its streams have ended. The caller holds the lock."""
        new = LlamaServer(self.options, loras)
        await new.start()
        old, self._server = self._server, new
        self._replicas.replace([new.url])
        self.restarts += 1
        if old is not None:
            task = asyncio.create_task(old.drain_and_stop(), name=f"llama-server-retire-{old.port}")
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)

    async def _ensure_loaded(self) -> None:
        """Restart with every served adapter if the running server lacks one."""
        server = self._server
        if server is None:
            raise BackendUnavailable("the llama.cpp backend is not started")
        if all(gguf in server.loras for gguf in self._served.values()) and server.running:
            return
        await self._switch(tuple(dict.fromkeys(self._served[k] for k in sorted(self._served))))

    # Adapters -------------------------------------------------------------------------

    async def load_adapter(self, key: str, path: str) -> None:
        gguf = await self.converter.gguf_for(key, path)
        async with self._lock:
            before = dict(self._served)
            self._served[key], self._paths[key] = gguf, path
            try:
                await self._ensure_loaded()
            except BackendUnavailable as exc:
                self._served = before
                self._paths.pop(key, None)
                raise AdapterLoadError(
                    f"adapter {key} could not be loaded into llama-server: {exc.message}; nothing changed",
                    adapter=key,
                ) from exc

    async def unload_adapter(self, key: str) -> None:
        async with self._lock:
            self._served.pop(key, None)
            self._paths.pop(key, None)

    async def loaded_adapters(self) -> set[str]:
        server = self._server
        return {k for k, gguf in self._served.items() if server is not None and gguf in server.loras}

    async def reconcile(self, desired: dict[str, str]) -> None:
        """Serve exactly `desired`; an adapter that cannot be converted is left out (the
        others are served) and reported as AdapterLoadError."""
        converted: dict[str, Path] = {}
        failures: list[str] = []
        for key, path in desired.items():
            try:
                converted[key] = await self.converter.gguf_for(key, path)
            except AdapterLoadError as exc:
                failures.append(exc.message)
        async with self._lock:
            self._served = converted
            self._paths = {k: desired[k] for k in converted}
            await self._ensure_loaded()
        if failures:
            raise AdapterLoadError("; ".join(failures), failed=failures)

    # Generation -----------------------------------------------------------------------

    def _body(self, request: GenerationRequest, server: LlamaServer) -> tuple[str, dict[str, Any]]:
        path, body = completion_body(request, self.options.served_model)
        if request.messages:
            del body["messages"]
            body["prompt"] = self._prompt.encode(request.messages)
            path = "/v1/completions"
        selected = None
        if request.adapter:
            selected = self._served.get(request.adapter)
            if selected is None or selected not in server.loras:
                raise AdapterLoadError(
                    f"adapter {request.adapter} is not loaded; deploy it (or pick a deployed adapter) before "
                    "sending requests to it", adapter=request.adapter,
                )
        body["lora"] = [{"id": i, "scale": 1.0 if gguf == selected else 0.0} for i, gguf in enumerate(server.loras)]
        return path, body

    async def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        await self._gate.acquire(request.adapter)
        try:
            async with contextlib.aclosing(self._generate(request)) as stream:
                async for chunk in stream:
                    yield chunk
        finally:
            self._gate.release(request.adapter)

    async def _generate(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        for attempt in range(2):
            server = self._server
            if server is None:
                raise BackendUnavailable("the llama.cpp backend is not started")
            path, body = self._body(request, server)
            server.enter()
            try:
                async with contextlib.aclosing(self._client.stream(server.url, path, body)) as stream:
                    async for chunk in stream:
                        yield chunk
                return
            except ReplicaDown as exc:
                if attempt or server.running:
                    raise BackendUnavailable(f"llama-server did not answer ({exc}); retry the request") from exc
                logger.warning("llama-server died (%s); starting it again", exc)
                await self._revive(server)
            except VllmError as exc:
                if exc.status in (400, 422):
                    raise InvalidArgument(f"the model server rejected the request: {exc.message}") from exc
                raise BackendUnavailable(f"llama-server answered {exc.status}: {exc.message}") from exc
            finally:
                server.leave()

    async def _revive(self, dead: LlamaServer) -> None:
        async with self._lock:
            if self._server is dead:
                await self._switch(dead.loras)
