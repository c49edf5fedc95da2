"""The adapter registry on a real SQLite database (migrations included), an adapter root
in a temporary directory and an in-process backend that records what is loaded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sentra_common.db import create_engine, migrate, sqlite_url
from sentra_inference.adapters.artifacts import ArtifactRoot
from sentra_inference.adapters.registry_store import SqlRegistryStore
from sentra_inference.app import MIGRATIONS
from sentra_inference.domain.ports import AdapterLoadError
from sentra_inference.domain.registry import AdapterRegistry


class RecordingBackend:
    base_model = "gemma-3-270m"

    def __init__(self):
        self.loaded: dict[str, str] = {}
        self.refuse: set[str] = set()

    async def load_adapter(self, key, path):
        if path in self.refuse:
            raise AdapterLoadError(f"adapter {key} at {path} does not fit the base model")
        self.loaded[key] = path

    async def reconcile(self, desired):
        self.loaded = dict(desired)


def make_artifact(root: Path, department: str, name: str) -> Path:
    """A small LoRA-looking adapter directory under `root/department/`."""
    path = root / department / name
    path.mkdir(parents=True)
    (path / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA"}))
    (path / "adapter_model.safetensors").write_bytes(b"weights of " + name.encode())
    return path


@pytest.fixture
def adapter_root(tmp_path) -> Path:
    root = (tmp_path / "adapters").resolve()
    root.mkdir()
    return root


@pytest.fixture
async def registry(tmp_path, adapter_root):
    engine = create_engine(sqlite_url(tmp_path / "registry.db"))
    await migrate(engine, MIGRATIONS, "alembic_version_inference")
    yield AdapterRegistry(SqlRegistryStore(engine), RecordingBackend(), ArtifactRoot(adapter_root))
    await engine.dispose()


@pytest.fixture
def base_dir(tmp_path) -> Path:
    """A stand-in converted base model directory (the converter only looks for config.json)."""
    directory = tmp_path / "base"
    directory.mkdir()
    (directory / "config.json").write_text("{}")
    return directory
