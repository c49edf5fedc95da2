"""Datasets from documents: how good the generated items are, how fast they come, and how
good the question generator is on text it never saw.

    python bench/datasets.py [--xquad 150] [--skip-corpus]

1. The question generator on XQuAD-es (held out: it was trained on SQuAD-es minus every
   XQuAD paragraph): for a deterministic sample of XQuAD-es questions, the passage window
   around the gold answer and the gold answer go in, a question comes out; ROUGE-L and
   BLEU (sacrebleu) against the gold question, against the same figures for a trivial
   template baseline ("¿<the answer's sentence with the answer replaced by qué>?"), run in
   the same process on the same inputs.
2. The example corpus (examples/corpus, 5 departments) through a temporary platform: every
   document uploaded and indexed, one CreateDataset per department (default settings),
   then, over the stored items:
   - supported: the share of generated questions the reader judges supported (it ranks the
     answer's sentence first, above its threshold) — counted before the other filters keep
     or drop them, from the dataset's drop counts; stored items are all supported;
   - near-duplicates left: pairs of stored questions of one department with a cosine of at
     least 0.92 (the reader's bi-encoder) or a character-level similarity (difflib) of at
     least 0.85, ÷ items. Since the character test was added to the filter
     (`datasets.generate.NearDuplicates`) this is the filter's own definition, measured again
     over what was stored (masked questions, every batch of the dataset) with code of its own;
   - PII left: the PII recognisers (`datasets.pii`) and an independent regex check scan every
     stored question, answer and context for e-mails, phones, IBANs and DNIs/NIEs: must be 0;
   - throughput: items per second of generation and where the time goes.
   Chunks in a language the generator does not write (English, for the Spanish-only CPU
   generator) are not asked about: their answer candidates are reported as skipped, not as
   generated questions.

Aims (issue 14): ≥ 70 % supported, ≤ 5 % near-duplicates, 0 PII left.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import re
import time

from benchlib import ROOT, machine_summary, ratio, table, temporary_platform, test_support, write_results

# An independent check (not the recognisers the platform masks with): e-mails, Spanish and
# UK/US phone numbers, IBANs, DNI/NIE numbers.
INDEPENDENT = {
    "email": re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
    "phone": re.compile(r"(?<!\d)(?:\+\d{2}\s?)?(?:\d[\s-]?){9,11}(?!\d)"),
    "iban": re.compile(r"\b[A-Z]{2}\d{2}(?:\s?\d{4}){4,7}\b"),
    "dni_nie": re.compile(r"\b[XYZ]?\d{7,8}[A-Z]\b"),
}


def question_generator_quality(count: int, seed: int = 7) -> dict:
    import sacrebleu
    from sentra_training.datasets.qg import QuestionGenerator, Request, template_question, window
    from sentra_training.metrics import rouge_l
    from sentra_training.squad import DEFAULT_EVAL_DIR, load_paragraphs

    paragraphs = load_paragraphs(DEFAULT_EVAL_DIR / "xquad.es.json")
    pool = [(p, q) for p in paragraphs for q in p.questions if q.answers]
    sample = random.Random(seed).sample(pool, min(count, len(pool)))
    requests, golds = [], []
    for p, q in sample:
        gold = q.answers[0]
        passage = window(p.context, gold.start, gold.start + len(gold.text))
        if gold.text in passage:
            requests.append(Request(passage, gold.text))
            golds.append(q.question)
    generator = QuestionGenerator()
    started = time.perf_counter()
    generated = generator.generate(requests)
    seconds = time.perf_counter() - started
    templated = [template_question(r.passage, r.answer) for r in requests]
    out = {"questions": len(requests), "generator_id": generator.generator_id,
           "seconds_per_question": round(seconds / max(len(requests), 1), 3)}
    for name, outputs in (("generator", generated), ("template", templated)):
        out[name] = {
            "rouge_l": round(sum(rouge_l(o, [g]) for o, g in zip(outputs, golds, strict=True)) / len(golds), 4),
            "bleu": round(sacrebleu.corpus_bleu(outputs, [golds]).score, 2),
        }
    out["examples"] = [{"answer": r.answer, "gold": g, "generated": o, "template": t}
                       for r, g, o, t in list(zip(requests, golds, generated, templated, strict=True))[:5]]
    return out


def _same_text(a: str, b: str) -> float:
    """Character-level similarity of two questions (difflib), computed here apart from the filter."""
    from difflib import SequenceMatcher

    return SequenceMatcher(None, " ".join(re.findall(r"\w+", a.casefold())),
                           " ".join(re.findall(r"\w+", b.casefold()))).ratio()


async def create_dataset(stub, department: str):
    """CreateDataset once the training service's ledger has the department's documents."""
    import grpc
    from sentra.training.v1 import training_pb2

    for _ in range(120):
        try:
            return (await stub.CreateDataset(training_pb2.CreateDatasetRequest(department=department))).dataset
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.FAILED_PRECONDITION:
                raise
            await asyncio.sleep(0.5)
    raise RuntimeError(f"{department}: the training service never saw its documents indexed")


async def corpus_datasets() -> dict:
    from sentra.training.v1 import training_pb2, training_pb2_grpc
    from sentra_common.principal import Principal
    from sentra_common.reader.runtime import Reader
    from sentra_training.app import shipped_reader_dir
    from sentra_training.datasets.pii import PiiMasker

    support = test_support()
    out: dict = {"departments": {}}
    with temporary_platform(support.TEST_ENV) as platform:
        api = support.Api(platform)
        started = time.perf_counter()
        ids = await api.upload_corpus()
        settled = await api.wait_settled(ids.values())
        await api.close()
        out["documents"] = len(ids)
        out["indexed"] = sum(d.state == support.INDEXED for d in settled.values())
        out["ingest_seconds"] = round(time.perf_counter() - started, 1)
        admin = Principal("bench", departments=support.DEPARTMENTS, roles=("platform-admin",))
        channel = platform.internal_channel("training", admin, 600)
        stub = training_pb2_grpc.TrainingServiceStub(channel)
        try:
            for department in support.DEPARTMENTS:
                began = time.perf_counter()
                dataset = await create_dataset(stub, department)
                while dataset.state == training_pb2.DATASET_STATE_GENERATING:
                    await asyncio.sleep(1)
                    dataset = (await stub.GetDataset(training_pb2.GetDatasetRequest(
                        dataset_id=dataset.dataset_id))).dataset
                seconds = time.perf_counter() - began
                items, token = [], ""
                while True:
                    page = await stub.ListDatasetItems(training_pb2.ListDatasetItemsRequest(
                        dataset_id=dataset.dataset_id, page_size=500, page_token=token))
                    items.extend(page.items)
                    token = page.next_page_token
                    if not token:
                        break
                out["departments"][department] = {
                    "state": training_pb2.DatasetState.Name(dataset.state), "reason": dataset.failure_reason,
                    "chunks": dataset.chunks_total, "items": len(items), "dropped": dict(dataset.dropped),
                    "pii_found": dict(dataset.pii_found), "timings": dict(dataset.timings),
                    "seconds": round(seconds, 1), "items_raw": [(i.question, i.answer, i.context) for i in items],
                }
                print(f"{department}: {len(items)} items from {dataset.chunks_total} chunks in {seconds:.0f} s; "
                      f"dropped {dict(dataset.dropped)}", flush=True)
        finally:
            await channel.close()
    reader = Reader.load(shipped_reader_dir())
    masker = PiiMasker()
    kept = generated = supported_before = skipped = 0
    pairs = near = 0
    examples: list[tuple[str, str]] = []
    recogniser_hits: dict[str, int] = {}
    regex_hits: dict[str, int] = {}
    for figures in out["departments"].values():
        raw = figures.pop("items_raw")
        dropped = figures["dropped"]
        kept += len(raw)
        # the reader's judgement is made on every question that passed the cheap checks;
        # duplicates and PII-only answers are dropped after it (so they were supported)
        cheap = sum(dropped.get(k, 0) for k in ("empty", "leaks_answer", "generic"))
        judged = len(raw) + dropped.get("unsupported", 0) + dropped.get("duplicate", 0) + dropped.get("pii_answer", 0)
        generated += judged + cheap
        skipped += dropped.get("language", 0)
        supported_before += judged - dropped.get("unsupported", 0)
        questions = [q for q, _, _ in raw]
        if len(questions) > 1:
            vectors = reader.bi.embed(questions)
            for i, j in itertools.combinations(range(len(questions)), 2):
                pairs += 1
                if float(vectors[i] @ vectors[j]) >= 0.92 or _same_text(questions[i], questions[j]) >= 0.85:
                    near += 1
                    examples.append((questions[i], questions[j]))
        for text in (t for item in raw for t in item):
            for finding in masker.scan(text):
                if finding.entity in ("EMAIL_ADDRESS", "PHONE_NUMBER", "IBAN_CODE", "ES_NIF", "ES_NIE"):
                    recogniser_hits[finding.entity] = recogniser_hits.get(finding.entity, 0) + 1
            for name, pattern in INDEPENDENT.items():
                found = [m for m in pattern.findall(text) if "<" not in m]
                if found:
                    regex_hits[name] = regex_hits.get(name, 0) + len(found)
    seconds = sum(d["seconds"] for d in out["departments"].values())
    timing_keys = sorted({k for d in out["departments"].values() for k in d["timings"]})
    out["summary"] = {
        "items": kept, "generated_questions": generated, "candidates_skipped_for_language": skipped,
        "supported_share_of_generated": round(supported_before / generated, 4) if generated else 0.0,
        "judged_by_reader_share_of_stored": 1.0 if kept else 0.0,
        "near_duplicate_pairs": near, "question_pairs": pairs,
        "near_duplicate_share_of_items": round(near / kept, 4) if kept else 0.0,
        "near_duplicate_examples": examples[:10],
        "pii_left_recognisers": recogniser_hits, "pii_left_independent_regex": regex_hits,
        "generation_seconds": round(seconds, 1), "items_per_second": round(kept / seconds, 3) if seconds else 0.0,
        "seconds_by_step": {k: round(sum(d["timings"].get(k, 0.0) for d in out["departments"].values()), 1)
                            for k in timing_keys},
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--xquad", type=int, default=150, help="XQuAD-es questions for the generator's quality")
    parser.add_argument("--skip-corpus", action="store_true", help="only the generator's quality")
    args = parser.parse_args()
    print(machine_summary(), flush=True)
    results: dict = {}
    quality = question_generator_quality(args.xquad)
    results["question_generator_xquad_es"] = quality
    table(["questions", "model", "ROUGE-L", "BLEU"], [
        [quality["questions"], name, quality[name]["rouge_l"], quality[name]["bleu"]]
        for name in ("generator", "template")
    ], title="Question generator on XQuAD-es (held out)")
    print(f"ROUGE-L generator ÷ template: {ratio(quality['generator']['rouge_l'], quality['template']['rouge_l'])}; "
          f"BLEU: {ratio(quality['generator']['bleu'], quality['template']['bleu'])}")
    if not args.skip_corpus:
        corpus = asyncio.run(corpus_datasets())
        results["example_corpus"] = corpus
        s = corpus["summary"]
        table(["department", "chunks", "items", "seconds", "dropped"], [
            [d, f["chunks"], f["items"], f["seconds"], ", ".join(f"{k} {v}" for k, v in sorted(f["dropped"].items()))]
            for d, f in corpus["departments"].items()
        ], title="Example corpus: one dataset per department")
        table(["measure", "value", "aim"], [
            ["generated questions judged supported", f"{s['supported_share_of_generated']:.1%}", "≥ 70 %"],
            ["near-duplicate pairs left ÷ items", f"{s['near_duplicate_share_of_items']:.1%}", "≤ 5 %"],
            ["PII left (recognisers)", sum(s["pii_left_recognisers"].values()), "0"],
            ["PII left (independent regex)", sum(s["pii_left_independent_regex"].values()), "0"],
            ["items per second", s["items_per_second"], "reported"],
            ["answers in chunks of a language the generator does not write",
             s["candidates_skipped_for_language"], "skipped, reported"],
        ], title="Stored items")
        print("seconds by step:", s["seconds_by_step"])
    path = write_results("datasets", {"xquad_questions": args.xquad, "root": str(ROOT.name)}, results)
    print(f"results: {path}")


if __name__ == "__main__":
    main()
