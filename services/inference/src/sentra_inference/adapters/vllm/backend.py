"""`VllmBackend`: the domain's `GenerationBackend` on vLLM replicas — adapters loaded on
every replica (rolled back on a refusal), generation round the healthy replicas, and a
replica that forgot its adapters healed and retried once."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
from sentra_common.errors import InvalidArgument

from sentra_inference.adapters.vllm.client import ReplicaDown, VllmClient, VllmError, completion_body
from sentra_inference.adapters.vllm.reconciler import Reconciler, ReconcileReport
from sentra_inference.adapters.vllm.replicas import ReplicaSet, Resolver
from sentra_inference.domain.ports import (
    AdapterLoadError,
    BackendUnavailable,
    GenerationChunk,
    GenerationRequest,
)

logger = logging.getLogger(__name__)


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
        self.served_model = served_model
        self.base_model = base_model
        self._replicas = ReplicaSet(urls, dns_name, port, resolver)
        self._client = VllmClient(
            self._replicas, served_model=served_model, api_key=api_key,
            request_timeout_seconds=request_timeout_seconds, connect_timeout_seconds=connect_timeout_seconds,
            max_retries=max_retries, transport=transport,
        )
        self._reconciler = Reconciler(self._client, reconcile_interval_seconds)

    # Lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Find the replicas, check that one answers, and start the reconcile loop."""
        replicas = await self._replicas.refresh()
        answered = [url for url in list(replicas) if await self._client.healthy(url)]
        if not answered:
            raise BackendUnavailable(self._replicas.none_answered(replicas), replicas=replicas)
        self._reconciler.start()

    async def close(self) -> None:
        await self._reconciler.stop()
        await self._client.close()

    # Adapters -------------------------------------------------------------------------

    async def load_adapter(self, key: str, path: str) -> None:
        """Load on every replica that answers. A refusal rolls back the replicas that
        loaded it in this call; a replica that is down gets it from the reconcile loop."""
        async with self._reconciler.lock:
            replicas = await self._replicas.known()
            loaded_now: list[str] = []
            reached = 0
            for url in replicas:
                try:
                    if await self._client.load_on(url, key, path):
                        loaded_now.append(url)
                    reached += 1
                except ReplicaDown as exc:
                    logger.warning("vLLM replica %s is down (%s); the reconcile loop will load %s there later",
                                   url, exc, key)
                except VllmError as exc:
                    await self._roll_back(key, loaded_now)
                    raise AdapterLoadError(
                        f"adapter {key} could not be loaded from {path} on vLLM replica {url}: {exc.message}; "
                        f"nothing changed. Check that the adapter files are on the vLLM nodes at that path "
                        f"and that the adapter was trained for {self.base_model}",
                        adapter=key, path=path, replica=url, vllm_message=exc.message,
                    ) from exc
            if not reached:
                await self._roll_back(key, loaded_now)
                raise BackendUnavailable(self._replicas.none_answered(replicas), replicas=replicas)
            self._reconciler.desired[key] = path

    async def _roll_back(self, key: str, replicas: list[str]) -> None:
        for url in replicas:
            try:
                await self._client.unload_on(url, key)
            except (ReplicaDown, VllmError) as exc:
                logger.warning("could not roll back adapter %s on vLLM replica %s: %s", key, url, exc)

    async def unload_adapter(self, key: str) -> None:
        """Unload everywhere (an adapter no replica knows is already unloaded)."""
        async with self._reconciler.lock:
            self._reconciler.desired.pop(key, None)
            replicas = await self._replicas.known()
            reached = 0
            failures: list[str] = []
            for url in replicas:
                try:
                    await self._client.unload_on(url, key)
                    reached += 1
                except ReplicaDown as exc:
                    logger.warning("vLLM replica %s is down (%s); the reconcile loop will unload %s there later",
                                   url, exc, key)
                except VllmError as exc:
                    failures.append(f"{url}: {exc.message}")
            if failures:
                raise BackendUnavailable(
                    f"adapter {key} could not be unloaded on " + "; ".join(failures)
                    + "; the reconcile loop retries it", adapter=key,
                )
            if not reached:
                raise BackendUnavailable(self._replicas.none_answered(replicas), replicas=replicas)

    async def loaded_adapters(self) -> set[str]:
        """Adapters loaded on every replica that answers."""
        replicas = await self._replicas.known()
        sets: list[set[str]] = []
        for url in replicas:
            try:
                sets.append(set(await self._client.adapters_on(url)))
            except (ReplicaDown, VllmError) as exc:
                logger.warning("vLLM replica %s did not list its models: %s", url, exc)
        if not sets:
            raise BackendUnavailable(self._replicas.none_answered(replicas), replicas=replicas)
        return set.intersection(*sets)

    # Reconciliation -------------------------------------------------------------------

    async def reconcile(self, desired: dict[str, str]) -> None:
        """Make `desired` the wanted state and apply it on every replica now; the loop
        keeps applying it. AdapterLoadError if vLLM refused an adapter (the others are
        applied all the same), BackendUnavailable if no replica answered."""
        report = await self._reconciler.run_pass(dict(desired))
        if report.failed:
            details = "; ".join(f"{url}: {', '.join(msgs)}" for url, msgs in report.failed.items())
            raise AdapterLoadError(
                f"vLLM refused to load some adapters ({details}); the others are serving. Check that the "
                f"adapter files are on the vLLM nodes and were trained for {self.base_model}",
                failed=report.failed,
            )
        if len(report.unreachable) == len(report.replicas):
            raise BackendUnavailable(self._replicas.none_answered(report.replicas), replicas=report.replicas)

    async def reconcile_now(self) -> ReconcileReport:
        """One pass: find the replicas again, then on each load what is missing and (once
        `reconcile()` has set the wanted state) unload what is not wanted. Never raises for
        a replica's failure: they are in the report and the log."""
        return await self._reconciler.run_pass(None)

    @property
    def reconcile_passes(self) -> int:
        """Reconcile passes finished so far (loop, `reconcile()` and `reconcile_now()`)."""
        return self._reconciler.passes_finished

    async def wait_for_reconcile(self, passes: int = 1) -> ReconcileReport:
        """Wait until `passes` reconcile passes that *start after this call* have finished;
        returns the last one's report."""
        return await self._reconciler.wait(passes)

    # Generation -----------------------------------------------------------------------

    def _body(self, request: GenerationRequest) -> tuple[str, dict[str, Any]]:
        return completion_body(request, request.adapter or self.served_model)

    async def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        path, body = self._body(request)
        replicas = self._replicas.round_robin(await self._replicas.known())
        tried: list[str] = []
        healed: set[str] = set()
        i = 0
        while i < len(replicas):
            url = replicas[i]
            try:
                async with contextlib.aclosing(self._client.stream(url, path, body)) as stream:
                    async for chunk in stream:
                        yield chunk
                return
            except ReplicaDown as exc:
                logger.warning("vLLM replica %s did not answer (%s); trying the next one", url, exc)
                self._replicas.mark_down(url)
                tried.append(url)
                i += 1
            except VllmError as exc:
                if not exc.model_missing:
                    raise self._request_error(url, exc) from exc
                if not request.adapter:
                    raise BackendUnavailable(
                        f"vLLM replica {url} does not serve the base model {self.served_model!r}: {exc.message}; "
                        f"check that the backend's served_model matches vLLM's --served-model-name",
                        replica=url,
                    ) from exc
                if request.adapter not in self._reconciler.desired:
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
                except ReplicaDown:
                    self._replicas.mark_down(url)
                    tried.append(url)
                    i += 1
                    continue
                healed.add(url)
        raise BackendUnavailable(self._replicas.none_answered(tried), replicas=tried)

    async def _heal(self, url: str, key: str) -> None:
        async with self._reconciler.lock:
            report = ReconcileReport(replicas=[url])
            await self._reconciler.apply(url, report)
        if url in report.unreachable:
            raise ReplicaDown("unreachable while reloading its adapters")
        refused = [m for m in report.failed.get(url, []) if m.startswith(f"{key}: ")]
        if refused:
            raise AdapterLoadError(
                f"adapter {key} was missing on vLLM replica {url} (restarted?) and loading it again failed: "
                f"{refused[0].removeprefix(f'{key}: ')}; check the adapter files on that node",
                adapter=key, replica=url,
            )

    def _request_error(self, url: str, exc: VllmError) -> Exception:
        if exc.status == 401:
            return BackendUnavailable(
                f"vLLM replica {url} refused the API key (401); set the backend's api_key to vLLM's --api-key",
                replica=url,
            )
        if exc.status in (400, 422):
            return InvalidArgument(f"the model server rejected the request: {exc.message}", replica=url)
        return BackendUnavailable(f"vLLM replica {url} answered {exc.status}: {exc.message}", replica=url)
