"""Where the deployment tests find their tools: helm, kube-apiserver, kubectl, etcd, promtool
and the Prometheus server.

`make setup` (scripts/setup.sh) installs every one of them: helm, kube-apiserver and kubectl
are built from the Go module proxy once per machine into ~/.cache/sentra/bin/<tool>-<version>/,
etcd and Prometheus (with promtool) come from Debian. A missing tool fails the test that
needs it with a message saying so; it never skips it.
"""

from __future__ import annotations

import os
import re
import shutil
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The Go module that pins the Kubernetes components (see tools/k8s/README.md).
K8S_MODULE = ROOT / "tools" / "k8s"
# Must match HELM_VERSION in scripts/setup.sh (a test checks it).
HELM_VERSION = "v3.22.0"


class ToolMissingError(RuntimeError):
    """A tool the deployment tests need is not installed; `make setup` installs it."""


def bin_cache() -> Path:
    return Path(os.environ.get("SENTRA_BIN_CACHE", Path.home() / ".cache" / "sentra" / "bin"))


@cache
def kubernetes_version() -> str:
    """The k8s.io/kubernetes release tools/k8s/go.mod requires (v1.34.4, say)."""
    match = re.search(r"^require k8s\.io/kubernetes (v\S+)$", (K8S_MODULE / "go.mod").read_text(), re.MULTILINE)
    if match is None:
        raise RuntimeError(f"{K8S_MODULE / 'go.mod'} does not require k8s.io/kubernetes on a line of its own")
    return match.group(1)


def _built(tool: str, version: str) -> Path:
    path = bin_cache() / f"{tool}-{version}" / tool
    if not os.access(path, os.X_OK):
        raise ToolMissingError(
            f"{tool} {version} is not built (expected {path}): run `make setup`, which builds it "
            "once from the Go module proxy"
        )
    return path


def _debian(tool: str, package: str) -> Path:
    found = shutil.which(tool) or (f"/usr/bin/{tool}" if os.access(f"/usr/bin/{tool}", os.X_OK) else None)
    if found is None:
        raise ToolMissingError(
            f"{tool} is not installed: run `make setup`, which installs the Debian package {package} "
            f"(or `apt-get install {package}`)"
        )
    return Path(found)


def helm_binary() -> Path:
    return _built("helm", HELM_VERSION)


def kube_apiserver_binary() -> Path:
    return _built("kube-apiserver", kubernetes_version())


def kubectl_binary() -> Path:
    """kubectl of the same release as kube-apiserver, so client and server never skew."""
    return _built("kubectl", kubernetes_version())


def etcd_binary() -> Path:
    return _debian("etcd", "etcd-server")


def promtool_binary() -> Path:
    return _debian("promtool", "prometheus")


def prometheus_binary() -> Path:
    return _debian("prometheus", "prometheus")
