"""Settings of the retrieval service (`SENTRA_RETRIEVAL_…`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict
from sentra_common.config import NatsSettings, ServiceSettings


class RetrievalSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SENTRA_RETRIEVAL_", env_nested_delimiter="__")

    # edge: Qdrant Edge in-process under data_dir (embedded default); qdrant: a Qdrant server.
    engine: Literal["edge", "qdrant"] = "edge"
    data_dir: Path = Path("./.sentra/data")
    qdrant_url: str = ""
    qdrant_api_key: str = ""
    collection: str = "sentra_chunks"
    # Where the embedding service listens (host:port), for query vectors.
    embedding_target: str = "127.0.0.1:50052"
    # The document registry: indexed chunks take department and access list from it.
    ingestion_target: str = "127.0.0.1:50051"
    # Candidates taken from each of the dense and lexical searches before fusion.
    candidates: int = Field(default=50, ge=1, le=1000)
    rrf_k: int = Field(default=10, ge=1)
    # Weights of the dense and lexical rankings in the fusion.
    dense_weight: float = Field(default=1.0, ge=0)
    lexical_weight: float = Field(default=1.0, ge=0)
    # Languages the embedding model was trained on (all-MiniLM-L6-v2: English). For a
    # query detected in another language the dense ranking is weighted by
    # `other_language_dense_factor`, since the model understands it poorly.
    model_languages: list[str] = Field(default_factory=lambda: ["en"])
    other_language_dense_factor: float = Field(default=0.2, ge=0)
    max_top_k: int = Field(default=100, ge=1)
    max_query_chars: int = Field(default=2000, ge=1)
    nats: NatsSettings = NatsSettings()
    consume_events: bool = True

    @model_validator(mode="after")
    def _server_needs_url(self) -> RetrievalSettings:
        if self.engine == "qdrant" and not self.qdrant_url:
            raise ValueError("engine is qdrant but SENTRA_RETRIEVAL_QDRANT_URL is empty; set the server URL")
        return self

    @property
    def edge_path(self) -> Path:
        return self.data_dir / "qdrant-edge"
