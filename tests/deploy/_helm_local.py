"""Local stand-in for `tests/deploy/helmtool.py` (render/lint with the same signatures),
used by the chart's tests until the deployment harness lands on this branch; then the
tests import `render` and `lint` from `tests.deploy.helmtool` and this file goes.

Works as the harness does: a copy of the chart with the upstream NATS and Qdrant charts
from `<repo>/../shared/charts/` in its `charts/`, helm's own directories in a temporary
directory, the test API server's Kubernetes version and the shared CRDs' API versions.
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

ROOT = Path(__file__).resolve().parents[2]
SHARED_CHARTS = ROOT.parent / "shared" / "charts"
SHARED_CRDS = ROOT.parent / "shared" / "k8s-crds"
HELM_VERSION = "v3.22.0"
KUBERNETES_VERSION = "v1.34.4"


def helm_binary() -> Path:
    path = Path(os.environ.get("SENTRA_BIN_CACHE", Path.home() / ".cache" / "sentra" / "bin"))
    path = path / f"helm-{HELM_VERSION}" / "helm"
    if not path.is_file():
        raise AssertionError(f"helm {HELM_VERSION} is not installed at {path}: run `make setup`")
    return path


@cache
def crd_api_versions() -> tuple[str, ...]:
    found: list[str] = []
    for path in sorted(SHARED_CRDS.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            for version in spec["versions"]:
                if version.get("served"):
                    group_version = f"{spec['group']}/{version['name']}"
                    found += [group_version, f"{group_version}/{spec['names']['kind']}"]
    return tuple(found)


@contextmanager
def _prepared(chart_dir: Path | str) -> Iterator[tuple[Path, dict[str, str]]]:
    chart_dir = Path(chart_dir)
    with tempfile.TemporaryDirectory(prefix="sentra-helm-") as tmp:
        copy = Path(tmp) / chart_dir.name
        shutil.copytree(chart_dir, copy)
        meta = yaml.safe_load((copy / "Chart.yaml").read_text()) or {}
        for dep in meta.get("dependencies") or []:
            source, target = SHARED_CHARTS / dep["name"], copy / "charts" / dep["name"]
            if source.is_dir() and not target.exists():
                shutil.copytree(source, target)
        home = Path(tmp) / "helm-home"
        env = {**os.environ, "HELM_CACHE_HOME": str(home / "cache"), "HELM_CONFIG_HOME": str(home / "config"),
               "HELM_DATA_HOME": str(home / "data")}
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
    with _prepared(chart_dir) as (chart, env):
        argv = [str(helm_binary()), "template", release, str(chart), "--namespace", namespace,
                "--kube-version", KUBERNETES_VERSION, *_values_args(values_files)]
        for api_version in crd_api_versions():
            argv += ["--api-versions", api_version]
        for key, value in (set_values or {}).items():
            argv += ["--set-json", f"{key}={json.dumps(value)}"]
        done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise AssertionError(f"helm template failed (exit {done.returncode}):\n{done.stderr.strip()}")
    return done.stdout


def lint(chart_dir: Path | str, values_files: Sequence[Path | str] = ()) -> subprocess.CompletedProcess:
    with _prepared(chart_dir) as (chart, env):
        argv = [str(helm_binary()), "lint", "--strict", str(chart), *_values_args(values_files)]
        return subprocess.run(argv, capture_output=True, text=True, env=env, check=False)


if __name__ == "__main__":  # python -m tests.deploy._helm_local [values files…]: print the rendering
    import sys

    print(render(ROOT / "deploy" / "helm" / "sentra", sys.argv[1:]))
