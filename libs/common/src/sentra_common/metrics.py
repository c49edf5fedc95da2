"""Prometheus metrics: one /metrics endpoint per service process.

Names follow `sentra_<service>_<thing>_<unit>`; every name a service exports is listed,
with its labels, in `docs/metrics.md` (the chart's dashboards and alert rules are checked
against that list and against a running platform's endpoints by tests/monitoring).

Labels stay bounded: a method, an event subject, a consumer, a state, a stage, a
department (a company has a handful; the gateway only counts departments the caller
belongs to), never a document, job, user or request id.

`ServiceMetrics` holds what every service exports (RED per RPC and per event subject,
its NATS consumers' backlog); each service adds its own families beside them (see its
`telemetry.py`). `GaugeSnapshot` and `ReadCounter` expose values a service keeps anyway
(counts read from its database by a poller, counters its domain keeps as plain ints)
without the domain importing this module.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    start_http_server,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
# Longer work: a document stage, an answer generated on a CPU, a model load.
SLOW_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900)
_LATENCY_BUCKETS = LATENCY_BUCKETS  # the name older code imported


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
            buckets=LATENCY_BUCKETS,
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
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.events_published = Counter(
            f"sentra_{service}_events_published_total",
            "Events published to JetStream (acknowledged by the stream), by subject.",
            ["subject"],
            registry=registry,
        )
        self.consumer_pending = Gauge(
            f"sentra_{service}_nats_consumer_pending_messages",
            "Messages in the stream that this durable consumer has not been delivered yet (its backlog), "
            "as last polled from JetStream.",
            ["stream", "consumer"],
            registry=registry,
        )
        self.consumer_ack_pending = Gauge(
            f"sentra_{service}_nats_consumer_ack_pending_messages",
            "Messages delivered to this durable consumer and not acknowledged yet (in progress or about to "
            "be redelivered), as last polled from JetStream.",
            ["stream", "consumer"],
            registry=registry,
        )
        self.consumer_redelivered = Gauge(
            f"sentra_{service}_nats_consumer_redelivered_messages",
            "Messages this durable consumer has had delivered more than once and not acknowledged yet.",
            ["stream", "consumer"],
            registry=registry,
        )

    def consumer_info(self, stream: str, consumer: str, pending: int, ack_pending: int, redelivered: int) -> None:
        """Record one poll of a durable consumer's state (`sentra_common.nats`)."""
        self.consumer_pending.labels(stream, consumer).set(pending)
        self.consumer_ack_pending.labels(stream, consumer).set(ack_pending)
        self.consumer_redelivered.labels(stream, consumer).set(redelivered)


class GaugeSnapshot(Collector):
    """A gauge family whose series are replaced as a whole by a poller (documents by
    state and department read from the database, adapters by state): a series that no
    longer exists disappears, and a scrape never sees half of an update."""

    def __init__(self, name: str, documentation: str, labels: Sequence[str],
                 registry: CollectorRegistry | None = REGISTRY) -> None:
        self.name = name
        self.documentation = documentation
        self.labels = tuple(labels)
        self._values: dict[tuple[str, ...], float] = {}
        if registry is not None:
            registry.register(self)

    def replace(self, values: Mapping[tuple[str, ...], float]) -> None:
        for key in values:
            if len(key) != len(self.labels):
                raise ValueError(f"{self.name}: {key} does not match the labels {self.labels}")
        self._values = {tuple(str(part) for part in k): float(v) for k, v in values.items()}

    def values(self) -> dict[tuple[str, ...], float]:
        return dict(self._values)

    def describe(self) -> Iterable[GaugeMetricFamily]:
        yield GaugeMetricFamily(self.name, self.documentation, labels=self.labels)

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily(self.name, self.documentation, labels=self.labels)
        for key, value in self._values.items():
            family.add_metric(list(key), value)
        yield family


class ReadCounter(Collector):
    """A counter read at scrape time from a monotonic number the service keeps anyway
    (an embedding cache's hits, the tokens a model has embedded). `read` returns the value
    per label values; it runs on the scrape thread, so it must only read attributes."""

    def __init__(self, name: str, documentation: str, labels: Sequence[str],
                 read: Callable[[], Mapping[tuple[str, ...], float]],
                 registry: CollectorRegistry | None = REGISTRY) -> None:
        if not name.endswith("_total"):
            raise ValueError(f"counter {name} must end in _total")
        self.name = name
        self.documentation = documentation
        self.labels = tuple(labels)
        self.read = read
        if registry is not None:
            registry.register(self)

    def describe(self) -> Iterable[CounterMetricFamily]:
        yield CounterMetricFamily(self.name, self.documentation, labels=self.labels)

    def collect(self) -> Iterable[CounterMetricFamily]:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labels)
        try:
            values = self.read()
        except Exception:  # a scrape must not fail because one source is not ready
            logger.debug("cannot read %s", self.name, exc_info=True)
            values = {}
        for key, value in values.items():
            family.add_metric(list(key), float(value))
        yield family


def start_metrics_server(host: str, port: int) -> int | None:
    """Serve /metrics; returns the bound port, or None when disabled (port -1). Called
    before the service builds its metrics: their `_created` series (a timestamp per
    counter and histogram, used by no dashboard) are left out, halving the series."""
    if port < 0:
        return None
    disable_created_metrics()
    server, _thread = start_http_server(port, addr=host)
    bound = server.server_port
    logger.info("metrics endpoint listening", extra={"metrics_port": bound})
    return bound


class MeteredWrapper:
    """A backend wrapped to be measured: every attribute and the start/close lifecycle go to
    the backend it wraps (`inner`); a subclass overrides the calls it measures."""

    def __init__(self, inner, metrics) -> None:
        self.inner = inner
        self.metrics = metrics

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    async def start(self) -> None:
        await self.inner.start()

    async def close(self) -> None:
        await self.inner.close()
