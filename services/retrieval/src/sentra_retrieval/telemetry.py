"""The retrieval service's own metrics (beside `sentra_common.metrics.ServiceMetrics`):
search latency and result counts per mode, chunks indexed and documents removed from the
index. Names are listed in docs/metrics.md."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from sentra_common.metrics import LATENCY_BUCKETS

from sentra_retrieval.domain.search import SearchMode

_RESULT_BUCKETS = (0, 1, 2, 3, 5, 10, 20, 50, 100)


class RetrievalMetrics:
    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.search_duration = Histogram(
            "sentra_retrieval_search_duration_seconds",
            "Time to answer one search (query embedding, dense and lexical candidates, fusion), by mode.",
            ["mode"], buckets=LATENCY_BUCKETS, registry=registry,
        )
        self.search_results = Histogram(
            "sentra_retrieval_search_results",
            "Hits one search returned, by mode (the bucket le=\"0\" counts searches that found nothing).",
            ["mode"], buckets=_RESULT_BUCKETS, registry=registry,
        )
        self.chunks_indexed = Counter(
            "sentra_retrieval_chunks_indexed_total",
            "Chunk vectors written to the index by the pipeline (chunks.embedded).",
            registry=registry,
        )
        self.documents_removed = Counter(
            "sentra_retrieval_documents_removed_total",
            "Documents whose vectors were removed from the index (documents.deleted).",
            registry=registry,
        )
        for mode in SearchMode:
            self.search_duration.labels(mode.value)
            self.search_results.labels(mode.value)

    def searched(self, mode: SearchMode, seconds: float, hits: int) -> None:
        self.search_duration.labels(mode.value).observe(seconds)
        self.search_results.labels(mode.value).observe(hits)
