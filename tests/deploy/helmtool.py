"""Render and lint Helm charts offline with the helm binary `make setup` builds.

A chart's dependencies cannot be downloaded here, so `render` and `lint` work on a copy of the
chart and put the upstream charts it declares (NATS, Qdrant) from `<repo>/../shared/charts/`
into the copy's `charts/`. Helm's own cache and configuration live in a temporary directory:
nothing touches ~/.config/helm or the network.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import yaml
from sentra_common.shared_files import shared_dir

from tests.deploy.tools import helm_binary, kubernetes_version

# The project's shared third-party files (upstream charts, CRDs).
SHARED = shared_dir()
SHARED_CHARTS = SHARED / "charts"
SHARED_CRDS = SHARED / "k8s-crds"


def shared(path: Path) -> Path:
    """`path` under the shared folder, or a clear failure saying where it was looked for."""
    if not path.exists():
        raise AssertionError(f"{path} is missing: the deployment tests read the upstream NATS and Qdrant "
                             "charts and the KubeRay/Prometheus Operator/KEDA CRDs from the shared folder "
                             "beside the checkout (../shared); set SENTRA_SHARED_DIR when it is elsewhere")
    return path


@cache
def shared_crds() -> tuple[dict, ...]:
    """The CustomResourceDefinitions of ../shared/k8s-crds, parsed (once per run)."""
    found = []
    for path in sorted(shared(SHARED_CRDS).glob("*.yaml")):
        for doc in yaml.load_all(path.read_text(), Loader=yaml.CSafeLoader):
            if doc and doc.get("kind") == "CustomResourceDefinition":
                found.append(doc)
    return tuple(found)


@cache
def crd_api_versions() -> tuple[str, ...]:
    """`group/version` and `group/version/Kind` of every shared CRD: the test API server has
    them, so templates that check `.Capabilities.APIVersions` see them too."""
    found: list[str] = []
    for crd in shared_crds():
        spec = crd["spec"]
        for version in spec["versions"]:
            if version.get("served"):
                group_version = f"{spec['group']}/{version['name']}"
                found += [group_version, f"{group_version}/{spec['names']['kind']}"]
    return tuple(found)


def _declared_dependencies(chart: Path) -> list[str]:
    meta = yaml.safe_load((chart / "Chart.yaml").read_text()) or {}
    return [dep["name"] for dep in meta.get("dependencies") or []]


@contextmanager
def _prepared(chart_dir: Path | str) -> Iterator[tuple[Path, dict[str, str]]]:
    """A copy of the chart with its shared dependencies in `charts/`, and helm's environment."""
    chart_dir = Path(chart_dir)
    with tempfile.TemporaryDirectory(prefix="sentra-helm-") as tmp:
        copy = Path(tmp) / chart_dir.name
        shutil.copytree(chart_dir, copy, symlinks=False)
        for name in _declared_dependencies(copy):
            source, target = shared(SHARED_CHARTS / name), copy / "charts" / name
            if source.is_dir() and not target.exists():
                shutil.copytree(source, target)
        home = Path(tmp) / "helm-home"
        env = {
            **os.environ,
            "HELM_CACHE_HOME": str(home / "cache"),
            "HELM_CONFIG_HOME": str(home / "config"),
            "HELM_DATA_HOME": str(home / "data"),
        }
        env.pop("KUBECONFIG", None)
        yield copy, env


def _values_args(values_files: Sequence[Path | str]) -> list[str]:
    args: list[str] = []
    for path in values_files:
        args += ["--values", str(Path(path).resolve())]
    return args


def render(
    chart_dir: Path | str,
    values_files: Sequence[Path | str] = (),
    set_values: Mapping[str, object] | None = None,
    namespace: str = "sentra",
    release: str = "sentra",
) -> str:
    """`helm template` of the chart: every manifest as one multi-document YAML text.

    `set_values` maps a value path (`gateway.replicas`) to any JSON value (`--set-json`, so
    types are kept). The rendering targets the test API server's Kubernetes version and sees
    the shared CRDs' API versions. Raises AssertionError with helm's message when the chart
    does not render (a values schema rejecting the values, a template error)."""
    with _prepared(chart_dir) as (chart, env):
        argv = [
            str(helm_binary()),
            "template",
            release,
            str(chart),
            "--namespace",
            namespace,
            "--kube-version",
            kubernetes_version(),
            *_values_args(values_files),
        ]
        for api_version in crd_api_versions():
            argv += ["--api-versions", api_version]
        for key, value in (set_values or {}).items():
            argv += ["--set-json", f"{key}={json.dumps(value)}"]
        done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise AssertionError(f"helm template failed (exit {done.returncode}):\n{done.stderr.strip()}")
    return done.stdout


def lint(chart_dir: Path | str, values_files: Sequence[Path | str] = ()) -> subprocess.CompletedProcess:
    """`helm lint --strict` of the chart (with its shared dependencies in place). Returns the
    finished process: returncode 0 when the chart passes, helm's findings in stdout/stderr."""
    with _prepared(chart_dir) as (chart, env):
        argv = [str(helm_binary()), "lint", "--strict", str(chart), *_values_args(values_files)]
        return subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
