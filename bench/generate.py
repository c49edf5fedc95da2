"""Generation throughput: the Answer RPC against the backend alone, and many adapters
against one.

1. The same grounded prompts, generated twice in the same run: through the platform's
   Answer RPC (generative strategy: retrieval, prompt building, gRPC, the inference
   service's batching) and by the local backend alone in this process (the prompts are
   rebuilt here with the service's own code from the same retrieved passages). Greedy
   decoding, so both produce the same tokens. Ratio of tokens per second, aim ≥ 0.9.
2. A mixed stream of requests spread over four LoRA adapters, decoded in shared batches
   (PEFT `adapter_names`), against the same stream all on one adapter.

    python bench/generate.py [--questions 6] [--requests 16] [--max-tokens 48]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

from benchlib import ROOT, machine_summary, ratio, table, temporary_platform, test_support
from sentra.inference.v1 import inference_pb2
from sentra_cli.platform import base_model_dir
from sentra_common.principal import Principal
from sentra_inference.adapters.local import LocalBackend
from sentra_inference.adapters.retrieval_client import passages_from_hits
from sentra_inference.domain.answering import AnswerPolicy, AnswerService
from sentra_inference.domain.evidence import SupportScorer
from sentra_inference.domain.ports import GenerationRequest

QUESTIONS = ROOT / "examples" / "questions.json"


async def consume(backend: LocalBackend, request: GenerationRequest) -> int:
    tokens = 0
    async for chunk in backend.generate(request):
        if chunk.finish_reason:
            tokens = chunk.completion_tokens
    return tokens


async def answer_vs_backend(platform, backend: LocalBackend, count: int, max_tokens: int) -> list[tuple]:
    support = test_support()
    admin = support.Api(platform)
    ids = await admin.upload_corpus()
    await admin.wait_settled(ids.values())
    await admin.close()
    builder = AnswerService(None, None, backend, AnswerPolicy())
    questions = [q for q in json.loads(QUESTIONS.read_text()) if q["answer_facts"]][:count]
    rpc_tokens = rpc_seconds = alone_tokens = alone_seconds = 0.0
    for q in questions:
        member = Principal(f"bench-{q['department']}", departments=(q["department"],), roles=("member",))
        api = support.Api(platform, member)
        # The passages the service will retrieve, and the request it will build from them.
        hits = await api.search(q["question"], top_k=AnswerPolicy().top_k)
        passages = passages_from_hits(hits)
        _, request = builder.generation_request(q["question"], SupportScorer(q["question"], passages), "", max_tokens)
        started = time.perf_counter()
        reply = await api.inference.Answer(inference_pb2.AnswerRequest(
            question=q["question"], strategy=inference_pb2.ANSWER_STRATEGY_GENERATIVE, max_tokens=max_tokens,
        ))
        rpc_seconds += time.perf_counter() - started
        rpc_tokens += reply.completion_tokens
        await api.close()
        started = time.perf_counter()
        alone_tokens += await consume(backend, request)
        alone_seconds += time.perf_counter() - started
    rpc_rate, alone_rate = rpc_tokens / rpc_seconds, alone_tokens / alone_seconds
    print(f"{len(questions)} questions: {rpc_tokens:.0f} tokens through Answer, {alone_tokens:.0f} alone")
    return [
        ("Answer RPC (generative)", f"{rpc_rate:.1f}", ratio(rpc_rate, alone_rate)),
        ("backend alone, same prompts", f"{alone_rate:.1f}", "1.00x"),
    ]


def make_adapters(root: Path, count: int) -> list[Path]:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    paths = []
    for i in range(count):
        torch.manual_seed(i)
        model = AutoModelForCausalLM.from_pretrained(base_model_dir(), dtype=torch.float32)
        lora = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
                          init_lora_weights=False)
        peft_model = get_peft_model(model, lora)
        # Small random weights: the adapters change the output without breaking it.
        for name, param in peft_model.named_parameters():
            if "lora_" in name:
                param.data.mul_(0.05)
        path = root / f"adapter-{i}"
        peft_model.save_pretrained(path)
        paths.append(path)
    return paths


async def single_and_mixed(backend, requests: int, max_tokens: int) -> tuple[float, float]:
    """Tokens/s of `requests` concurrent generations all on adapter bench-0@1, then spread
    round-robin over bench-0@1 … bench-3@1 (loaded by the caller), after a warm-up."""
    prompts = [f"Informe {i}: el almacén de Zaragoza" for i in range(requests)]

    async def stream(adapters: list[str]) -> float:
        started = time.perf_counter()
        tokens = await asyncio.gather(*(
            consume(backend, GenerationRequest(prompt=p, adapter=a, max_tokens=max_tokens))
            for p, a in zip(prompts, adapters, strict=False)
        ))
        return sum(tokens) / (time.perf_counter() - started)

    await stream(["bench-0@1"] * 2)  # warm-up
    single = await stream(["bench-0@1"] * requests)
    return single, await stream([f"bench-{i % 4}@1" for i in range(requests)])


async def mixed_vs_single(backend: LocalBackend, requests: int, max_tokens: int) -> list[tuple]:
    with tempfile.TemporaryDirectory(prefix="sentra-bench-adapters-") as tmp:
        paths = make_adapters(Path(tmp), 4)
        for i, path in enumerate(paths):
            await backend.load_adapter(f"bench-{i}@1", str(path))
        single, mixed = await single_and_mixed(backend, requests, max_tokens)
    print(f"{requests} concurrent requests of up to {max_tokens} tokens, batches of {backend.max_batch_size}")
    return [
        ("four adapters, mixed stream", f"{mixed:.1f}", ratio(mixed, single)),
        ("one adapter", f"{single:.1f}", "1.00x"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=6)
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=48)
    args = parser.parse_args()
    print(machine_summary())

    async def run(platform) -> None:
        backend = LocalBackend(base_model_dir())
        await backend.start()
        try:
            rows = await answer_vs_backend(platform, backend, args.questions, args.max_tokens)
            table(("path", "tokens/s", "ratio"), rows, "Answer RPC vs the backend alone (same prompts, greedy)")
            rows = await mixed_vs_single(backend, args.requests, args.max_tokens)
            table(("stream", "tokens/s", "ratio"), rows, "Multi-adapter batching (local backend)")
        finally:
            await backend.close()

    with temporary_platform(prefix="sentra-generate-") as platform:
        asyncio.run(run(platform))


if __name__ == "__main__":
    main()
