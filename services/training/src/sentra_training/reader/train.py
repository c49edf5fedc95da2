"""The reader's training loop: the shipped MiniLM encoder with its relevance and span heads,
binary cross-entropy on relevance plus cross-entropy on the answer's start and end tokens
(for the sentences that answer), AdamW with linear warm-up and decay, bfloat16 autocast
where the CPU supports it. Deterministic for a seed on a given machine."""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import torch
from sentra_common.reader.model import ReaderModel, collate
from torch import nn

from sentra_training.reader.features import LabelledItem, length_grouped_batches

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainSettings:
    epochs: float = 2.0
    batch_size: int = 32
    learning_rate: float = 1e-4
    weight_decay: float = 0.01
    warmup_share: float = 0.06
    max_grad_norm: float = 1.0
    seed: int = 13
    bf16: bool = True
    log_every: int = 25

    def __post_init__(self) -> None:
        if not 0 < self.epochs <= 20:
            raise ValueError("epochs must be in (0, 20]")
        if not 1 <= self.batch_size <= 256:
            raise ValueError("batch_size must be between 1 and 256")
        if not 0 < self.learning_rate <= 1e-2:
            raise ValueError("learning_rate must be in (0, 0.01]")
        if not 0 <= self.warmup_share < 1:
            raise ValueError("warmup_share must be in [0, 1)")

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Progress:
    step: int
    steps: int
    loss: float
    items_per_second: float
    eta_seconds: float


def bf16_supported() -> bool:
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def train(
    model: ReaderModel, items: Sequence[LabelledItem], pad_id: int, settings: TrainSettings,
    on_progress: Callable[[Progress], None] | None = None,
) -> list[Progress]:
    rng = random.Random(settings.seed)
    torch.manual_seed(settings.seed)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=settings.learning_rate, weight_decay=settings.weight_decay)
    batches_per_epoch = math.ceil(len(items) / settings.batch_size)
    total = max(1, round(batches_per_epoch * settings.epochs))
    warmup = max(1, round(total * settings.warmup_share))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min((step + 1) / warmup, max(0.0, (total - step) / max(1, total - warmup))),
    )
    bf16 = settings.bf16 and bf16_supported()
    span_loss = nn.CrossEntropyLoss()
    relevance_loss = nn.BCEWithLogitsLoss()
    history: list[Progress] = []
    model.train()
    step, running, seen, started = 0, 0.0, 0, time.perf_counter()
    while step < total:
        for batch in length_grouped_batches(items, settings.batch_size, rng):
            if step >= total:
                break
            tensors = collate(batch, pad_id)
            labels = torch.tensor([float(item.label) for item in batch])
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                relevance, start_logits, end_logits = model(**tensors)
            loss = relevance_loss(relevance, labels)
            positive = labels.bool()
            if positive.any():
                starts = torch.tensor([item.start_position for item in batch])[positive]
                ends = torch.tensor([item.end_position for item in batch])[positive]
                loss = loss + (span_loss(start_logits[positive], starts) + span_loss(end_logits[positive], ends)) / 2
            loss.backward()
            nn.utils.clip_grad_norm_(params, settings.max_grad_norm)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            seen += len(batch)
            running = loss.item() if step == 1 else 0.98 * running + 0.02 * loss.item()
            if step % settings.log_every == 0 or step == total:
                elapsed = time.perf_counter() - started
                progress = Progress(step, total, running, seen / elapsed, elapsed / step * (total - step))
                history.append(progress)
                if on_progress:
                    on_progress(progress)
    model.eval()
    return history
