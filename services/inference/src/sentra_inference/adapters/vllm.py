"""Generation on vLLM OpenAI-compatible servers, LoRA adapters loaded at run time.

vLLM API used (docs.vllm.ai, "LoRA Adapters" and "OpenAI-Compatible Server"):

- `POST /v1/chat/completions` / `POST /v1/completions` with `stream: true` and
  `stream_options: {"include_usage": true}`: SSE `data: {json}` lines, `data: [DONE]` last;
  the usage arrives in a last chunk with `choices: []`. `model` is the served base model
  or the name of a loaded LoRA adapter; an unknown name answers 404
  "The model `x` does not exist.".
- `POST /v1/load_lora_adapter` `{"lora_name", "lora_path"}` and
  `POST /v1/unload_lora_adapter` `{"lora_name"}`; they exist only when vLLM runs with
  `--enable-lora` and `VLLM_ALLOW_RUNTIME_LORA_UPDATING=True`. Loading a loaded name
  answers 400 "... has already been loaded"; unloading an unknown one 404.
- `GET /v1/models`: the base model (`parent` null) and each LoRA adapter (`parent` = the
  base model, `root` = its path).
- Errors: `{"object": "error", "message", ...}` (vLLM up to 0.9) or
  `{"error": {"message", ...}}` (later); both are read. A refused adapter is 400/404, or
  500 InternalServerError in newer vLLM (404 only for "No adapter found").

vLLM keeps adapters in memory: a restarted pod has forgotten them. The backend keeps the
*desired* set (key → path) and a background task re-applies it to every replica every
`reconcile_interval_seconds`; a request that meets a forgetful replica first heals that
replica and retries once. Until `reconcile()` has been called once, the backend only
adds adapters and never unloads what it did not load itself, so a restart of this service
does not strip adapters from running replicas before the registry has spoken.

Replicas are static `urls` and/or every A record of `dns_name` (a Kubernetes headless
Service), resolved again at each reconcile pass so that new pods are found.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from sentra_common.errors import InvalidArgument

from sentra_inference.domain.ports import (
    AdapterLoadError,
    BackendUnavailable,
    GenerationChunk,
    GenerationRequest,
)

logger = logging.getLogger(__name__)

Resolver = Callable[[str, int], Awaitable[list[str]]]


@dataclass
class ReconcileReport:
    """What one reconcile pass did, per replica URL."""

    replicas: list[str] = field(default_factory=list)
    loaded: dict[str, list[str]] = field(default_factory=dict)
    unloaded: dict[str, list[str]] = field(default_factory=dict)
    # Adapter loads vLLM refused: url → ["key: vLLM's message"].
    failed: dict[str, list[str]] = field(default_factory=dict)
    unreachable: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(self.loaded.values()) or any(self.unloaded.values())


class _ReplicaDown(Exception):
    """The replica could not be reached or answered 5xx; another one may serve."""


class _VllmError(Exception):
    """vLLM answered with an error body."""

    def __init__(self, status: int, message: str, type: str = "") -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message
        self.type = type

    @property
    def model_missing(self) -> bool:
        return self.status == 404 and ("does not exist" in self.message or self.type == "NotFoundError")


def _error_of(response: httpx.Response) -> _VllmError:
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
    return _VllmError(response.status_code, message, err_type)


async def resolve_a_records(name: str, port: int) -> list[str]:
    """Every IPv4 address of `name` (the pods behind a headless Service)."""
    infos = await asyncio.get_running_loop().getaddrinfo(name, port, family=socket.AF_INET,
                                                         type=socket.SOCK_STREAM)
    return sorted({info[4][0] for info in infos})


class VllmBackend:
    def __init__(
        self,
        *,
        served_model: str,
        base_model: str,
        urls: list[str] | tuple[str, ...] = (),
        dns_name: str = "",
        port: int = 8000,
        api_key: str = "",
        request_timeout_seconds: float = 120.0,
        connect_timeout_seconds: float = 3.0,
        reconcile_interval_seconds: float = 30.0,
        max_retries: int = 1,
        resolver: Resolver | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """`max_retries`: how often an adapter or model-list call is retried on the same
        replica after a connection error (a stale keep-alive connection, a pod starting).
        Generation does not retry a replica; it moves on to the next one."""
        if not urls and not dns_name:
            raise ValueError("the vLLM backend needs replica URLs or a DNS name")
        self.served_model = served_model
        self.base_model = base_model
        self._static = [u.rstrip("/") for u in urls]
        self._dns_name = dns_name
        self._port = port
        self._resolve = resolver or resolve_a_records
        self._interval = reconcile_interval_seconds
        self._max_retries = max(0, max_retries)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(
            headers=headers, transport=transport,
            timeout=httpx.Timeout(request_timeout_seconds, connect=min(connect_timeout_seconds,
                                                                        request_timeout_seconds)),
        )
        self._replicas: list[str] = list(self._static)
        self._down: dict[str, float] = {}
        self._next = 0
        self._desired: dict[str, str] = {}
        self._authoritative = False
        # Load, unload and reconcile passes run one at a time.
        self._lock = asyncio.Lock()
        self._passes_started = 0
        self._passes_finished = 0
        self._pass_done = asyncio.Condition()
        self._last_report = ReconcileReport()
        self._task: asyncio.Task | None = None

    # Lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Find the replicas, check that one answers, and start the reconcile loop."""
        await self._refresh_replicas()
        answered = False
        for url in list(self._replicas):
            try:
                response = await self._client.get(f"{url}/health")
            except httpx.TransportError:
                self._mark_down(url)
                continue
            if response.status_code == 200:
                answered = True
                self._mark_up(url)
        if not answered:
            raise BackendUnavailable(self._none_answered(self._replicas), replicas=self._replicas)
        self._task = asyncio.create_task(self._loop(), name="vllm-reconcile")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._client.aclose()

    # Replicas -------------------------------------------------------------------------

    async def _refresh_replicas(self) -> list[str]:
        found = list(self._static)
        if self._dns_name:
            try:
                addresses = await self._resolve(self._dns_name, self._port)
            except OSError as exc:
                logger.warning("cannot resolve vLLM DNS name %s: %s; keeping the replicas known so far",
                               self._dns_name, exc)
                return self._replicas
            found += [f"http://{address}:{self._port}" for address in addresses]
        found = list(dict.fromkeys(found))
        if found != self._replicas:
            logger.info("vLLM replicas: %s", ", ".join(found) or "none")
        self._replicas = found
        self._down = {url: at for url, at in self._down.items() if url in found}
        return found

    async def _known_replicas(self) -> list[str]:
        return self._replicas or await self._refresh_replicas()

    def _mark_down(self, url: str) -> None:
        self._down.setdefault(url, time.monotonic())

    def _mark_up(self, url: str) -> None:
        self._down.pop(url, None)

    def _round_robin(self, replicas: list[str]) -> list[str]:
        """Healthy replicas from the next one in turn, then those that failed lately (as a
        last resort: they may be back)."""
        healthy = [u for u in replicas if u not in self._down]
        down = [u for u in replicas if u in self._down]
        if healthy:
            start = self._next % len(healthy)
            self._next += 1
            healthy = healthy[start:] + healthy[:start]
        return healthy + down

    def _none_answered(self, replicas: list[str]) -> str:
        where = ", ".join(replicas) or (f"DNS name {self._dns_name} (no addresses)" if self._dns_name else "nowhere")
        return f"no vLLM replica answered at {where}; check the vLLM pods and that they are ready"

    # HTTP -----------------------------------------------------------------------------

    async def _call(self, method: str, url: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        """One adapter or model-list call; retried on connection errors, `_ReplicaDown`
        when the replica does not answer, `_VllmError` on a 4xx."""
        for attempt in range(self._max_retries + 1):
            try:
                response = await self._client.request(method, f"{url}{path}", json=body)
            except httpx.TransportError as exc:
                if attempt == self._max_retries:
                    self._mark_down(url)
                    raise _ReplicaDown(f"{type(exc).__name__}: {exc}") from exc
                continue
            if response.status_code >= 500:
                error = _error_of(response)
                if response.status_code == 500 and error.type:
                    # vLLM's own answer, not a sick replica: newer vLLM reports an adapter it
                    # cannot load as 500 InternalServerError.
                    raise error
                if attempt < self._max_retries:
                    continue
                raise _ReplicaDown(f"HTTP {response.status_code}: {error.message}")
            self._mark_up(url)
            if response.status_code >= 400:
                raise _error_of(response)
            return response
        raise AssertionError("unreachable")

    async def _adapters_on(self, url: str) -> dict[str, str]:
        """The LoRA adapters a replica serves: name → root (the path it was loaded from)."""
        response = await self._call("GET", url, "/v1/models")
        adapters: dict[str, str] = {}
        for card in response.json().get("data", []):
            # `parent` marks a LoRA card; a vLLM without the field lists only base models
            # and adapters, so anything but the served model is an adapter there.
            is_lora = card.get("parent") is not None if "parent" in card else card.get("id") != self.served_model
            if is_lora:
                adapters[card["id"]] = card.get("root") or ""
        return adapters

    async def _load_on(self, url: str, key: str, path: str) -> bool:
        """Load on one replica; True if it loaded now, False if it was loaded already."""
        try:
            await self._call("POST", url, "/v1/load_lora_adapter", {"lora_name": key, "lora_path": path})
        except _VllmError as exc:
            if exc.status == 400 and "already been loaded" in exc.message:
                return False
            if exc.status == 404 and exc.type == "" and exc.message == "Not Found":
                raise _VllmError(404, "this vLLM does not offer runtime LoRA loading "
                                      "(POST /v1/load_lora_adapter is not there); start it with --enable-lora "
                                      "and VLLM_ALLOW_RUNTIME_LORA_UPDATING=True") from exc
            raise
        return True

    async def _unload_on(self, url: str, key: str) -> bool:
        """Unload on one replica; True if it was loaded."""
        try:
            await self._call("POST", url, "/v1/unload_lora_adapter", {"lora_name": key})
        except _VllmError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    # Adapters -------------------------------------------------------------------------

    async def load_adapter(self, key: str, path: str) -> None:
        """Load on every replica that answers. A refusal rolls back the replicas that
        loaded it in this call; a replica that is down gets it from the reconcile loop."""
        async with self._lock:
            replicas = await self._known_replicas()
            loaded_now: list[str] = []
            reached = 0
            for url in replicas:
                try:
                    if await self._load_on(url, key, path):
                        loaded_now.append(url)
                    reached += 1
                except _ReplicaDown as exc:
                    logger.warning("vLLM replica %s is down (%s); the reconcile loop will load %s there later",
                                   url, exc, key)
                except _VllmError as exc:
                    await self._roll_back(key, loaded_now)
                    raise AdapterLoadError(
                        f"adapter {key} could not be loaded from {path} on vLLM replica {url}: {exc.message}; "
                        f"nothing changed. Check that the adapter files are on the vLLM nodes at that path "
                        f"and that the adapter was trained for {self.base_model}",
                        adapter=key, path=path, replica=url, vllm_message=exc.message,
                    ) from exc
            if not reached:
                await self._roll_back(key, loaded_now)
                raise BackendUnavailable(self._none_answered(replicas), replicas=replicas)
            self._desired[key] = path

    async def _roll_back(self, key: str, replicas: list[str]) -> None:
        for url in replicas:
            try:
                await self._unload_on(url, key)
            except (_ReplicaDown, _VllmError) as exc:
                logger.warning("could not roll back adapter %s on vLLM replica %s: %s", key, url, exc)

    async def unload_adapter(self, key: str) -> None:
        """Unload everywhere (an adapter no replica knows is already unloaded)."""
        async with self._lock:
            self._desired.pop(key, None)
            replicas = await self._known_replicas()
            reached = 0
            failures: list[str] = []
            for url in replicas:
                try:
                    await self._unload_on(url, key)
                    reached += 1
                except _ReplicaDown as exc:
                    logger.warning("vLLM replica %s is down (%s); the reconcile loop will unload %s there later",
                                   url, exc, key)
                except _VllmError as exc:
                    failures.append(f"{url}: {exc.message}")
            if failures:
                raise BackendUnavailable(
                    f"adapter {key} could not be unloaded on " + "; ".join(failures)
                    + "; the reconcile loop retries it", adapter=key,
                )
            if not reached:
                raise BackendUnavailable(self._none_answered(replicas), replicas=replicas)

    async def loaded_adapters(self) -> set[str]:
        """Adapters loaded on every replica that answers."""
        replicas = await self._known_replicas()
        sets: list[set[str]] = []
        for url in replicas:
            try:
                sets.append(set(await self._adapters_on(url)))
            except (_ReplicaDown, _VllmError) as exc:
                logger.warning("vLLM replica %s did not list its models: %s", url, exc)
        if not sets:
            raise BackendUnavailable(self._none_answered(replicas), replicas=replicas)
        return set.intersection(*sets)

    # Reconciliation -------------------------------------------------------------------

    async def reconcile(self, desired: dict[str, str]) -> None:
        """Make `desired` the wanted state and apply it on every replica now; the loop
        keeps applying it. AdapterLoadError if vLLM refused an adapter (the others are
        applied all the same), BackendUnavailable if no replica answered."""
        report = await self._pass(dict(desired))
        if report.failed:
            details = "; ".join(f"{url}: {', '.join(msgs)}" for url, msgs in report.failed.items())
            raise AdapterLoadError(
                f"vLLM refused to load some adapters ({details}); the others are serving. Check that the "
                f"adapter files are on the vLLM nodes and were trained for {self.base_model}",
                failed=report.failed,
            )
        if len(report.unreachable) == len(report.replicas):
            raise BackendUnavailable(self._none_answered(report.replicas), replicas=report.replicas)

    async def reconcile_now(self) -> ReconcileReport:
        """One pass: find the replicas again, then on each load what is missing and (once
        `reconcile()` has set the wanted state) unload what is not wanted. Never raises for
        a replica's failure: they are in the report and the log."""
        return await self._pass(None)

    async def _pass(self, desired: dict[str, str] | None) -> ReconcileReport:
        async with self._lock:
            if desired is not None:
                self._desired = desired
                self._authoritative = True
            self._passes_started += 1
            try:
                replicas = await self._refresh_replicas()
                report = ReconcileReport(replicas=list(replicas))
                await asyncio.gather(*(self._apply(url, report) for url in replicas))
                self._last_report = report
            finally:
                async with self._pass_done:
                    self._passes_finished += 1
                    self._pass_done.notify_all()
        if report.changed:
            logger.info("vLLM reconcile: loaded %s, unloaded %s",
                        {u: k for u, k in report.loaded.items() if k}, {u: k for u, k in report.unloaded.items() if k})
        return report

    async def _apply(self, url: str, report: ReconcileReport) -> None:
        loaded: list[str] = []
        unloaded: list[str] = []
        try:
            present = await self._adapters_on(url)
            wanted = dict(self._desired)
            for key, root in list(present.items()):
                # Same key, other files (should not happen: keys carry the version): reload.
                stale = key in wanted and bool(root) and root != wanted[key]
                if stale or (self._authoritative and key not in wanted):
                    if await self._unload_on(url, key):
                        unloaded.append(key)
                    del present[key]
            for key, path in wanted.items():
                if key in present:
                    continue
                try:
                    if await self._load_on(url, key, path):
                        loaded.append(key)
                except _VllmError as exc:
                    report.failed.setdefault(url, []).append(f"{key}: {exc.message}")
                    logger.warning("vLLM replica %s refused adapter %s from %s: %s", url, key, path, exc.message)
        except _ReplicaDown as exc:
            report.unreachable.append(url)
            logger.warning("vLLM replica %s is unreachable during reconcile: %s", url, exc)
        except _VllmError as exc:
            report.failed.setdefault(url, []).append(exc.message)
            logger.warning("vLLM replica %s answered an error during reconcile: %s", url, exc.message)
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            report.failed.setdefault(url, []).append(str(exc))
            logger.warning("vLLM replica %s: unexpected answer during reconcile: %s", url, exc)
        report.loaded[url] = loaded
        report.unloaded[url] = unloaded

    @property
    def reconcile_passes(self) -> int:
        """Reconcile passes finished so far (loop, `reconcile()` and `reconcile_now()`)."""
        return self._passes_finished

    async def wait_for_reconcile(self, passes: int = 1) -> ReconcileReport:
        """Wait until `passes` reconcile passes that *start after this call* have finished;
        returns the last one's report."""
        target = self._passes_started + passes
        async with self._pass_done:
            await self._pass_done.wait_for(lambda: self._passes_finished >= target)
        return self._last_report

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.reconcile_now()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("vLLM reconcile pass failed; the next one runs in %s s", self._interval)

    # Generation -----------------------------------------------------------------------

    def _body(self, request: GenerationRequest) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {
            "model": request.adapter or self.served_model,
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

    async def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        path, body = self._body(request)
        replicas = self._round_robin(await self._known_replicas())
        tried: list[str] = []
        healed: set[str] = set()
        i = 0
        while i < len(replicas):
            url = replicas[i]
            try:
                async with contextlib.aclosing(self._stream(url, path, body)) as stream:
                    async for chunk in stream:
                        yield chunk
                return
            except _ReplicaDown as exc:
                logger.warning("vLLM replica %s did not answer (%s); trying the next one", url, exc)
                self._mark_down(url)
                tried.append(url)
                i += 1
            except _VllmError as exc:
                if not exc.model_missing:
                    raise self._request_error(url, exc) from exc
                if not request.adapter:
                    raise BackendUnavailable(
                        f"vLLM replica {url} does not serve the base model {self.served_model!r}: {exc.message}; "
                        f"check that the backend's served_model matches vLLM's --served-model-name",
                        replica=url,
                    ) from exc
                if request.adapter not in self._desired:
                    raise AdapterLoadError(
                        f"adapter {request.adapter} is not loaded; deploy it (or pick a deployed adapter) "
                        f"before sending requests to it", adapter=request.adapter,
                    ) from exc
                if url in healed:
                    raise AdapterLoadError(
                        f"adapter {request.adapter} is still missing on vLLM replica {url} after loading it "
                        f"again; check that replica's logs", adapter=request.adapter, replica=url,
                    ) from exc
                # A restarted replica forgot its adapters: put them back, then retry it once.
                logger.info("vLLM replica %s lacks adapter %s (restarted?); reconciling it", url, request.adapter)
                try:
                    await self._heal(url, request.adapter)
                except _ReplicaDown:
                    self._mark_down(url)
                    tried.append(url)
                    i += 1
                    continue
                healed.add(url)
        raise BackendUnavailable(self._none_answered(tried), replicas=tried)

    async def _heal(self, url: str, key: str) -> None:
        async with self._lock:
            report = ReconcileReport(replicas=[url])
            await self._apply(url, report)
        if url in report.unreachable:
            raise _ReplicaDown("unreachable while reloading its adapters")
        refused = [m for m in report.failed.get(url, []) if m.startswith(f"{key}: ")]
        if refused:
            raise AdapterLoadError(
                f"adapter {key} was missing on vLLM replica {url} (restarted?) and loading it again failed: "
                f"{refused[0].removeprefix(f'{key}: ')}; check the adapter files on that node",
                adapter=key, replica=url,
            )

    def _request_error(self, url: str, exc: _VllmError) -> Exception:
        if exc.status == 401:
            return BackendUnavailable(
                f"vLLM replica {url} refused the API key (401); set the backend's api_key to vLLM's --api-key",
                replica=url,
            )
        if exc.status in (400, 422):
            return InvalidArgument(f"the model server rejected the request: {exc.message}", replica=url)
        return BackendUnavailable(f"vLLM replica {url} answered {exc.status}: {exc.message}", replica=url)

    async def _stream(self, url: str, path: str, body: dict[str, Any]) -> AsyncIterator[GenerationChunk]:
        """One streamed request. Before the first byte of output, a failure is
        `_ReplicaDown` (another replica may serve); after it, BackendUnavailable."""
        started = False
        finish_reason = ""
        usage: dict[str, Any] = {}
        try:
            async with self._client.stream("POST", f"{url}{path}", json=body) as response:
                if response.status_code >= 500:
                    await response.aread()
                    raise _ReplicaDown(f"HTTP {response.status_code}: {_error_of(response).message}")
                if response.status_code != 200:
                    await response.aread()
                    raise _error_of(response)
                self._mark_up(url)
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
            raise _ReplicaDown(f"{type(exc).__name__}: {exc}") from exc
        except json.JSONDecodeError as exc:
            raise BackendUnavailable(f"vLLM replica {url} sent an unreadable stream event: {exc}",
                                     replica=url) from exc
        raise BackendUnavailable(f"vLLM replica {url} ended the stream without [DONE]; retry the request",
                                 replica=url)
