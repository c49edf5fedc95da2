"""Retrieval quality and latency on XQuAD (Spanish and English), through the real services.

    python bench/retrieval.py                 # full run: quality (dense/hybrid/lexical) + latency
    python bench/retrieval.py --limit 100     # quick run: 100 questions per language
    python bench/retrieval.py --sweep         # also sweep the fusion settings (restarts retrieval)
    python bench/retrieval.py --titles        # index "article title + paragraph" (not the MTEB setting)

Data: ../shared/eval/xquad.{es,en}.json from the repository root (SQuAD v1.1 format). The
240 paragraphs of each language are the corpus, the questions the queries, and the
paragraph holding a question its only relevant document, exactly as MTEB's
XQuADRetrieval builds it: paragraphs only, without the article title; queries
de-duplicated by question text (a repeated question is relevant to every paragraph it
was asked on). That is the setting of the published all-MiniLM-L6-v2 figures printed
beside ours (nDCG@10 es 0.6323, en 0.9436).

What runs: a temporary platform (nats-server, embedding, ingestion, retrieval on
127.0.0.1); passages are embedded through the Embedding RPC (batches of 64) and indexed
through the IndexChunks RPC, one chunk per paragraph, in a department per language;
every question goes through the Search RPC (top_k=10, that language's department).

Latency: the Search RPC (which also embeds the query through the embedding service) is
compared with a direct, in-process call of `hybrid_search` on an EdgeStore holding the
same points in this process, with the query vectors computed beforehand.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import inspect
import itertools
import json
import math
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from benchlib import (
    EVAL_DIR,
    Stubs,
    banner,
    machine_summary,
    percentile,
    ratio,
    table,
    temporary_platform,
    write_results,
)
from sentra.embedding.v1 import embedding_pb2
from sentra.events.v1 import events_pb2
from sentra.retrieval.v1 import retrieval_pb2
from sentra_common.chunks import search_text
from sentra_common.principal import Principal
from sentra_retrieval.app import open_store
from sentra_retrieval.config import RetrievalSettings
from sentra_retrieval.domain.lexical import SparseEncoder
from sentra_retrieval.domain.model import IndexedPoint
from sentra_retrieval.domain.search import SearchMode, hybrid_search
from sentra_retrieval.domain.service import RetrievalService, scope_for

LANGUAGES = ("es", "en")
PUBLISHED_DENSE_NDCG10 = {"es": 0.6323, "en": 0.9436}  # MTEB XQuADRetrieval, all-MiniLM-L6-v2
TARGET_HYBRID_ES = 0.85
TOP_K = 10
EMBED_BATCH = 64
INDEX_BATCH = 64
CONCURRENCY = 32  # Search RPCs in flight during the quality runs (latency runs are sequential)
ID_NAMESPACE = uuid.UUID("9b6f3f8e-3c1a-4f52-8d0e-6a7f0b1c2d3e")

MODES = {
    "dense": (retrieval_pb2.SEARCH_MODE_DENSE, SearchMode.DENSE),
    "hybrid": (retrieval_pb2.SEARCH_MODE_HYBRID, SearchMode.HYBRID),
    "lexical": (retrieval_pb2.SEARCH_MODE_LEXICAL, SearchMode.LEXICAL),
}

SWEEP_KEYS = ("dense_weight", "lexical_weight", "rrf_k", "candidates", "other_language_dense_factor")
SHORT_NAMES = {"dense_weight": "dense_w", "lexical_weight": "lexical_w", "other_language_dense_factor": "other_lang_f"}

ADMIN = Principal("bench-admin", roles=("platform-admin",))  # IndexChunks needs admin or service
READER = Principal("bench-reader", departments=tuple(f"xquad-{lang}" for lang in LANGUAGES), roles=("member",))


# --------------------------------------------------------------------------------------
# Data


@dataclasses.dataclass(frozen=True)
class Paragraph:
    document_id: str
    chunk_id: str
    title: str
    text: str


@dataclasses.dataclass(frozen=True)
class Query:
    query_id: str
    text: str
    relevant: frozenset[str]  # document ids


@dataclasses.dataclass
class Dataset:
    language: str
    department: str
    paragraphs: list[Paragraph]
    queries: list[Query]
    questions_total: int


def load_xquad(language: str) -> Dataset:
    path = EVAL_DIR / f"xquad.{language}.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    paragraphs: dict[str, Paragraph] = {}  # by context hash, like MTEB
    relevant: dict[str, set[str]] = {}
    query_ids: dict[str, str] = {}
    total = 0
    for article in raw["data"]:
        title = article.get("title", "").replace("_", " ")
        for para in article["paragraphs"]:
            context = para["context"]
            digest = hashlib.sha256(context.encode("utf-8")).hexdigest()
            if digest not in paragraphs:
                paragraphs[digest] = Paragraph(
                    document_id=str(uuid.uuid5(ID_NAMESPACE, f"doc:{language}:{digest}")),
                    chunk_id=str(uuid.uuid5(ID_NAMESPACE, f"chunk:{language}:{digest}")),
                    title=title,
                    text=context,
                )
            for qa in para["qas"]:
                total += 1
                question = qa["question"]
                query_ids[question] = qa["id"]  # MTEB keeps the last id of a repeated question
                relevant.setdefault(question, set()).add(paragraphs[digest].document_id)
    queries = [Query(query_ids[q], q, frozenset(docs)) for q, docs in relevant.items()]
    return Dataset(language, f"xquad-{language}", list(paragraphs.values()), queries, total)


# --------------------------------------------------------------------------------------
# Metrics


def ndcg_at(ranked: Sequence[str], relevant: frozenset[str], k: int = TOP_K) -> float:
    dcg = sum(1.0 / math.log2(i + 2) for i, doc in enumerate(ranked[:k]) if doc in relevant)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(relevant), k)))
    return dcg / ideal if ideal else 0.0


def recall_at(ranked: Sequence[str], relevant: frozenset[str], k: int = TOP_K) -> float:
    return len(set(ranked[:k]) & relevant) / len(relevant)


def mrr_at(ranked: Sequence[str], relevant: frozenset[str], k: int = TOP_K) -> float:
    for i, doc in enumerate(ranked[:k]):
        if doc in relevant:
            return 1.0 / (i + 1)
    return 0.0


def unique_documents(document_ids: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(document_ids))


@dataclasses.dataclass
class Scores:
    ndcg: float
    recall: float
    mrr: float
    n: int


def score(rankings: Sequence[Sequence[str]], queries: Sequence[Query]) -> Scores:
    n = len(queries)
    return Scores(
        ndcg=sum(ndcg_at(r, q.relevant) for r, q in zip(rankings, queries, strict=True)) / n,
        recall=sum(recall_at(r, q.relevant) for r, q in zip(rankings, queries, strict=True)) / n,
        mrr=sum(mrr_at(r, q.relevant) for r, q in zip(rankings, queries, strict=True)) / n,
        n=n,
    )


# --------------------------------------------------------------------------------------
# Through the services


async def embed_all(stubs: Stubs, texts: list[str], *, is_query: bool) -> list[list[float]]:
    vectors: list[list[float]] = []
    for start in range(0, len(texts), EMBED_BATCH):
        reply = await stubs.embedding.Embed(
            embedding_pb2.EmbedRequest(texts=texts[start : start + EMBED_BATCH], is_query=is_query)
        )
        vectors.extend(list(v.values) for v in reply.vectors)
    return vectors


def indexed_text(p: Paragraph, titles: bool) -> tuple[str, str]:
    """(title stored with the chunk, text embedded) — the services embed search_text()."""
    title = p.title if titles else ""
    return title, search_text(title, "", p.text)


async def index_dataset(stubs: Stubs, ds: Dataset, vectors: list[list[float]], titles: bool) -> int:
    indexed = 0
    for start in range(0, len(ds.paragraphs), INDEX_BATCH):
        request = retrieval_pb2.IndexChunksRequest()
        window = slice(start, start + INDEX_BATCH)
        for p, vec in zip(ds.paragraphs[window], vectors[window], strict=True):
            title, _ = indexed_text(p, titles)
            request.chunks.add(
                chunk=events_pb2.Chunk(
                    chunk_id=p.chunk_id, document_id=p.document_id, version=1, chunk_index=0, text=p.text,
                    title=title, department=ds.department, source_uri=f"xquad:{ds.language}/{p.document_id}",
                ),
                dense=vec,
            )
        indexed += (await stubs.retrieval.IndexChunks(request)).indexed
    return indexed


async def search_rpc(stubs: Stubs, ds: Dataset, query: str, mode: str) -> list[str]:
    reply = await stubs.retrieval.Search(retrieval_pb2.SearchRequest(
        query=query, top_k=TOP_K, mode=MODES[mode][0], departments=[ds.department],
    ))
    return unique_documents([h.document_id for h in reply.hits])


async def rankings_rpc(stubs: Stubs, ds: Dataset, mode: str) -> tuple[list[list[str]], float]:
    """Every query of the dataset through the Search RPC, CONCURRENCY in flight."""
    semaphore = asyncio.Semaphore(CONCURRENCY)

    async def one(q: Query) -> list[str]:
        async with semaphore:
            return await search_rpc(stubs, ds, q.text, mode)

    started = time.perf_counter()
    rankings = await asyncio.gather(*(one(q) for q in ds.queries))
    return list(rankings), time.perf_counter() - started


# --------------------------------------------------------------------------------------
# In process


class DirectEngine:
    """The retrieval engine called in this process: an EdgeStore with the same points,
    the same SparseEncoder and the service's fusion settings."""

    def __init__(self, path: Path, dimension: int, settings: RetrievalSettings) -> None:
        self.store = open_store("edge", path=path)
        self.store.ensure_collection(dimension)
        self.encoder = SparseEncoder()
        self.configure(settings)

    def configure(self, settings: RetrievalSettings) -> None:
        """Fusion parameters exactly as the service derives them from its settings: a
        RetrievalService built like the composition root builds it (no embedder: query
        vectors are given)."""
        self.settings = settings
        wanted = {
            "candidates": settings.candidates, "rrf_k": settings.rrf_k,
            "weights": (settings.dense_weight, settings.lexical_weight),
            "max_top_k": settings.max_top_k, "max_query_chars": settings.max_query_chars,
        }
        if hasattr(settings, "model_languages"):
            wanted["model_languages"] = tuple(settings.model_languages)
        if hasattr(settings, "other_language_dense_factor"):
            wanted["other_language_dense_factor"] = settings.other_language_dense_factor
        accepted = inspect.signature(RetrievalService).parameters
        self.service = RetrievalService(
            self.store, None, self.encoder, **{k: v for k, v in wanted.items() if k in accepted}
        )

    def add(self, ds: Dataset, vectors: list[list[float]], titles: bool) -> None:
        points = []
        for p, vec in zip(ds.paragraphs, vectors, strict=True):
            title, text = indexed_text(p, titles)
            points.append(IndexedPoint(
                chunk_id=p.chunk_id, document_id=p.document_id, version=1, chunk_index=0, text=p.text, page=0,
                heading="", title=title, department=ds.department, access_list=(),
                source_uri=f"xquad:{ds.language}/{p.document_id}", dense=vec,
                sparse=self.encoder.encode_document(text),
            ))
        self.store.upsert(points)

    def search(self, ds: Dataset, query: str, dense: list[float], mode: str) -> list[str]:
        """What the service does after embedding the query: scope, sparse query, fusion
        weights for the query, search."""
        svc = self.service
        scope = scope_for(READER, [ds.department], [])
        search_mode = MODES[mode][1]
        sparse = self.encoder.encode_query(query) if search_mode is not SearchMode.DENSE else None
        weights = svc.fusion_weights(query) if hasattr(svc, "fusion_weights") else svc.weights
        hits = hybrid_search(
            self.store, dense=dense if search_mode is not SearchMode.LEXICAL else None, sparse=sparse,
            scope=scope, top_k=TOP_K, mode=search_mode, candidates=max(svc.candidates, TOP_K), rrf_k=svc.rrf_k,
            weights=weights,
        )
        return unique_documents([h.document_id for h in hits])

    def close(self) -> None:
        self.store.close()


