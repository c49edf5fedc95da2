"""The service images' Dockerfiles (deploy/docker), checked without building them (no base
image can be pulled here): multi-stage, a base image pinned to an exact version (never
`latest`), a numeric non-root USER in the image that ships, no HEALTHCHECK (the pod spec
probes gRPC health), HOME and TMPDIR on the pod's writable volume, and no PyTorch in the
images of services that do not need it — resolved through the installed packages'
metadata from the extras each Dockerfile installs."""

from __future__ import annotations

import re
import shlex
import tomllib
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.deploy._manifests import CHART, ROOT

DOCKER = ROOT / "deploy" / "docker"
SERVICES = ("gateway", "ingestion", "embedding", "retrieval", "inference", "training")
NO_TORCH = ("gateway", "ingestion", "embedding", "retrieval")
EXACT_TAG = re.compile(r"^[\w.\-/]+:(\d+\.\d+\.\d+)[\w.\-]*(@sha256:[0-9a-f]{64})?$")


@dataclass
class Stage:
    base: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)


def parse(path: Path) -> tuple[dict[str, str], list[Stage]]:
    """(ARG defaults before the first FROM, stages) of a Dockerfile."""
    text = re.sub(r"\\\n", " ", path.read_text())
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        word = word.upper()
        if word == "FROM":
            parts = rest.split()
            base = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), parts[0])
            name = parts[2] if len(parts) > 2 and parts[1].upper() == "AS" else str(len(stages))
            stages.append(Stage(base, name))
        elif not stages:
            if word == "ARG" and "=" in rest:
                k, v = rest.split("=", 1)
                args[k.strip()] = v.strip()
        else:
            stages[-1].instructions.append((word, rest))
    return args, stages


def shipped(stages: list[Stage]) -> list[Stage]:
    """The default target (the last stage) and the stages it is built FROM, last first."""
    by_name = {s.name: s for s in stages}
    chain = [stages[-1]]
    while chain[-1].base in by_name:
        chain.append(by_name[chain[-1].base])
    return chain


def test_every_service_has_a_dockerfile_and_the_context_is_narrow() -> None:
    assert sorted(p.name for p in DOCKER.glob("*.Dockerfile")) == sorted(f"{s}.Dockerfile" for s in SERVICES)
    ignore = (ROOT / ".dockerignore").read_text().split()
    assert ignore[ignore.index("*") if "*" in ignore else 0] == "*", ".dockerignore starts by excluding everything"
    for needed in ("!pyproject.toml", "!README.md", "!libs/", "!cli/", "!services/"):
        assert needed in ignore


@pytest.mark.parametrize("service", SERVICES)
def test_dockerfile_rules(service: str) -> None:
    _args, stages = parse(DOCKER / f"{service}.Dockerfile")
    names = [s.name for s in stages]
    assert len(stages) >= 2 and "builder" in names and "runtime" in names, f"{service}: multi-stage with a builder"
    for stage in stages:
        if stage.base in names:
            continue
        assert "latest" not in stage.base, f"{service}: {stage.base} uses latest"
        assert EXACT_TAG.match(stage.base), f"{service}: base {stage.base} is not pinned to an exact version"
    for stage in stages:
        assert not any(word == "HEALTHCHECK" for word, _ in stage.instructions), f"{service}: HEALTHCHECK"
    chain = shipped(stages)
    assert chain[-1].name != "dev" and "dev" not in [s.name for s in chain], f"{service}: ships the dev stage"
    users = [rest for stage in chain for word, rest in stage.instructions if word == "USER"]
    assert users, f"{service}: no USER in the image that ships"
    user = users[0].split(":")[0]
    assert user.isdigit() and int(user) != 0, f"{service}: USER {users[0]} is not a numeric non-root user"
    env = " ".join(rest for stage in chain for word, rest in stage.instructions if word == "ENV")
    assert "HOME=/tmp" in env and "TMPDIR=/tmp" in env, f"{service}: HOME and TMPDIR on the writable volume"
    entry = next(rest for stage in chain for word, rest in stage.instructions if word == "ENTRYPOINT")
    cmd = next(rest for stage in chain for word, rest in stage.instructions if word == "CMD")
    assert entry == '["python"]' and f"sentra_{service}" in cmd


