"""Prometheus metrics: one /metrics endpoint per service process.

Names follow `sentra_<service>_<thing>_<unit>`.
"""

from __future__ import annotations

import logging

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, start_http_server

logger = logging.getLogger(__name__)

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class ServiceMetrics:
    """The metrics every service exports; services add their own beside these."""

    def __init__(self, service: str, registry: CollectorRegistry = REGISTRY) -> None:
        self.service = service
        self.registry = registry
        self.grpc_requests = Counter(
            f"sentra_{service}_grpc_requests_total",
            "gRPC calls served, by method and status code.",
            ["method", "code"],
            registry=registry,
        )
        self.grpc_duration = Histogram(
            f"sentra_{service}_grpc_request_duration_seconds",
            "Time to serve a gRPC call.",
            ["method"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.events_handled = Counter(
            f"sentra_{service}_events_handled_total",
            "NATS messages handled, by subject and outcome (ok, retry, dead_letter).",
            ["subject", "outcome"],
            registry=registry,
        )
        self.event_duration = Histogram(
            f"sentra_{service}_event_handling_duration_seconds",
            "Time to handle one NATS message.",
            ["subject"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )


def start_metrics_server(host: str, port: int) -> int | None:
    """Serve /metrics; returns the bound port, or None when disabled (port -1)."""
    if port < 0:
        return None
    server, _thread = start_http_server(port, addr=host)
    bound = server.server_port
    logger.info("metrics endpoint listening", extra={"metrics_port": bound})
    return bound
