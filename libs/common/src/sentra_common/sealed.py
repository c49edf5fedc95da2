"""Encryption at rest: files sealed with AES-256-GCM (`cryptography`) under a keyring.

A keyring is a small text file, one key a line: `key-id:<32 bytes in base64>` (`#` starts
a comment). The first key seals everything written; every key opens what it sealed, so a
key is rotated by putting a new one first (`rotate`), resealing the stored files with it
(`reseal`), and only then dropping the old line.

A sealed file is `MAGIC`, one byte (the key id's length), the key id, a 12-byte random
nonce, then the ciphertext with its 16-byte tag. The associated data is that header and
the file's base name, so a sealed file opens only under its own name: a checkpoint's
optimizer state cannot be passed off as an adapter's weights, and a file keeps opening
when its directory is copied elsewhere (an adapter published from its checkpoint). The
whole file is sealed in one piece (held in memory; the cipher takes at most 2 GiB).

With a keyring, a file that is not sealed is refused (no silent reading of plaintext);
existing files are sealed on purpose with `seal`. Without one, a sealed file is refused
with what to set. Errors name the file's base name, never a host path.

    python -m sentra_common.sealed new-key KEYRING        a keyring with one new key (0600)
    python -m sentra_common.sealed rotate KEYRING         put a new key first (the others still open)
    python -m sentra_common.sealed reseal DIR --keyring KEYRING   every sealed file under DIR → the first key
    python -m sentra_common.sealed seal DIR --keyring KEYRING     every plaintext file under DIR → sealed
"""

from __future__ import annotations

import argparse
import base64
import binascii
import os
import re
import secrets
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

MAGIC = b"SENTRA-SEALED\x01"
NONCE_BYTES = 12
KEY_BYTES = 32
KEY_ID_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")
MAX_PLAINTEXT = 2**31 - 1


class SealedError(Exception):
    """A sealed file that cannot be read or written, with what to do."""


class KeyFileError(SealedError):
    """A keyring file that is missing, unreadable or malformed."""


@dataclass(frozen=True)
class Keyring:
    """Keys by id; `keys[0]` seals, all open."""

    keys: tuple[tuple[str, bytes], ...]
    source: str = "the keyring"  # how errors name it (the setting, not a path)

    def __post_init__(self) -> None:
        if not self.keys:
            raise KeyFileError(f"{self.source} holds no key")

    @property
    def current(self) -> str:
        return self.keys[0][0]

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(key_id for key_id, _ in self.keys)

    @classmethod
    def load(cls, path: Path, source: str = "the keyring") -> Keyring:
        """The keyring in `path`, or KeyFileError saying what is wrong with it."""
        try:
            text = Path(path).expanduser().read_text(encoding="ascii")
        except FileNotFoundError:
            raise KeyFileError(f"{source} does not exist; create one with `python -m sentra_common.sealed "
                               "new-key FILE` (a Secret in a cluster) or unset the setting") from None
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "it is not ASCII text"
            raise KeyFileError(f"{source} cannot be read ({reason}); the service needs read access to it") from None
        return cls.parse(text, source)

    @classmethod
    def parse(cls, text: str, source: str = "the keyring") -> Keyring:
        keys: list[tuple[str, bytes]] = []
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            key_id, sep, encoded = line.partition(":")
            key_id = key_id.strip()
            if not sep or not KEY_ID_RE.fullmatch(key_id):
                raise KeyFileError(f"{source}, line {number}: expected `key-id:base64-key` with an id of 1-64 "
                                   "letters, digits, '.', '_' or '-'")
            try:
                key = base64.b64decode(encoded.strip(), validate=True)
            except (binascii.Error, ValueError):
                raise KeyFileError(f"{source}, line {number}: the key of {key_id!r} is not base64") from None
            if len(key) != KEY_BYTES:
                raise KeyFileError(f"{source}, line {number}: the key of {key_id!r} is {len(key)} bytes; AES-256 "
                                   f"needs {KEY_BYTES} (make one with `python -m sentra_common.sealed new-key`)")
            if key_id in dict(keys):
                raise KeyFileError(f"{source}, line {number}: key id {key_id!r} appears twice")
            keys.append((key_id, key))
        return cls(tuple(keys), source)

    def seal(self, data: bytes, name: str) -> bytes:
        """`data` sealed with the current key for a file named `name` (its base name)."""
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if len(data) > MAX_PLAINTEXT:
            raise SealedError(f"{name} is larger than 2 GiB; files that large cannot be sealed")
        key_id, key = self.keys[0]
        header = _header(key_id)
        nonce = os.urandom(NONCE_BYTES)
        return header + nonce + AESGCM(key).encrypt(nonce, data, _aad(header, name))

    def open(self, blob: bytes, name: str) -> bytes:
        """The plaintext of a sealed file named `name`; SealedError saying which key is needed."""
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        key_id, header, body = _split(blob, name)
        key = dict(self.keys).get(key_id)
        if key is None:
            raise SealedError(f"{name} was sealed with key {key_id!r}, which {self.source} does not hold (it has "
                              f"{', '.join(self.ids)}); put that key back in the keyring (a rotated key stays "
                              "until every file is resealed)")
        try:
            return AESGCM(key).decrypt(body[:NONCE_BYTES], body[NONCE_BYTES:], _aad(header, name))
        except InvalidTag:
            raise SealedError(f"{name} does not open with key {key_id!r}: it was changed, damaged, renamed or "
                              "swapped for another file since it was sealed (or the key under that id is not the "
                              "one that sealed it); restore it from a backup or produce it again") from None


