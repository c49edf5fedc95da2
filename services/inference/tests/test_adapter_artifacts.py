"""Adapters are confined to their department's artifact root: each attack is performed
and refused, and what is refused does not tell the caller about the inference host's files."""

from __future__ import annotations

import os
import shutil

import pytest
from sentra_common.errors import FailedPrecondition, InvalidArgument, NotFound
from sentra_common.principal import Principal
from sentra_inference.adapters.artifacts import ArtifactRoot
from sentra_inference.domain.ports import AdapterLoadError, AdapterRecord

from .conftest import make_artifact

LEGAL = Principal("tomas", departments=("legal",), roles=("trainer",))
LEGAL_MEMBER = Principal("lucia", departments=("legal",), roles=("member",))
VENTAS = Principal("victor", departments=("ventas",), roles=("trainer",))


@pytest.fixture
def legal_artifact(adapter_root):
    make_artifact(adapter_root, "ventas", "own")  # ventas has a root of its own
    return make_artifact(adapter_root, "legal", "alpha")


async def register(registry, principal, department, uri, name="x"):
    return await registry.register(principal, name=name, version=0, department=department, artifact_uri=uri)


async def refused(registry, principal, department, uri) -> str:
    with pytest.raises(InvalidArgument) as error:
        await register(registry, principal, department, uri)
    return error.value.message


def assert_no_host_path(message: str, *paths) -> None:
    for path in paths:
        assert str(path) not in message
    assert "/tmp" not in message and "/etc" not in message


async def test_another_departments_artifact_is_refused(registry, adapter_root, legal_artifact):
    message = await refused(registry, VENTAS, "ventas", str(legal_artifact))
    assert "adapter root" in message
    assert registry.visible(VENTAS) == ([], [])


async def test_dotdot_traversal_is_refused(registry, adapter_root, legal_artifact):
    for uri in ("../legal/alpha", "own/../../legal/alpha", str(adapter_root / "ventas" / ".." / "legal" / "alpha")):
        await refused(registry, VENTAS, "ventas", uri)


async def test_a_file_uri_with_dotdot_is_refused(registry, adapter_root, legal_artifact):
    for uri in (f"file://{adapter_root}/ventas/../legal/alpha", f"file://{adapter_root}/ventas/own/../../legal/alpha"):
        await refused(registry, VENTAS, "ventas", uri)


async def test_a_symlink_into_another_department_is_refused(registry, adapter_root, legal_artifact):
    (adapter_root / "ventas" / "link").symlink_to(legal_artifact)
    (adapter_root / "ventas" / "relative-link").symlink_to(os.path.join("..", "legal", "alpha"))
    for uri in ("link", "relative-link", str(adapter_root / "ventas" / "link"), "link/"):
        await refused(registry, VENTAS, "ventas", uri)
    # A directory of ventas's whose weights are a link to legal's.
    copy = make_artifact(adapter_root, "ventas", "copy")
    (copy / "adapter_model.safetensors").unlink()
    (copy / "adapter_model.safetensors").symlink_to(legal_artifact / "adapter_model.safetensors")
    for uri in ("copy", str(copy)):
        await refused(registry, VENTAS, "ventas", uri)


async def test_an_absolute_path_outside_the_root_is_refused(registry, adapter_root, legal_artifact):
    for uri in ("/etc", "file:///etc", "/", str(adapter_root), str(adapter_root / "ventas"), "s3://bucket/legal"):
        await refused(registry, VENTAS, "ventas", uri)


async def test_an_artifact_changed_after_registration_is_not_served(registry, adapter_root, legal_artifact):
    good = make_artifact(adapter_root, "legal", "good")
    await register(registry, LEGAL, "legal", str(good), name="legal")
    await register(registry, LEGAL, "legal", str(legal_artifact), name="legal")
    await registry.activate(LEGAL, "legal", 1)
    (legal_artifact / "adapter_model.safetensors").write_bytes(b"other weights")
    with pytest.raises(AdapterLoadError, match="changed after it was registered") as error:
        await registry.activate(LEGAL, "legal", 2)
    assert_no_host_path(error.value.message, adapter_root)
    assert "legal@2" not in registry.backend.loaded and registry.resolve(LEGAL_MEMBER, "legal") == "legal@1"
    failed = next(a for a in registry.visible(LEGAL)[0] if a.version == 2)
    assert failed.state == "failed" and "changed after it was registered" in failed.error


