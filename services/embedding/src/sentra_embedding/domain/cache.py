"""Vectors already computed, so an unchanged chunk is not embedded twice (a re-uploaded
document usually keeps most of its chunks): an in-memory LRU keyed by (model, sha256 of
the text), holding float32 vectors. The model id is part of the key, so vectors of a
different model or backend never answer."""

from __future__ import annotations

import hashlib
from array import array
from collections import OrderedDict


class VectorCache:
    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, bytes], bytes] = OrderedDict()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(model: str, text: str) -> tuple[str, bytes]:
        return model, hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: tuple[str, bytes]) -> list[float] | None:
        packed = self._entries.get(key)
        if packed is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return array("f", packed).tolist()

    def put(self, key: tuple[str, bytes], vector: list[float]) -> None:
        if self.max_entries <= 0:
            return
        self._entries[key] = array("f", vector).tobytes()
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