# --------------------------------------------------------------------------------------
# Benchmark steps


def fmt3(x: float) -> str:
    return f"{x:.4f}"


async def quality(stubs: Stubs, datasets: list[Dataset], engine: DirectEngine, query_vectors) -> dict:
    banner("Quality: Search RPC, top_k=10, one department per language (binary relevance)")
    results: dict[tuple[str, str], Scores] = {}
    timings: dict[tuple[str, str], float] = {}
    for ds in datasets:
        for mode in ("dense", "hybrid", "lexical"):
            rankings, seconds = await rankings_rpc(stubs, ds, mode)
            results[ds.language, mode] = score(rankings, ds.queries)
            timings[ds.language, mode] = seconds
            print(f"  {ds.language} {mode:<8} {len(ds.queries)} queries in {seconds:5.1f} s "
                  f"({len(ds.queries) / seconds:.0f} q/s, {CONCURRENCY} in flight)", flush=True)
    rows = []
    for ds in datasets:
        base = results[ds.language, "dense"]
        for mode in ("dense", "hybrid", "lexical"):
            s = results[ds.language, mode]
            published = PUBLISHED_DENSE_NDCG10[ds.language] if mode == "dense" else None
            rows.append([
                ds.language, mode, s.n, fmt3(s.ndcg), fmt3(s.recall), fmt3(s.mrr),
                fmt3(published) if published else "",
                f"{s.ndcg - published:+.4f}" if published else "",
                ratio(s.ndcg, base.ndcg), f"{s.ndcg - base.ndcg:+.4f}",
            ])
    table(
        ["lang", "mode", "queries", "nDCG@10", "recall@10", "MRR@10", "published", "Δ published",
         "÷ dense", "Δ dense"],
        rows,
        "nDCG@10 / recall@10 / MRR@10 (baseline: dense-only = the embedding model alone, same run, same index)",
    )

    # Consistency check: the in-process engine on the same points ranks identically.
    print("\nIn-process replica (same points, same settings) vs the service, hybrid nDCG@10:")
    for ds in datasets:
        vectors = query_vectors[ds.language]
        direct = [engine.search(ds, q.text, v, "hybrid") for q, v in zip(ds.queries, vectors, strict=True)]
        d = score(direct, ds.queries)
        print(f"  {ds.language}: service {fmt3(results[ds.language, 'hybrid'].ndcg)}  in-process {fmt3(d.ndcg)}")

    print()
    if ("es", "hybrid") in results:
        es = results["es", "hybrid"].ndcg
        verdict = "MET" if es >= TARGET_HYBRID_ES else "NOT MET"
        print(f"Target hybrid nDCG@10 es >= {TARGET_HYBRID_ES}: {fmt3(es)} -> {verdict}")
    if ("en", "hybrid") in results:
        en_h, en_d = results["en", "hybrid"].ndcg, results["en", "dense"].ndcg
        verdict = "kept" if en_h >= en_d - 0.005 else "LOST"
        print(f"English hybrid vs dense: {fmt3(en_h)} vs {fmt3(en_d)} ({en_h - en_d:+.4f}) -> English {verdict}")
    return results


