"""The LoRA training loop: PEFT on the base model, one process, with checkpoints it can
resume from. Ray Train runs this same function in each of its workers (`ray_job.py`);
alone, it is what the benchmark compares Ray against.

A checkpoint is a directory: the adapter (`save_pretrained`), the optimizer's state and
`progress.json` (step, epoch, loss) — each sealed when a key is configured (`SealedFiles`:
written from memory and read into memory, never as plaintext on disk). Batches come in a
fixed order drawn from the seed, so a resumed job skips exactly the steps it had done and
goes on as if it never stopped.
"""

from __future__ import annotations

import json
import random
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sentra_common.sealed import SealedFiles

from sentra_training.lora import adapter_files
from sentra_training.lora.adapter_files import PLAIN
from sentra_training.lora.config import LoraJobConfig
from sentra_training.lora.gpu import GpuOptions, deepspeed_config, load_base_model

CPU = GpuOptions()
PROGRESS = "progress.json"
OPTIMIZER = "optimizer.pt"


@dataclass(frozen=True)
class Progress:
    step: int
    total_steps: int
    epoch: int
    loss: float
    tokens: int
    tokens_per_s: float
    elapsed_s: float
    # The step this run began at: 0, or the step of the checkpoint it resumed from.
    started_step: int = 0
    # On a GPU worker: the most GPU memory this run has held (MiB).
    peak_gpu_mb: float = 0.0
    # The most memory this worker process has held (resident, MiB): what a job costs the
    # machine, beside the bound the local Ray runtime is given (`SENTRA_TRAINING_MEMORY_MB`).
    peak_rss_mb: float = 0.0

    @property
    def eta_s(self) -> float:
        done = max(self.step - self.started_step, 1)
        return self.elapsed_s / done * max(self.total_steps - self.step, 0)


# Called with the progress and, when a checkpoint is due, a function that writes one into a
# directory; returns nothing. Alone: prints or records; in Ray: ray.train.report.
Reporter = Callable[[Progress, Callable[[Path], None] | None], None]


def batches(rows: list[dict], config: LoraJobConfig, epoch: int, rank: int = 0, world: int = 1) -> list[list[dict]]:
    """This worker's batches of one epoch, in an order fixed by the seed and the epoch. A
    row with an `epoch` (general text, `data.general_rows`) is in that epoch only."""
    order = [i for i, row in enumerate(rows) if row.get("epoch", epoch) == epoch]
    random.Random(config.seed * 1_000_003 + epoch).shuffle(order)
    # every worker gets as many batches (the remainder is left out, as torch's
    # DistributedSampler with drop_last does): gradients are averaged step by step
    mine = order[rank::world][: len(order) // world] if world > 1 else order
    return [[rows[i] for i in mine[j : j + config.batch_size]] for j in range(0, len(mine), config.batch_size)]


def total_steps(rows: list[dict], config: LoraJobConfig, world: int = 1) -> int:
    per_epoch = len(batches(rows, config, 0, 0, world))
    steps = per_epoch * config.epochs
    return min(steps, config.max_steps) if config.max_steps else steps


def collate(batch: list[dict], pad_id: int):
    """(ids, mask, labels) left-padded to the batch's longest row, and how many trailing
    positions hold every label: the answer ends each row, so only those positions' logits
    are needed (the vocabulary projection of the others is most of a step's cost)."""
    import torch

    width = max(len(r["input_ids"]) for r in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), -100, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    keep = 1
    for i, r in enumerate(batch):
        n = len(r["input_ids"])
        ids[i, width - n:] = torch.tensor(r["input_ids"])
        labels[i, width - n:] = torch.tensor(r["labels"])
        mask[i, width - n:] = 1
        first = next((j for j, label in enumerate(r["labels"]) if label != -100), n - 1)
        keep = max(keep, n - first + 1)
    return ids, mask, labels, min(keep, width)


def answer_loss(model, ids, mask, labels, keep: int):
    """Mean cross-entropy over the answer tokens, from the logits of the last `keep`
    positions only (the same value as the model's own loss over the whole row)."""
    import torch

    logits = model(input_ids=ids, attention_mask=mask, logits_to_keep=keep).logits
    targets = labels[:, -keep + 1:] if keep > 1 else labels[:, :0]
    return torch.nn.functional.cross_entropy(
        logits[:, :-1].reshape(-1, logits.shape[-1]).float(), targets.reshape(-1), ignore_index=-100)


def lora_model(base_model_dir: Path, config: LoraJobConfig, resume_from: Path | None = None,
               files: SealedFiles = PLAIN, gpu: GpuOptions = CPU, device=None):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(config.seed)
    if gpu.enabled:
        base = load_base_model(base_model_dir, gpu, device)
    else:
        base = AutoModelForCausalLM.from_pretrained(str(base_model_dir), dtype=torch.float32)
    if resume_from is not None:
        model = adapter_files.load(base, resume_from, files, is_trainable=True)
    else:
        lora = LoraConfig(r=config.rank, lora_alpha=config.alpha, lora_dropout=0.0,
                          target_modules=list(config.target_modules), task_type="CAUSAL_LM")
        model = get_peft_model(base, lora)
    return model.to(device) if gpu.enabled and not gpu.qlora else model


class _Optimizer:
    """AdamW on the trainable (LoRA) weights; its state goes into every checkpoint."""

    def __init__(self, model, config: LoraJobConfig) -> None:
        import torch

        self.optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                           lr=config.learning_rate)

    def step(self, loss) -> None:
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

    def state(self) -> bytes | None:
        return adapter_files.torch_bytes(self.optimizer.state_dict())

    def load(self, data: bytes) -> None:
        self.optimizer.load_state_dict(adapter_files.torch_value(data))


