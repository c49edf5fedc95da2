"""The adapter registry on a real SQLite database (migrations included) with an
in-process backend that records what is loaded (fixtures in conftest.py)."""

from __future__ import annotations

import pytest
from sentra_common.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from sentra_common.principal import Principal
from sentra_inference.domain.ports import AdapterLoadError

from .conftest import make_artifact

TRAINER = Principal("tomas", departments=("legal",), roles=("trainer",))
MEMBER = Principal("lucia", departments=("legal",), roles=("member",))
OUTSIDER = Principal("victor", departments=("ventas",), roles=("trainer",))
ADMIN = Principal("root", departments=(), roles=("platform-admin",))


@pytest.fixture
def artifact(adapter_root):
    """A legal adapter directory; returns its path relative to legal's adapter root."""
    def make(name: str, department: str = "legal") -> str:
        make_artifact(adapter_root, department, name)
        return name
    return make


async def test_activate_rollback_and_deactivate(registry, artifact):
    for n in (1, 2, 3):
        record = await registry.register(TRAINER, name="legal", version=0, department="legal",
                                         artifact_uri=artifact(f"v{n}"))
        assert record.version == n
    await registry.activate(TRAINER, "legal", 1)
    await registry.activate(TRAINER, "legal", 2)
    alias = await registry.activate(TRAINER, "legal")  # the newest
    assert (alias.version, alias.previous_version) == (3, 2)
    # The current and the rollback versions are loaded, nothing else.
    assert set(registry.backend.loaded) == {"legal@3", "legal@2"}
    assert registry.resolve(MEMBER, "") == "legal@3"  # the department's default adapter
    assert registry.resolve(MEMBER, "legal") == "legal@3"
    assert registry.resolve(MEMBER, "gemma-3-270m") == ""

    back = await registry.rollback(TRAINER, "legal")
    assert back.version == 2 and registry.resolve(MEMBER, "legal") == "legal@2"
    await registry.sync()
    assert set(registry.backend.loaded) == {"legal@2", "legal@1"}
    assert (await registry.rollback(TRAINER, "legal")).version == 1
    with pytest.raises(FailedPrecondition, match="no earlier version"):
        await registry.rollback(TRAINER, "legal")

    await registry.deactivate(TRAINER, "legal")
    assert registry.resolve(MEMBER, "") == ""
    with pytest.raises(FailedPrecondition, match="switched off"):
        registry.resolve(MEMBER, "legal")
    assert registry.backend.loaded == {}


async def test_a_failed_load_leaves_the_alias_where_it_was(registry, artifact, adapter_root):
    good = artifact("good")
    bad = artifact("bad")
    registry.backend.refuse.add(str(adapter_root / "legal" / bad))
    await registry.register(TRAINER, name="legal", version=1, department="legal", artifact_uri=good)
    await registry.register(TRAINER, name="legal", version=2, department="legal", artifact_uri=bad)
    await registry.activate(TRAINER, "legal", 1)
    with pytest.raises(AdapterLoadError, match="still serves"):
        await registry.activate(TRAINER, "legal", 2)
    assert registry.resolve(MEMBER, "legal") == "legal@1"
    adapters, _ = registry.visible(TRAINER)
    failed = next(a for a in adapters if a.version == 2)
    assert failed.state == "failed" and "does not fit" in failed.error
    await registry.register(TRAINER, name="legal", version=3, department="legal", artifact_uri=good,
                            base_model="llama-3.2-1b")
    with pytest.raises(AdapterLoadError, match=r"llama-3\.2-1b"):
        await registry.activate(TRAINER, "legal", 3)


async def test_isolation_between_departments(registry, artifact):
    await registry.register(TRAINER, name="legal", version=1, department="legal", artifact_uri=artifact("a"))
    await registry.activate(TRAINER, "legal")
    for spec in ("legal", "legal@1"):
        with pytest.raises(NotFound):
            registry.resolve(OUTSIDER, spec)
    assert registry.resolve(OUTSIDER, "") == ""
    assert registry.visible(OUTSIDER) == ([], [])
    assert len(registry.visible(ADMIN)[0]) == 1
    with pytest.raises(PermissionDenied):
        registry.visible(OUTSIDER, "legal")
    for change in (registry.rollback, registry.deactivate, registry.activate):
        with pytest.raises(NotFound):
            await change(OUTSIDER, "legal")
    with pytest.raises(PermissionDenied):
        await registry.register(OUTSIDER, name="x", version=1, department="legal", artifact_uri="a")
    with pytest.raises(FailedPrecondition, match="another department"):
        await registry.register(OUTSIDER, name="legal", version=2, department="ventas",
                                artifact_uri=artifact("v", "ventas"))


async def test_registration_is_validated(registry, artifact):
    artifact("1")
    for fields, error in [
        ({"name": "Legal Team"}, InvalidArgument),
        ({"artifact_uri": "s3://bucket/legal"}, InvalidArgument),
        ({"artifact_uri": "relative/path"}, InvalidArgument),
        ({"version": -1}, InvalidArgument),
    ]:
        with pytest.raises(error):
            await registry.register(TRAINER, **{"name": "legal", "version": 0, "department": "legal",
                                                "artifact_uri": "1", **fields})
    await registry.register(TRAINER, name="legal", version=4, department="legal", artifact_uri="1")
    with pytest.raises(AlreadyExists):
        await registry.register(TRAINER, name="legal", version=4, department="legal", artifact_uri="1")
    with pytest.raises(InvalidArgument, match="name@version"):
        registry.resolve(MEMBER, "legal@x")
