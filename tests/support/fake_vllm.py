"""A fake vLLM server: vLLM's OpenAI-compatible HTTP API and its runtime LoRA endpoints,
without a model.

What it imitates (shapes from vLLM's documentation and `vllm/entrypoints/openai/`):

- `GET /health`: 200 with an empty body; not behind the API key, like vLLM.
- `GET /v1/models`: `{"object": "list", "data": [ModelCard...]}`; the base model has
  `root` = the model path and `parent` = null, each loaded LoRA adapter has `root` =
  its `lora_path` and `parent` = the served base model.
- `POST /v1/completions` and `POST /v1/chat/completions`, streamed (SSE `data: {json}`
  lines ending with `data: [DONE]`) or not. `model` names the base model or a loaded
  adapter; an unknown one gets vLLM's 404 `The model `x` does not exist.` Streams carry
  `choices[].text` / `choices[].delta.content`, the finish reason on the last choice
  chunk, and with `stream_options: {"include_usage": true}` a last chunk with
  `choices: []` and `usage`.
- `POST /v1/load_lora_adapter` `{"lora_name", "lora_path"}` and
  `POST /v1/unload_lora_adapter` `{"lora_name"}`: 200 with vLLM's plain-text
  `Success: ...` body; these routes exist only when `VLLM_ALLOW_RUNTIME_LORA_UPDATING`
  is `True`/`1`, as in vLLM (otherwise they answer FastAPI's 404). Loading a name that
  is loaded answers 400 `... has already been loaded.`; unloading an unknown name
  answers 404 `... cannot be found.`
- Errors as the JSON vLLM's `ErrorResponse` had up to v0.9: `{"object": "error",
  "message", "type", "param", "code"}` with the HTTP status in `code`. (Newer vLLM
  nests the same fields under `"error"`; clients should read both.)
- `--api-key`: every `/v1` path needs `Authorization: Bearer <key>`, else 401
  `{"error": "Unauthorized"}`, like vLLM's authentication middleware.
- State is in memory: a restarted process has forgotten every adapter loaded at run time,
  like a restarted vLLM pod.

Its own rules, where vLLM would run a model:

- An adapter directory must exist and hold `adapter_config.json` (else 404
  `Loading lora <name> failed: No adapter found for <path>`, as vLLM answers for a missing
  adapter). Compatibility check of the fake: when `adapter_config.json` names
  `base_model_name_or_path` and it matches neither the served name nor the model path
  (nor their last path component), loading is refused with 400. Real vLLM finds such a
  mismatch only when the weights' shapes do not fit.
- A relative `lora_path` is looked up under `--lora-modules-dir` (default: the working
  directory); two fakes with different directories imitate nodes whose volumes differ.
- Generation is deterministic: `[<model>] echo: <last words of the prompt>`, where
  `<model>` is the base model or adapter that served it. Tokens are whitespace-separated
  words: `max_tokens` counts them (finish_reason "length"), a `stop` string cuts the text
  before it (finish_reason "stop"). The chat template is not applied: the fake echoes the
  last message.

What it does not do: sampling (temperature is accepted and ignored), logprobs, n > 1,
tools, embeddings, the LoRA resolver plugins, `--lora-modules` at start-up, max_loras
eviction, tokenization, or vLLM's exact validation messages.

Run it: `python -m tests.support.fake_vllm --port 0 --port-file PATH --served-model NAME`.
`FakeVllmServer` runs it inside the test's event loop, `FakeVllmProcess` as a process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict

ECHO_WORDS = 6
REPO_ROOT = Path(__file__).resolve().parents[2]


# Requests -------------------------------------------------------------------------------


class _Lenient(BaseModel):
    # vLLM ignores (and logs) fields it does not know.
    model_config = ConfigDict(extra="ignore")


class StreamOptions(_Lenient):
    include_usage: bool = False


class CompletionRequest(_Lenient):
    model: str = ""
    prompt: str | list[str]
    max_tokens: int | None = 16
    temperature: float | None = None
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None


class ChatMessage(_Lenient):
    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatCompletionRequest(_Lenient):
    model: str = ""
    messages: list[ChatMessage]
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    temperature: float | None = None
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None


class LoadLoRAAdapterRequest(_Lenient):
    lora_name: str = ""
    lora_path: str = ""


class UnloadLoRAAdapterRequest(_Lenient):
    lora_name: str = ""
    lora_int_id: int | None = None


# State and generation -------------------------------------------------------------------


@dataclass
class LoadedLora:
    name: str
    path: str
    int_id: int
    created: int = field(default_factory=lambda: int(time.time()))


@dataclass
class FakeVllmState:
    served_model: str
    model_path: str
    lora_modules_dir: Path
    max_model_len: int = 2048
    loras: dict[str, LoadedLora] = field(default_factory=dict)
    next_lora_id: int = 1
    started: int = field(default_factory=lambda: int(time.time()))

    def serves(self, model: str) -> bool:
        return not model or model == self.served_model or model in self.loras


def error_response(message: str, err_type: str, status: int, param: str | None = None) -> JSONResponse:
    return JSONResponse(
        {"object": "error", "message": message, "type": err_type, "param": param, "code": status},
        status_code=status,
    )


def words(text: str) -> list[str]:
    return text.split()


def echo_text(model: str, prompt: str) -> str:
    return f"[{model}] echo: {' '.join(words(prompt)[-ECHO_WORDS:])}"


@dataclass
class Generation:
    pieces: list[str]
    finish_reason: Literal["stop", "length"]
    stop_reason: str | None

    @property
    def text(self) -> str:
        return "".join(self.pieces)


def generate(text: str, max_tokens: int, stops: list[str]) -> Generation:
    """Emit `text` word by word (a word is a token) until `max_tokens` or a stop string."""
    pieces: list[str] = []
    so_far = ""
    for i, word in enumerate(words(text)):
        if i >= max_tokens:
            return Generation(pieces, "length", None)
        piece = word if i == 0 else " " + word
        candidate = so_far + piece
        hits = [(candidate.find(s), s) for s in stops if s and s in candidate]
        if hits:
            at, stop = min(hits)
            cut = candidate[:at][len(so_far):]
            if cut:
                pieces.append(cut)
            return Generation(pieces, "stop", stop)
        pieces.append(piece)
        so_far = candidate
    return Generation(pieces, "stop", None)


def _stops(stop: str | list[str] | None) -> list[str]:
    if stop is None:
        return []
    return [stop] if isinstance(stop, str) else list(stop)


def _message_text(message: ChatMessage) -> str:
    if isinstance(message.content, str):
        return message.content
    if isinstance(message.content, list):
        return " ".join(str(part.get("text", "")) for part in message.content if part.get("type") == "text")
    return ""


def _usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def _sse(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload, separators=(',', ':'))}\n\n"


# The application ------------------------------------------------------------------------


def runtime_lora_updating_allowed(environ: dict[str, str] | None = None) -> bool:
    value = (environ if environ is not None else os.environ).get("VLLM_ALLOW_RUNTIME_LORA_UPDATING", "0")
    return value.strip().lower() in ("1", "true")


def create_app(
    served_model: str,
    *,
    model_path: str = "",
    lora_modules_dir: Path | None = None,
    api_key: str = "",
    allow_runtime_lora_updating: bool = True,
    max_model_len: int = 2048,
) -> FastAPI:
    state = FakeVllmState(
        served_model=served_model, model_path=model_path or served_model,
        lora_modules_dir=(lora_modules_dir or Path.cwd()).resolve(), max_model_len=max_model_len,
    )
    app = FastAPI(title="fake vLLM")
    app.state.fake = state

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        # vLLM answers validation errors with 400, not FastAPI's 422.
        return error_response(str(exc), "BadRequestError", 400)

    if api_key:
        @app.middleware("http")
        async def _authenticate(request: Request, call_next):
            if request.method != "OPTIONS" and request.url.path.startswith("/v1"):
                if request.headers.get("Authorization") != f"Bearer {api_key}":
                    return JSONResponse({"error": "Unauthorized"}, status_code=401)
            return await call_next(request)

    @app.get("/health")
    async def health() -> Response:
        return Response(status_code=200)

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        base = {
            "id": state.served_model, "object": "model", "created": state.started, "owned_by": "vllm",
            "root": state.model_path, "parent": None, "max_model_len": state.max_model_len,
            "permission": [_permission()],
        }
        loras = [
            {
                "id": lora.name, "object": "model", "created": lora.created, "owned_by": "vllm",
                "root": lora.path, "parent": state.served_model, "max_model_len": None,
                "permission": [_permission()],
            }
            for lora in state.loras.values()
        ]
        return {"object": "list", "data": [base, *loras]}

    def _unknown_model(model: str) -> JSONResponse:
        return error_response(f"The model `{model}` does not exist.", "NotFoundError", 404, "model")

    @app.post("/v1/completions")
    async def completions(body: CompletionRequest):
        if not state.serves(body.model):
            return _unknown_model(body.model)
        if (refused := _bad_max_tokens(body.max_tokens)) is not None:
            return refused
        model = body.model or state.served_model
        prompt = body.prompt if isinstance(body.prompt, str) else (body.prompt[0] if body.prompt else "")
        prompt_tokens = len(words(prompt))
        gen = generate(echo_text(model, prompt), _max_tokens(body.max_tokens, prompt_tokens, state),
                       _stops(body.stop))
        request_id, created = f"cmpl-{uuid.uuid4().hex}", int(time.time())
        head = {"id": request_id, "object": "text_completion", "created": created, "model": model}
        if not body.stream:
            return {
                **head,
                "choices": [{"index": 0, "text": gen.text, "logprobs": None,
                             "finish_reason": gen.finish_reason, "stop_reason": gen.stop_reason}],
                "usage": _usage(prompt_tokens, len(gen.pieces)),
            }

        async def stream() -> AsyncIterator[str]:
            pieces = gen.pieces or [""]
            for i, piece in enumerate(pieces):
                last = i == len(pieces) - 1
                yield _sse({**head, "choices": [{
                    "index": 0, "text": piece, "logprobs": None,
                    "finish_reason": gen.finish_reason if last else None,
                    "stop_reason": gen.stop_reason if last else None,
                }]})
                await asyncio.sleep(0)
            if body.stream_options and body.stream_options.include_usage:
                yield _sse({**head, "choices": [], "usage": _usage(prompt_tokens, len(gen.pieces))})
            yield "data: [DONE]\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream")

    @app.post("/v1/chat/completions")
    async def chat_completions(body: ChatCompletionRequest):
        if not state.serves(body.model):
            return _unknown_model(body.model)
        if not body.messages:
            return error_response("messages must not be empty", "BadRequestError", 400, "messages")
        if (refused := _bad_max_tokens(body.max_completion_tokens or body.max_tokens)) is not None:
            return refused
        model = body.model or state.served_model
        prompt_tokens = sum(len(words(_message_text(m))) for m in body.messages)
        max_tokens = _max_tokens(body.max_completion_tokens or body.max_tokens, prompt_tokens, state)
        gen = generate(echo_text(model, _message_text(body.messages[-1])), max_tokens, _stops(body.stop))
        request_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        head = {"id": request_id, "object": "chat.completion.chunk", "created": created, "model": model}
        if not body.stream:
            return {
                **head, "object": "chat.completion",
                "choices": [{
                    "index": 0, "message": {"role": "assistant", "content": gen.text, "tool_calls": []},
                    "logprobs": None, "finish_reason": gen.finish_reason, "stop_reason": gen.stop_reason,
                }],
                "usage": _usage(prompt_tokens, len(gen.pieces)),
            }

        async def stream() -> AsyncIterator[str]:
            yield _sse({**head, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                             "logprobs": None, "finish_reason": None}]})
            pieces = gen.pieces or [""]
            for i, piece in enumerate(pieces):
                last = i == len(pieces) - 1
                choice: dict[str, Any] = {"index": 0, "delta": {"content": piece}, "logprobs": None,
                                          "finish_reason": gen.finish_reason if last else None}
                if last:
                    choice["stop_reason"] = gen.stop_reason
                yield _sse({**head, "choices": [choice]})
                await asyncio.sleep(0)
            if body.stream_options and body.stream_options.include_usage:
                yield _sse({**head, "choices": [], "usage": _usage(prompt_tokens, len(gen.pieces))})
            yield "data: [DONE]\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream")

    if allow_runtime_lora_updating:
        @app.post("/v1/load_lora_adapter")
        async def load_lora_adapter(body: LoadLoRAAdapterRequest):
            if not body.lora_name or not body.lora_path:
                return error_response("Both 'lora_name' and 'lora_path' must be provided.", "InvalidUserInput", 400)
            if body.lora_name in state.loras:
                return error_response(f"The lora adapter '{body.lora_name}' has already been loaded.",
                                      "InvalidUserInput", 400)
            refused = _check_adapter(state, body.lora_name, body.lora_path)
            if refused is not None:
                return refused
            state.loras[body.lora_name] = LoadedLora(body.lora_name, body.lora_path, state.next_lora_id)
            state.next_lora_id += 1
            return PlainTextResponse(f"Success: LoRA adapter '{body.lora_name}' added successfully.")

        @app.post("/v1/unload_lora_adapter")
        async def unload_lora_adapter(body: UnloadLoRAAdapterRequest):
            if not body.lora_name and not body.lora_int_id:
                return error_response("either 'lora_name' and 'lora_int_id' needs to be provided.",
                                      "InvalidUserInput", 400)
            if body.lora_name not in state.loras:
                return error_response(f"The lora adapter '{body.lora_name}' cannot be found.", "NotFoundError", 404)
            del state.loras[body.lora_name]
            return PlainTextResponse(f"Success: LoRA adapter '{body.lora_name}' removed successfully.")

    return app


def _permission() -> dict[str, Any]:
    return {
        "id": f"modelperm-{uuid.uuid4().hex}", "object": "model_permission", "created": int(time.time()),
        "allow_create_engine": False, "allow_sampling": True, "allow_logprobs": True,
        "allow_search_indices": False, "allow_view": True, "allow_fine_tuning": False,
        "organization": "*", "group": None, "is_blocking": False,
    }


def _max_tokens(requested: int | None, prompt_tokens: int, state: FakeVllmState) -> int:
    room = max(state.max_model_len - prompt_tokens, 0)
    return room if requested is None else min(requested, room)


def _bad_max_tokens(requested: int | None) -> JSONResponse | None:
    if requested is not None and requested < 1:
        return error_response(f"max_tokens must be at least 1, got {requested}.", "BadRequestError", 400)
    return None


def _same_model(a: str, b: str) -> bool:
    a, b = a.rstrip("/"), b.rstrip("/")
    return a == b or a.rsplit("/", 1)[-1] == b.rsplit("/", 1)[-1]


def _check_adapter(state: FakeVllmState, name: str, lora_path: str) -> JSONResponse | None:
    directory = Path(lora_path)
    if not directory.is_absolute():
        directory = state.lora_modules_dir / directory
    config_file = directory / "adapter_config.json"
    if not config_file.is_file():
        return error_response(f"Loading lora {name} failed: No adapter found for {lora_path}", "NotFoundError", 404)
    try:
        config = json.loads(config_file.read_text())
    except (OSError, ValueError) as exc:
        return error_response(f"Loading lora {name} failed: {config_file} is not valid JSON: {exc}",
                              "BadRequestError", 400)
    base = config.get("base_model_name_or_path") if isinstance(config, dict) else None
    if base and not (_same_model(base, state.served_model) or _same_model(base, state.model_path)):
        return error_response(
            f"Loading lora {name} failed: the adapter was trained for base model {base!r}, "
            f"but this server serves {state.served_model!r}", "BadRequestError", 400,
        )
    return None


# Running it -----------------------------------------------------------------------------


def _server(app: FastAPI, port: int, host: str = "127.0.0.1") -> uvicorn.Server:
    config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False,
                            lifespan="off", timeout_graceful_shutdown=1)
    return uvicorn.Server(config)


def _bound_port(server: uvicorn.Server) -> int:
    return server.servers[0].sockets[0].getsockname()[1]


def write_port_file(path: Path, port: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(str(port))
    tmp.replace(path)


class FakeVllmServer:
    """The fake inside the current event loop, on 127.0.0.1 (or another loopback address,
    to play a second pod behind one DNS name); `restart()` keeps the port and forgets every
    adapter, like a restarted vLLM pod."""

    def __init__(self, served_model: str, *, host: str = "127.0.0.1", port: int = 0, **app_options: Any) -> None:
        self.served_model = served_model
        self.app_options = app_options
        self.host = host
        self.port = port
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def state(self) -> FakeVllmState:
        assert self._server is not None, "the fake vLLM is not running"
        return self._server.config.app.state.fake

    async def start(self) -> str:
        server = _server(create_app(self.served_model, **self.app_options), self.port, self.host)
        server.capture_signals = contextlib.nullcontext  # pytest keeps its own signal handling
        task = asyncio.create_task(server.serve())
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("the fake vLLM did not start")
            await asyncio.sleep(0.01)
        self._server, self._task, self.port = server, task, _bound_port(server)
        return self.url

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        self._server.force_exit = True
        await self._task
        self._server = self._task = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()


class FakeVllmProcess:
    """The fake as a separate process, stopped by PID; `kill()` then `start()` again brings
    up a fresh process (no adapters) on the same port."""

    def __init__(self, served_model: str, run_dir: Path, *, name: str = "vllm",
                 lora_modules_dir: Path | None = None, api_key: str = "", model_path: str = "") -> None:
        self.served_model = served_model
        self.run_dir = run_dir
        self.name = name
        self.lora_modules_dir = lora_modules_dir
        self.api_key = api_key
        self.model_path = model_path
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self.log = run_dir / f"{name}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> str:
        port_file = self.run_dir / f"{self.name}.port"
        port_file.unlink(missing_ok=True)
        args = [sys.executable, "-m", "tests.support.fake_vllm", "--port", str(self.port),
                "--port-file", str(port_file), "--served-model", self.served_model]
        if self.lora_modules_dir is not None:
            args += ["--lora-modules-dir", str(self.lora_modules_dir)]
        if self.model_path:
            args += ["--model", self.model_path]
        env = {**os.environ, "VLLM_ALLOW_RUNTIME_LORA_UPDATING": "True"}
        if self.api_key:
            env["VLLM_API_KEY"] = self.api_key
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(args, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while not port_file.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(f"the fake vLLM exited with code {self.proc.returncode}; see {self.log}")
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"the fake vLLM did not write {port_file} within {timeout} s; see {self.log}")
            time.sleep(0.05)
        self.port = int(port_file.read_text())
        return self.url

    def _signal(self, sig: int, timeout: float) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM: graceful."""
        self._signal(signal.SIGTERM, timeout)

    def kill(self) -> None:
        """SIGKILL: a crash."""
        self._signal(signal.SIGKILL, 10)


