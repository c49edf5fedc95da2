"""Every workload the chart renders (subcharts and the Ray cluster's pods included) runs
under Kubernetes' restricted profile: non-root, no privilege escalation, every capability
dropped, a read-only root file system, a seccomp profile; with probes and resources; never
privileged, on the host's namespaces or with host paths; no service account token."""

from __future__ import annotations

import pytest

from tests.deploy._manifests import PROFILES, containers, objects, pod_specs, rendered

# Containers that serve no health endpoint of their own: NATS's config reloader sidecar
# (it only watches files); KubeRay adds its own probes to the Ray containers.
NO_PROBES = {"reloader", "ray-head", "ray-worker"}


def _effective(pod: dict, container: dict, field: str):
    value = (container.get("securityContext") or {}).get(field)
    return value if value is not None else (pod.get("securityContext") or {}).get(field)


# The Qdrant chart's `helm test` Pod runs as root and cannot be configured; it only exists
# while `helm test` runs, and the chart's notes filter `helm test` to Sentra's own test.
EXEMPT = {"Pod/sentra-qdrant-test-db-interaction"}


def _workloads(profile: str):
    docs = objects(rendered(profile))
    found = [(where, spec) for where, spec in pod_specs(docs) if where not in EXEMPT]
    assert found, f"{profile}: no workloads"
    return found


@pytest.mark.parametrize("profile", PROFILES)
def test_restricted_security_context(profile: str) -> None:
    problems = []
    for where, pod in _workloads(profile):
        for container, _init in containers(pod):
            sc = container.get("securityContext") or {}
            name = f"{where}/{container['name']}"
            if _effective(pod, container, "runAsNonRoot") is not True:
                problems.append(f"{name}: runAsNonRoot")
            if sc.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{name}: allowPrivilegeEscalation")
            if sc.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{name}: readOnlyRootFilesystem")
            if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
                problems.append(f"{name}: capabilities drop ALL")
            if (sc.get("capabilities") or {}).get("add"):
                problems.append(f"{name}: adds capabilities")
            if sc.get("privileged"):
                problems.append(f"{name}: privileged")
            seccomp = _effective(pod, container, "seccompProfile") or {}
            if seccomp.get("type") not in ("RuntimeDefault", "Localhost"):
                problems.append(f"{name}: seccompProfile {seccomp}")
            run_as = _effective(pod, container, "runAsUser")
            if run_as == 0:
                problems.append(f"{name}: runAsUser 0")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("profile", PROFILES)
def test_no_host_access(profile: str) -> None:
    problems = []
    for where, pod in _workloads(profile):
        for flag in ("hostNetwork", "hostPID", "hostIPC"):
            if pod.get(flag):
                problems.append(f"{where}: {flag}")
        for volume in pod.get("volumes") or []:
            if "hostPath" in volume:
                problems.append(f"{where}: hostPath volume {volume['name']}")
        for container, _init in containers(pod):
            for port in container.get("ports") or []:
                if "hostPort" in port:
                    problems.append(f"{where}/{container['name']}: hostPort")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("profile", PROFILES)
def test_probes_and_resources(profile: str) -> None:
    problems = []
    for where, pod in _workloads(profile):
        long_running = not where.startswith(("Job/", "Pod/"))
        for container, init in containers(pod):
            name = f"{where}/{container['name']}"
            resources = container.get("resources") or {}
            if not (resources.get("requests") and resources.get("limits", {}).get("memory")):
                problems.append(f"{name}: requests and a memory limit")
            if long_running and not init and container["name"] not in NO_PROBES:
                for probe in ("readinessProbe", "livenessProbe"):
                    if probe not in container:
                        problems.append(f"{name}: {probe}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("profile", PROFILES)
def test_sentra_services_use_native_grpc_health_probes(profile: str) -> None:
    docs = objects(rendered(profile))
    services = [d for d in docs if d["kind"] == "Deployment"
                and d["metadata"]["labels"].get("app.kubernetes.io/name") == "sentra"
                and d["metadata"]["labels"]["app.kubernetes.io/component"] in
                ("gateway", "ingestion", "embedding", "retrieval", "inference", "training")]
    assert services
    for deployment in services:
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert "grpc" in container[probe], f"{deployment['metadata']['name']}: {probe} is not gRPC health"
        pod = deployment["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert "/tmp" in mounts, "HOME and TMPDIR need their writable volume"


@pytest.mark.parametrize("profile", PROFILES)
def test_images_are_pinned(profile: str) -> None:
    for where, pod in _workloads(profile):
        for container, _init in containers(pod):
            image = container["image"]
            tag = image.rsplit("@", 1)[0].rsplit(":", 1)
            assert len(tag) == 2 and "/" not in tag[1], f"{where}: image {image} has no tag"
            assert tag[1] != "latest", f"{where}: image {image} uses latest"


def test_gpu_engines_run_on_gpu_nodes() -> None:
    docs = objects(rendered("values-onprem-gpu.yaml"))
    for where, pod in pod_specs(docs):
        if where in ("Deployment/sentra-vllm", "Deployment/sentra-tei", "RayCluster/sentra-ray/gpu"):
            container = pod["containers"][0]
            assert container["resources"]["limits"]["nvidia.com/gpu"] >= 1, where
            assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}, where
            assert any(t["key"] == "nvidia.com/gpu" for t in pod["tolerations"]), where
    vllm = next(p for w, p in pod_specs(docs) if w == "Deployment/sentra-vllm")["containers"][0]
    assert "--enable-lora" in vllm["args"]
    assert {"name": "VLLM_ALLOW_RUNTIME_LORA_UPDATING", "value": "True"} in vllm["env"]
    assert any(m["mountPath"] == "/var/lib/sentra/adapters" and m["readOnly"] for m in vllm["volumeMounts"])


def test_ingestion_sandbox_profile_is_documented_not_weakened() -> None:
    """bubblewrap needs user namespaces: the ingestion pod gets the Localhost seccomp
    profile shipped in deploy/seccomp, never Unconfined, and stays non-root."""
    docs = objects(rendered("default"))
    pod = next(p for w, p in pod_specs(docs) if w == "Deployment/sentra-ingestion")
    assert pod["securityContext"]["seccompProfile"] == {"type": "Localhost",
                                                        "localhostProfile": "sentra/sentra-bwrap.json"}
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["SENTRA_INGESTION_PARSER_SANDBOX"] == "bwrap"
