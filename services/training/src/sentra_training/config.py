"""Settings of the training service (`SENTRA_TRAINING_…`)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict
from sentra_common.config import DatabaseSettings, NatsSettings, ServiceSettings, is_loopback
from sentra_common.sealed import checked_key_file

from sentra_training.lora.gpu import GpuOptions


class PromotionSettings(BaseModel):
    """The promotion gate: a candidate adapter is promoted (its alias moved to it) only if,
    on its job's test split, its token F1 beats the reference (the adapter promoted before,
    else the base model) by `margin`, and its perplexity on the regression set is at most
    `regression_tolerance` (relative) above the reference's. Otherwise it is registered,
    inactive, with the reason."""

    margin: float = Field(default=0.02, ge=-1.0, le=1.0)
    regression_tolerance: float = Field(default=0.10, ge=0.0)
    # Held out of each imported file for the evaluation: this share of its examples (at
    # least 1, at most `max_test_examples`) when it has `min_examples_for_test` or more.
    test_fraction: float = Field(default=0.1, gt=0.0, lt=1.0)
    min_examples_for_test: int = Field(default=5, ge=2)
    max_test_examples: int = Field(default=50, ge=1)
    # Tokens each model may generate per test answer.
    max_new_tokens: int = Field(default=48, ge=1, le=512)
    # Paragraphs of the regression set (30 general Spanish texts shipped with the service)
    # each model's perplexity is measured on: the first N. About a second of CPU each per
    # model on a 2-core machine; fewer is faster and coarser.
    regression_texts: int = Field(default=30, ge=1, le=30)


class DatasetSettings(BaseModel):
    """Datasets generated from documents (questions per chunk, limits, PII)."""

    # The most items one dataset version may hold, and questions asked per chunk by default.
    max_examples: int = Field(default=2000, ge=1, le=100_000)
    questions_per_chunk: int = Field(default=2, ge=1, le=10)
    max_documents: int = Field(default=1000, ge=1, le=100_000)
    # The largest imported JSONL file, and the most lines in it.
    max_import_bytes: int = Field(default=64 * 1024 * 1024, ge=1)
    max_import_examples: int = Field(default=200_000, ge=1)
    # PII in generated and imported items: "mask", "pseudonymise" (needs the secret) or "keep".
    pii_mode: str = Field(default="mask", pattern="^(mask|pseudonymise|keep)$")
    # A file holding the secret that makes pseudonyms (HMAC key); empty: pseudonymising is refused.
    pii_secret_file: Path | None = None
    # Two questions at least this similar (cosine, the reader's bi-encoder) are duplicates.
    near_duplicate: float = Field(default=0.92, gt=0.0, le=1.0)
    # Questions written per batch, and CPU threads for generation (0: torch's default).
    batch_size: int = Field(default=16, ge=1, le=256)
    threads: int = Field(default=0, ge=0, le=256)
    # The question generator (a LoRA adapter directory with generator.json) and the reader
    # that checks support; empty: the ones shipped in the packages.
    generator_dir: Path | None = None
    reader_dir: Path | None = None
    # In a cluster: an instruction-tuned model served by vLLM (OpenAI-compatible `/v1` base
    # URL and model name) writes the questions from a prompt instead of the LoRA generator.
    generator_url: str = ""
    generator_model: str = ""
    generator_api_key_file: Path | None = None

    @model_validator(mode="after")
    def _generator_named(self) -> DatasetSettings:
        if bool(self.generator_url) != bool(self.generator_model):
            raise ValueError("set both SENTRA_TRAINING_DATASETS__GENERATOR_URL and __GENERATOR_MODEL (a served "
                             "instruction-tuned model), or neither (the platform's own generator)")
        return self


class TrainingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SENTRA_TRAINING_", env_nested_delimiter="__")

    # Jobs live under <data_dir>/training/<department>/<job id>/ (dataset, run, log, result).
    data_dir: Path = Path("./.sentra/data")
    database: DatabaseSettings = DatabaseSettings()
    nats: NatsSettings = NatsSettings()
    # Where adapters are handed to serving: <adapter_root>/<department>/<adapter>/<job id>/
    # (the inference service's SENTRA_INFERENCE_ADAPTER_ROOT; `sentra up` sets both).
    adapter_root: Path = Path("./.sentra/adapters")
    promotion: PromotionSettings = PromotionSettings()
    datasets: DatasetSettings = DatasetSettings()
    # The service a dataset's chunks are read from (as the caller, or for schedules as itself).
    retrieval_target: str = "127.0.0.1:50053"
    # The base model the adapters are trained on (a directory of transformers files):
    # the one `make setup` converts from the shipped GGUF (`sentra up` sets it).
    base_model_dir: Path = Path("~/.cache/sentra/models/gemma-3-270m")
    # Empty: each job's run is a process of this service that starts a Ray runtime of its
    # own on this machine (its workers are CPU processes). The Jobs API of a Ray cluster
    # (`http(s)://<head>:8265`: the dashboard port of `ray start --head`, or a KubeRay
    # head service): each run is submitted there and outlives this service, which finds it
    # again when restarted. The job directories (`data_dir`) must then be on storage that
    # the cluster's nodes mount at the same path (in Kubernetes a shared volume; on one
    # machine, the same disk). Joining a cluster as a driver (`host:6379`, `ray://`) is not
    # offered: such a run dies with the service, and the Jobs API is Ray's way for long jobs.
    ray_address: str = ""
    # The cluster's token (Ray token authentication, `RAY_AUTH_MODE=token` on its nodes),
    # sent as `Authorization: Bearer`; required for a Jobs API address that is not loopback.
    ray_token_file: Path | None = None
    # For https: the CA file that signs the Jobs API's certificate (empty: the system's CAs).
    ray_ca_file: Path | None = None
    # Every call to the Jobs API has this deadline; a cluster that does not answer a running
    # job's status for `ray_unreachable_seconds` fails the job (naming the address).
    ray_deadline_seconds: float = Field(default=10.0, gt=0, le=300)
    ray_unreachable_seconds: float = Field(default=300.0, ge=0)
    # The GPU path (`lora.gpu`): GPU workers (SENTRA_TRAINING_GPU__ENABLED), QLoRA (__QLORA,
    # a 4-bit base) and DeepSpeed ZeRO (__DEEPSPEED_STAGE 1 or 2); QLoRA and DeepSpeed need
    # GPU workers, and a job on a cluster without GPUs fails saying so.
    gpu: GpuOptions = GpuOptions()
    # Ray Train workers per job, and CPU threads each (1–2 workers on a CPU machine).
    workers: int = Field(default=1, ge=1, le=64)
    threads_per_worker: int = Field(default=2, ge=1, le=256)
    # Memory the local Ray runtime may use for a job's workers (MiB; 0: Ray's default).
    memory_mb: int = Field(default=6144, ge=0)
    # Jobs running at once on this machine (one per department at most, always).
    max_running_jobs: int = Field(default=1, ge=1, le=64)
    # The largest imported JSONL file, and the most examples in it.
    max_dataset_bytes: int = Field(default=64 * 1024 * 1024, ge=1)
    max_examples: int = Field(default=200_000, ge=1)
    # How often running jobs are checked (progress read, ended runs collected, queue moved).
    poll_seconds: float = Field(default=1.0, gt=0, le=60)
    # How often schedules are checked (due by their cron, or by new indexed documents).
    schedule_poll_seconds: float = Field(default=30.0, gt=0, le=3600)
    # An on-demand evaluation (EvaluateAdapter) is stopped after this long.
    evaluate_timeout_seconds: float = Field(default=1800.0, gt=0)
    # A cancelled job's run gets this long to stop after SIGTERM before it is killed.
    stop_grace_seconds: float = Field(default=10.0, ge=0)
    # Encryption at rest: a keyring file (`python -m sentra_common.sealed new-key FILE`; a
    # Secret in a cluster). Set, every dataset file, checkpoint and adapter the service
    # writes is sealed (AES-256-GCM) and read back only with it. Unset: files are plain.
    encryption_key_file: Path | None = None

    @field_validator("encryption_key_file")
    @classmethod
    def _key_file_usable(cls, value: Path | None) -> Path | None:
        return checked_key_file(value, "SENTRA_TRAINING_ENCRYPTION_KEY_FILE")

    @model_validator(mode="after")
    def _ray_cluster(self) -> TrainingSettings:
        if not self.ray_address:
            return self
        url = urlsplit(self.ray_address)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(
                f"SENTRA_TRAINING_RAY_ADDRESS={self.ray_address!r} is not a Ray Jobs API address: use the "
                "cluster head's dashboard address, http(s)://<head>:8265 (or leave it empty for a Ray "
                "runtime per job on this machine)")
        if self.ray_token_file is None and not is_loopback(url.hostname):
            raise ValueError(
                f"SENTRA_TRAINING_RAY_ADDRESS={self.ray_address!r} is another machine: set "
                "SENTRA_TRAINING_RAY_TOKEN_FILE to the cluster's token (start its nodes with "
                "RAY_AUTH_MODE=token); without one anybody who reaches the Jobs API may run code there")
        return self

    @property
    def jobs_dir(self) -> Path:
        return self.data_dir / "training"

    @property
    def datasets_dir(self) -> Path:
        return self.data_dir / "datasets"
