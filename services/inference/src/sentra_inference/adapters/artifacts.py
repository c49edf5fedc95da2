"""Adapter artifacts on disk, confined to their department: `<adapter root>/<department>/…`.

Implements the domain's `ArtifactStore` port.

- Registering: what the caller gives (a path relative to the department's directory, or an
  absolute path or `file://` URI inside it) is resolved as the kernel would (symbolic
  links, `..`) and refused unless it lands in a directory strictly under
  `<root>/<department>/`. Inside the artifact every entry must be a plain file or
  directory: a symbolic link there (to another department's weights, say) is refused.
  The artifact is recorded as its path relative to the department's directory, with a
  digest of its files.
- Loading: the artifact is resolved and confined again and its digest computed again; a
  changed artifact is refused. The files' stat data (size, mtime, ctime, inode) is
  remembered after a digest matched, so checking an unchanged artifact again (every sync
  pass) costs a few `lstat` calls, not a re-read.
- Messages never contain host paths, and a path outside the department's directory gets
  the same answer whether or not it exists.

The digest is `sha256:` + the SHA-256 of, for every file in the order of its path relative
to the artifact (`/`-separated, sorted by code point): the path in UTF-8, a NUL byte, the
size as 8 big-endian bytes, and the file's bytes.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import stat
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlparse

from sentra_common.errors import FailedPrecondition, InvalidArgument
from sentra_common.sealed import SealedError, SealedFiles

from sentra_inference.domain.ports import AdapterLoadError, Artifact

MAX_FILES = 1000
MAX_BYTES = 16 * 1024**3
CONFIG_FILE = "adapter_config.json"
ROOT_PLACEHOLDER = "<adapter root>"

NO_ROOT = (
    "this inference service has no adapter root, so it cannot serve adapters: an operator sets "
    "SENTRA_INFERENCE_ADAPTER_ROOT to the shared adapter directory (one directory per department in it)"
)


def _outside(department: str) -> InvalidArgument:
    # One answer for every path that does not lead into the department's directory: it
    # must not tell whether that path exists on the inference host.
    return InvalidArgument(
        f"the artifact of a {department} adapter must be a directory under the {department} department's "
        f"adapter root, given as a path relative to it (e.g. `v3` for <adapter root>/{department}/v3) or as an "
        "absolute path or file:// URI inside it; `..` and links that lead out of it are refused. Save the adapter "
        "there and register its path relative to that root"
    )


class _Refused(Exception):
    """What is wrong with an artifact's files (no host path in the message)."""


MODEL_CARD = "model_card.json"  # written by the training service beside the adapter's files
MAX_CARD_BYTES = 1024 * 1024


