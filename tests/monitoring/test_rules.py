"""The chart's alert rules (deploy/helm/sentra/files/rules/): valid for promtool, unit-tested
with promtool (each alert fires on a failing series and stays silent on a healthy one),
annotated for the person on call, and naming only documented metrics (tests/monitoring/
test_platform_metrics.py checks them against a running platform)."""

from __future__ import annotations

import re
import subprocess

import yaml

from tests.monitoring.catalog import RULE_TESTS, RULES, alert_rules, documented, metric_names
from tests.monitoring.tools import promtool_binary


def promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(promtool_binary()), *args], capture_output=True, text=True, timeout=120)


def test_promtool_accepts_the_rule_file():
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in result.stdout


def test_promtool_rejects_a_broken_rule(tmp_path):
    """The check above can fail: a rule with a broken expression is refused."""
    broken = tmp_path / "broken.rules.yaml"
    broken.write_text("groups:\n  - name: x\n    rules:\n      - alert: Broken\n        expr: sum by (job (up)\n")
    assert promtool("check", "rules", str(broken)).returncode != 0


def test_the_alert_unit_tests_pass():
    files = sorted(RULE_TESTS.glob("*.yaml"))
    assert files, f"no promtool tests in {RULE_TESTS}"
    result = promtool("test", "rules", *map(str, files))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(files), result.stdout


def test_every_alert_has_a_firing_and_a_silent_unit_test():
    firing, silent = set(), set()
    for path in RULE_TESTS.glob("*.yaml"):
        spec = yaml.safe_load(path.read_text())
        assert spec["rule_files"] == ["../sentra.rules.yaml"], path
        for case in spec["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else silent).add(check["alertname"])
    alerts = {rule["alert"] for rule in alert_rules()}
    assert alerts - firing == set(), "alerts never seen firing in a unit test"
    assert alerts - silent == set(), "alerts never seen silent in a unit test"


def test_every_alert_says_how_bad_what_and_what_to_do():
    names = [rule["alert"] for rule in alert_rules()]
    assert len(names) == len(set(names))
    for rule in alert_rules():
        assert re.fullmatch(r"Sentra[A-Z][A-Za-z0-9]+", rule["alert"])
        assert rule["labels"]["severity"] in ("critical", "warning", "info"), rule["alert"]
        for annotation in ("summary", "description", "runbook"):
            assert len(rule["annotations"].get(annotation, "")) > 20, (rule["alert"], annotation)


def test_the_issue_s_alerts_are_all_there():
    exprs = {rule["alert"]: rule["expr"] for rule in alert_rules()}
    wanted = {
        "SentraDeadLettersGrowing": "sentra_ingestion_dead_letters_total",
        "SentraDocumentsStuckProcessing": "sentra_ingestion_processing_oldest_age_seconds",
        "SentraRpcErrorRatioHigh": "grpc_requests_total",
        "SentraRpcLatencyP99High": "grpc_request_duration_seconds_bucket",
        "SentraTrainingJobsFailing": "sentra_training_jobs",
        "SentraAdapterLoadFailures": "sentra_inference_adapter_loads_total",
        "SentraNatsConsumerLagHigh": "nats_consumer_pending_messages",
    }
    for alert, metric in wanted.items():
        assert metric in exprs[alert], alert


def test_the_rules_name_only_documented_metrics():
    known = {sample for family in documented().values() for sample in family.sample_names()}
    for rule in alert_rules():
        names, patterns = metric_names(rule["expr"])
        assert names <= known, (rule["alert"], names - known)
        for pattern in patterns:
            assert any(re.fullmatch(pattern, name) for name in known), (rule["alert"], pattern)
