"""Files sealed at rest: AES-256-GCM under a keyring whose first key seals and every key
opens; a wrong key, a changed byte, a renamed or swapped file, and plaintext where a key is
configured are refused with what to do; rotation (a new key first) and `reseal` move every
file to the new key while the old one still opens them meanwhile."""

from __future__ import annotations

import base64
import os

import pytest
from sentra_common import sealed
from sentra_common.sealed import KeyFileError, Keyring, SealedError, SealedFiles

SECRET = b"las vacaciones del equipo legal son 23 dias"


def ring(*ids: str) -> Keyring:
    return Keyring.parse("\n".join(sealed.new_key_line(i) for i in ids))


def test_a_sealed_file_round_trips_and_holds_no_plaintext(tmp_path):
    files = SealedFiles(ring("k1"))
    path = tmp_path / "dataset.jsonl"
    files.write_bytes(path, SECRET)
    stored = path.read_bytes()
    assert stored.startswith(sealed.MAGIC) and SECRET not in stored
    assert sealed.is_sealed(path) and files.read_bytes(path) == SECRET
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    files.write_bytes(path, SECRET)
    assert path.read_bytes() != stored  # a fresh nonce each time


def test_the_wrong_key_is_refused_naming_the_key_it_needs(tmp_path):
    path = tmp_path / "adapter_model.safetensors"
    SealedFiles(ring("k1")).write_bytes(path, SECRET)
    with pytest.raises(SealedError, match="sealed with key 'k1', which the keyring does not hold"):
        SealedFiles(ring("k2")).read_bytes(path)
    # the same id with other key bytes: it does not open
    with pytest.raises(SealedError, match="does not open with key 'k1'"):
        SealedFiles(ring("k1")).read_bytes(path)


def test_a_changed_byte_is_refused(tmp_path):
    files = SealedFiles(ring("k1"))
    path = tmp_path / "optimizer.pt"
    files.write_bytes(path, SECRET)
    blob = bytearray(path.read_bytes())
    blob[-20] ^= 1
    path.write_bytes(bytes(blob))
    with pytest.raises(SealedError, match="changed, damaged, renamed or swapped"):
        files.read_bytes(path)
    path.write_bytes(bytes(blob[:30]))
    with pytest.raises(SealedError, match="truncated"):
        files.read_bytes(path)


def test_a_file_swapped_for_another_or_renamed_is_refused(tmp_path):
    files = SealedFiles(ring("k1"))
    files.write_bytes(tmp_path / "adapter_model.safetensors", b"weights")
    files.write_bytes(tmp_path / "optimizer.pt", b"optimizer state")
    os.replace(tmp_path / "optimizer.pt", tmp_path / "adapter_model.safetensors")
    with pytest.raises(SealedError, match="swapped"):
        files.read_bytes(tmp_path / "adapter_model.safetensors")
    # copied under its own name elsewhere (an adapter published from its checkpoint): it opens
    files.write_bytes(tmp_path / "adapter_config.json", b"{}")
    (tmp_path / "published").mkdir()
    (tmp_path / "published" / "adapter_config.json").write_bytes((tmp_path / "adapter_config.json").read_bytes())
    assert files.read_bytes(tmp_path / "published" / "adapter_config.json") == b"{}"


def test_sealed_without_a_key_and_plaintext_with_one_are_refused(tmp_path):
    path = tmp_path / "test.jsonl"
    SealedFiles(ring("k1")).write_bytes(path, SECRET)
    with pytest.raises(SealedError, match="no key is configured: set SENTRA_X_KEY_FILE"):
        SealedFiles(None, "SENTRA_X_KEY_FILE").read_bytes(path)
    plain = tmp_path / "plain.jsonl"
    plain.write_bytes(SECRET)
    with pytest.raises(SealedError, match=r"not sealed although a key is configured.*sealed seal DIR"):
        SealedFiles(ring("k1")).read_bytes(plain)
    assert SealedFiles(None).read_bytes(plain) == SECRET  # no key: files are plain


def test_rotation_old_key_opens_until_reseal_moves_everything_to_the_new_one(tmp_path, capsys):
    keyring = tmp_path / "keys" / "sentra.keys"
    assert sealed.main(["new-key", str(keyring), "--id", "old"]) == 0
    assert oct(keyring.stat().st_mode & 0o777) == "0o600"
    assert sealed.main(["new-key", str(keyring)]) == 2  # never overwritten
    old = Keyring.load(keyring)
    store = tmp_path / "adapters" / "legal" / "v1"
    store.mkdir(parents=True)
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        SealedFiles(old).write_bytes(store / name, SECRET + name.encode())
    (store / "notes.txt").write_bytes(b"plain")

    assert sealed.main(["rotate", str(keyring), "--id", "new"]) == 0
    rotated = Keyring.load(keyring)
    assert rotated.ids == ("new", "old") and rotated.current == "new"
    assert SealedFiles(rotated).read_bytes(store / "adapter_config.json").startswith(SECRET)  # old key still opens
    assert sealed.main(["reseal", str(tmp_path / "adapters"), "--keyring", str(keyring)]) == 0
    assert "2 files resealed, 0 already" in capsys.readouterr().out
    assert (store / "notes.txt").read_bytes() == b"plain"  # plaintext is not reseal's business

    only_new = Keyring(tuple(k for k in rotated.keys if k[0] == "new"))
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        assert SealedFiles(only_new).read_bytes(store / name) == SECRET + name.encode()
    with pytest.raises(SealedError, match="sealed with key 'new'"):
        SealedFiles(old).read_bytes(store / "adapter_config.json")

    assert sealed.main(["seal", str(tmp_path / "adapters"), "--keyring", str(keyring)]) == 0
    assert SealedFiles(only_new).read_bytes(store / "notes.txt") == b"plain"


@pytest.mark.parametrize(("text", "problem"), [
    ("", "holds no key"),
    ("k1 " + base64.b64encode(b"x" * 32).decode(), "line 1: expected `key-id:base64-key`"),
    ("k1:not base64!", "line 1: the key of 'k1' is not base64"),
    ("k1:" + base64.b64encode(b"x" * 16).decode(), "16 bytes; AES-256 needs 32"),
    ("# a comment\nk1:{k}\nk1:{k}".format(k=base64.b64encode(b"x" * 32).decode()), "line 3: key id 'k1' appears twice"),
])
def test_a_malformed_keyring_says_what_is_wrong(text, problem):
    with pytest.raises(KeyFileError, match=problem):
        Keyring.parse(text)


def test_a_missing_keyring_says_how_to_make_one(tmp_path):
    with pytest.raises(KeyFileError, match=r"does not exist; create one with `python -m sentra_common\.sealed new-key"):
        Keyring.load(tmp_path / "none", "SENTRA_TRAINING_ENCRYPTION_KEY_FILE")
