"""Coalesces concurrent small requests (e.g. search queries) into one model call."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

EmbedFn = Callable[[list[str]], Awaitable[list[list[float]]]]


class MicroBatcher:
    def __init__(self, embed: EmbedFn, max_batch_size: int, max_wait_ms: float) -> None:
        self._embed = embed
        self.max_batch_size = max_batch_size
        self.max_wait = max_wait_ms / 1000
        self._queue: asyncio.Queue[tuple[list[str], asyncio.Future]] = asyncio.Queue()
        self._worker: asyncio.Task | None = None

    def start(self) -> None:
        self._worker = asyncio.create_task(self._run(), name="embedding-batcher")

    async def embed(self, texts: list[str]) -> list[list[float]]:
        if len(texts) >= self.max_batch_size:  # already a full batch
            return await self._embed(texts)
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        await self._queue.put((texts, future))
        return await future

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            pending = [first]
            size = len(first[0])
            deadline = asyncio.get_running_loop().time() + self.max_wait
            while size < self.max_batch_size:
                timeout = deadline - asyncio.get_running_loop().time()
                if timeout <= 0:
                    break
                try:
                    item = await asyncio.wait_for(self._queue.get(), timeout)
                except TimeoutError:
                    break
                pending.append(item)
                size += len(item[0])
            texts = [t for item, _ in pending for t in item]
            try:
                vectors = await self._embed(texts)
            except Exception as exc:
                for _, fut in pending:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            offset = 0
            for item, fut in pending:
                if not fut.done():
                    fut.set_result(vectors[offset : offset + len(item)])
                offset += len(item)

    async def close(self) -> None:
        if self._worker:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
