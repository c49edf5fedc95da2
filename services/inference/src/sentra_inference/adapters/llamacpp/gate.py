"""Requests admitted to llama-server in adapter groups.

llama-server decodes together only the slots whose LoRA configuration is the same: with
four slots on four different adapters, each step decodes one slot, and throughput falls to
that of a single stream. So Sentra keeps the queue itself: at most `slots` requests are in
the server at once, and a free slot goes to a waiting request of the adapter group that is
running; when that group has drained, the oldest waiting request's adapter forms the next
group (with every waiting request of that adapter). Once the oldest waiting request has
waited `max_wait_seconds`, the running group gets no more requests and drains, so that
request's group goes next: nobody waits much longer than that plus one request, and groups
are never mixed in the server.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class _Waiter:
    adapter: str
    since: float
    admitted: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class AdapterGate:
    def __init__(self, slots: int, max_wait_seconds: float = 2.0) -> None:
        self.slots = slots
        self.max_wait_seconds = max_wait_seconds
        self.running: Counter[str] = Counter()
        self._waiting: list[_Waiter] = []

    async def acquire(self, adapter: str) -> None:
        waiter = _Waiter(adapter, time.monotonic())
        self._waiting.append(waiter)
        self._admit()
        try:
            await waiter.admitted
        except asyncio.CancelledError:
            if waiter.admitted.done() and not waiter.admitted.cancelled():
                self.release(adapter)  # admitted just as it was cancelled
            else:
                self._waiting.remove(waiter)
            raise

    def release(self, adapter: str) -> None:
        self.running[adapter] -= 1
        if self.running[adapter] <= 0:
            del self.running[adapter]
        self._admit()

    def _admit(self) -> None:
        now = time.monotonic()
        # A group that starts now takes every waiting request of its adapter (up to the
        # slots); the waiting-time rule only stops a running group from growing further.
        starting = not self.running
        while self._waiting and sum(self.running.values()) < self.slots:
            if not self.running:
                pick = self._waiting[0]
            elif (not starting and now - self._waiting[0].since >= self.max_wait_seconds
                  and self._waiting[0].adapter not in self.running):
                pick = None  # the oldest has waited long enough: let the running group drain
            else:
                pick = next((w for w in self._waiting if w.adapter in self.running), None)
            if pick is None:
                break
            self._waiting.remove(pick)
            if pick.admitted.done():  # cancelled while it waited
                continue
            self.running[pick.adapter] += 1
            pick.admitted.set_result(None)
