"""The GPU path of a LoRA job, chosen by the service's settings (`SENTRA_TRAINING_GPU__…`),
used when the Ray workers have GPUs (a KubeRay worker group on GPU nodes):

- `enabled`: each Ray Train worker gets one GPU; the model and batches go to it, the
  forward and backward passes run in bfloat16 autocast.
- `qlora`: the base model is loaded in 4-bit NF4 with double quantisation (bitsandbytes)
  and the LoRA weights train on top of it in bfloat16 (QLoRA): the base model's memory
  drops about 4×, which is what lets a larger base fit a smaller GPU.
- `deepspeed_stage` 1 or 2: DeepSpeed ZeRO shards the optimizer state (1) and the
  gradients (2) across the workers; its engine takes the backward pass and the step.
  Stage 3 (sharded parameters) is not offered: LoRA's trainable weights are small, and
  the adapter must be saved whole from every checkpoint.

Nothing here falls back silently: asking for QLoRA or DeepSpeed without GPU workers, or on a
cluster with no GPU, fails the job with the reason before it trains. The CPU path (the
default) never imports bitsandbytes or DeepSpeed; the GPU images install them
(`pip install 'sentra[training-gpu]'`).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class GpuOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = False
    qlora: bool = False
    deepspeed_stage: int = Field(default=0, ge=0, le=2)

    @model_validator(mode="after")
    def _needs_gpu(self) -> GpuOptions:
        if (self.qlora or self.deepspeed_stage) and not self.enabled:
            wanted = "QLoRA" if self.qlora else f"DeepSpeed ZeRO stage {self.deepspeed_stage}"
            raise ValueError(f"{wanted} runs on GPU workers only: set SENTRA_TRAINING_GPU__ENABLED=true (and run the "
                             "jobs on a cluster whose workers have GPUs), or turn it off")
        return self


def check_cluster(options: GpuOptions, gpus: float, workers: int) -> None:
    """Refuse, before anything trains, a GPU job the cluster cannot give GPUs to."""
    if options.enabled and gpus < workers:
        raise RuntimeError(
            f"the job asks for {workers} GPU worker(s) (SENTRA_TRAINING_GPU__ENABLED) and the Ray cluster has "
            f"{gpus:g} GPU(s); run it on a cluster with GPU workers, or set SENTRA_TRAINING_GPU__ENABLED=false to "
            "train on CPUs")


def deepspeed_config(options: GpuOptions, batch_size: int, learning_rate: float) -> dict:
    """The DeepSpeed configuration of a job: ZeRO at the chosen stage, bfloat16, AdamW
    with the job's learning rate (the same optimizer as the plain path), one micro-batch
    per step per worker."""
    return {
        "train_micro_batch_size_per_gpu": batch_size,
        "gradient_accumulation_steps": 1,
        "bf16": {"enabled": True},
        "zero_optimization": {"stage": options.deepspeed_stage, "overlap_comm": True, "contiguous_gradients": True,
                              "reduce_bucket_size": 5e7, "allgather_bucket_size": 5e7},
        "optimizer": {"type": "AdamW", "params": {"lr": learning_rate, "betas": [0.9, 0.999], "eps": 1e-8,
                                                  "weight_decay": 0.01}},
        "steps_per_print": 1_000_000,
        "wall_clock_breakdown": False,
    }


def load_base_model(base_model_dir, options: GpuOptions, device):
    """The base model for a GPU worker: in 4-bit NF4 for QLoRA (prepared for k-bit
    training), else in bfloat16, on `device`."""
    import torch
    from transformers import AutoModelForCausalLM

    if not options.qlora:
        return AutoModelForCausalLM.from_pretrained(str(base_model_dir), dtype=torch.bfloat16).to(device)
    try:
        import bitsandbytes  # noqa: F401  (the 4-bit kernels)
    except ImportError:
        raise RuntimeError("QLoRA needs bitsandbytes on the GPU workers: install sentra[training-gpu] in their "
                           "image, or set SENTRA_TRAINING_GPU__QLORA=false") from None
    from peft import prepare_model_for_kbit_training
    from transformers import BitsAndBytesConfig

    quantization = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                                      bnb_4bit_compute_dtype=torch.bfloat16)
    model = AutoModelForCausalLM.from_pretrained(str(base_model_dir), quantization_config=quantization,
                                                 dtype=torch.bfloat16, device_map={"": device})
    return prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
