"""The Tiltfile evaluated with starlark-pyo3 and stubbed Tilt builtins (no Tilt and no
cluster here): it parses, calls only builtins Tilt has with parameters Tilt knows, and what
it names exists — the Dockerfiles and their dev target, the overlay, the workloads it
port-forwards and orders, the images the overlay uses."""

from __future__ import annotations

import subprocess

import pytest
import starlark as sl

from tests.deploy._manifests import ROOT, objects

# Tilt's builtins the Tiltfile may call, with their parameters (docs.tilt.dev/api.html).
BUILTINS: dict[str, tuple[str, ...]] = {
    "docker_build": ("ref", "context", "build_args", "dockerfile", "dockerfile_contents", "live_update",
                     "match_in_env_vars", "ignore", "only", "entrypoint", "target", "ssh", "network", "secret",
                     "extra_tag", "container_args", "cache_from", "pull", "platform", "extra_hosts"),
    "k8s_yaml": ("yaml", "allow_duplicates"),
    "k8s_resource": ("workload", "new_name", "port_forwards", "extra_pod_selectors", "trigger_mode",
                     "resource_deps", "objects", "auto_init", "pod_readiness", "links", "labels",
                     "discovery_strategy"),
    "local_resource": ("name", "cmd", "deps", "trigger_mode", "resource_deps", "ignore", "auto_init", "serve_cmd",
                       "cmd_bat", "serve_cmd_bat", "allow_parallel", "links", "tags", "env", "serve_env",
                       "readiness_probe", "dir", "serve_dir", "labels"),
    "local": ("command", "quiet", "command_bat", "echo_off", "env", "dir", "stdin"),
    "kustomize": ("pathToDir", "kustomize_bin", "flags"),
    "filter_yaml": ("yaml", "labels", "name", "namespace", "kind", "api_version"),
    "sync": ("local_path", "remote_path"),
    "run": ("cmd", "trigger", "echo_off"),
    "watch_file": ("file_path",),
    "allow_k8s_contexts": ("contexts",),
}
CONFIG = {"define_string": ("name", "args", "usage"), "define_bool": ("name", "args", "usage"), "parse": ()}


class Tilt:
    """Records the calls, checks their parameters, answers like Tilt would."""

    def __init__(self, flags: dict) -> None:
        self.flags = flags
        self.calls: list[tuple[str, dict]] = []

    def builtin(self, name: str, params: tuple[str, ...]):
        def call(*args, **kwargs):
            assert len(args) <= len(params), f"{name}: {len(args)} positional arguments, Tilt takes {len(params)}"
            unknown = set(kwargs) - set(params)
            assert not unknown, f"{name}: Tilt has no parameter {sorted(unknown)}"
            bound = dict(zip(params, args, strict=False)) | kwargs
            self.calls.append((name, bound))
            if name == "kustomize":
                return f"kustomize:{bound['pathToDir']}"
            if name == "local":
                return "local-yaml"
            if name == "filter_yaml":
                return ("matched", bound["yaml"])
            if name in ("sync", "run"):
                return {"step": name, **bound}
            return None

        return call

    def named(self, name: str) -> list[dict]:
        return [bound for called, bound in self.calls if called == name]


def evaluate(flags: dict) -> Tilt:
    tilt = Tilt(flags)
    dialect = sl.Dialect.extended()
    dialect.enable_top_level_stmt = True
    dialect.enable_load = False
    globals_ = sl.Globals.extended_by([sl.LibraryExtension.StructType, sl.LibraryExtension.Print])
    module = sl.Module()
    for name, params in BUILTINS.items():
        module.add_callable(name, tilt.builtin(name, params))
    for name, params in CONFIG.items():
        module.add_callable(f"_config_{name}", tilt.builtin(f"config.{name}", params))
    module.add_callable("_config_parse_values", lambda: dict(flags))
    module.add_callable("_getenv", lambda key, default=None: default)
    module["TRIGGER_MODE_MANUAL"] = "manual"
    module["TRIGGER_MODE_AUTO"] = "auto"
    prelude = (
        "def _parse():\n"
        "    _config_parse()\n"
        "    return _config_parse_values()\n"
        "config = struct(define_string=_config_define_string, define_bool=_config_define_bool, parse=_parse)\n"
        "os = struct(getenv=_getenv)\n"
    )
    sl.eval(module, sl.parse("tilt-prelude", prelude, dialect), globals_)
    sl.eval(module, sl.parse("Tiltfile", (ROOT / "Tiltfile").read_text(), dialect), globals_)
    return tilt


def _overlay_objects(path: str) -> list[dict]:
    done = subprocess.run(["kubectl", "kustomize", str(ROOT / path)], capture_output=True, text=True, check=True)
    return objects(done.stdout)


@pytest.mark.parametrize("flags", [{}, {"engine": "vllm"}, {"training": False}, {"engine": "vllm", "training": False}],
                         ids=["default", "vllm", "no training", "vllm without training"])
def test_tiltfile_evaluates_with_tilt_builtins(flags: dict) -> None:
    tilt = evaluate(flags)
    # Images: each from its Dockerfile's dev target, with live update of the Python sources.
    builds = {b["ref"]: b for b in tilt.named("docker_build")}
    services = ["gateway", "ingestion", "embedding", "retrieval", "inference"]
    if flags.get("training", True):
        services.append("training")
    for service in services:
        build = builds[f"sentra/{service}"]
        dockerfile = ROOT / build["dockerfile"]
        assert dockerfile.is_file()
        assert f"AS {build['target']}" in dockerfile.read_text()
        steps = {step["step"] for step in build["live_update"]}
        assert steps == {"sync", "run"}
        for step in build["live_update"]:
            if step["step"] == "sync":
                assert (ROOT / step["local_path"]).is_dir(), step
    # The overlay it deploys, and the workloads it configures exist there.
    (overlay,) = tilt.named("kustomize")
    docs = _overlay_objects(overlay["pathToDir"])
    workloads = {d["metadata"]["name"] for d in docs if d["kind"] in ("Deployment", "StatefulSet")}
    for resource in tilt.named("k8s_resource"):
        assert resource["workload"] in workloads, f"k8s_resource {resource['workload']} is not in {overlay}"
    gateway = next(r for r in tilt.named("k8s_resource") if r["workload"] == "sentra-gateway")
    assert set(gateway["port_forwards"]) == {"50051:50051", "8080:8080"}
    images = {c["image"].split(":")[0] for d in docs if d["kind"] == "Deployment"
              for c in d["spec"]["template"]["spec"]["containers"]}
    assert set(builds) <= images | {"sentra/training-gpu"}
    # Smoke commands run the sentra CLI against the port-forwarded gateway.
    smoke = {r["name"]: r for r in tilt.named("local_resource") if r["name"].startswith("smoke-")}
    assert {"smoke-login", "smoke-ingest", "smoke-ask"} <= set(smoke)
    for resource in smoke.values():
        assert resource["env"]["SENTRA_GATEWAY"] == "127.0.0.1:50051"
        assert "sentra" in resource["cmd"]
        for dep in resource.get("resource_deps") or []:
            assert dep in workloads or dep in {r["name"] for r in tilt.named("local_resource")}, dep


def test_tiltfile_refuses_an_unknown_engine() -> None:
    with pytest.raises(sl.StarlarkError, match="--engine must be"):
        evaluate({"engine": "tgi"})