def _header(key_id: str) -> bytes:
    encoded = key_id.encode("ascii")
    return MAGIC + bytes([len(encoded)]) + encoded


def _aad(header: bytes, name: str) -> bytes:
    return header + b"\0" + name.encode("utf-8")


def _split(blob: bytes, name: str) -> tuple[str, bytes, bytes]:
    if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + 1:
        raise SealedError(f"{name} is not a sealed file")
    length = blob[len(MAGIC)]
    end = len(MAGIC) + 1 + length
    if len(blob) < end + NONCE_BYTES + 16:
        raise SealedError(f"{name} is a truncated sealed file; restore it from a backup or produce it again")
    return blob[len(MAGIC) + 1 : end].decode("ascii", "replace"), blob[:end], blob[end:]


def is_sealed_bytes(blob: bytes) -> bool:
    return blob.startswith(MAGIC)


def is_sealed(path: Path) -> bool:
    with Path(path).open("rb") as handle:
        return handle.read(len(MAGIC)) == MAGIC


class SealedFiles:
    """Reads and writes files through a keyring — or as they are, when there is none.

    With a keyring every file written is sealed, and a file read must be sealed (a
    plaintext one is refused: seal it with `python -m sentra_common.sealed seal`). Without
    one files are plain, and a sealed file is refused with the setting to give."""

    def __init__(self, keyring: Keyring | None, setting: str = "the encryption key file") -> None:
        self.keyring = keyring
        self.setting = setting  # how a missing key is named to the operator (the env variable)

    @property
    def sealing(self) -> bool:
        return self.keyring is not None

    def seal(self, data: bytes, name: str) -> bytes:
        return self.keyring.seal(data, name) if self.keyring is not None else data

    def open(self, blob: bytes, name: str) -> bytes:
        """What a file named `name` holds, from its stored bytes."""
        if is_sealed_bytes(blob):
            if self.keyring is None:
                raise SealedError(f"{name} is sealed (encrypted at rest) and no key is configured: set {self.setting} "
                                  "to the keyring that sealed it")
            return self.keyring.open(blob, name)
        if self.keyring is not None:
            raise SealedError(f"{name} is not sealed although a key is configured, so it is refused: seal stored "
                              "files on purpose with `python -m sentra_common.sealed seal DIR --keyring FILE` "
                              "(or produce them again)")
        return blob

    def write_bytes(self, path: Path, data: bytes) -> None:
        """Write `data` (sealed when there is a key) all at once: a temporary file renamed."""
        write_atomic(Path(path), self.seal(data, Path(path).name))

    def read_bytes(self, path: Path) -> bytes:
        path = Path(path)
        return self.open(path.read_bytes(), path.name)

    def read_either(self, path: Path) -> bytes:
        """Metadata that may be stored either way (a model card, which carries no training
        data): opened when it is sealed, read as it is when it is not."""
        path = Path(path)
        blob = path.read_bytes()
        return self.open(blob, path.name) if is_sealed_bytes(blob) else blob

    def write_text(self, path: Path, text: str) -> None:
        self.write_bytes(path, text.encode("utf-8"))

    def read_text(self, path: Path) -> str:
        return self.read_bytes(path).decode("utf-8")

    def seal_dir(self, directory: Path) -> int:
        """Seal, in place, every plaintext file under `directory`; how many were sealed."""
        if self.keyring is None:
            return 0
        count = 0
        for path in _files(Path(directory)):
            data = path.read_bytes()
            if not is_sealed_bytes(data):
                write_atomic(path, self.keyring.seal(data, path.name))
                count += 1
        return count