async def test_refusals_do_not_reveal_host_paths_or_whether_files_exist(registry, adapter_root, legal_artifact):
    exists = await refused(registry, VENTAS, "ventas", str(legal_artifact))
    missing = await refused(registry, VENTAS, "ventas", str(adapter_root / "legal" / "not-there"))
    etc = await refused(registry, VENTAS, "ventas", "/etc")
    nothing = await refused(registry, VENTAS, "ventas", "/no/such/dir")
    assert exists == missing == etc == nothing
    assert_no_host_path(exists, adapter_root)
    # A load the backend refuses: the reason comes back without the host path.
    broken = make_artifact(adapter_root, "legal", "broken")
    registry.backend.refuse.add(str(broken))
    await register(registry, LEGAL, "legal", str(broken), name="legal")
    with pytest.raises(AdapterLoadError, match="does not fit") as error:
        await registry.activate(LEGAL, "legal")
    assert_no_host_path(error.value.message, adapter_root)


async def test_what_register_accepts(registry, adapter_root, legal_artifact):
    """A path relative to the department's directory (the plain way), or an absolute path or
    file:// URI inside it; a link that stays inside is followed. The record keeps the path
    relative to the department's directory and the digest of the files."""
    (adapter_root / "legal" / "current").symlink_to("alpha")
    nested = make_artifact(adapter_root, "legal", "runs")
    (nested / "sub").mkdir()
    (nested / "sub" / "extra.bin").write_bytes(b"x")
    records = [await register(registry, LEGAL, "legal", uri, name=f"a{i}") for i, uri in enumerate((
        "alpha", "./alpha/", str(legal_artifact), f"file://{legal_artifact}", "current", "runs/../alpha",
    ))]
    assert {(r.artifact_uri, r.artifact_digest) for r in records} == {("alpha", records[0].artifact_digest)}
    assert records[0].artifact_digest.startswith("sha256:") and len(records[0].artifact_digest) == 71
    runs = await register(registry, LEGAL, "legal", "runs", name="runs")
    assert runs.artifact_uri == "runs" and runs.artifact_digest != records[0].artifact_digest
    await registry.activate(LEGAL, "a0")
    assert registry.backend.loaded == {"a0@1": str(legal_artifact)}


async def test_refusals_inside_the_department_say_what_to_do(registry, adapter_root, legal_artifact):
    empty = adapter_root / "legal" / "empty"
    empty.mkdir()
    no_config = make_artifact(adapter_root, "legal", "no-config")
    (no_config / "adapter_config.json").unlink()
    for uri, words in [
        ("missing", "no adapter directory 'missing'"), ("empty", "no files"), ("no-config", "adapter_config.json"),
        (".", "not the root itself"), ("", "relative to the legal adapter root"),
        ("alpha/adapter_config.json", "no adapter directory"),
    ]:
        message = await refused(registry, LEGAL, "legal", uri)
        assert words in message, message
        assert_no_host_path(message, adapter_root)


async def test_an_artifact_changed_while_served_stops_being_served(registry, adapter_root, legal_artifact):
    await register(registry, LEGAL, "legal", "alpha", name="legal")
    await registry.activate(LEGAL, "legal")
    assert registry.resolve(LEGAL_MEMBER, "") == "legal@1"
    await registry.sync()  # unchanged: nothing happens
    assert registry.backend.loaded == {"legal@1": str(legal_artifact)}
    (legal_artifact / "adapter_config.json").write_text('{"peft_type": "LORA", "r": 64}')
    await registry.sync()
    assert registry.backend.loaded == {}
    with pytest.raises(FailedPrecondition, match="changed after it was registered") as error:
        registry.resolve(LEGAL_MEMBER, "legal")
    assert "rollback" in error.value.message
    assert_no_host_path(error.value.message, adapter_root)
    assert registry.resolve(LEGAL_MEMBER, "") == ""  # the department's answers use the base model
    assert next(iter(registry.visible(LEGAL)[0])).state == "failed"