async def latency(
    stubs: Stubs, datasets: list[Dataset], engine: DirectEngine, query_vectors, n: int, warmup: int = 20,
) -> dict[str, dict[str, float]]:
    banner("Latency: Search RPC (gRPC, sequential) vs direct in-process hybrid_search on the same queries")
    # Interleave the languages, up to n queries in all.
    plan: list[tuple[Dataset, Query, list[float]]] = []
    iters = [list(zip(ds.queries, query_vectors[ds.language], strict=True)) for ds in datasets]
    for i in range(max(len(x) for x in iters)):
        for ds, items in zip(datasets, iters, strict=True):
            if i < len(items):
                plan.append((ds, *items[i]))
    plan = plan[:n]
    print(f"{len(plan)} queries ({', '.join(ds.language for ds in datasets)} interleaved), "
          f"{warmup} warm-up calls per path, one call at a time")

    async def time_rpc(mode: str) -> list[float]:
        for ds, q, _ in plan[:warmup]:
            await search_rpc(stubs, ds, q.text, mode)
        out = []
        for ds, q, _ in plan:
            t = time.perf_counter()
            await search_rpc(stubs, ds, q.text, mode)
            out.append((time.perf_counter() - t) * 1000)
        return out

    def time_direct(mode: str) -> list[float]:
        for ds, q, v in plan[:warmup]:
            engine.search(ds, q.text, v, mode)
        out = []
        for ds, q, v in plan:
            t = time.perf_counter()
            engine.search(ds, q.text, v, mode)
            out.append((time.perf_counter() - t) * 1000)
        return out

    async def time_embed() -> list[float]:
        for _, q, _ in plan[:warmup]:
            await stubs.embedding.Embed(embedding_pb2.EmbedRequest(texts=[q.text], is_query=True))
        out = []
        for _, q, _ in plan:
            t = time.perf_counter()
            await stubs.embedding.Embed(embedding_pb2.EmbedRequest(texts=[q.text], is_query=True))
            out.append((time.perf_counter() - t) * 1000)
        return out

    async def time_model() -> list[float]:
        """The model alone, in this process, one query per call (torch default threads,
        like the service)."""
        from sentra_embedding.adapters.backends import LocalBackend

        backend = LocalBackend(None, 0, EMBED_BATCH)
        await backend.start()
        try:
            for _, q, _ in plan[:warmup]:
                await backend.embed([q.text])
            out = []
            for _, q, _ in plan:
                t = time.perf_counter()
                await backend.embed([q.text])
                out.append((time.perf_counter() - t) * 1000)
            return out
        finally:
            await backend.close()

    rpc = {mode: await time_rpc(mode) for mode in ("hybrid", "dense", "lexical")}
    direct = {mode: time_direct(mode) for mode in ("hybrid", "dense", "lexical")}
    embed = await time_embed()
    model = await time_model()

    def row(label: str, values: list[float], base: list[float] | None) -> list[str]:
        p50, p99 = percentile(values, 50), percentile(values, 99)
        return [
            label, f"{p50:.2f}", f"{percentile(values, 90):.2f}", f"{p99:.2f}", f"{statistics.fmean(values):.2f}",
            ratio(p50, percentile(base, 50)) if base else "", ratio(p99, percentile(base, 99)) if base else "",
        ]

    rows = []
    for mode in ("hybrid", "dense", "lexical"):
        rows.append(row(f"direct hybrid_search, {mode}", direct[mode], None))
        rows.append(row(f"Search RPC, {mode}", rpc[mode], direct[mode]))
    rows.append(row("Embed RPC, 1 query (model + gRPC)", embed, model))
    rows.append(row("model alone in this process, 1 query", model, None))
    table(["path", "p50 ms", "p90 ms", "p99 ms", "mean ms", "p50 ÷ direct", "p99 ÷ direct"], rows,
          "Milliseconds per query (baseline: the direct in-process call of the same mode)")
    h50 = percentile(rpc["hybrid"], 50)
    l50 = percentile(rpc["lexical"], 50)
    e50 = percentile(embed, 50)
    m50 = percentile(model, 50)
    engine_model = percentile(direct["hybrid"], 50) + m50
    lexical_ratio = ratio(l50, percentile(direct["lexical"], 50))
    print(
        "\nReading the ratios:\n"
        "  * direct = SparseEncoder.encode_query + the service's fusion weights for the query + hybrid_search\n"
        "    on an in-process EdgeStore, query vector computed beforehand: the engine alone, no model, no network.\n"
        "  * Search RPC dense/hybrid ALSO embed the query (a gRPC call from the retrieval service to the\n"
        f"    embedding service plus a model forward pass; an Embed RPC alone takes p50 {e50:.1f} ms here, the\n"
        f"    model alone in this process {m50:.1f} ms). Their ratio to direct is therefore mostly the model.\n"
        f"  * Search RPC lexical makes no model call: its ratio ({lexical_ratio} at p50) is the pure cost of\n"
        "    gRPC + the service (asyncio, thread hop, principal, protobuf) over the engine.\n"
        f"  * hybrid RPC p50 {h50:.1f} ms vs direct hybrid + model alone {engine_model:.1f} ms: "
        f"{ratio(h50, engine_model)}, i.e. {h50 - engine_model:.1f} ms of gRPC/service\n"
        "    overhead for two hops (client -> retrieval -> embedding) and the embedding micro-batcher's wait."
    )
    paths = {f"search_rpc_{m}": rpc[m] for m in rpc} | {f"direct_{m}": direct[m] for m in direct}
    paths |= {"embed_rpc": embed, "model_alone": model}
    return {name: {"p50": round(percentile(v, 50), 3), "p90": round(percentile(v, 90), 3),
                   "p99": round(percentile(v, 99), 3)} for name, v in paths.items()}