class _DeepSpeed:
    """DeepSpeed ZeRO's engine takes the backward pass and the step (GPU workers only). Its
    optimizer state is sharded across the workers and is not in the checkpoint: a resumed
    job restores the adapter and its position, and AdamW's moments start again."""

    def __init__(self, model, config: LoraJobConfig, gpu: GpuOptions) -> None:
        import deepspeed

        trainable = [p for p in model.parameters() if p.requires_grad]
        self.engine, _, _, _ = deepspeed.initialize(
            model=model, model_parameters=trainable,
            config=deepspeed_config(gpu, config.batch_size, config.learning_rate))

    def step(self, loss) -> None:
        self.engine.backward(loss)
        self.engine.step()

    def state(self) -> bytes | None:
        return None

    def load(self, data: bytes) -> None:
        pass


def train(rows: list[dict], config: LoraJobConfig, base_model_dir: Path, *, pad_id: int,
          report: Reporter, resume_from: Path | None = None, rank: int = 0, world: int = 1,
          wrap: Callable | None = None, files: SealedFiles = PLAIN, gpu: GpuOptions = CPU,
          device=None) -> Progress:
    """Train until the configured epochs or steps; `report` gets every step's progress and,
    every `checkpoint_every` steps and at the end, a checkpoint writer. On GPU workers
    (`gpu.enabled`) the model and batches are on `device` and the passes run in bfloat16."""
    import torch

    model = lora_model(base_model_dir, config, resume_from, files, gpu, device)
    model.train()
    if gpu.deepspeed_stage:
        optimizer = _DeepSpeed(model, config, gpu)
        trained = optimizer.engine
    else:
        optimizer = _Optimizer(model, config)
        trained = wrap(model) if wrap else model
    step = 0
    if resume_from is not None:
        if (resume_from / OPTIMIZER).exists():
            optimizer.load(files.read_bytes(resume_from / OPTIMIZER))
        step = json.loads(files.read_bytes(resume_from / PROGRESS))["step"]
    autocast = ("cuda", gpu.enabled) if gpu.enabled else ("cpu", config.precision == "bfloat16")
    last = total_steps(rows, config, world)
    per_epoch = len(batches(rows, config, 0, rank, world))
    started = time.perf_counter()
    tokens = 0
    first = step
    progress = Progress(step, last, step // max(per_epoch, 1), 0.0, 0, 0.0, 0.0, first)

    def saver(loss: float, at: int):
        def write(directory: Path) -> None:
            adapter_files.save(model, directory, files)
            state = optimizer.state()
            if state is not None:
                files.write_bytes(directory / OPTIMIZER, state)
            files.write_text(directory / PROGRESS,
                             json.dumps({"step": at, "loss": loss, "config": config.model_dump()}))
        return write

    for epoch in range(step // max(per_epoch, 1), config.epochs):
        for index, batch in enumerate(batches(rows, config, epoch, rank, world)):
            if epoch * per_epoch + index < step:
                continue  # done before the checkpoint this job resumed from
            if step >= last:
                break
            ids, mask, labels, keep = collate(batch, pad_id)
            if gpu.enabled:
                ids, mask, labels = ids.to(device), mask.to(device), labels.to(device)
            with torch.autocast(autocast[0], dtype=torch.bfloat16, enabled=autocast[1]):
                loss = answer_loss(trained, ids, mask, labels, keep)
            optimizer.step(loss)
            step += 1
            tokens += int(mask.sum())
            elapsed = time.perf_counter() - started
            peak = torch.cuda.max_memory_allocated(device) / 2**20 if gpu.enabled else 0.0
            progress = Progress(step, last, epoch, float(loss.detach()), tokens, tokens / elapsed, elapsed, first,
                                peak, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
            due = step % config.checkpoint_every == 0 or step == last
            report(progress, saver(progress.loss, step) if due else None)
        if step >= last:
            break
    return progress
