"""The wanted adapters (key → path) applied to every vLLM replica, now and then again
every interval: vLLM keeps adapters in memory only, so a restarted pod is put back.

Until a full wanted state has been given once (`run_pass(desired)`), a pass only adds
adapters and never unloads what it did not load itself, so a restart of the inference
service does not strip adapters from running replicas before the registry has spoken."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

import httpx

from sentra_inference.adapters.vllm.client import ReplicaDown, VllmClient, VllmError

logger = logging.getLogger(__name__)


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


class Reconciler:
    def __init__(self, client: VllmClient, interval_seconds: float) -> None:
        self.client = client
        self.interval = interval_seconds
        self.desired: dict[str, str] = {}
        self.authoritative = False
        # Loads, unloads and reconcile passes run one at a time.
        self.lock = asyncio.Lock()
        self._passes_started = 0
        self.passes_finished = 0
        self._pass_done = asyncio.Condition()
        self._last_report = ReconcileReport()
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="vllm-reconcile")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run_pass(self, desired: dict[str, str] | None) -> ReconcileReport:
        """Find the replicas again, then on each load what is missing and (once a wanted
        state was given) unload what is not wanted. `desired` replaces the wanted state."""
        async with self.lock:
            if desired is not None:
                self.desired = desired
                self.authoritative = True
            self._passes_started += 1
            try:
                replicas = await self.client.replicas.refresh()
                report = ReconcileReport(replicas=list(replicas))
                await asyncio.gather(*(self.apply(url, report) for url in replicas))
                self._last_report = report
            finally:
                async with self._pass_done:
                    self.passes_finished += 1
                    self._pass_done.notify_all()
        if report.changed:
            logger.info("vLLM reconcile: loaded %s, unloaded %s",
                        {u: k for u, k in report.loaded.items() if k}, {u: k for u, k in report.unloaded.items() if k})
        return report

    async def apply(self, url: str, report: ReconcileReport) -> None:
        """Make one replica match the wanted state (the caller holds the lock); what
        happened goes into `report`, nothing is raised."""
        loaded: list[str] = []
        unloaded: list[str] = []
        try:
            present = await self.client.adapters_on(url)
            wanted = dict(self.desired)
            for key, root in list(present.items()):
                # Same key, other files (should not happen: keys carry the version): reload.
                stale = key in wanted and bool(root) and root != wanted[key]
                if stale or (self.authoritative and key not in wanted):
                    if await self.client.unload_on(url, key):
                        unloaded.append(key)
                    del present[key]
            for key, path in wanted.items():
                if key in present:
                    continue
                try:
                    if await self.client.load_on(url, key, path):
                        loaded.append(key)
                except VllmError as exc:
                    report.failed.setdefault(url, []).append(f"{key}: {exc.message}")
                    logger.warning("vLLM replica %s refused adapter %s from %s: %s", url, key, path, exc.message)
        except ReplicaDown as exc:
            report.unreachable.append(url)
            logger.warning("vLLM replica %s is unreachable during reconcile: %s", url, exc)
        except VllmError as exc:
            report.failed.setdefault(url, []).append(exc.message)
            logger.warning("vLLM replica %s answered an error during reconcile: %s", url, exc.message)
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            report.failed.setdefault(url, []).append(str(exc))
            logger.warning("vLLM replica %s: unexpected answer during reconcile: %s", url, exc)
        report.loaded[url] = loaded
        report.unloaded[url] = unloaded

    async def wait(self, passes: int = 1) -> ReconcileReport:
        """Wait until `passes` passes that *start after this call* have finished; returns
        the last one's report."""
        target = self._passes_started + passes
        async with self._pass_done:
            await self._pass_done.wait_for(lambda: self.passes_finished >= target)
        return self._last_report

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.run_pass(None)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("vLLM reconcile pass failed; the next one runs in %s s", self.interval)
