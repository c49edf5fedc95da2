"""Calls refused before anyone was identified, counted instead of written one by one.

An anonymous caller can send thousands of bad requests a second; one audit entry each
would let it flood the log (and its hash chain). Refusals of unidentified callers (bad or
missing credentials, the per-peer rate limit) and the refusals the internal services
report over NATS are counted per source, peer, method, code and reason, and written as
one audit entry per key and window (a minute by default): "37 calls refused". At most
`max_keys` distinct keys are kept per window; the rest are counted under one
"(other reasons)" key per source, so the number of entries per window is bounded too.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sentra_gateway.audit import AuditLog, AuditRecord

logger = logging.getLogger(__name__)

OTHER = "(other reasons)"
_NUMBERS = re.compile(r"\d+(?:[.:]\d+)*")


@dataclass
class _Tally:
    count: int
    first: datetime
    request_id: str
    reason: str  # the first one's, in full


class RefusalDigest:
    def __init__(self, audit: AuditLog, window_seconds: float = 60.0, max_keys: int = 1000) -> None:
        self.audit = audit
        self.window_seconds = window_seconds
        self.max_keys = max_keys
        self._tallies: dict[tuple[str, str, str, str, str], _Tally] = {}
        self._window_start = time.monotonic()
        self._lock = asyncio.Lock()

    async def count(self, *, source: str, peer: str, method: str, code: str, reason: str,
                    request_id: str = "", at: datetime | None = None) -> None:
        """Count one refusal; writes the window's entries first when it has ended."""
        if time.monotonic() - self._window_start >= self.window_seconds:
            await self.flush()
        # Counted by the reason's wording, numbers aside ("retry in 0.03 s", a token's expiry time).
        key = (source, peer, method, code, _NUMBERS.sub("#", reason))
        if key not in self._tallies and len(self._tallies) >= self.max_keys:
            key, reason = (source, "", "", code, OTHER), OTHER
        tally = self._tallies.get(key)
        if tally is None:
            self._tallies[key] = _Tally(1, at or datetime.now(UTC), request_id, reason)
        else:
            tally.count += 1
        if self.window_seconds <= 0:
            await self.flush()

    async def flush(self) -> int:
        """Write one audit entry per key counted in the window; returns how many."""
        async with self._lock:
            tallies, self._tallies = self._tallies, {}
            self._window_start = time.monotonic()
            for (source, peer, method, code, _wording), tally in tallies.items():
                reason = tally.reason
                calls = "1 call" if tally.count == 1 else f"{tally.count} calls"
                where = "" if source == "gateway" else f"direct call to the {source} service, around the gateway: "
                await self.audit.append(AuditRecord(
                    method=method, result=code, peer=peer, request_id=tally.request_id, at=tally.first,
                    detail=f"{where}{reason} [{calls} refused in this window]",
                ))
            return len(tallies)

    async def run(self) -> None:
        """Write each window's entries when it ends, also when no refusal comes after it."""
        while True:
            await asyncio.sleep(max(self.window_seconds, 1.0))
            try:
                await self.flush()
            except Exception:
                logger.exception("AUDIT WRITE FAILED for refused calls; retrying next window")
