"""The other reader candidate: a LoRA adapter on the base Gemma 3 270M that reads numbered
passages and writes the shortest answer with the passage number ("14 caracteres [2]"), or
"(sin respuesta)".

Trained with the same data and held-out rule as the MiniLM reader (SQuAD-es, XQuAD
removed): each answerable question with its paragraph (cropped around the answer) and a
hard negative in random order; each unanswerable one with its paragraph and another.
Compared with the MiniLM reader on the calibration split, same questions and passages
(`python -m sentra_training.reader compare-gemma`): the figures are in bench/README.md.
"""

from __future__ import annotations

import random
import re
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from sentra_training.lexical import BM25
from sentra_training.metrics import contains_answer, exact_match, token_f1
from sentra_training.squad import Paragraph

NO_ANSWER = "(sin respuesta)"
PASSAGE_CHARS = 600
_ANSWER = re.compile(r"^(.*?)\s*\[(\d+)\]\s*$")


def prompt(question: str, passages: Sequence[str]) -> str:
    lines = ["Pasajes:"]
    lines += [f"[{n}] {' '.join(text.split())[:PASSAGE_CHARS]}" for n, text in enumerate(passages, 1)]
    lines += [f"Pregunta: {' '.join(question.split())}", "Respuesta:"]
    return "\n".join(lines)


def _crop(context: str, start: int, end: int) -> str:
    """A window of PASSAGE_CHARS characters of `context` that holds [start, end)."""
    if len(context) <= PASSAGE_CHARS:
        return context
    left = max(0, min(start - PASSAGE_CHARS // 3, len(context) - PASSAGE_CHARS))
    left = context.rfind(" ", 0, left) + 1 if left else 0
    return context[left : left + PASSAGE_CHARS] if end - left <= PASSAGE_CHARS else context[start:end]


@dataclass(frozen=True)
class Example:
    prompt: str
    target: str


def examples(paragraphs: Sequence[Paragraph], count: int, seed: int = 13) -> list[Example]:
    rng = random.Random(seed)
    index = BM25([p.context for p in paragraphs])
    questions = [(i, q) for i, p in enumerate(paragraphs) for q in p.questions]
    rng.shuffle(questions)
    out = []
    for i, q in questions:
        if len(out) >= count:
            break
        own = paragraphs[i].context
        other = next((paragraphs[j].context for j in index.top(q.question, 3) if j != i), None)
        if other is None:
            continue
        if q.impossible:
            passages, target = [own, other], f" {NO_ANSWER}"
        else:
            gold = q.answers[0]
            if gold.text.casefold() in other.casefold():
                continue
            passages = [_crop(own, gold.start, gold.start + len(gold.text)), other]
            if gold.text not in passages[0]:
                continue
            target = f" {gold.text} [{{n}}]"
        order = [0, 1]
        rng.shuffle(order)
        shown = [passages[k] for k in order]
        target = target.replace("{n}", str(order.index(0) + 1))
        out.append(Example(prompt(q.question, shown), target))
    return out


def load_base(model_dir: Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), torch_dtype=torch.float32)
    return model, tokenizer


def train(model_dir: Path, out: Path, train_examples: Sequence[Example], *, rank: int = 16, epochs: float = 1.0,
          batch_size: int = 4, learning_rate: float = 2e-4, seed: int = 13,
          progress: Callable[[int, int, float, float], None] | None = None) -> float:
    """Train the LoRA adapter; returns the seconds it took."""
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed)
    model, tokenizer = load_base(model_dir)
    model = get_peft_model(model, LoraConfig(
        r=rank, lora_alpha=2 * rank, lora_dropout=0.05, bias="none", task_type="CAUSAL_LM",
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    ))
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=learning_rate, weight_decay=0.0)
    rng = random.Random(seed)
    order = list(train_examples)
    total = max(1, round(len(order) * epochs / batch_size))
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / 10) * max(0.0, 1 - s / total))
    tokenizer.padding_side = "left"
    model.train()
    started = time.perf_counter()
    step = 0
    while step < total:
        rng.shuffle(order)
        for i in range(0, len(order), batch_size):
            if step >= total:
                break
            batch = order[i : i + batch_size]
            prompts = [tokenizer(e.prompt, add_special_tokens=True)["input_ids"] for e in batch]
            targets = [tokenizer(e.target + "\n", add_special_tokens=False)["input_ids"] for e in batch]
            width = max(len(p) + len(t) for p, t in zip(prompts, targets, strict=True))
            ids = torch.full((len(batch), width), tokenizer.pad_token_id)
            labels = torch.full((len(batch), width), -100)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, (p, t) in enumerate(zip(prompts, targets, strict=True)):
                sequence = p + t
                ids[row, width - len(sequence):] = torch.tensor(sequence)
                labels[row, width - len(t):] = torch.tensor(t)
                mask[row, width - len(sequence):] = 1
            keep = max(len(t) for t in targets) + 1
            with torch.autocast("cpu", dtype=torch.bfloat16):
                logits = model(input_ids=ids, attention_mask=mask, logits_to_keep=keep).logits.float()
            shifted = labels[:, -keep + 1:] if keep > 1 else labels[:, -1:]
            loss = torch.nn.functional.cross_entropy(
                logits[:, :-1].reshape(-1, logits.shape[-1]), shifted.reshape(-1), ignore_index=-100)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            if progress and step % 10 == 0:
                progress(step, total, loss.item(), time.perf_counter() - started)
    model.save_pretrained(str(out))
    return time.perf_counter() - started