async def _serve(args: argparse.Namespace) -> None:
    app = create_app(
        args.served_model, model_path=args.model, lora_modules_dir=args.lora_modules_dir,
        api_key=args.api_key, allow_runtime_lora_updating=runtime_lora_updating_allowed(),
    )
    server = _server(app, args.port)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise SystemExit("the fake vLLM did not start")
        await asyncio.sleep(0.01)
    if args.port_file:
        write_port_file(args.port_file, _bound_port(server))
    await task


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.support.fake_vllm", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument("--port-file", type=Path, help="write the bound port here once listening")
    parser.add_argument("--served-model", required=True, help="the base model's id, as vLLM's --served-model-name")
    parser.add_argument("--model", default="", help="the model path (root of the base model card)")
    parser.add_argument("--lora-modules-dir", type=Path, help="where relative lora_path values are looked up")
    parser.add_argument("--api-key", default=os.environ.get("VLLM_API_KEY", ""))
    asyncio.run(_serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main()


async def listed_adapters(url: str) -> dict[str, str]:
    """LoRA adapters a replica lists on GET /v1/models: name → root (path)."""
    import httpx

    async with httpx.AsyncClient() as client:
        data = (await client.get(f"{url}/v1/models")).json()["data"]
    return {card["id"]: card["root"] for card in data if card["parent"] is not None}
