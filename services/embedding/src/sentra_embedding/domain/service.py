"""Embedding: validation, batching, and the vectors of the pipeline's chunks (the events
around them are `sentra_embedding.events`)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from sentra_common.chunks import search_text
from sentra_common.errors import InvalidArgument

from sentra_embedding.domain.batcher import MicroBatcher
from sentra_embedding.domain.cache import VectorCache
from sentra_embedding.domain.ports import EmbeddingBackend

logger = logging.getLogger(__name__)


class ChunkText(Protocol):
    """What the embedding of a chunk is made of."""

    title: str
    heading: str
    text: str


class EmbeddingService:
    def __init__(
        self,
        backend: EmbeddingBackend,
        batcher: MicroBatcher,
        *,
        max_texts_per_request: int,
        max_text_chars: int,
        cache: VectorCache | None = None,
    ) -> None:
        self.backend = backend
        self.batcher = batcher
        self.cache = cache if cache is not None else VectorCache(0)
        self.max_texts_per_request = max_texts_per_request
        self.max_text_chars = max_text_chars

    @property
    def model(self) -> str:
        return self.backend.model

    @property
    def dimension(self) -> int:
        return self.backend.dimension

    async def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            raise InvalidArgument("no texts to embed; send at least one")
        if len(texts) > self.max_texts_per_request:
            raise InvalidArgument(
                f"{len(texts)} texts in one request; the limit is {self.max_texts_per_request}, "
                "split the request"
            )
        cleaned = [t[: self.max_text_chars] if t.strip() else " " for t in texts]
        return await self.batcher.embed(cleaned)

    async def embed_chunks(self, chunks: Sequence[ChunkText]) -> list[list[float]]:
        """Pipeline stage: the vectors of chunks to index (what is embedded is the chunk's
        search text: title, heading and text), in order. Texts whose vector is cached (same
        model, same text) are not embedded again; repeated texts are embedded once."""
        texts = [search_text(c.title, c.heading, c.text)[: self.max_text_chars] for c in chunks]
        if not texts:
            return []
        model = f"{self.backend.name}:{self.backend.model}"
        keys = [self.cache.key(model, t) for t in texts]
        vectors: list[list[float] | None] = [self.cache.get(k) for k in keys]
        todo: dict[tuple[str, bytes], str] = {}
        for key, text, vector in zip(keys, texts, vectors, strict=True):
            if vector is None:
                todo.setdefault(key, text)
        if todo:
            computed = dict(zip(todo, await self.backend.embed(list(todo.values())), strict=True))
            for key, vector in computed.items():
                self.cache.put(key, vector)
            vectors = [v if v is not None else computed[k] for k, v in zip(keys, vectors, strict=True)]
        logger.debug("chunk vectors: %d computed, %d from the cache", len(todo), len(texts) - len(todo))
        return vectors  # type: ignore[return-value]