async def test_a_file_swapped_for_a_link_after_registration_is_refused(registry, adapter_root, legal_artifact):
    own = make_artifact(adapter_root, "ventas", "v1")
    await register(registry, VENTAS, "ventas", "v1", name="ventas")
    (own / "adapter_model.safetensors").unlink()
    (own / "adapter_model.safetensors").symlink_to(legal_artifact / "adapter_model.safetensors")
    with pytest.raises(AdapterLoadError, match="symbolic link"):
        await registry.activate(VENTAS, "ventas")
    # The artifact directory itself replaced by a link to legal's.
    other = make_artifact(adapter_root, "ventas", "v2")
    await register(registry, VENTAS, "ventas", "v2", name="ventas")
    shutil.rmtree(other)
    other.symlink_to(legal_artifact)
    with pytest.raises(AdapterLoadError, match="no longer a directory under the ventas adapter root") as error:
        await registry.activate(VENTAS, "ventas", 2)
    assert_no_host_path(error.value.message, adapter_root)
    assert registry.backend.loaded == {}


async def test_an_adapter_registered_without_a_digest_is_not_loaded(registry, adapter_root, legal_artifact):
    """Registered before artifacts were confined (an absolute path anywhere, no digest)."""
    await registry.store.add_adapter(AdapterRecord(
        name="legal", version=1, department="legal", base_model="gemma-3-270m", artifact_uri=str(legal_artifact),
    ))
    with pytest.raises(AdapterLoadError, match="register it again"):
        await registry.activate(LEGAL, "legal")
    assert registry.backend.loaded == {}


async def test_without_an_adapter_root_nothing_is_registered(tmp_path, adapter_root, legal_artifact):
    artifacts = ArtifactRoot(None)
    with pytest.raises(FailedPrecondition, match="SENTRA_INFERENCE_ADAPTER_ROOT"):
        await artifacts.locate("legal", "alpha")
    with pytest.raises(AdapterLoadError, match="SENTRA_INFERENCE_ADAPTER_ROOT"):
        await artifacts.verify("legal", "alpha", "sha256:00")


async def test_the_digest_covers_names_and_contents_in_a_stable_order(adapter_root):
    artifacts = ArtifactRoot(adapter_root)

    def write(name: str, files: dict[str, bytes]) -> None:
        for path, data in files.items():
            (adapter_root / "legal" / name / path).parent.mkdir(parents=True, exist_ok=True)
            (adapter_root / "legal" / name / path).write_bytes(data)

    files = {"adapter_config.json": b"{}", "b/w.bin": b"12", "a.bin": b"3"}
    write("one", files)
    write("two", dict(reversed(files.items())))  # written in another order
    write("renamed", {"adapter_config.json": b"{}", "b/w.bin": b"12", "c.bin": b"3"})
    write("moved", {"adapter_config.json": b"{}", "b/w.bin": b"1", "a.bin": b"23"})
    digests = [(await artifacts.locate("legal", name)).digest for name in ("one", "two", "renamed", "moved")]
    assert digests[0] == digests[1] and len(set(digests)) == 3
    assert await artifacts.verify("legal", "one", digests[0]) == str(adapter_root / "legal" / "one")


def test_the_adapter_root_setting_must_be_absolute(monkeypatch):
    from pydantic import ValidationError
    from sentra_inference.config import InferenceSettings

    monkeypatch.setenv("SENTRA_INFERENCE_ADAPTER_ROOT", "adapters")
    with pytest.raises(ValidationError, match="must be an absolute path"):
        InferenceSettings()
    monkeypatch.setenv("SENTRA_INFERENCE_ADAPTER_ROOT", "/srv/adapters")
    assert str(InferenceSettings().adapter_root) == "/srv/adapters"


async def test_the_model_card_is_shown_to_the_department_only_and_never_read_outside_it(registry, adapter_root,
                                                                                        legal_artifact):
    (legal_artifact / "model_card.json").write_text('{"adapter": "x", "promoted": true}')
    record = await register(registry, LEGAL, "legal", "alpha")
    shown, card, alias = await registry.describe(LEGAL_MEMBER, "x")
    assert (shown.version, card, alias) == (record.version, '{"adapter": "x", "promoted": true}', None)
    with pytest.raises(NotFound):
        await registry.describe(VENTAS, "x")
    with pytest.raises(NotFound):
        await registry.describe(LEGAL, "x", record.version + 1)
    # a card that is a link to another department's file is not read
    secret = adapter_root / "ventas" / "own" / "secret.json"
    secret.write_text('{"ventas": "secreto"}')
    (legal_artifact / "model_card.json").unlink()
    (legal_artifact / "model_card.json").symlink_to(secret)
    assert (await registry.describe(LEGAL, "x"))[1] == ""
