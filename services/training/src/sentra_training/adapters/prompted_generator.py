"""The question generator in a cluster: an instruction-tuned model served by vLLM (or any
OpenAI-compatible server), given a prompt. Selected by
`SENTRA_TRAINING_DATASETS__GENERATOR_URL` (the server's `/v1` base) and `__GENERATOR_MODEL`;
without them the platform's own LoRA generator (`datasets.qg`) runs on the CPU.

One chat completion per question, greedy, a few at a time; the model is asked for the
question only, in the language of the text. A server that fails or answers nonsense fails
the dataset with the reason (no silent fallback to the other generator)."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import httpx

from sentra_training.datasets.qg import Request

SYSTEM = ("You write one reading-comprehension question about a text. The question must be answered exactly by "
          "the answer given, be written in the language of the text, and make sense without the text "
          "(name what it is about). Reply with the question only.")
MAX_TOKENS = 64


class PromptedGenerator:
    # An instruction-tuned model writes in the passage's language (the prompt asks it to).
    languages = None

    def __init__(self, base_url: str, model: str, *, api_key: str = "", timeout: float = 60.0,
                 concurrency: int = 4) -> None:
        if not base_url or not model:
            raise ValueError("a prompted generator needs the server's URL and the model's name")
        self.generator_id = f"prompted:{model}"
        self.model = model
        self.concurrency = concurrency
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout, headers=headers)

    def _one(self, request: Request) -> str:
        body = {
            "model": self.model, "temperature": 0, "max_tokens": MAX_TOKENS,
            "messages": [{"role": "system", "content": SYSTEM},
                         {"role": "user", "content": f"Text: {request.passage}\n\nAnswer: {request.answer}"}],
        }
        try:
            reply = self._client.post("/chat/completions", json=body)
        except httpx.HTTPError as exc:
            raise RuntimeError(f"the question generator at {self._client.base_url} is unreachable: {exc}") from None
        if reply.status_code != 200:
            raise RuntimeError(f"the question generator at {self._client.base_url} answered HTTP "
                               f"{reply.status_code}: {reply.text[:200]}")
        try:
            text = reply.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise RuntimeError("the question generator's reply is not an OpenAI chat completion") from None
        lines = [line.strip() for line in str(text).splitlines() if line.strip()]
        return lines[0] if lines else ""

    def generate(self, requests: Sequence[Request]) -> list[str]:
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(self._one, requests))

    def close(self) -> None:
        self._client.close()
