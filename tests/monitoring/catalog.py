"""What the monitoring tests compare: the metric list in docs/metrics.md, the chart's
dashboards and alert rules, the metric names a PromQL expression uses, and the names a
/metrics endpoint exports."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
CHART_FILES = ROOT / "deploy" / "helm" / "sentra" / "files"
RULES = CHART_FILES / "rules" / "sentra.rules.yaml"
RULE_TESTS = CHART_FILES / "rules" / "tests"
DASHBOARDS = CHART_FILES / "dashboards"
METRICS_DOC = ROOT / "docs" / "metrics.md"
SERVICES = ("gateway", "ingestion", "embedding", "retrieval", "inference", "training")

# Grafana's variables, as a test substitutes them to run a query outside Grafana.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "${department}": ".*", "$department": ".*"}


@dataclass(frozen=True)
class Family:
    name: str  # as documented: counters with _total
    kind: str  # counter, gauge, histogram

    def sample_names(self) -> set[str]:
        if self.kind == "histogram":
            return {f"{self.name}_bucket", f"{self.name}_sum", f"{self.name}_count"}
        return {self.name}


def documented() -> dict[str, Family]:
    """docs/metrics.md's tables, with `<service>` expanded to every service."""
    families: dict[str, Family] = {}
    for line in METRICS_DOC.read_text().splitlines():
        match = re.match(r"\| `(sentra_[a-z_<>]+)` \| (counter|gauge|histogram) \|", line)
        if not match:
            continue
        name, kind = match.groups()
        names = [name.replace("<service>", s) for s in SERVICES] if "<service>" in name else [name]
        for n in names:
            families[n] = Family(n, kind)
    return families


def exported(exposition: str) -> dict[str, Family]:
    """The `sentra_*` families a /metrics text declares (with or without samples yet)."""
    found = {}
    for family in text_string_to_metric_families(exposition):
        if not family.name.startswith("sentra_"):
            continue
        name = f"{family.name}_total" if family.type == "counter" else family.name
        found[name] = Family(name, family.type)
    return found


def dashboards() -> dict[str, dict]:
    return {path.name: json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json"))}


def dashboard_queries() -> list[tuple[str, str, str]]:
    """(dashboard file, panel title, expression) of every query of every dashboard."""
    queries = []
    for name, board in dashboards().items():
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                queries.append((name, panel["title"], target["expr"]))
    return queries


def runnable(expr: str) -> str:
    """A dashboard expression with Grafana's variables replaced, as Prometheus runs it."""
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


def alert_rules() -> list[dict]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left",
             "group_right", "inf", "nan", "atan2", "start", "end"}


def metric_names(expr: str) -> tuple[set[str], set[str]]:
    """The metric names an expression selects, and the regular expressions it selects
    names with (`{__name__=~"…"}`)."""
    patterns = set(re.findall(r'__name__\s*=~\s*"([^"]*)"', expr))
    names = set(re.findall(r'__name__\s*=\s*"([^"]*)"', expr))
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings
    text = re.sub(r"\{[^}]*\}", "{}", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "[]", text)  # ranges and subqueries
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    for match in re.finditer(r"(?<![\w.:])([a-zA-Z_:][a-zA-Z0-9_:]*)", text):
        word = match.group(1)
        rest = text[match.end():].lstrip()
        if word.lower() in _KEYWORDS or rest.startswith("("):
            continue  # an operator, or a function / aggregation
        names.add(word)
    return names, patterns
