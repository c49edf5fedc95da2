"""The chart's Grafana dashboards (deploy/helm/sentra/files/dashboards/): a `${datasource}`
variable of type prometheus behind every panel, every query parsed by promtool, and only
documented metrics named (tests/monitoring/test_platform_metrics.py runs every query
against a Prometheus that scrapes a running platform)."""

from __future__ import annotations

import re
import subprocess

import yaml

from tests.monitoring.catalog import dashboard_queries, dashboards, documented, metric_names, runnable
from tests.monitoring.tools import promtool_binary

TOPICS = {
    "sentra-pipeline.json": ("Documents by state", "Stage latency (p95)", "Dead letters (last hour)"),
    "sentra-answers.json": ("Search latency", "Not-found ratio", "Generation speed (median)"),
    "sentra-models.json": ("Adapters by state", "Adapter loads", "Jobs by state", "Job progress"),
    "sentra-departments.json": ("Requests per department", "Answers per department", "Not-found ratio per department"),
}


def test_the_four_dashboards_cover_their_topics():
    boards = dashboards()
    assert set(boards) == set(TOPICS)
    uids = [board["uid"] for board in boards.values()]
    assert len(uids) == len(set(uids))
    for name, titles in TOPICS.items():
        panels = {panel["title"] for panel in boards[name]["panels"]}
        assert set(titles) <= panels, (name, set(titles) - panels)


def test_every_panel_reads_the_datasource_variable():
    for name, board in dashboards().items():
        variables = {v["name"]: v for v in board["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource", name
        assert variables["datasource"]["query"] == "prometheus", name
        for panel in board["panels"]:
            if panel["type"] == "row":
                continue
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, (name, panel["title"])
            assert panel["targets"], (name, panel["title"])
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == "${datasource}", (name, panel["title"])
        for variable in variables.values():
            if variable["type"] == "query":
                assert variable["datasource"]["uid"] == "${datasource}", (name, variable["name"])


def check_expressions(tmp_path, expressions: list[str]) -> subprocess.CompletedProcess:
    """promtool parses each expression as a recording rule's (it has no other offline parser)."""
    rules = {"groups": [{"name": "dashboard-queries", "rules": [
        {"record": f"sentra:dashboard_query_{n}", "expr": expr} for n, expr in enumerate(expressions)]}]}
    path = tmp_path / "queries.rules.yaml"
    path.write_text(yaml.safe_dump(rules))
    return subprocess.run([str(promtool_binary()), "check", "rules", str(path)], capture_output=True, text=True,
                          timeout=120)


def test_promtool_parses_every_query(tmp_path):
    queries = [runnable(expr) for _, _, expr in dashboard_queries()]
    assert not [q for q in queries if "$" in q.replace("$1", "")], "a Grafana variable the tests do not know"
    result = check_expressions(tmp_path, queries)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(queries)} rules found" in result.stdout


def test_a_query_promtool_cannot_parse_is_caught(tmp_path):
    assert check_expressions(tmp_path, ["sum(rate(sentra_gateway_requests_total[1m])"]).returncode != 0


def test_the_dashboards_name_only_documented_metrics():
    known = {sample for family in documented().values() for sample in family.sample_names()}
    for name, title, expr in dashboard_queries():
        names, patterns = metric_names(expr)
        assert names or patterns, (name, title, "no metric in the query")
        assert names <= known, (name, title, names - known)
        for pattern in patterns:
            assert any(re.fullmatch(pattern, n) for n in known), (name, title, pattern)
