"""The chart renders with its default values and every profile, every object is valid
Kubernetes (strict: unknown fields are errors), and `helm lint --strict` passes."""

from __future__ import annotations

import shutil

import pytest
import yaml

from tests.deploy._manifests import CHART, PROFILES, crd_kinds, lint, objects, render, rendered, validate_strict


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


def test_another_release_name_and_namespace_keep_every_reference() -> None:
    """Names follow the release: Services, Secrets and the subcharts' objects the services
    and the NATS pod refer to are the ones rendered beside them."""
    docs = objects(render(CHART, set_values={}, namespace="acme-ai", release="acme"))
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert ("StatefulSet", "acme-nats") in names and ("Secret", "acme-bus") in names
    assert ("Secret", "acme-sentra-identity") in names
    gateway = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "acme-sentra-gateway")
    env = {e["name"]: e.get("value") for e in gateway["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["SENTRA_GATEWAY_NATS__URL"] == "nats://acme-nats:4222"
    assert env["SENTRA_GATEWAY_RETRIEVAL_TARGET"] == "acme-sentra-retrieval:50051"
    nats = next(d for d in docs if d["kind"] == "StatefulSet" and d["metadata"]["name"] == "acme-nats")
    volumes = {v["name"]: v for v in nats["spec"]["template"]["spec"]["volumes"]}
    assert volumes["sentra-bus-auth"]["secret"]["secretName"] == "acme-bus"
    retrieval = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "acme-sentra-retrieval")
    env = {e["name"]: e for e in retrieval["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["SENTRA_RETRIEVAL_QDRANT_URL"]["value"] == "http://acme-qdrant:6333"
    assert env["SENTRA_RETRIEVAL_QDRANT_API_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "acme-qdrant-apikey"
    assert ("Secret", "acme-qdrant-apikey") in names


@pytest.mark.parametrize("profile", ["default", "values-cpu-only.yaml", "values-hybrid-cloud.yaml"])
def test_notes_render_with_port_forward_and_first_login(tmp_path, profile: str) -> None:
    """`helm template` does not print NOTES.txt: a copy of the chart renders it through a
    ConfigMap instead, with the same values."""
    chart = tmp_path / "sentra"
    shutil.copytree(CHART, chart)
    (chart / "files" / "notes-under-test.txt").write_text((CHART / "templates" / "NOTES.txt").read_text())
    (chart / "templates" / "notes-under-test.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes-under-test\ndata:\n  notes: |\n"
        '{{ tpl (.Files.Get "files/notes-under-test.txt") . | indent 4 }}\n')
    values = [] if profile == "default" else [CHART / profile]
    docs = objects(render(chart, values))
    notes = next(d for d in docs if d["metadata"]["name"] == "notes-under-test")["data"]["notes"]
    if profile == "values-hybrid-cloud.yaml":
        assert "Training jobs run on the RayCluster" in notes
        return
    assert "kubectl -n sentra port-forward service/sentra-gateway 50051:50051 8080:8080" in notes
    assert "sentra admin users create" in notes and "sentra login -u" in notes
    assert "helm test sentra -n sentra --filter name=sentra-test-gateway-health" in notes
