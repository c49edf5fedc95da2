"""What the chart's and the overlays' tests share: the chart, its profiles, the overlays,
rendering them once per session, and walking the objects they produce."""

from __future__ import annotations

import functools
import subprocess
from collections.abc import Iterator
from pathlib import Path

import kubernetes_validate
import yaml

from tests.deploy.helmtool import lint, render, shared_crds

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "sentra"
KUSTOMIZE = ROOT / "deploy" / "kustomize"
# The values profiles the chart ships, and "default" (values.yaml alone).
PROFILES = ("default", "values-onprem-gpu.yaml", "values-cpu-only.yaml", "values-hybrid.yaml",
            "values-hybrid-cloud.yaml")
OVERLAYS = ("dev", "dev-gpu", "onprem", "hybrid-cloud")
# Kubernetes release the objects are validated against (the test API server's).
KUBERNETES_VERSION = "1.34.0"
# Kinds whose pods run Sentra's or an engine's containers.
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod")

__all__ = ["lint", "render"]


def values_files(profile: str) -> list[Path]:
    return [] if profile == "default" else [CHART / profile]


@functools.cache
def rendered(profile: str) -> str:
    """The chart rendered with a profile (cached: rendering is the slow part)."""
    return render(CHART, values_files(profile))


def objects(text: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


@functools.cache
def built(overlay: str) -> str:
    """`kubectl kustomize` of an overlay."""
    done = subprocess.run(["kubectl", "kustomize", str(KUSTOMIZE / "overlays" / overlay)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"kubectl kustomize overlays/{overlay} failed:\n{done.stderr}"
    return done.stdout


def find(docs: list[dict], kind: str, name: str) -> dict:
    for doc in docs:
        if doc["kind"] == kind and doc["metadata"]["name"] == name:
            return doc
    raise AssertionError(f"no {kind} {name} in the rendering: {[(d['kind'], d['metadata']['name']) for d in docs]}")


def pod_specs(docs: list[dict]) -> Iterator[tuple[str, dict]]:
    """(`Kind/name`, pod spec) of every workload, the pod templates of RayClusters included."""
    for doc in docs:
        kind, name = doc["kind"], doc["metadata"]["name"]
        spec = doc.get("spec") or {}
        if kind == "Pod":
            yield f"Pod/{name}", spec
        elif kind == "CronJob":
            yield f"CronJob/{name}", spec["jobTemplate"]["spec"]["template"]["spec"]
        elif kind in WORKLOAD_KINDS:
            yield f"{kind}/{name}", spec["template"]["spec"]
        elif kind == "RayCluster":
            yield f"RayCluster/{name}/head", spec["headGroupSpec"]["template"]["spec"]
            for group in spec.get("workerGroupSpecs") or []:
                yield f"RayCluster/{name}/{group['groupName']}", group["template"]["spec"]


def containers(spec: dict) -> Iterator[tuple[dict, bool]]:
    """(container, is an init container) of a pod spec."""
    for container in spec.get("initContainers") or []:
        yield container, True
    for container in spec["containers"]:
        yield container, False


def validate_strict(doc: dict) -> bool:
    """Validate against Kubernetes' own schemas, rejecting unknown fields; False for a kind
    Kubernetes does not define (a custom resource: the API server dry run validates those)."""
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        return False
    except kubernetes_validate.ValidationError as exc:
        raise AssertionError(f"{doc['kind']}/{doc['metadata'].get('name')}: {exc.message} at "
                             f"{'/'.join(str(p) for p in exc.path)}") from None
    return True


def crd_kinds() -> set[tuple[str, str]]:
    """(apiVersion, kind) of every custom resource the shared CRDs define."""
    return {(f"{crd['spec']['group']}/{version['name']}", crd["spec"]["names"]["kind"])
            for crd in shared_crds() for version in crd["spec"]["versions"]}
