"""LoRA adapters made in the tests: a few PEFT training steps on the embedded base model,
each adapter taught to continue one prompt with its own word, so adapters can be told
apart by what they generate. Training is deterministic for a given base model, word and
seed, so each such adapter is trained once per test session and copied where it is asked for."""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
from pathlib import Path

PROMPT = "Sentra adapter check. The password of the day is"
# (model, word, seed, steps…) → the adapter trained first, kept out of the tests' reach
_TRAINED: dict[tuple, Path] = {}


def train_adapter(model_dir: Path, out_dir: Path, word: str, steps: int = 12, seed: int = 0,
                  target_loss: float = 0.05, max_steps: int = 40) -> Path:
    """Teach a rank-4 LoRA on q/v projections to answer PROMPT with `word` (greedy): at least
    `steps` steps, then on until the loss is under `target_loss` (at most `max_steps`), so the
    lesson survives the 4-bit base llama.cpp serves whatever this CPU's arithmetic did. The
    adapter lands in `out_dir` (a copy of the one trained earlier in the session with the
    same arguments, when there is one)."""
    key = (str(Path(model_dir).resolve()), word, steps, seed, target_loss, max_steps)
    if key not in _TRAINED:
        kept = Path(tempfile.mkdtemp(prefix="sentra-test-adapter-"))
        atexit.register(shutil.rmtree, kept, True)
        _train(model_dir, kept / "adapter", word, steps, seed, target_loss, max_steps)
        _TRAINED[key] = kept / "adapter"
    shutil.copytree(_TRAINED[key], out_dir, dirs_exist_ok=True)
    return out_dir


def _train(model_dir: Path, out_dir: Path, word: str, steps: int, seed: int, target_loss: float,
           max_steps: int) -> None:
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


def break_adapter(source: Path, out_dir: Path) -> Path:
    """A copy of an adapter whose config names modules the base model does not have."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for item in source.iterdir():
        (out_dir / item.name).write_bytes(item.read_bytes())
    config = json.loads((source / "adapter_config.json").read_text())
    config["target_modules"] = ["no_such_projection"]
    (out_dir / "adapter_config.json").write_text(json.dumps(config))
    return out_dir
