"""vLLM's HTTP API as Sentra uses it: the adapter calls (list, load, unload) with retries
on a stale connection, and one streamed completion read from its SSE lines. Which
replica answered or failed is reported to the `ReplicaSet`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from sentra_inference.adapters.vllm.replicas import ReplicaSet
from sentra_inference.domain.ports import BackendUnavailable, GenerationChunk, GenerationRequest


class ReplicaDown(Exception):
    """The replica could not be reached or answered 5xx; another one may serve."""


class VllmError(Exception):
    """vLLM answered with an error body."""

    def __init__(self, status: int, message: str, type: str = "") -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message
        self.type = type

    @property
    def model_missing(self) -> bool:
        return self.status == 404 and ("does not exist" in self.message or self.type == "NotFoundError")


def error_of(response: httpx.Response) -> VllmError:
    """vLLM's error, from either body shape, or whatever the server sent."""
    message, err_type = "", ""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        nested = body.get("error")
        if isinstance(nested, dict):
            message, err_type = str(nested.get("message", "")), str(nested.get("type", ""))
        elif "message" in body:
            message, err_type = str(body["message"]), str(body.get("type", ""))
        elif isinstance(nested, str):
            message = nested
        elif "detail" in body:
            message = str(body["detail"])
    if not message:
        message = response.text.strip()[:500] or response.reason_phrase
    return VllmError(response.status_code, message, err_type)


def completion_body(request: GenerationRequest, model: str) -> tuple[str, dict[str, Any]]:
    """The OpenAI-compatible streamed request for `request` (path, JSON body): chat
    completions for messages, completions for a raw prompt; usage in the last chunk."""
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if request.stop:
        body["stop"] = list(request.stop)
    if request.messages:
        body["messages"] = [{"role": m.role, "content": m.content} for m in request.messages]
        return "/v1/chat/completions", body
    body["prompt"] = request.prompt
    return "/v1/completions", body


class VllmClient:
    def __init__(self, replicas: ReplicaSet, *, served_model: str, api_key: str, request_timeout_seconds: float,
                 connect_timeout_seconds: float, max_retries: int,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        """`max_retries`: how often an adapter or model-list call is retried on the same
        replica after a connection error (a stale keep-alive connection, a pod starting)."""
        self.replicas = replicas
        self.served_model = served_model
        self._max_retries = max(0, max_retries)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.AsyncClient(
            headers=headers, transport=transport,
            timeout=httpx.Timeout(request_timeout_seconds, connect=min(connect_timeout_seconds,
                                                                        request_timeout_seconds)),
        )

    async def close(self) -> None:
        await self._http.aclose()

    async def healthy(self, url: str) -> bool:
        try:
            response = await self._http.get(f"{url}/health")
        except httpx.TransportError:
            self.replicas.mark_down(url)
            return False
        if response.status_code == 200:
            self.replicas.mark_up(url)
            return True
        return False

    async def call(self, method: str, url: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        """One adapter or model-list call; retried on connection errors, `ReplicaDown`
        when the replica does not answer, `VllmError` on a 4xx."""
        for attempt in range(self._max_retries + 1):
            try:
                response = await self._http.request(method, f"{url}{path}", json=body)
            except httpx.TransportError as exc:
                if attempt == self._max_retries:
                    self.replicas.mark_down(url)
                    raise ReplicaDown(f"{type(exc).__name__}: {exc}") from exc
                continue
            if response.status_code >= 500:
                error = error_of(response)
                if response.status_code == 500 and error.type:
                    # vLLM's own answer, not a sick replica: newer vLLM reports an adapter it
                    # cannot load as 500 InternalServerError.
                    raise error
                if attempt < self._max_retries:
                    continue
                raise ReplicaDown(f"HTTP {response.status_code}: {error.message}")
            self.replicas.mark_up(url)
            if response.status_code >= 400:
                raise error_of(response)
            return response
        raise AssertionError("unreachable")

    async def adapters_on(self, url: str) -> dict[str, str]:
        """The LoRA adapters a replica serves: name → root (the path it was loaded from)."""
        response = await self.call("GET", url, "/v1/models")
        adapters: dict[str, str] = {}
        for card in response.json().get("data", []):
            # `parent` marks a LoRA card; a vLLM without the field lists only base models
            # and adapters, so anything but the served model is an adapter there.
            is_lora = card.get("parent") is not None if "parent" in card else card.get("id") != self.served_model
            if is_lora:
                adapters[card["id"]] = card.get("root") or ""
        return adapters

    async def load_on(self, url: str, key: str, path: str) -> bool:
        """Load on one replica; True if it loaded now, False if it was loaded already."""
        try:
            await self.call("POST", url, "/v1/load_lora_adapter", {"lora_name": key, "lora_path": path})
        except VllmError as exc:
            if exc.status == 400 and "already been loaded" in exc.message:
                return False
            if exc.status == 404 and exc.type == "" and exc.message == "Not Found":
                raise VllmError(404, "this vLLM does not offer runtime LoRA loading "
                                     "(POST /v1/load_lora_adapter is not there); start it with --enable-lora "
                                     "and VLLM_ALLOW_RUNTIME_LORA_UPDATING=True") from exc
            raise
        return True

    async def unload_on(self, url: str, key: str) -> bool:
        """Unload on one replica; True if it was loaded."""
        try:
            await self.call("POST", url, "/v1/unload_lora_adapter", {"lora_name": key})
        except VllmError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    async def stream(self, url: str, path: str, body: dict[str, Any]) -> AsyncIterator[GenerationChunk]:
        """One streamed request. Before the first byte of output, a failure is
        `ReplicaDown` (another replica may serve); after it, BackendUnavailable."""
        started = False
        finish_reason = ""
        usage: dict[str, Any] = {}
        try:
            async with self._http.stream("POST", f"{url}{path}", json=body) as response:
                if response.status_code >= 500:
                    await response.aread()
                    raise ReplicaDown(f"HTTP {response.status_code}: {error_of(response).message}")
                if response.status_code != 200:
                    await response.aread()
                    raise error_of(response)
                self.replicas.mark_up(url)
                async for line in response.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[len("data:"):].strip()
                    if data == "[DONE]":
                        yield GenerationChunk(
                            finish_reason=finish_reason or "stop",
                            completion_tokens=int(usage.get("completion_tokens") or 0),
                            prompt_tokens=int(usage.get("prompt_tokens") or 0),
                        )
                        return
                    event = json.loads(data)
                    if "choices" not in event and ("error" in event or event.get("object") == "error"):
                        message = (event["error"].get("message") if isinstance(event.get("error"), dict)
                                   else event.get("message")) or str(event)
                        raise BackendUnavailable(f"vLLM replica {url} failed during generation: {message}",
                                                 replica=url)
                    usage = event.get("usage") or usage
                    for choice in event.get("choices") or []:
                        text = choice.get("text")
                        if text is None:
                            text = (choice.get("delta") or {}).get("content")
                        finish_reason = choice.get("finish_reason") or finish_reason
                        if text:
                            started = True
                            yield GenerationChunk(text=text)
        except httpx.TransportError as exc:
            if started:
                raise BackendUnavailable(
                    f"vLLM replica {url} dropped the stream ({type(exc).__name__}); retry the request",
                    replica=url,
                ) from exc
            raise ReplicaDown(f"{type(exc).__name__}: {exc}") from exc
        except json.JSONDecodeError as exc:
            raise BackendUnavailable(f"vLLM replica {url} sent an unreadable stream event: {exc}",
                                     replica=url) from exc
        raise BackendUnavailable(f"vLLM replica {url} ended the stream without [DONE]; retry the request",
                                 replica=url)
