"""The hyper-parameters of a LoRA job: defaults, bounds, and a clear error for bad ones."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class LoraJobConfig(BaseModel):
    """What a job trains with; stored with the job (with the seed) so a run can be repeated."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    epochs: int = Field(default=3, ge=1, le=50)
    learning_rate: float = Field(default=2e-4, gt=0, le=1e-2)
    rank: int = Field(default=8, ge=1, le=256)
    alpha: int = Field(default=16, ge=1, le=1024)
    max_seq_length: int = Field(default=512, ge=32, le=8192)
    batch_size: int = Field(default=4, ge=1, le=256)
    seed: int = Field(default=0, ge=0)
    # A checkpoint (adapter, optimizer, position) every this many steps; a job resumes from its last.
    checkpoint_every: int = Field(default=20, ge=1)
    # At most this many optimizer steps (0: all epochs); bounds a job's cost.
    max_steps: int = Field(default=0, ge=0)
    # Forward and backward passes in bfloat16 autocast (the weights and optimizer stay
    # float32): ~1.45× the tokens/s on a CPU with AMX/AVX-512 BF16, the same loss to ~1e-2.
    precision: Literal["float32", "bfloat16"] = "float32"
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    # General paragraphs mixed in per training example (plain text, every token a label):
    # an adapter taught a department's facts keeps reading the language as the base model
    # did, which the promotion gate's regression set checks. 0 turns it off.
    general_text_ratio: float = Field(default=0.5, ge=0.0, le=4.0)


def parse_config(values: dict) -> LoraJobConfig:
    """A config from user-supplied values, or ValueError listing each bad field and its bound."""
    try:
        return LoraJobConfig(**values)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'config'}: {e['msg']}" for e in exc.errors())
        raise ValueError(f"bad training settings: {problems}") from None
