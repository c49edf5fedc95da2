"""Embedding throughput and fidelity: the service's engines on the shipped MiniLM exported to
ONNX (OpenVINO, bf16 where the CPU has it; onnxruntime int8 per channel; batches grouped by
token length) against the PyTorch path and what a user would pick instead, on the same
chunks in the same run.

    python bench/embedding.py                 # 2,000 chunks, query latency, XQuAD nDCG@10
    python bench/embedding.py --chunks 300    # quick run
    python bench/embedding.py --with-fp32     # also the same backend on an fp32 export

Engines, all on this machine's CPU with their default thread counts:
- pytorch: `LocalBackend`, i.e. sentence-transformers `encode` (batch 64, sorted by length),
  the local backend until now and the library a user would pick first: the baseline;
- openvino: `OpenVinoBackend` on the export `make setup` writes, precision auto (bf16 on
  CPUs with AMX/AVX-512 BF16, f32 elsewhere); the service's default where bf16 exists;
- onnx-int8: `OnnxBackend` on the same export's int8 graph; the default elsewhere;
- onnx-fp32 (--with-fp32): the same backend on an unquantized export, to separate what the
  runtime gives from what int8 gives;
- fastembed: `TextEmbedding("sentence-transformers/all-MiniLM-L6-v2",
  specific_model_path=…)` on the same model exported to fp32 ONNX (fastembed's own
  published model is that export, which it would download), with `model_max_length` 256
  as the model was trained (fastembed otherwise truncates at 512).

Chunks: texts of 100–250 words from ../shared/eval (XQuAD es and en, then SQuAD-es):
paragraphs, longer ones cut in equal pieces, de-duplicated (1,850 exist, so --chunks 2000
takes them all). The chunks are split into rounds and every round runs each engine in a
rotated order, so load from other work on a shared machine falls on all engines alike;
chunks/s is each engine's total over all rounds. Fidelity: cosine of each text's vector
with PyTorch's (min and mean). Queries: XQuAD questions embedded one per call (p50/p90
ms). Retrieval: dense nDCG@10 on XQuAD (MTEB XQuADRetrieval setting, brute-force cosine
in this process) with each engine's vectors. Cache: a re-upload of unchanged chunks
through the service's chunks.created path.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from benchlib import EVAL_DIR, banner, machine_summary, percentile, table, write_results
from retrieval import load_xquad, score
from sentra_embedding.adapters.backends import (
    LocalBackend,
    OnnxBackend,
    OpenVinoBackend,
    default_model_path,
    openvino_has_bf16,
)
from sentra_embedding.domain.batcher import MicroBatcher
from sentra_embedding.domain.cache import VectorCache
from sentra_embedding.domain.service import EmbeddingService
from sentra_embedding.export import default_onnx_dir, export, exported_model_ready

BATCH = 64
SOURCES = ("xquad.es.json", "xquad.en.json", "squad-es-dev-v1.1-small.json", "squad-es-dev-v2.0-small.json")


def load_chunks(n: int) -> list[str]:
    seen: dict[str, None] = {}
    for name in SOURCES:
        raw = json.loads((EVAL_DIR / name).read_text(encoding="utf-8"))
        for article in raw["data"]:
            for para in article["paragraphs"]:
                words = para["context"].split()
                # a longer paragraph becomes equal pieces of at most 250 words, as a chunker would cut it
                pieces = -(-len(words) // 250)
                size = -(-len(words) // pieces)
                for start in range(0, len(words), size):
                    if 100 <= len(words[start : start + size]) <= 250:
                        seen.setdefault(" ".join(words[start : start + size]), None)
    chunks = list(seen)
    if len(chunks) < n:
        print(f"only {len(chunks)} paragraphs of 100-250 words available; using them all")
    return chunks[:n]


class Engine:
    def __init__(self, name: str, encode, single) -> None:
        self.name, self.encode, self.single = name, encode, single
        self.seconds = 0.0
        self.parts: list[np.ndarray] = []


def pytorch_engine() -> Engine:
    backend = LocalBackend(None, 0, BATCH)
    asyncio.run(backend.start())
    model = backend._model

    def encode(texts: list[str]) -> np.ndarray:
        return model.encode(texts, batch_size=BATCH, normalize_embeddings=True, convert_to_numpy=True,
                            show_progress_bar=False)

    return Engine("pytorch", encode, lambda q: encode([q]))


def onnx_engine(name: str, directory: Path) -> Engine:
    backend = OnnxBackend(directory, 0, BATCH)
    backend.load()
    return Engine(name, backend.encode, lambda q: backend.encode([q]))


def openvino_engine(directory: Path) -> Engine:
    backend = OpenVinoBackend(directory, 0, BATCH)
    backend.load()
    print(f"openvino computes in {backend.precision_used} on this CPU")
    return Engine("openvino", backend.encode, lambda q: backend.encode([q]))


def fastembed_engine(fp32_dir: Path, work: Path) -> Engine | None:
    try:
        from fastembed import TextEmbedding
    except ImportError:
        print("fastembed is not installed (pip install fastembed): skipped")
        return None
    source = default_model_path()
    local = work / "fastembed-model"
    local.mkdir()
    shutil.copyfile(fp32_dir / "model.onnx", local / "model.onnx")
    for name in ("tokenizer.json", "config.json", "special_tokens_map.json", "vocab.txt"):
        shutil.copyfile(source / name, local / name)
    tokenizer_config = json.loads((source / "tokenizer_config.json").read_text())
    tokenizer_config["model_max_length"] = 256  # as trained; fastembed reads 512 otherwise
    (local / "tokenizer_config.json").write_text(json.dumps(tokenizer_config))
    model = TextEmbedding("sentence-transformers/all-MiniLM-L6-v2", specific_model_path=str(local),
                          cache_dir=str(work / "fastembed-cache"), local_files_only=True)

    def encode(texts: list[str]) -> np.ndarray:
        return np.asarray(list(model.embed(texts, batch_size=BATCH)), dtype=np.float32)

    return Engine("fastembed", encode, lambda q: encode([q]))


def throughput(engines: list[Engine], chunks: list[str], rounds: int) -> None:
    size = -(-len(chunks) // rounds)
    for r in range(rounds):
        part = chunks[r * size : (r + 1) * size]
        order = engines[r % len(engines):] + engines[: r % len(engines)]
        for engine in order:
            started = time.perf_counter()
            engine.parts.append(np.asarray(engine.encode(part), dtype=np.float32))
            engine.seconds += time.perf_counter() - started
        print(f"  round {r + 1}/{rounds}: " + ", ".join(
            f"{e.name} {sum(len(p) for p in e.parts) / e.seconds:.1f}/s" for e in engines), flush=True)


def query_latency(engine: Engine, queries: list[str]) -> list[float]:
    for q in queries[:10]:
        engine.single(q)
    out = []
    for q in queries:
        started = time.perf_counter()
        engine.single(q)
        out.append((time.perf_counter() - started) * 1000)
    return out


def dense_ndcg(engine: Engine, languages: list[str]) -> dict[str, float]:
    out = {}
    for language in languages:
        ds = load_xquad(language)
        passages = engine.encode([p.text for p in ds.paragraphs])
        queries = engine.encode([q.text for q in ds.queries])
        top = np.argsort(-(queries @ passages.T), axis=1)[:, :10]
        ids = [p.document_id for p in ds.paragraphs]
        out[language] = score([[ids[i] for i in row] for row in top], ds.queries).ndcg
    return out


def cache_check(directory: Path, chunks: list[str]) -> dict:
    """A re-upload of unchanged chunks through the chunks.created path: no text is embedded again."""
    backend = OnnxBackend(directory, 0, BATCH)
    backend.load()
    embedded = []
    real_embed = backend.embed

    async def counting(texts):
        embedded.append(len(texts))
        return await real_embed(texts)

    backend.embed = counting

    class Chunk:
        def __init__(self, text):
            self.title, self.heading, self.text = "", "", text

    async def run():
        service = EmbeddingService(backend, MicroBatcher(counting, BATCH, 1), max_texts_per_request=1024,
                                   max_text_chars=4000, cache=VectorCache(len(chunks)))
        items = [Chunk(t) for t in chunks]
        timings = []
        for _ in range(2):
            started = time.perf_counter()
            for i in range(0, len(items), BATCH):
                await service.embed_chunks(items[i : i + BATCH])
            timings.append(time.perf_counter() - started)
        return timings

    first, second = asyncio.run(run())
    return {"chunks": len(chunks), "first_upload_s": round(first, 2), "reupload_s": round(second, 4),
            "texts_embedded_first": sum(embedded[: -(-len(chunks) // BATCH)]),
            "texts_embedded_reupload": sum(embedded[-(-len(chunks) // BATCH):]) if len(embedded) > 1 else 0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--queries", type=int, default=300, help="single-query calls timed per engine")
    parser.add_argument("--with-fp32", action="store_true", help="also time the onnx backend on an fp32 export")
    parser.add_argument("--no-fastembed", action="store_true")
    parser.add_argument("--no-ndcg", action="store_true")
    parser.add_argument("--onnx-dir", type=Path, default=default_onnx_dir())
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if not exported_model_ready(args.onnx_dir):
        sys.exit(f"no ONNX export at {args.onnx_dir}: run `make setup` (or python -m sentra_embedding.export)")
    banner("Sentra embedding benchmark: openvino and onnx-int8 vs PyTorch vs fastembed, same chunks, same run")
    print(machine_summary())
    chunks = load_chunks(args.chunks)
    words = [len(c.split()) for c in chunks]
    print(f"{len(chunks)} chunks of {min(words)}-{max(words)} words (mean {statistics.fmean(words):.0f})")
    questions = [q.text for lang in ("es", "en") for q in load_xquad(lang).queries]
    questions = questions[:: max(1, len(questions) // args.queries)][: args.queries]

    with tempfile.TemporaryDirectory(prefix="sentra-bench-embedding-") as tmp:
        work = Path(tmp)
        need_fp32 = args.with_fp32 or not args.no_fastembed
        fp32_dir = export(work / "fp32", quantize=False) if need_fp32 else None
        engines = [pytorch_engine(), openvino_engine(args.onnx_dir), onnx_engine("onnx-int8", args.onnx_dir)]
        if args.with_fp32:
            engines.append(onnx_engine("onnx-fp32", fp32_dir))
        if not args.no_fastembed:
            fast = fastembed_engine(fp32_dir, work)
            if fast:
                engines.append(fast)
        for engine in engines:  # warm-up
            engine.encode(chunks[:BATCH])
        print(f"\nthroughput, {args.rounds} rounds, engines rotated each round:")
        throughput(engines, chunks, args.rounds)
        base = engines[0]
        reference = np.vstack(base.parts)
        rows, results = [], {"engines": {}}
        rate = {e.name: len(chunks) / e.seconds for e in engines}
        for engine in engines:
            vectors = np.vstack(engine.parts)
            cosines = (vectors * reference).sum(axis=1)
            latency = query_latency(engine, questions)
            entry = {
                "chunks_per_s": round(rate[engine.name], 2), "seconds": round(engine.seconds, 1),
                "ratio_vs_pytorch": round(rate[engine.name] / rate[base.name], 3),
                "cosine_vs_pytorch_min": round(float(cosines.min()), 4),
                "cosine_vs_pytorch_mean": round(float(cosines.mean()), 4),
                "query_ms_p50": round(percentile(latency, 50), 2), "query_ms_p90": round(percentile(latency, 90), 2),
            }
            if not args.no_ndcg:
                entry["ndcg@10"] = {k: round(v, 4) for k, v in dense_ndcg(engine, ["es", "en"]).items()}
            results["engines"][engine.name] = entry
            rows.append([engine.name, f"{entry['chunks_per_s']:.1f}", f"{entry['ratio_vs_pytorch']:.2f}x",
                         f"{entry['cosine_vs_pytorch_min']:.4f}", f"{entry['cosine_vs_pytorch_mean']:.4f}",
                         f"{entry['query_ms_p50']:.1f}", f"{entry['query_ms_p90']:.1f}",
                         *([f"{entry['ndcg@10']['es']:.4f}", f"{entry['ndcg@10']['en']:.4f}"]
                           if not args.no_ndcg else [])])
        table(["engine", "chunks/s", "vs pytorch", "cos min", "cos mean", "query p50 ms", "p90 ms",
               *(["nDCG@10 es", "nDCG@10 en"] if not args.no_ndcg else [])], rows,
              title=f"{len(chunks)} chunks, same run (nDCG@10: dense, XQuAD, in-process)")
        default = "openvino" if openvino_has_bf16() else "onnx-int8"  # what backend=auto picks here
        results["default_engine"] = default
        results["default_vs_pytorch"] = round(rate[default] / rate["pytorch"], 3)
        print(f"the service's default here ({default}) vs pytorch: {results['default_vs_pytorch']:.2f}x")
        if "fastembed" in rate:
            results["default_vs_fastembed"] = round(rate[default] / rate["fastembed"], 3)
            results["onnx_int8_vs_fastembed"] = round(rate["onnx-int8"] / rate["fastembed"], 3)
            print(f"{default} vs fastembed: {results['default_vs_fastembed']:.2f}x; "
                  f"onnx-int8 vs fastembed: {results['onnx_int8_vs_fastembed']:.2f}x")
        results["cache"] = cache_check(args.onnx_dir, chunks[: min(len(chunks), 256)])
        print(f"cache: {results['cache']}")
    write_results("embedding", {"chunks": len(chunks), "rounds": args.rounds, "batch": BATCH,
                                "queries": len(questions), "onnx_dir": str(args.onnx_dir)}, results, args.out)


if __name__ == "__main__":
    main()
