"""The environment the chart gives each service is one the service accepts: every
`SENTRA_<SERVICE>_*` variable names a real setting (a misspelt one would be silently
ignored by pydantic-settings), and the settings load — loaded here with the services' own
Settings classes, Secret references replaced by values of the right shape."""

from __future__ import annotations

import importlib
import os
import typing

import pydantic
import pytest
from pydantic import BaseModel

from tests.deploy._manifests import CHART, PROFILES, objects, render, rendered

SERVICES = ("gateway", "ingestion", "embedding", "retrieval", "inference", "training")
SETTINGS = {
    "gateway": "sentra_gateway.config:GatewaySettings",
    "ingestion": "sentra_ingestion.config:IngestionSettings",
    "embedding": "sentra_embedding.config:EmbeddingSettings",
    "retrieval": "sentra_retrieval.config:RetrievalSettings",
    "inference": "sentra_inference.config:InferenceSettings",
    "training": "sentra_training.config:TrainingSettings",
}
# What a Secret holds for each kind of reference (shape only).
SECRET_SHAPES = {
    "DATABASE__URL": "postgresql+psycopg://sentra_service:secret@postgres.example.internal/sentra",
    "QDRANT_API_KEY": "qdrant-api-key",
    "VLLM__API_KEY": "vllm-api-key",
}


def _settings_class(service: str):
    module, _, name = SETTINGS[service].partition(":")
    return getattr(importlib.import_module(module), name)


def _model_of(annotation):
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def names_a_setting(model: type[BaseModel], path: list[str]) -> bool:
    """Whether SENTRA_X_A__B__C (path ['a', 'b', 'c']) is a field of the settings model."""
    field = model.model_fields.get(path[0].lower())
    if field is None:
        return False
    if len(path) == 1:
        return True
    nested = _model_of(field.annotation)
    return nested is not None and names_a_setting(nested, path[1:])


def _environment(container: dict) -> dict[str, str]:
    env = {}
    for entry in container["env"]:
        if "value" in entry:
            env[entry["name"]] = entry["value"]
        else:
            suffix = next((s for s in SECRET_SHAPES if entry["name"].endswith(s)), None)
            assert suffix, f"{entry['name']} comes from a Secret this test does not know the shape of"
            env[entry["name"]] = SECRET_SHAPES[suffix]
    return env


def _check(docs: list[dict], monkeypatch: pytest.MonkeyPatch) -> int:
    checked = 0
    for doc in docs:
        component = doc["metadata"].get("labels", {}).get("app.kubernetes.io/component")
        if doc["kind"] != "Deployment" or component not in SERVICES:
            continue
        container = doc["spec"]["template"]["spec"]["containers"][0]
        env = _environment(container)
        prefix = f"SENTRA_{component.upper()}_"
        cls = _settings_class(component)
        for name in env:
            assert name.startswith(prefix), f"{component} gets {name}, another service's setting"
            assert names_a_setting(cls, name.removeprefix(prefix).split("__")), f"{name} is no setting of {component}"
        with monkeypatch.context() as patched:
            for name in list(os.environ):
                if name.startswith(prefix):
                    patched.delenv(name)
            for name, value in env.items():
                patched.setenv(name, value)
            try:
                cls()
            except pydantic.ValidationError as exc:
                raise AssertionError(f"{component} refuses the chart's settings: {exc}") from None
        checked += 1
    return checked


@pytest.mark.parametrize("profile", PROFILES)
def test_every_service_accepts_its_environment(profile: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _check(objects(rendered(profile)), monkeypatch) >= 1


def test_sqlite_mode_and_edge_engine_settings_load(monkeypatch: pytest.MonkeyPatch) -> None:
    docs = objects(render(CHART, set_values={
        "database.mode": "sqlite", "gateway.replicas": 1, "gateway.autoscaling.enabled": False,
        "inference.replicas": 1, "inference.engine": "llamacpp", "retrieval.engine": "edge",
        "retrieval.replicas": 1, "training.ray.mode": "local", "training.gpu.enabled": False}))
    assert _check(docs, monkeypatch) == len(SERVICES)
