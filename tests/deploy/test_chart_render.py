"""The chart renders with its default values and every profile, every object is valid
Kubernetes (strict: unknown fields are errors), and `helm lint --strict` passes."""

from __future__ import annotations

import pytest
import yaml

from tests.deploy._manifests import CHART, PROFILES, crd_kinds, lint, objects, rendered, validate_strict


@pytest.mark.parametrize("profile", PROFILES)
def test_every_object_is_valid_kubernetes(profile: str) -> None:
    docs = objects(rendered(profile))
    assert docs, f"{profile} rendered nothing"
    custom = crd_kinds()
    unvalidated = []
    for doc in docs:
        if not validate_strict(doc):
            unvalidated.append((doc["apiVersion"], doc["kind"]))
    # What kubernetes-validate cannot know must be a custom resource whose CRD the API
    # server dry run applies (tests/deploy/test_dry_run.py), never an unknown kind.
    assert set(unvalidated) <= custom, f"kinds no schema checks: {set(unvalidated) - custom}"


@pytest.mark.parametrize("profile", PROFILES)
def test_helm_lint_strict(profile: str) -> None:
    done = lint(CHART, [] if profile == "default" else [CHART / profile])
    assert done.returncode == 0, f"helm lint --strict failed for {profile}:\n{done.stdout}\n{done.stderr}"


def test_dependencies_are_the_pinned_upstream_charts() -> None:
    meta = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert meta["apiVersion"] == "v2"
    deps = {d["name"]: d for d in meta["dependencies"]}
    assert deps["nats"]["version"] == "2.14.2" and deps["nats"]["condition"] == "nats.enabled"
    assert deps["qdrant"]["version"] == "1.19.0" and deps["qdrant"]["condition"] == "qdrant.enabled"
    assert deps["nats"]["repository"] == "https://nats-io.github.io/k8s/helm/charts/"
    assert deps["qdrant"]["repository"] == "https://qdrant.github.io/qdrant-helm"


def test_every_service_is_one_template_with_its_objects() -> None:
    docs = objects(rendered("values-onprem-gpu.yaml"))
    for service in ("gateway", "ingestion", "embedding", "retrieval", "inference", "training"):
        kinds = {d["kind"] for d in docs if d["metadata"]["name"] == f"sentra-{service}"}
        assert {"Deployment", "Service", "ServiceAccount", "NetworkPolicy", "ServiceMonitor"} <= kinds, service
    # Autoscaled and disruption-budgeted where the profile asks for it.
    assert {d["metadata"]["name"] for d in docs if d["kind"] == "HorizontalPodAutoscaler"} >= {
        "sentra-gateway", "sentra-ingestion", "sentra-retrieval"}
    assert "sentra-gateway" in {d["metadata"]["name"] for d in docs if d["kind"] == "PodDisruptionBudget"}


def test_disabled_subcharts_render_nothing_of_theirs() -> None:
    docs = objects(rendered("values-hybrid-cloud.yaml"))
    assert not [d for d in docs if "qdrant" in d["metadata"]["name"]]
    assert not [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] != "sentra-training"]
