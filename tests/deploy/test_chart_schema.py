"""values.schema.json refuses bad values before anything renders: one case per rule, each
naming what it breaks. The last cases are the chart's own checks of combinations that
cannot work (a message from the template, not the schema)."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from tests.deploy._manifests import CHART, render

# (rule, values set with --set-json, text the error must contain)
SCHEMA_CASES = [
    ("unknown top-level key", {"gatway": {"replicas": 2}}, "gatway"),
    ("unknown key in a service block", {"gateway.replica": 2}, "/gateway/replica"),
    ("unknown key in a nested block", {"gateway.ingress.tls": True}, "/gateway/ingress"),
    ("wrong type", {"gateway.replicas": "two"}, "/gateway/replicas"),
    ("wrong type of a flag", {"networkPolicy.enabled": "yes"}, "/networkPolicy/enabled"),
    ("below a minimum", {"retrieval.replicas": -1}, "/retrieval/replicas"),
    ("above a maximum", {"vllm.gpuMemoryUtilization": 1.5}, "/vllm/gpuMemoryUtilization"),
    ("bad enum", {"inference.engine": "tgi"}, "/inference/engine"),
    ("bad enum of a number", {"training.gpu.deepspeedStage": 3}, "/training/gpu/deepspeedStage"),
    ("missing required", {"database.existingSecret": None}, "existingSecret"),
    ("missing required subchart switch", {"nats.enabled": None}, "enabled"),
    ("postgres needs its Secret", {"database.existingSecret": ""}, "/database/existingSecret"),
    ("image tag latest", {"vllm.image.tag": "latest"}, "/vllm/image/tag"),
    ("image digest format", {"gateway.image": {"digest": "sha256:abc"}}, "/gateway/image/digest"),
    ("no secrets in settings", {"gateway.settings": {"AUTH__CLIENT_SECRET": "x"}}, "AUTH__CLIENT_SECRET"),
    ("no database URL in settings", {"ingestion.settings": {"DATABASE__URL": "postgresql+psycopg://u:p@h/d"}},
     "DATABASE__URL"),
    ("settings names are environment names", {"embedding.settings": {"onnx_threads": "2"}}, "onnx_threads"),
    ("serving side names the training service", {"hybrid.role": "serving"}, "/hybrid"),
    ("external Ray needs an address", {"training.ray.mode": "external"}, "/training/ray/address"),
    ("Ray address is a Jobs API URL", {"training.ray.address": "ray://head:10001"}, "/training/ray/address"),
    ("issuer is a realm URL", {"keycloak.issuer": "https://sso.example.com"}, "/keycloak/issuer"),
    ("LoRA rank vLLM accepts", {"vllm.maxLoraRank": 48}, "/vllm/maxLoraRank"),
    ("storage sizes are quantities", {"storage.adapters.size": "20GB"}, "/storage/adapters/size"),
    ("access modes", {"storage.training.accessModes": ["ReadWriteAll"]}, "/storage/training/accessModes"),
    ("an HTTPRoute needs a Gateway", {"gateway.httpRoute.enabled": True}, "/gateway/httpRoute/parentRefs"),
    ("a Localhost seccomp profile names its file",
     {"ingestion.sandbox.seccompProfile": {"type": "Localhost", "localhostProfile": ""}},
     "/ingestion/sandbox/seccompProfile"),
    ("bus URL scheme", {"bus.url": "http://nats:4222"}, "/bus/url"),
    ("log level", {"logLevel": "verbose"}, "/logLevel"),
]

TEMPLATE_CASES = [
    ("Qdrant Edge is one replica", {"retrieval.engine": "edge", "retrieval.replicas": 2}, "Qdrant Edge"),
    ("sealed adapters are not for vLLM", {"encryption.enabled": True}, "vLLM engine reads adapter files"),
    ("QLoRA needs GPU workers", {"training.gpu.enabled": False, "training.gpu.qlora": True}, "need GPU workers"),
    ("GPU training needs a Ray cluster", {"training.ray.mode": "local"}, "training.ray.mode"),
    ("the job queue is one replica", {"training.replicas": 2}, "job queue"),
    ("SQLite services are single", {"database.mode": "sqlite", "gateway.replicas": 2,
                                    "gateway.autoscaling.enabled": False}, "SQLite"),
    ("an external Ray cluster needs its token", {"training.ray.mode": "external",
                                                 "training.ray.address": "https://ray.example.com:8265"},
     "tokenSecret"),
    ("no event bus at all", {"nats.enabled": False}, "bus.url"),
]


@pytest.mark.parametrize(("rule", "values", "expected"), SCHEMA_CASES, ids=[c[0] for c in SCHEMA_CASES])
def test_schema_refuses(rule: str, values: dict, expected: str) -> None:
    with pytest.raises(AssertionError) as refused:
        render(CHART, set_values=values)
    message = str(refused.value)
    assert "schema" in message, f"{rule}: refused, but not by the schema:\n{message}"
    assert expected in message, f"{rule}: the error does not name {expected!r}:\n{message}"


@pytest.mark.parametrize(("rule", "values", "expected"), TEMPLATE_CASES, ids=[c[0] for c in TEMPLATE_CASES])
def test_chart_refuses_combinations_that_cannot_work(rule: str, values: dict, expected: str) -> None:
    with pytest.raises(AssertionError) as refused:
        render(CHART, set_values=values)
    assert expected in str(refused.value), f"{rule}: {refused.value}"


def test_schema_is_strict_at_every_level() -> None:
    """Every object the schema describes closes its properties (except the subcharts' blocks
    and free-form maps), so a misspelt key anywhere is an error, not silently ignored."""
    schema = json.loads((CHART / "values.schema.json").read_text())
    open_ones = []

    def walk(node: dict, path: str) -> None:
        if node.get("type") == "object" and "properties" in node:
            closed = node.get("additionalProperties") is False or node.get("unevaluatedProperties") is False
            if not closed and path not in ("/nats", "/qdrant", "/global", "$defs/service"):
                open_ones.append(path)
        for key, child in (node.get("properties") or {}).items():
            walk(child, f"{path}/{key}")
        for key, child in (node.get("$defs") or {}).items():
            walk(child, f"$defs/{key}")

    walk(schema, "")
    assert not open_ones, f"objects that accept unknown keys: {open_ones}"


def test_every_value_is_documented_and_described_by_the_schema() -> None:
    """Each value of values.yaml (or the map it belongs to) has a `## @param` line, and the
    schema describes every documented value; the subcharts' blocks are theirs to document."""
    text = (CHART / "values.yaml").read_text()
    documented = set(re.findall(r"^\s*## @param (\S+)", text, re.M))
    values = yaml.safe_load(text)
    schema = json.loads((CHART / "values.schema.json").read_text())

    def leaves(node, path):
        if path in ("nats", "qdrant"):
            yield f"{path}.enabled"
        elif isinstance(node, dict) and node:
            for key, value in node.items():
                yield from leaves(value, f"{path}.{key}" if path else key)
        else:
            yield path

    def in_schema(path: str) -> bool:
        node = schema
        for part in path.split("."):
            if "$ref" in node:
                shared = schema["$defs"][node["$ref"].rsplit("/", 1)[1]]
                node = {**shared, **node, "properties": {**shared.get("properties", {}), **node.get("properties", {})}}
            props = node.get("properties") or {}
            if part not in props:
                return bool(node.get("additionalProperties")) or (node.get("type") == "object" and not props)
            node = props[part]
        return True

    missing = []
    for path in leaves(values, ""):
        parts = path.split(".")
        if not any(".".join(parts[:i]) in documented for i in range(len(parts), 0, -1)):
            missing.append(path)
    assert not missing, f"values without a ## @param line: {missing}"
    unknown = [p for p in documented if not in_schema(p)]
    assert not unknown, f"documented values the schema does not describe: {unknown}"