@dataclass
class GemmaOutcome:
    answerable: bool
    declined: bool
    answer_contains_gold: float
    exact: float
    f1: float
    seconds: float


def evaluate(model_dir: Path, adapter: Path, paragraphs: Sequence[Paragraph], questions: Sequence[tuple[int, object]],
             top_k: int = 3, max_new_tokens: int = 24) -> list[GemmaOutcome]:
    """Greedy answers for `questions` ((own paragraph index, QA)) over the BM25 top-k
    passages of the split; "answer contains gold" on the answer plus the cited passage's
    sentence that holds it (the MiniLM reader is scored the same way)."""
    from peft import PeftModel
    from sentra_common.sentences import sentence_spans

    model, tokenizer = load_base(model_dir)
    model = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload().eval()
    contexts = [p.context for p in paragraphs]
    index = BM25(contexts)
    newline = tokenizer("\n", add_special_tokens=False)["input_ids"][-1]
    out = []
    for _, q in questions:
        top = index.top(q.question, top_k)
        passages = [contexts[i][:PASSAGE_CHARS] for i in top]
        started = time.perf_counter()
        ids = tokenizer(prompt(q.question, passages), return_tensors="pt")
        with torch.inference_mode():
            generated = model.generate(**ids, max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=newline)
        text = tokenizer.decode(generated[0, ids["input_ids"].shape[1]:], skip_special_tokens=True).strip()
        seconds = time.perf_counter() - started
        golds = [a.text for a in q.answers]
        declined = NO_ANSWER in text or not text
        answer, quote = text, ""
        match = _ANSWER.match(text)
        if match:
            answer = match.group(1)
            n = int(match.group(2))
            if 1 <= n <= len(passages):
                spans = [passages[n - 1][a:b] for a, b in sentence_spans(passages[n - 1])]
                quote = next((s for s in spans if answer and answer in s), "")
        out.append(GemmaOutcome(
            answerable=bool(golds), declined=declined,
            answer_contains_gold=0.0 if declined or not golds else contains_answer(f"{answer} {quote}", golds),
            exact=0.0 if declined or not golds else exact_match(answer, golds),
            f1=0.0 if declined or not golds else token_f1(answer, golds), seconds=seconds,
        ))
    return out


def evaluate_minilm(reader, paragraphs: Sequence[Paragraph], questions: Sequence[tuple[int, object]],
                    top_k: int = 3) -> list[GemmaOutcome]:
    """The MiniLM reader on the same questions and passages, scored the same way."""
    contexts = [p.context for p in paragraphs]
    index = BM25(contexts)
    out = []
    for _, q in questions:
        top = index.top(q.question, top_k)
        passages = [contexts[i][:PASSAGE_CHARS] for i in top]
        started = time.perf_counter()
        candidates = reader.candidates(q.question, passages, [paragraphs[i].article for i in top])
        seconds = time.perf_counter() - started
        best = max(candidates, key=lambda c: c.score)
        declined = best.score < reader.threshold
        golds = [a.text for a in q.answers]
        answer = passages[best.passage][best.start : best.end]
        sentence = passages[best.passage][best.sentence_start : best.sentence_end]
        scored = not declined and bool(golds)
        out.append(GemmaOutcome(
            bool(golds), declined, contains_answer(f"{answer} {sentence}", golds) if scored else 0.0,
            exact_match(answer, golds) if scored else 0.0, token_f1(answer, golds) if scored else 0.0, seconds,
        ))
    return out


def figures(rows: Sequence[GemmaOutcome]) -> dict[str, float]:
    answerable = [r for r in rows if r.answerable]
    unanswerable = [r for r in rows if not r.answerable]
    return {
        "questions": len(rows),
        "answer_contains_gold": round(statistics.fmean(r.answer_contains_gold for r in answerable), 4),
        "exact_match": round(statistics.fmean(r.exact for r in answerable), 4),
        "token_f1": round(statistics.fmean(r.f1 for r in answerable), 4),
        "false_refusal": round(statistics.fmean(r.declined for r in answerable), 4),
        "unanswerable_declined": round(statistics.fmean(r.declined for r in unanswerable), 4) if unanswerable else 0.0,
        "seconds_p50": round(statistics.median(r.seconds for r in rows), 3),
    }
