"""LoRA adapters made in the tests: a few PEFT training steps on the embedded base model,
each adapter taught to continue one prompt with its own word, so adapters can be told
apart by what they generate."""

from __future__ import annotations

import json
from pathlib import Path

PROMPT = "Sentra adapter check. The password of the day is"


def train_adapter(model_dir: Path, out_dir: Path, word: str, steps: int = 12, seed: int = 0,
                  target_loss: float = 0.05, max_steps: int = 40) -> Path:
    """Teach a rank-4 LoRA on q/v projections to answer PROMPT with `word` (greedy): at least
    `steps` steps, then on until the loss is under `target_loss` (at most `max_steps`), so the
    lesson survives the 4-bit base llama.cpp serves whatever this CPU's arithmetic did."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model = get_peft_model(model, LoraConfig(r=4, lora_alpha=16, target_modules=["q_proj", "v_proj"]))
    batch = tokenizer([f"{PROMPT} {word} {word} {word}."], return_tensors="pt")
    labels = batch["input_ids"].clone()
    labels[:, : len(tokenizer(PROMPT)["input_ids"])] = -100
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-2)
    model.train()
    for step in range(max_steps):
        loss = model(**batch, labels=labels).loss
        if step >= steps and loss.item() < target_loss:
            break
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.save_pretrained(out_dir)
    return out_dir


def break_adapter(source: Path, out_dir: Path) -> Path:
    """A copy of an adapter whose config names modules the base model does not have."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for item in source.iterdir():
        (out_dir / item.name).write_bytes(item.read_bytes())
    config = json.loads((source / "adapter_config.json").read_text())
    config["target_modules"] = ["no_such_projection"]
    (out_dir / "adapter_config.json").write_text(json.dumps(config))
    return out_dir
