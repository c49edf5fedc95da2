"""Adapters sealed at rest (a keyring configured): the digest is over the stored, sealed
bytes; the model card is opened with the key; for llama.cpp a sealed adapter is converted
from plaintext in a private memory directory that is gone afterwards, its cached GGUF is
sealed, and llama-server reads it from a memory file; without the key, or with another,
it is refused with what to set; vLLM with a key is refused at start."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError
from sentra_common import sealed
from sentra_inference.adapters.artifacts import ArtifactRoot
from sentra_inference.adapters.llamacpp import LoraConverter, ServerOptions
from sentra_inference.adapters.llamacpp.server import LlamaServer
from sentra_inference.config import InferenceSettings
from sentra_inference.domain.ports import AdapterLoadError, BackendUnavailable

from .conftest import make_artifact
from .test_llamacpp_backend import FAKE_CONVERTER

SETTING = "SENTRA_INFERENCE_ENCRYPTION_KEY_FILE"


def keyring(tmp_path: Path, key_id: str = "k1") -> Path:
    path = tmp_path / f"{key_id}.keys"
    path.write_text(sealed.new_key_line(key_id) + "\n")
    return path


def sealed_artifact(root: Path, files: sealed.SealedFiles, name: str) -> Path:
    path = make_artifact(root, "legal", name)
    (path / "model_card.json").write_text(json.dumps({"adapter": name, "decision": "promoted"}))
    assert files.seal_dir(path) == 3
    return path


@pytest.fixture
def converter_dir(tmp_path) -> Path:
    directory = tmp_path / "converter"
    directory.mkdir()
    # The fake converter fails on a sealed source: what it is given must be plaintext.
    (directory / "convert_lora_to_gguf.py").write_text(
        "import pathlib, sys\nsource = pathlib.Path(sys.argv[-1])\n"
        "assert not (source / 'adapter_model.safetensors').read_bytes().startswith(b'SENTRA-SEALED'), 'sealed'\n"
        "pathlib.Path(__file__).with_name('seen').write_text(str(source))\n" + FAKE_CONVERTER)
    return directory


async def verified(root: ArtifactRoot, name: str) -> str:
    artifact = await root.locate("legal", name)
    return await root.verify("legal", artifact.path, artifact.digest)


async def test_a_sealed_adapter_is_converted_in_memory_cached_sealed_and_served_from_a_memory_file(
    adapter_root, tmp_path, converter_dir, base_dir,
):
    files = sealed.load_files(keyring(tmp_path), SETTING)
    sealed_artifact(adapter_root, files, "alpha")
    root = ArtifactRoot(adapter_root, files=files)
    assert json.loads(await root.model_card("legal", "alpha"))["decision"] == "promoted"
    private = tmp_path / "shm"
    private.mkdir()
    converter = LoraConverter(tmp_path / "cache", converter_dir, base_dir, root, files=files, private_root=private)
    gguf = await converter.gguf_for("alpha@1", await verified(root, "alpha"))

    stored = gguf.read_bytes()
    assert sealed.is_sealed(gguf) and b"weights of alpha" not in stored
    assert files.read_bytes(gguf) == b"GGUFweights of alpha"
    assert Path((converter_dir / "seen").read_text()).is_relative_to(private)  # converted in the private dir…
    assert list(private.iterdir()) == []  # …which is gone
    assert not any(b"weights of alpha" in p.read_bytes() for p in (tmp_path / "cache").rglob("*") if p.is_file())

    server = LlamaServer(ServerOptions(binary=Path(sys.executable), model=tmp_path / "m.gguf",
                                       served_model="gemma-3-270m", files=files), (gguf,))
    fds = server._memory_files()
    try:
        argv = server.argv(tuple(f"/dev/fd/{fd}" for fd in fds))
        assert argv[argv.index("--lora-scaled") + 1] == f"/dev/fd/{fds[0]}:0"
        assert Path(f"/proc/self/fd/{fds[0]}").read_bytes() == b"GGUFweights of alpha"
        assert os.readlink(f"/proc/self/fd/{fds[0]}").startswith("/memfd:sentra-lora-0")
    finally:
        for fd in fds:
            os.close(fd)

    other = LlamaServer(ServerOptions(binary=Path(sys.executable), model=tmp_path / "m.gguf",
                                      served_model="gemma-3-270m", files=sealed.load_files(keyring(tmp_path, "k2"),
                                                                                            SETTING)), (gguf,))
    with pytest.raises(BackendUnavailable, match="sealed with key 'k1', which"):
        other._memory_files()


async def test_a_sealed_adapter_without_the_key_is_refused_saying_what_to_set(
    adapter_root, tmp_path, converter_dir, base_dir,
):
    files = sealed.load_files(keyring(tmp_path), SETTING)
    sealed_artifact(adapter_root, files, "alpha")
    plain_root = ArtifactRoot(adapter_root)
    converter = LoraConverter(tmp_path / "cache", converter_dir, base_dir, plain_root)
    with pytest.raises(AdapterLoadError, match=f"is sealed .* no key is configured: set {SETTING}"):
        await converter.gguf_for("alpha@1", await verified(plain_root, "alpha"))
    assert not (converter_dir / "seen").exists()
    assert await plain_root.model_card("legal", "alpha") == ""

    # A key configured and an adapter stored in plaintext: refused too (seal it on purpose).
    make_artifact(adapter_root, "legal", "plain")
    root = ArtifactRoot(adapter_root, files=files)
    private = tmp_path / "shm"
    private.mkdir()
    sealing = LoraConverter(tmp_path / "cache", converter_dir, base_dir, root, files=files, private_root=private)
    with pytest.raises(AdapterLoadError, match="not sealed although a key is configured"):
        await sealing.gguf_for("plain@1", await verified(root, "plain"))


def test_vllm_with_a_key_is_refused_at_start(tmp_path):
    with pytest.raises(ValidationError, match="vllm, which reads adapter files from the adapter volume itself"):
        InferenceSettings(backend="vllm", vllm={"urls": ["http://127.0.0.1:1"]},
                          encryption_key_file=keyring(tmp_path))
    with pytest.raises(ValidationError, match=f"{SETTING} does not exist"):
        InferenceSettings(encryption_key_file=tmp_path / "missing")
