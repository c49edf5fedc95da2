"""Per-principal rate limits: a token bucket per key (the principal's subject, or the
network peer for calls that have not authenticated)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sentra_gateway.config import RateLimitSettings


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(self, settings: RateLimitSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = settings.requests_per_second
        self.burst = float(settings.burst)
        self.idle = settings.idle_seconds
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._last_sweep = clock()

    def acquire(self, key: str, cost: float = 1.0) -> float:
        """Take `cost` tokens from `key`'s bucket: 0.0 if allowed, else the seconds to wait."""
        now = self.clock()
        self._sweep(now)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= cost:
            bucket.tokens -= cost
            return 0.0
        return (cost - bucket.tokens) / self.rate

    def _sweep(self, now: float) -> None:
        if now - self._last_sweep < self.idle:
            return
        self._last_sweep = now
        stale = [k for k, b in self._buckets.items() if now - b.updated > self.idle]
        for key in stale:
            del self._buckets[key]
