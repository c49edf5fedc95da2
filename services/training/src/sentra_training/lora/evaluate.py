"""What a trained adapter knows: the base model, the reference adapter (the one promoted
before, if any) and the candidate answer the same held-out examples, and each is scored.

On the job's test split (examples held out of its training file, never trained on):
answers generated greedily and scored against the expected answer — contains it, exact
match, token F1, ROUGE-L (`sentra_training.metrics`) — and the perplexity of the expected
answer given the question. On the regression set (30 general Spanish paragraphs with a
question each, not the department's): the perplexity of that text read as plain language,
so a candidate that learned the department's facts by forgetting the language is seen.
(Not the perplexity of their short answers: an adapter taught to answer in sentences
would look worse at predicting bare answer spans without reading any worse.)

    python -m sentra_training.lora.evaluate --base DIR --candidate DIR --test test.jsonl [--reference DIR] \
        [--max-examples 50] [--threads 2] [--out scores.json] [--key-file KEYRING]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
from pathlib import Path

from sentra_common.sealed import SealedFiles, write_atomic

from sentra_training.lora import adapter_files
from sentra_training.lora.adapter_files import PLAIN
from sentra_training.lora.data import Example, read_jsonl, render
from sentra_training.metrics import contains_answer, exact_match, rouge_l, token_f1

# A general set shipped with the package (SQuAD-es examples, XQuAD paragraphs excluded).
REGRESSION_FILE = Path(__file__).parent / "regression.jsonl"
END_OF_TURN = "<end_of_turn>"
# The base model's regression perplexity never changes for a given model and set (about 30 s
# on 2 cores); it is kept beside the base model, under this name plus a key.
BASE_PERPLEXITY_CACHE = ".sentra-regression-perplexity"


def _load(base_model_dir: Path, threads: int):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(max(1, threads))
    tokenizer = AutoTokenizer.from_pretrained(str(base_model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(base_model_dir), dtype=torch.float32)
    model.eval()
    return model, tokenizer


def _answer(model, tokenizer, example: Example, max_new_tokens: int) -> str:
    import torch

    prompt, _ = render(example)
    ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=True)
    end = tokenizer.convert_tokens_to_ids(END_OF_TURN)
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=end,
                             pad_token_id=tokenizer.pad_token_id or 0)
    text = tokenizer.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=False)
    return text.split(END_OF_TURN)[0].replace("<eos>", "").strip()


def _nll(model, tokenizer, example: Example) -> tuple[float, int]:
    """Summed negative log-likelihood of the expected answer's tokens, and their count."""
    import torch

    prompt, completion = render(example)
    prompt_ids = tokenizer(prompt, add_special_tokens=True)["input_ids"]
    answer_ids = tokenizer(completion, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([prompt_ids + answer_ids])
    labels = torch.tensor([[-100] * len(prompt_ids) + answer_ids])
    with torch.no_grad():
        loss = model(input_ids=ids, labels=labels).loss.item()
    return loss * len(answer_ids), len(answer_ids)


def _text_nll(model, tokenizer, text: str, max_tokens: int = 256) -> tuple[float, int]:
    """Summed negative log-likelihood of a plain text's tokens (after the first), and their count."""
    import torch

    ids = tokenizer(text, add_special_tokens=True, return_tensors="pt")["input_ids"][:, :max_tokens]
    if ids.shape[1] < 2:
        return 0.0, 0
    with torch.no_grad():
        loss = model(input_ids=ids, labels=ids).loss.item()
    return loss * (ids.shape[1] - 1), ids.shape[1] - 1


def regression_set(texts: int | None = None) -> list[Example]:
    """The shipped regression set, or its first `texts` paragraphs."""
    regression = read_jsonl(REGRESSION_FILE)
    return regression[:texts] if texts else regression


def regression_perplexity(model, tokenizer, regression: list[Example]) -> float:
    r_nll = r_count = 0.0
    for example in regression:
        n, c = _text_nll(model, tokenizer, example.prompt)
        r_nll, r_count = r_nll + n, r_count + c
    return math.exp(r_nll / r_count) if r_count else 0.0


def _base_cache_file(base_model_dir: Path, regression: list[Example]) -> Path:
    """Where the base model's regression perplexity is kept: named by the model's files (name,
    size, modification time) and the regression texts, so any change computes it again."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(base_model_dir).iterdir() if p.is_file()):
        if not path.name.startswith(BASE_PERPLEXITY_CACHE):
            stat = path.stat()
            digest.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    for example in regression:
        digest.update(example.prompt.encode() + b"\0")
    return Path(base_model_dir) / f"{BASE_PERPLEXITY_CACHE}-{digest.hexdigest()[:16]}.json"


def base_regression_perplexity(model, tokenizer, base_model_dir: Path, regression: list[Example]) -> float:
    """The base model's regression perplexity, from its cache file when there is one; computed
    (and written, when the model's directory is writable) otherwise."""
    cache = _base_cache_file(base_model_dir, regression)
    try:
        return float(json.loads(cache.read_text())["regression_perplexity"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    value = regression_perplexity(model, tokenizer, regression)
    try:  # written whole or not at all; a read-only model directory simply means no cache
        write_atomic(cache, json.dumps({"regression_perplexity": value}).encode(), mode=0o644)
    except OSError:
        pass
    return value


def score(model, tokenizer, test: list[Example], regression: list[Example], max_new_tokens: int,
          known_regression_perplexity: float | None = None) -> dict:
    totals = {"contains": 0.0, "exact_match": 0.0, "token_f1": 0.0, "rouge_l": 0.0}
    nll = count = 0.0
    for example in test:
        answer = _answer(model, tokenizer, example, max_new_tokens)
        golds = [example.answer]
        totals["contains"] += contains_answer(answer, golds)
        totals["exact_match"] += exact_match(answer, golds)
        totals["token_f1"] += token_f1(answer, golds)
        totals["rouge_l"] += rouge_l(answer, golds)
        n, c = _nll(model, tokenizer, example)
        nll, count = nll + n, count + c
    scores = {name: value / max(len(test), 1) for name, value in totals.items()}
    scores["perplexity"] = math.exp(nll / count) if count else 0.0
    scores["regression_perplexity"] = (regression_perplexity(model, tokenizer, regression)
                                       if known_regression_perplexity is None else known_regression_perplexity)
    scores["examples"] = float(len(test))
    return scores


def evaluate(base_model_dir: Path, candidate: Path, test: list[Example], *, reference: Path | None = None,
             regression: list[Example] | None = None, max_new_tokens: int = 48, threads: int = 2,
             files: SealedFiles = PLAIN) -> dict[str, dict]:
    """{"base": scores, "reference": scores (when given), "candidate": scores}. The adapters
    are read through `files` (opened in memory when sealed)."""
    regression = regression_set() if regression is None else regression
    model, tokenizer = _load(base_model_dir, threads)
    results = {"base": score(model, tokenizer, test, regression, max_new_tokens,
                             base_regression_perplexity(model, tokenizer, base_model_dir, regression))}
    peft = adapter_files.load(model, candidate, files, adapter_name="candidate")
    peft.eval()
    if reference is not None:
        adapter_files.load(peft, reference, files, adapter_name="reference")
        peft.set_adapter("reference")
        results["reference"] = score(peft, tokenizer, test, regression, max_new_tokens)
    peft.set_adapter("candidate")
    results["candidate"] = score(peft, tokenizer, test, regression, max_new_tokens)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", type=Path, required=True)
    parser.add_argument("--candidate", type=Path, required=True)
    parser.add_argument("--reference", type=Path)
    parser.add_argument("--test", type=Path, required=True)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--max-examples", type=int, default=0, help="at most this many test examples (0: all)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--regression-texts", type=int, default=0,
                        help="measure perplexity on the first N paragraphs of the regression set (0: all 30)")
    parser.add_argument("--out", type=Path, help="write the scores here (JSON) instead of printing them")
    parser.add_argument("--key-file", type=Path,
                        help="the keyring the adapters and the test file are sealed with (encryption at rest)")
    args = parser.parse_args()
    from sentra_training.lora.ray_job import sealed_files

    files = sealed_files(str(args.key_file) if args.key_file else None)
    test = read_jsonl(args.test, files=files)
    scores = evaluate(args.base, args.candidate, test[: args.max_examples] if args.max_examples else test,
                      reference=args.reference, regression=regression_set(args.regression_texts),
                      max_new_tokens=args.max_new_tokens, threads=args.threads, files=files)
    if args.out:
        args.out.write_text(json.dumps(scores))
    else:
        print(json.dumps(scores, indent=2))


if __name__ == "__main__":
    main()