def _runtime_install(service: str) -> list[str]:
    """What the runtime stage pip-installs: requirement strings."""
    _args, stages = parse(DOCKER / f"{service}.Dockerfile")
    runtime = next(s for s in stages if s.name == "runtime")
    wanted: list[str] = []
    for word, rest in runtime.instructions:
        if word != "RUN":
            continue
        for command in rest.split("&&"):
            tokens = shlex.split(command)
            if "pip" in " ".join(tokens[:2]) and "install" in tokens:
                after = tokens[tokens.index("install") + 1:]
                wanted += [t for t in after if not t.startswith("-")]
    assert wanted, f"{service}: the runtime installs nothing"
    return [w.replace("${EXTRAS}", "training") for w in wanted]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def closure(requirements: list[str]) -> set[str]:
    """Every distribution the requirements pull in, from the installed packages' metadata
    (Sentra's own from this checkout's pyproject.toml)."""
    project = _pyproject()["project"]
    seen: set[str] = set()
    todo = [Requirement(r) for r in requirements]
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        key = f"{name}[{','.join(sorted(req.extras))}]"
        if key in seen:
            continue
        seen.add(key)
        if name == "sentra":
            deps = list(project["dependencies"])
            for extra in req.extras:
                deps += project["optional-dependencies"][extra]
            todo += [Requirement(d) for d in deps]
            continue
        try:
            requires = metadata.requires(req.name) or []
        except metadata.PackageNotFoundError:
            raise AssertionError(f"{req.name} is not installed: run make setup") from None
        for dep in requires:
            dep_req = Requirement(dep)
            if dep_req.marker is None or any(dep_req.marker.evaluate({"extra": e}) for e in (req.extras or {""})):
                todo.append(dep_req)
    return {k.split("[")[0] for k in seen}


@pytest.mark.parametrize("service", NO_TORCH)
def test_no_torch_where_it_is_not_needed(service: str) -> None:
    pulled = closure(_runtime_install(service))
    heavy = pulled & {"torch", "sentence-transformers", "transformers", "peft", "accelerate", "deepspeed",
                      "bitsandbytes", "ray"}
    assert not heavy, f"the {service} image would install {sorted(heavy)}"


def test_the_resolver_sees_torch_where_it_is() -> None:
    """The check above is only worth something if it finds torch where it is installed."""
    assert "torch" in closure(_runtime_install("inference"))
    assert {"torch", "ray"} <= closure(_runtime_install("training"))


def test_the_embedding_image_installs_its_extra_minus_pytorch() -> None:
    extras = _pyproject()["project"]["optional-dependencies"]
    extra = {canonicalize_name(Requirement(r).name) for r in extras["embedding"]}
    named = {canonicalize_name(Requirement(r).name) for r in _runtime_install("embedding")} - {"sentra"}
    assert named <= extra, f"the embedding image installs packages its extra does not list: {named - extra}"
    assert {"openvino", "onnxruntime", "tokenizers"} <= named


def test_chart_default_images_are_the_ones_make_images_builds() -> None:
    makefile = (ROOT / "Makefile").read_text()
    services = re.search(r"^IMAGE_SERVICES := (.+)$", makefile, re.M).group(1).split()
    assert sorted(services) == sorted(SERVICES)
    assert "training-gpu" in makefile
    values = (CHART / "values.yaml").read_text()
    assert re.search(r"^  repository: sentra$", values, re.M), "the chart's image repository is make images' default"


def test_the_gateway_image_ships_the_built_web_console() -> None:
    _args, stages = parse(DOCKER / "gateway.Dockerfile")
    console = next(s for s in stages if s.name == "console")
    assert any(word == "RUN" and "npm run build" in rest for word, rest in console.instructions)
    builder = next(s for s in stages if s.name == "builder")
    copies = [rest for word, rest in builder.instructions if word == "COPY" and "--from=console" in rest]
    assert copies and all("sentra_gateway/console_static" in rest for rest in copies)
    ignore = (ROOT / ".dockerignore").read_text().split()
    assert "!console/" in ignore and "console/node_modules/" in ignore