def checked_key_file(path: Path | None, setting: str) -> Path | None:
    """For a setting's validator: the key file, if it holds a usable keyring; ValueError
    (the start-up stops with it) when it does not."""
    if path is None:
        return None
    try:
        Keyring.load(path, setting)
    except KeyFileError as exc:
        raise ValueError(str(exc)) from None
    return Path(path).expanduser()


def load_files(path: Path | None, setting: str) -> SealedFiles:
    """Files through the keyring of a (checked) key file setting, or plain files."""
    return SealedFiles(Keyring.load(path, setting) if path is not None else None, setting)


def write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _files(directory: Path) -> Iterator[Path]:
    for root, _, names in os.walk(directory):
        for name in sorted(names):
            path = Path(root) / name
            if path.is_file() and not path.is_symlink():
                yield path


def reseal(directory: Path, keyring: Keyring) -> tuple[int, int]:
    """Seal again with the current key every file under `directory` sealed with another
    key of the ring; (resealed, already current). Plaintext files are left as they are."""
    resealed = current = 0
    for path in _files(directory):
        data = path.read_bytes()
        if not is_sealed_bytes(data):
            continue
        if _split(data, path.name)[0] == keyring.current:
            current += 1
            continue
        write_atomic(path, keyring.seal(keyring.open(data, path.name), path.name), path.stat().st_mode & 0o777)
        resealed += 1
    return resealed, current


def new_key_line(key_id: str | None = None) -> str:
    key_id = key_id or f"k{secrets.token_hex(4)}"
    if not KEY_ID_RE.fullmatch(key_id):
        raise KeyFileError(f"key id {key_id!r}: use 1-64 letters, digits, '.', '_' or '-'")
    return f"{key_id}:{base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()}"


def _write_keyring(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text.encode("ascii"), 0o600)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sentra_common.sealed", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    new = commands.add_parser("new-key", help="write a keyring with one new key (refuses to overwrite)")
    new.add_argument("keyring", type=Path)
    new.add_argument("--id")
    rotate = commands.add_parser("rotate", help="put a new key first in a keyring (the old keys stay)")
    rotate.add_argument("keyring", type=Path)
    rotate.add_argument("--id")
    for name, text in (("reseal", "seal again with the keyring's first key every sealed file under DIR"),
                       ("seal", "seal every plaintext file under DIR (stored before a key was configured)")):
        command = commands.add_parser(name, help=text)
        command.add_argument("directory", type=Path)
        command.add_argument("--keyring", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        if args.command == "new-key":
            if args.keyring.exists():
                raise KeyFileError(f"{args.keyring} exists; use `rotate` to add a key to it")
            _write_keyring(args.keyring, new_key_line(args.id) + "\n")
            print(f"wrote {args.keyring} (one key, mode 0600)")
        elif args.command == "rotate":
            ring = Keyring.load(args.keyring, str(args.keyring))
            line = new_key_line(args.id)
            if line.split(":", 1)[0] in ring.ids:
                raise KeyFileError(f"key id {line.split(':', 1)[0]!r} is already in {args.keyring}")
            _write_keyring(args.keyring, line + "\n" + args.keyring.read_text(encoding="ascii"))
            print(f"{args.keyring}: new key {line.split(':', 1)[0]!r} seals from now on; run `reseal` on every "
                  f"sealed directory, then remove the old keys ({', '.join(ring.ids)})")
        elif args.command == "reseal":
            resealed, current = reseal(args.directory, Keyring.load(args.keyring, str(args.keyring)))
            print(f"{resealed} files resealed, {current} already under the current key")
        else:
            count = SealedFiles(Keyring.load(args.keyring, str(args.keyring))).seal_dir(args.directory)
            print(f"{count} files sealed")
    except SealedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
