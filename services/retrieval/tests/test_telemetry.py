"""The retrieval service's search metrics: latency and result counts per mode."""

from __future__ import annotations

from prometheus_client import CollectorRegistry
from sentra_retrieval.domain.search import SearchMode
from sentra_retrieval.telemetry import RetrievalMetrics


def test_searches_are_timed_and_their_hits_counted_per_mode():
    prom = CollectorRegistry()
    metrics = RetrievalMetrics(prom)
    # Every mode is exported before its first search.
    assert prom.get_sample_value("sentra_retrieval_search_results_count", {"mode": "lexical"}) == 0
    metrics.searched(SearchMode.HYBRID, 0.02, 5)
    metrics.searched(SearchMode.HYBRID, 0.04, 0)
    assert prom.get_sample_value("sentra_retrieval_search_duration_seconds_count", {"mode": "hybrid"}) == 2
    assert prom.get_sample_value("sentra_retrieval_search_results_bucket", {"mode": "hybrid", "le": "0.0"}) == 1
    assert prom.get_sample_value("sentra_retrieval_search_results_sum", {"mode": "hybrid"}) == 5
