"""Server-side dry run against a real kube-apiserver (the deployment harness's `kube_api`
fixture, with the shared CRDs applied): every object of the chart with each profile and of
every Kustomize overlay, custom resources included (RayCluster, ServiceMonitor,
PrometheusRule, KEDA's ScaledObject), is accepted exactly as a cluster would accept it."""

from __future__ import annotations

import pytest

from tests.deploy._manifests import OVERLAYS, PROFILES, built, objects, rendered


@pytest.mark.parametrize("profile", PROFILES)
def test_chart_profile_passes_the_server_side_dry_run(kube_api, profile: str) -> None:
    kube_api.dry_run(rendered(profile), namespace="sentra")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_passes_the_server_side_dry_run(kube_api, overlay: str) -> None:
    text = built(overlay)
    namespaces = {d["metadata"]["namespace"] for d in objects(text)}
    assert len(namespaces) == 1, namespaces
    kube_api.dry_run(text, namespace=namespaces.pop())
