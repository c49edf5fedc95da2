"""The metric families every service shares and the collectors for values a service
keeps anyway (snapshots read by a poller, counters kept as plain numbers)."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from sentra_common.metrics import GaugeSnapshot, ReadCounter, ServiceMetrics


def test_service_metrics_are_named_after_the_service():
    registry = CollectorRegistry()
    metrics = ServiceMetrics("probe", registry=registry)
    metrics.grpc_requests.labels("/x.v1.X/Y", "OK").inc()
    metrics.consumer_info("SENTRA_PIPELINE", "probe-consumer", pending=7, ack_pending=2, redelivered=1)
    text = generate_latest(registry).decode()
    assert 'sentra_probe_grpc_requests_total{code="OK",method="/x.v1.X/Y"} 1.0' in text
    labels = {"stream": "SENTRA_PIPELINE", "consumer": "probe-consumer"}
    assert registry.get_sample_value("sentra_probe_nats_consumer_pending_messages", labels) == 7
    assert registry.get_sample_value("sentra_probe_nats_consumer_ack_pending_messages", labels) == 2
    assert registry.get_sample_value("sentra_probe_nats_consumer_redelivered_messages", labels) == 1


def test_a_gauge_snapshot_is_replaced_as_a_whole():
    registry = CollectorRegistry()
    documents = GaugeSnapshot("sentra_probe_documents", "Documents by state.", ["state", "department"], registry)
    documents.replace({("PROCESSING", "legal"): 2, ("INDEXED", "legal"): 5})
    assert registry.get_sample_value("sentra_probe_documents", {"state": "PROCESSING", "department": "legal"}) == 2
    documents.replace({("INDEXED", "legal"): 7})
    assert registry.get_sample_value("sentra_probe_documents", {"state": "PROCESSING", "department": "legal"}) is None
    assert registry.get_sample_value("sentra_probe_documents", {"state": "INDEXED", "department": "legal"}) == 7
    with pytest.raises(ValueError):
        documents.replace({("INDEXED",): 1})


def test_a_read_counter_reports_what_the_service_counts():
    registry = CollectorRegistry()

    class Cache:
        hits = 0

    cache = Cache()
    ReadCounter("sentra_probe_cache_hits_total", "Hits.", [], lambda: {(): cache.hits}, registry)
    cache.hits = 3
    assert registry.get_sample_value("sentra_probe_cache_hits_total") == 3
    assert "# TYPE sentra_probe_cache_hits_total counter" in generate_latest(registry).decode()


def test_a_read_counter_that_cannot_be_read_yet_exports_nothing():
    registry = CollectorRegistry()

    def broken():
        raise RuntimeError("not started")

    ReadCounter("sentra_probe_tokens_total", "Tokens.", [], broken, registry)
    assert registry.get_sample_value("sentra_probe_tokens_total") is None
    with pytest.raises(ValueError):
        ReadCounter("sentra_probe_tokens", "Tokens.", [], broken, registry)
