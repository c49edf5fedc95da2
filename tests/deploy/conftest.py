"""Fixtures of the deployment tests: a real kube-apiserver, started once per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.deploy.kube import KubeApi, kube_api_server


@pytest.fixture(scope="session")
def kube_api() -> Iterator[KubeApi]:
    """A kube-apiserver (with etcd) on 127.0.0.1 with the CRDs of ../shared/k8s-crds applied.

    `kube_api.dry_run(yaml_text, namespace="sentra")` validates every object server-side and
    raises AssertionError with the server's message when one is rejected;
    `kube_api.kubectl(*args, input=None)` runs kubectl against it."""
    with kube_api_server() as api:
        yield api
