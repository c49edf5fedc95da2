"""Which vLLM replicas there are (static URLs and every A record of a headless Service's
DNS name, resolved again on each refresh) and which failed lately, so requests go round
the healthy ones first."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)

Resolver = Callable[[str, int], Awaitable[list[str]]]


async def resolve_a_records(name: str, port: int) -> list[str]:
    """Every IPv4 address of `name` (the pods behind a headless Service)."""
    infos = await asyncio.get_running_loop().getaddrinfo(name, port, family=socket.AF_INET,
                                                         type=socket.SOCK_STREAM)
    return sorted({info[4][0] for info in infos})


class ReplicaSet:
    def __init__(self, urls: list[str] | tuple[str, ...], dns_name: str, port: int,
                 resolver: Resolver | None = None) -> None:
        if not urls and not dns_name:
            raise ValueError("the vLLM backend needs replica URLs or a DNS name")
        self._static = [u.rstrip("/") for u in urls]
        self._dns_name = dns_name
        self._port = port
        self._resolve = resolver or resolve_a_records
        self.urls: list[str] = list(self._static)
        self._down: dict[str, float] = {}
        self._next = 0

    async def refresh(self) -> list[str]:
        """Resolve the DNS name again; on a resolver error keep the replicas known so far."""
        found = list(self._static)
        if self._dns_name:
            try:
                addresses = await self._resolve(self._dns_name, self._port)
            except OSError as exc:
                logger.warning("cannot resolve vLLM DNS name %s: %s; keeping the replicas known so far",
                               self._dns_name, exc)
                return self.urls
            found += [f"http://{address}:{self._port}" for address in addresses]
        found = list(dict.fromkeys(found))
        if found != self.urls:
            logger.info("vLLM replicas: %s", ", ".join(found) or "none")
        self.urls = found
        self._down = {url: at for url, at in self._down.items() if url in found}
        return found

    def replace(self, urls: list[str]) -> None:
        """Serve from `urls` from now on (a supervised local server that moved to a new port)."""
        self._static = [u.rstrip("/") for u in urls]
        self.urls = list(self._static)
        self._down.clear()

    async def known(self) -> list[str]:
        return self.urls or await self.refresh()

    def mark_down(self, url: str) -> None:
        self._down.setdefault(url, time.monotonic())

    def mark_up(self, url: str) -> None:
        self._down.pop(url, None)

    def round_robin(self, replicas: list[str]) -> list[str]:
        """Healthy replicas from the next one in turn, then those that failed lately (as a
        last resort: they may be back)."""
        healthy = [u for u in replicas if u not in self._down]
        down = [u for u in replicas if u in self._down]
        if healthy:
            start = self._next % len(healthy)
            self._next += 1
            healthy = healthy[start:] + healthy[:start]
        return healthy + down

    def none_answered(self, replicas: list[str]) -> str:
        where = ", ".join(replicas) or (f"DNS name {self._dns_name} (no addresses)" if self._dns_name else "nowhere")
        return f"no vLLM replica answered at {where}; check the vLLM pods and that they are ready"
