"""The embedding domain's port: the model that turns texts into vectors, implemented in
`sentra_embedding.adapters.backends` (a local model or a TEI server) and chosen in `app.py`."""

from __future__ import annotations

from typing import Protocol


class EmbeddingBackend(Protocol):
    name: str  # "onnx" | "local" | "tei"
    model: str
    dimension: int  # known after start()

    async def start(self) -> None:
        """Load the model or connect; fails with a message that says what to set."""

    async def embed(self, texts: list[str]) -> list[list[float]]:
        """One normalised vector per text, in order."""

    async def close(self) -> None: ...
