"""The metrics of a running platform (conftest.py: one upload, questions, a refused call):
every documented name is exported and nothing undocumented is, the dashboards and alert
rules name only exported metrics, the numbers say what the platform did, and a real
Prometheus server scraping the platform answers every dashboard query with series."""

from __future__ import annotations

import re
import subprocess
import time

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from sentra_cli.platform import free_port

from tests.monitoring.catalog import (
    SERVICES,
    alert_rules,
    dashboard_queries,
    documented,
    exported,
    metric_names,
    runnable,
)
from tests.monitoring.tools import prometheus_binary

pytestmark = pytest.mark.integration

# Dashboard queries whose series exist only after events this platform does not go
# through in a test run, and why.
ONLY_AFTER_RARE_EVENTS = {
    ("sentra-models.json", "Adapters by state"): "no adapter is registered on the test platform",
    ("sentra-models.json", "Adapters by department"): "no adapter is registered on the test platform",
    ("sentra-models.json", "Job progress"): "only while a training job runs (minutes of CPU training)",
    ("sentra-models.json", "Training throughput"): "only while a training job runs",
    ("sentra-models.json", "Training loss"): "only while a training job runs",
    ("sentra-models.json", "Dataset generation progress"): "only while a dataset is being generated",
}


def scrape(observed) -> dict[str, str]:
    state = observed.platform.load_state()
    return {name: httpx.get(f"http://127.0.0.1:{state.services[name].metrics_port}/metrics", timeout=10).text
            for name in SERVICES}


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(text: str, name: str, **labels) -> float | None:
    return samples(text).get((name, tuple(sorted(labels.items()))))


def test_every_documented_metric_is_exported_and_nothing_else(observed):
    found = {}
    for service, text in scrape(observed).items():
        families = exported(text)
        assert all(name.startswith(f"sentra_{service}_") for name in families), service
        found.update(families)
    expected = documented()
    assert sorted(set(expected) - set(found)) == [], "documented in docs/metrics.md, not exported"
    assert sorted(set(found) - set(expected)) == [], "exported, missing from docs/metrics.md"
    assert {n: f.kind for n, f in found.items()} == {n: f.kind for n, f in expected.items()}


def test_dashboards_and_alerts_name_only_exported_metrics(observed):
    names = {sample for text in scrape(observed).values() for family in exported(text).values()
             for sample in family.sample_names()}
    expressions = [(f"{board}: {title}", expr) for board, title, expr in dashboard_queries()]
    expressions += [(f"alert {rule['alert']}", rule["expr"]) for rule in alert_rules()]
    for where, expr in expressions:
        plain, patterns = metric_names(expr)
        assert plain <= names, (where, plain - names)
        for pattern in patterns:
            assert any(re.fullmatch(pattern, n) for n in names), (where, pattern)


def test_the_numbers_say_what_the_platform_did(observed):
    deadline = time.monotonic() + 30  # gauges are polled every second
    while True:
        texts = scrape(observed)
        ingestion, gateway = texts["ingestion"], texts["gateway"]
        if value(ingestion, "sentra_ingestion_documents", state="INDEXED", department="rrhh") == 1 \
                or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert value(ingestion, "sentra_ingestion_documents", state="INDEXED", department="rrhh") == 1
    assert value(ingestion, "sentra_ingestion_documents", state="PROCESSING", department="rrhh") == 0
    assert value(ingestion, "sentra_ingestion_processing_oldest_age_seconds") == 0
    for stage in ("upload", "parse", "embed", "index"):
        assert value(ingestion, "sentra_ingestion_stage_duration_seconds_count", stage=stage) >= 1, stage
    assert value(ingestion, "sentra_ingestion_uploads_total", department="rrhh", outcome="CREATED") == 1
    assert value(texts["embedding"], "sentra_embedding_texts_embedded_total") >= 2
    assert value(texts["embedding"], "sentra_embedding_tokens_embedded_total") > 0
    consumer = {"stream": "SENTRA_PIPELINE", "consumer": "embedding"}
    assert value(texts["embedding"], "sentra_embedding_nats_consumer_pending_messages", **consumer) == 0
    assert value(texts["retrieval"], "sentra_retrieval_chunks_indexed_total") >= 1
    assert value(texts["retrieval"], "sentra_retrieval_search_duration_seconds_count", mode="hybrid") >= 3
    inference = texts["inference"]
    assert value(inference, "sentra_inference_answers_total", strategy="reader", outcome="answered") >= 1
    assert sum(value(inference, "sentra_inference_answers_total", strategy="generative", outcome=o)
               for o in ("answered", "not_found")) == 1
    assert value(inference, "sentra_inference_generation_tokens_total", kind="completion") > 0
    answered = sum(value(gateway, "sentra_gateway_answers_total", department="rrhh", outcome=o) or 0
                   for o in ("answered", "not_found"))
    assert answered == 3
    assert value(gateway, "sentra_gateway_requests_total", department="other", code="PERMISSION_DENIED",
                 method="/sentra.ingestion.v1.IngestionService/ListDocuments") == 1
    assert value(texts["training"], "sentra_training_jobs", state="FAILED") == 0


@pytest.fixture(scope="module")
def prometheus(observed, tmp_path_factory):
    """A real Prometheus server scraping every service's /metrics on loopback each second,
    with the job label a ServiceMonitor gives (one per service)."""
    state = observed.platform.load_state()
    directory = tmp_path_factory.mktemp("prometheus")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [{"job_name": f"sentra-{name}",
                            "static_configs": [{"targets": [f"127.0.0.1:{state.services[name].metrics_port}"]}]}
                           for name in SERVICES],
    }
    (directory / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = (directory / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [str(prometheus_binary()), f"--config.file={directory / 'prometheus.yml'}",
         f"--storage.tsdb.path={directory / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
         "--storage.tsdb.retention.time=1h"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:  # every target scraped a few times, so rates have samples to work on
            assert proc.poll() is None, (directory / "prometheus.log").read_text()[-2000:]
            try:  # Prometheus listens before it is ready, and answers 503 in plain text until then
                if httpx.get(f"{url}/-/ready", timeout=5).status_code != 200:
                    raise httpx.HTTPError("not ready yet")
                result = query(url, "min(count_over_time(up[1m])) and min(up) == 1")
                if result and float(result[0]["value"][1]) >= 4 and len(query(url, "up == 1")) == len(SERVICES):
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "Prometheus did not scrape every service within a minute"
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def query(url: str, expr: str) -> list[dict]:
    response = httpx.get(f"{url}/api/v1/query", params={"query": expr}, timeout=30)
    assert response.headers.get("content-type", "").startswith("application/json"), (
        expr, response.status_code, response.text[:500])
    reply = response.json()
    assert reply["status"] == "success", (expr, reply)
    return reply["data"]["result"]


def test_prometheus_answers_every_dashboard_query_with_series(prometheus):
    empty = []
    for board, title, expr in dashboard_queries():
        result = query(prometheus, runnable(expr))
        if (board, title) in ONLY_AFTER_RARE_EVENTS:
            continue
        if not result:
            empty.append(f"{board}: {title}: {expr}")
    assert empty == [], "dashboard queries without series:\n" + "\n".join(empty)
    for board, title in ONLY_AFTER_RARE_EVENTS:  # the exceptions name real panels
        assert any((b, t) == (board, title) for b, t, _ in dashboard_queries()), (board, title)


def test_prometheus_evaluates_every_alert_and_none_fires_on_a_healthy_platform(prometheus):
    for rule in alert_rules():
        assert query(prometheus, rule["expr"]) == [], rule["alert"]