def setting_label(setting: dict[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in setting.items())


async def sweep_point_service(platform, stubs: Stubs, datasets: list[Dataset], setting: dict[str, str],
                              base_env: dict[str, str]) -> tuple[dict[str, Scores], float]:
    """Restart the retrieval service with `setting` and run every query (hybrid) through it."""
    platform.extra_env = {**base_env, **{f"SENTRA_RETRIEVAL_{k.upper()}": v for k, v in setting.items()}}
    started = time.perf_counter()
    platform.stop_service("retrieval")
    platform.restart_service("retrieval")
    restart_s = time.perf_counter() - started
    out = {}
    for ds in datasets:
        rankings, _ = await rankings_rpc(stubs, ds, "hybrid")
        out[ds.language] = score(rankings, ds.queries)
    return out, restart_s


def sweep_point_in_process(engine: DirectEngine, datasets: list[Dataset], query_vectors,
                           setting: dict[str, str]) -> dict[str, Scores]:
    saved = engine.settings
    fields = RetrievalSettings.model_fields
    engine.configure(saved.model_copy(update={k: fields[k].annotation(v) for k, v in setting.items()}))
    try:
        return {
            ds.language: score(
                [engine.search(ds, q.text, v, "hybrid")
                 for q, v in zip(ds.queries, query_vectors[ds.language], strict=True)],
                ds.queries,
            )
            for ds in datasets
        }
    finally:
        engine.configure(saved)


async def sweep(platform, stubs: Stubs, datasets: list[Dataset], grid: list[dict[str, str]], *,
                engine: DirectEngine, query_vectors, in_process: bool, references: dict) -> None:
    how = ("the engine in this process (same code, same points; the best setting is then checked through "
           "a restarted service)" if in_process else "the retrieval service, restarted for each setting")
    banner(f"Fusion sweep: hybrid nDCG@10 per setting, through {how}")
    base_env = dict(platform.extra_env)
    rows = []
    results: list[tuple[dict[str, str], dict[str, Scores]]] = []
    baseline_mean: float | None = None
    try:
        for setting in grid:
            started = time.perf_counter()
            if in_process:
                scores, restart_s = sweep_point_in_process(engine, datasets, query_vectors, setting), 0.0
            else:
                scores, restart_s = await sweep_point_service(platform, stubs, datasets, setting, base_env)
            results.append((setting, scores))
            mean = statistics.fmean(s.ndcg for s in scores.values())
            baseline_mean = mean if baseline_mean is None else baseline_mean
            row = ["defaults" if not rows else "", *setting.values()]
            for ds in datasets:
                row += [fmt3(scores[ds.language].ndcg), fmt3(scores[ds.language].recall)]
            row += [fmt3(mean), f"{mean - baseline_mean:+.4f}"]
            rows.append(row)
            extra = f"restart {restart_s:.1f} s, " if not in_process else ""
            print(f"  {setting_label(setting)}: "
                  + "  ".join(f"{lang} {s.ndcg:.4f}" for lang, s in scores.items())
                  + f"  ({extra}{time.perf_counter() - started:.1f} s)", flush=True)
        keys = list(grid[0])
        headers = ["", *(SHORT_NAMES.get(k, k) for k in keys)]
        for ds in datasets:
            headers += [f"nDCG {ds.language}", f"R@10 {ds.language}"]
        headers += ["mean nDCG", "Δ defaults"]
        for mode in ("dense", "lexical"):  # references from the quality run, same index
            if all((ds.language, mode) in references for ds in datasets):
                ref = [f"{mode} only", *([""] * len(keys))]
                for ds in datasets:
                    ref += [fmt3(references[ds.language, mode].ndcg), fmt3(references[ds.language, mode].recall)]
                m = statistics.fmean(references[ds.language, mode].ndcg for ds in datasets)
                rows.append([*ref, fmt3(m), f"{m - baseline_mean:+.4f}"])
        table(headers, rows, "Hybrid search per fusion setting (first row = the service defaults = the baseline)")
        best_setting, best_scores = max(results, key=lambda r: statistics.fmean(s.ndcg for s in r[1].values()))
        best_mean = statistics.fmean(s.ndcg for s in best_scores.values())
        print(f"\nBest mean nDCG@10: {setting_label(best_setting)} -> "
              + ", ".join(f"{lang} {s.ndcg:.4f}" for lang, s in best_scores.items())
              + f" (mean {best_mean:.4f}, {best_mean - baseline_mean:+.4f} vs the defaults)")
        for ds in datasets:
            s, sc = max(results, key=lambda r, lang=ds.language: r[1][lang].ndcg)
            print(f"Best for {ds.language} alone: {setting_label(s)} -> {sc[ds.language].ndcg:.4f}")
        if in_process:
            check, restart_s = await sweep_point_service(platform, stubs, datasets, best_setting, base_env)
            print("Checked through the service (restarted with the best setting): "
                  + ", ".join(f"{lang} {s.ndcg:.4f}" for lang, s in check.items())
                  + f" (in-process {', '.join(f'{lang} {s.ndcg:.4f}' for lang, s in best_scores.items())})")
    finally:
        if platform.extra_env != base_env:  # put the defaults back
            platform.extra_env = base_env
            platform.stop_service("retrieval")
            platform.restart_service("retrieval")


def service_defaults() -> RetrievalSettings:
    """The code defaults of the retrieval settings (the platform strips SENTRA_RETRIEVAL_*
    variables of this environment from the services, so these are what they run with)."""
    return RetrievalSettings.model_construct()


def fusion_keys() -> list[str]:
    """The fusion settings this version of the service has."""
    return [k for k in SWEEP_KEYS if k in RetrievalSettings.model_fields]


def describe_settings(settings: RetrievalSettings) -> str:
    keys = [*fusion_keys(), *(k for k in ("model_languages",) if k in RetrievalSettings.model_fields)]
    return " ".join(f"{k}={_fmt_value(getattr(settings, k))}" for k in keys)


def _fmt_value(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return ",".join(map(str, value))
    return str(value)


def sweep_grid(args) -> list[dict[str, str]]:
    """Every combination of the --sweep-* values; the first item is the defaults."""
    defaults = service_defaults()
    keys = fusion_keys()
    grid = [{k: _fmt_value(getattr(defaults, k)) for k in keys}]
    choices = []
    for k in keys:
        given = getattr(args, f"sweep_{k}s", None) or getattr(args, f"sweep_{k}", None)
        choices.append(given.split(",") if given else [grid[0][k]])
    for combo in itertools.product(*choices):
        item = dict(zip(keys, combo, strict=True))
        if item not in grid:
            grid.append(item)
    return grid


async def run(args) -> None:
    languages = [x.strip() for x in args.languages.split(",") if x.strip()]
    for lang in languages:
        if lang not in LANGUAGES:
            sys.exit(f"unknown language {lang!r}; choose from {', '.join(LANGUAGES)}")
    missing = [str(EVAL_DIR / f"xquad.{lang}.json") for lang in languages
               if not (EVAL_DIR / f"xquad.{lang}.json").exists()]
    if missing:
        sys.exit(
            "XQuAD evaluation data not found: " + ", ".join(missing)
            + "\nPut xquad.es.json / xquad.en.json (SQuAD v1.1 format) in ../shared/eval/ next to the repository;"
            " see ../shared/eval/README.md."
        )

    datasets = [load_xquad(lang) for lang in languages]
    for ds in datasets:
        if args.limit:
            ds.queries = ds.queries[: args.limit]
    banner("Sentra retrieval benchmark: XQuAD (MTEB XQuADRetrieval setting)")
    print(machine_summary())
    defaults = service_defaults()
    print(f"service fusion defaults (code): {describe_settings(defaults)}")
    corpus = (
        "article title + paragraph (NOT the published setting)" if args.titles
        else "paragraph only, no article title (as MTEB XQuADRetrieval)"
    )
    print(f"corpus text: {corpus}")
    for ds in datasets:
        print(f"  {ds.language}: {len(ds.paragraphs)} paragraphs, {ds.questions_total} questions, "
              f"{len(ds.queries)} unique question texts evaluated")
    print("Timings are wall-clock on a shared machine (other work may run at the same time): read them as rough.")

    with temporary_platform() as platform, tempfile.TemporaryDirectory(prefix="sentra-bench-edge-") as edge_dir:
        admin = Stubs(platform, ADMIN)
        reader = Stubs(platform, READER)
        engine: DirectEngine | None = None
        try:
            info = await admin.embedding.GetModelInfo(embedding_pb2.GetModelInfoRequest())
            print(f"embedding model: {info.model} ({info.backend}, {info.dimension} dims, "
                  f"max batch {info.max_batch_size})")
            engine = DirectEngine(Path(edge_dir) / "edge", info.dimension, defaults)
            passage_vectors: dict[str, list[list[float]]] = {}
            query_vectors: dict[str, list[list[float]]] = {}
            for ds in datasets:
                texts = [indexed_text(p, args.titles)[1] for p in ds.paragraphs]
                t = time.perf_counter()
                passage_vectors[ds.language] = await embed_all(admin, texts, is_query=False)
                embed_s = time.perf_counter() - t
                t = time.perf_counter()
                indexed = await index_dataset(admin, ds, passage_vectors[ds.language], args.titles)
                index_s = time.perf_counter() - t
                query_vectors[ds.language] = await embed_all(admin, [q.text for q in ds.queries], is_query=True)
                engine.add(ds, passage_vectors[ds.language], args.titles)
                print(f"{ds.language}: embedded {len(texts)} passages in {embed_s:.1f} s "
                      f"({len(texts) / embed_s:.0f}/s, Embed RPC, batches of {EMBED_BATCH}); "
                      f"IndexChunks {indexed} in {index_s:.2f} s")
            stats = await admin.retrieval.GetIndexStats(retrieval_pb2.GetIndexStatsRequest())
            expected = sum(len(ds.paragraphs) for ds in datasets)
            print(f"index: {stats.points} points in the service ({stats.engine}), expected {expected}")
            if stats.points != expected:
                sys.exit("the service index does not hold the expected number of points")

            references = await quality(reader, datasets, engine, query_vectors)
            run_latency = args.latency if args.latency is not None else not args.sweep
            timings = {}
            if run_latency:
                timings = await latency(reader, datasets, engine, query_vectors, args.latency_queries)
            else:
                print("\n(latency comparison skipped; --latency to run it)")
            write_results("retrieval", {
                "limit": args.limit, "languages": languages, "titles": args.titles,
                "fusion": describe_settings(defaults), "top_k": TOP_K,
                "latency_queries": args.latency_queries if run_latency else 0,
            }, {
                "quality": {f"{lang}_{mode}": {"queries": sc.n, "ndcg@10": round(sc.ndcg, 4),
                                               "recall@10": round(sc.recall, 4), "mrr@10": round(sc.mrr, 4)}
                            for (lang, mode), sc in references.items()},
                "latency_ms": timings,
            }, args.out)
            if args.sweep:
                await sweep(platform, reader, datasets, sweep_grid(args), engine=engine, query_vectors=query_vectors,
                            in_process=args.sweep_in_process, references=references)
        finally:
            if engine is not None:
                engine.close()
            await admin.close()
            await reader.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--limit", type=int, default=0, help="questions per language (0: all)")
    parser.add_argument("--out", type=Path, default=None,
                        help="where to write the figures (default bench/results/retrieval.json)")
    parser.add_argument("--languages", default="es,en", help="comma-separated: es,en")
    parser.add_argument("--titles", action="store_true",
                        help="index 'article title + paragraph' instead of the paragraph alone (MTEB uses no title)")
    parser.add_argument("--latency-queries", type=int, default=600, help="queries timed sequentially per path")
    parser.add_argument("--latency", action=argparse.BooleanOptionalAction, default=None,
                        help="run the latency comparison (default: yes, except with --sweep)")
    parser.add_argument("--sweep", action="store_true",
                        help="sweep fusion settings, restarting the retrieval service for each (hybrid only)")
    parser.add_argument("--sweep-in-process", action="store_true",
                        help="with --sweep: evaluate the grid with the engine in this process (fast, same code and "
                             "points), then check the best setting through a restarted service")
    parser.add_argument("--sweep-dense-weights", default="",
                        help="comma-separated values (default: the service default only); likewise below")
    parser.add_argument("--sweep-other-language-dense-factors", default="",
                        help="values of other_language_dense_factor, if the service has it")
    parser.add_argument("--sweep-lexical-weights", default="1,1.5,2,3")
    parser.add_argument("--sweep-rrf-k", default="20,60")
    parser.add_argument("--sweep-candidates", default="50,100")
    args = parser.parse_args()
    started = time.perf_counter()
    try:
        asyncio.run(run(args))
    except KeyboardInterrupt:
        sys.exit("interrupted; the platform was stopped")
    print(f"\ntotal benchmark time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