class ArtifactRoot:
    """`ArtifactStore` on a directory of this machine (the shared adapter volume in a
    cluster, mounted at the same path where vLLM runs)."""

    def __init__(self, root: Path | None, *, max_files: int = MAX_FILES, max_bytes: int = MAX_BYTES,
                 files: SealedFiles | None = None) -> None:
        self.root = root
        # Encryption at rest: digests are over the stored (sealed) bytes; the model card is
        # opened with the key when it was sealed.
        self.files = files or SealedFiles(None, "SENTRA_INFERENCE_ENCRYPTION_KEY_FILE")
        # The root's real location: every artifact must resolve inside it. A department's
        # directory is `<real root>/<department>` itself, never a link elsewhere.
        self._real = Path(os.path.realpath(root)) if root is not None else None
        self.max_files = max_files
        self.max_bytes = max_bytes
        # (department, artifact, digest) → (real directory, stat signature) of the last match.
        self._matched: dict[tuple[str, str, str], tuple[str, tuple]] = {}

    # -- the port --------------------------------------------------------------------

    async def locate(self, department: str, given: str) -> Artifact:
        return await asyncio.to_thread(self._locate, department, given)

    async def verify(self, department: str, artifact: str, digest: str) -> str:
        return await asyncio.to_thread(self._verify, department, artifact, digest)

    async def model_card(self, department: str, artifact: str) -> str:
        return await asyncio.to_thread(self._model_card, department, artifact)

    def _model_card(self, department: str, artifact: str) -> str:
        if self._real is None:
            return ""
        home = self._real / department
        real = self._resolve(home, PurePosixPath(artifact))
        card = real / MODEL_CARD if real is not None and real != home else None
        if card is None or not card.is_file() or card.is_symlink() or card.stat().st_size > MAX_CARD_BYTES:
            return ""
        try:
            return self.files.read_either(card).decode("utf-8")
        except (OSError, UnicodeDecodeError, SealedError):
            return ""

    def hide_paths(self, text: str) -> str:
        for path in sorted({str(p) for p in (self.root, self._real) if p is not None}, key=len, reverse=True):
            text = text.replace(path, ROOT_PLACEHOLDER)
        return text

    # -- registering -----------------------------------------------------------------

    def _locate(self, department: str, given: str) -> Artifact:
        if self._real is None:
            raise FailedPrecondition(NO_ROOT)
        home = self._real / department
        relative = self._relative_input(department, given)
        real = self._resolve(home, relative)
        if real is None:
            raise _outside(department)
        if real == home:
            raise InvalidArgument(
                f"give the adapter's own directory under the {department} adapter root (e.g. `v3`), "
                "not the root itself"
            )
        name = real.relative_to(home).as_posix()
        if not real.is_dir():
            raise InvalidArgument(
                f"there is no adapter directory {name!r} under the {department} adapter root; save the adapter "
                "there (PEFT's save_pretrained) and register it again"
            )
        try:
            files = self._files(real)
            if CONFIG_FILE not in {path for path, _ in files}:
                raise _Refused(f"it has no {CONFIG_FILE}; register the directory PEFT's save_pretrained wrote")
            digest = _digest(real, files)
        except _Refused as exc:
            raise InvalidArgument(f"adapter artifact {name!r} of {department} cannot be registered: {exc}") from None
        return Artifact(path=name, digest=digest)

    def _relative_input(self, department: str, given: str) -> PurePosixPath:
        """`given` as a path relative to the department's directory (possibly with `..`,
        resolved later)."""
        given = given.strip()
        if not given:
            raise InvalidArgument(
                f"give the adapter's directory, relative to the {department} adapter root (e.g. `v3`)"
            )
        if given.startswith("file:"):
            parsed = urlparse(given)
            if parsed.netloc not in ("", "localhost") or not parsed.path.startswith("/"):
                raise _outside(department)
            given = unquote(parsed.path)
        elif "://" in given:
            raise InvalidArgument(
                "only adapters on the adapter volume are served (no s3://, http://, …): copy the adapter under "
                f"the {department} department's adapter root and register its path relative to it"
            )
        path = PurePosixPath(given)
        if not path.is_absolute():
            return path
        # An absolute path must name the department's directory (through the root as
        # configured or as resolved) before anything else resolves it.
        for base in {PurePosixPath(self.root) / department, PurePosixPath(self._real) / department}:
            if path.parts[: len(base.parts)] == base.parts:
                return PurePosixPath(*path.parts[len(base.parts):]) if len(path.parts) > len(base.parts) \
                    else PurePosixPath(".")
        raise _outside(department)

    @staticmethod
    def _resolve(home: Path, relative: PurePosixPath) -> Path | None:
        """The real directory `home/relative` leads to, if it is `home` or inside it."""
        try:
            real = Path(os.path.realpath(home / relative))
        except (OSError, RuntimeError, ValueError):  # a link loop, a NUL byte
            return None
        return real if real == home or home in real.parents else None

    # -- loading ---------------------------------------------------------------------

    def _verify(self, department: str, artifact: str, digest: str) -> str:
        if not digest:
            raise AdapterLoadError(
                "it was registered before Sentra recorded a digest of adapter files; copy it under the "
                f"{department} adapter root and register it again as a new version"
            )
        if self._real is None:
            raise AdapterLoadError(NO_ROOT)
        home = self._real / department
        real = self._resolve(home, PurePosixPath(artifact))
        if real is None or real == home or not real.is_dir():
            raise AdapterLoadError(
                f"its artifact {artifact!r} is no longer a directory under the {department} adapter root; restore "
                "it or register another version"
            )
        try:
            files = self._files(real)
        except _Refused as exc:
            raise AdapterLoadError(f"its artifact {artifact!r} changed after it was registered: {exc}") from None
        signature = tuple((path, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)
                          for path, st in files)
        key = (department, artifact, digest)
        if self._matched.get(key) == (str(real), signature):
            return str(real)
        try:
            matches = _digest(real, files) == digest
        except _Refused as exc:
            raise AdapterLoadError(f"its artifact {artifact!r} changed after it was registered: {exc}") from None
        if not matches:
            self._matched.pop(key, None)
            raise AdapterLoadError(
                f"the files of its artifact {artifact!r} changed after it was registered (their sha256 no longer "
                "matches the one recorded then), so it is not served; restore the original files, or register the "
                "new ones as a new version"
            )
        self._matched[key] = (str(real), signature)
        return str(real)

    # -- copies for engines that convert adapters (llama.cpp) ---------------------------

    def verified_digest(self, path: str) -> str:
        """The registered digest that the artifact at `path` (a path `verify` returned)
        last matched; "" if none did."""
        for (_, _, digest), (real, _) in list(self._matched.items()):
            if real == path:
                return digest
        return ""

    def copy_verified(self, path: str, digest: str, dest: Path) -> None:
        """Copy the artifact's files at `path` into the new directory `dest` and check that
        the copy has `digest`, so what is converted is what was registered;
        AdapterLoadError if it does not."""
        source = Path(path)
        try:
            files = self._files(source)
            dest.mkdir(parents=True)
            for name, _ in files:
                target = dest / name
                target.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(source / name, os.O_RDONLY | os.O_NOFOLLOW)
                with os.fdopen(fd, "rb") as src, target.open("wb") as out:
                    while chunk := src.read(1024 * 1024):
                        out.write(chunk)
            copied = _digest(dest, self._files(dest))
        except (_Refused, OSError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else str(exc)
            raise AdapterLoadError(f"its artifact could not be copied for conversion: {reason}") from None
        if copied != digest:
            raise AdapterLoadError("its artifact's files changed after they were registered; register it again "
                                   "as a new version")

    # -- files -----------------------------------------------------------------------

    def _files(self, directory: Path) -> list[tuple[str, os.stat_result]]:
        """Every file under `directory` (path relative to it, lstat), sorted by path."""
        found: list[tuple[str, os.stat_result]] = []
        total = 0
        pending = [(directory, "")]
        while pending:
            folder, prefix = pending.pop()
            try:
                with os.scandir(folder) as entries:
                    listed = list(entries)
            except OSError:
                raise _Refused(f"{prefix or 'its directory'} cannot be read by the inference service") from None
            for entry in listed:
                name = prefix + entry.name
                info = entry.stat(follow_symlinks=False)
                if stat.S_ISLNK(info.st_mode):
                    raise _Refused(f"{name} is a symbolic link; copy the file itself into the artifact")
                if stat.S_ISDIR(info.st_mode):
                    pending.append((Path(entry.path), name + "/"))
                elif stat.S_ISREG(info.st_mode):
                    found.append((name, info))
                    total += info.st_size
                else:
                    raise _Refused(f"{name} is not a regular file")
                if len(found) > self.max_files or total > self.max_bytes:
                    raise _Refused(
                        f"it holds more than {self.max_files} files or {self.max_bytes // 1024**2} MiB; an adapter "
                        "directory holds the adapter's config and weights only"
                    )
        if not found:
            raise _Refused("it holds no files")
        return sorted(found, key=lambda item: item[0])


def _digest(directory: Path, files: list[tuple[str, os.stat_result]]) -> str:
    sha = hashlib.sha256()
    for name, _ in files:
        try:
            # O_NOFOLLOW: a file swapped for a link since it was listed is not followed.
            fd = os.open(directory / name, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            raise _Refused(f"{name} cannot be read by the inference service, or is now a link") from None
        with os.fdopen(fd, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            sha.update(name.encode() + b"\0" + size.to_bytes(8, "big"))
            read = 0
            while chunk := handle.read(1024 * 1024):
                sha.update(chunk)
                read += len(chunk)
            if read != size:
                raise _Refused(f"{name} changed while it was read")
    return f"sha256:{sha.hexdigest()}"
