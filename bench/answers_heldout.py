"""Right answers on documents nobody tuned for: XQuAD as a company corpus, through the
real platform (ingestion → embedding → retrieval → the Answer RPC), as a member of one
department.

    python bench/answers_heldout.py                    # everything, both strategies (~1 h on 2 cores)
    python bench/answers_heldout.py --limit 200        # 200 questions per set (quick)
    python bench/answers_heldout.py --strategy reader  # one strategy
    python bench/answers_heldout.py --home .sentra-heldout --keep   # keep the indexed platform for next time

Corpus: the 48 XQuAD articles of each language as Markdown documents (one document per
article, one "## Párrafo N" / "## Paragraph N" heading per paragraph so a citation names
its paragraph), uploaded through the UploadDocument RPC into the departments `xquad-es`
and `xquad-en`; and the paragraphs of the SQuAD-es v2.0 articles set aside for refusal
evaluation (`sentra_training.squad`, never trained or calibrated on), in `squad-refusal`.

Questions, each asked by a member of that one department:
- XQuAD: all 1,190 per language (`--limit N`: an even sample of N).
- Refusal: the unanswerable questions of the refusal articles (SQuAD-es v2.0, XQuAD ids
  dropped; a plausible distractor sits in the same paragraph), and their answerable ones
  (false refusals there are reported too).
- Unmentioned: `bench/data/unmentioned_questions.json`, about things no article mentions.

Metrics per language (`sentra_training.metrics`, the normalisation of shared/eval/README):
- answer contains gold: on the direct answer plus at most the first two quoted sentences
  (citation quotes), never on a whole passage;
- exact match and token F1 of the direct answer (the extractive baseline has none: its
  figures are computed on its quoted sentences and marked so);
- gold paragraph cited: a citation names the question's article and paragraph;
- false refusals: answerable questions answered "not in the documents";
- latency p50/p95 of the Answer RPC (sequential calls).

XQuAD is for reporting only: nothing here feeds back into thresholds, prompts or weights.
The last run's figures go to `bench/results/answers_heldout.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchlib import EVAL_DIR, ROOT, machine_summary, percentile, table, temporary_platform, test_support, write_results
from sentra.inference.v1 import inference_pb2
from sentra.ingestion.v1 import ingestion_pb2
from sentra_cli.platform import Platform
from sentra_common.api_names import strategy_value
from sentra_common.principal import Principal
from sentra_training.metrics import contains_answer, exact_match, token_f1
from sentra_training.squad import Paragraph, load_paragraphs, squad_es_splits

# The strategies compared (generative is too slow on a CPU for 3,400 questions).
COMPARED = ("extractive", "reader")
PARAGRAPH_WORD = {"es": "Párrafo", "en": "Paragraph"}
REFUSAL_DEPARTMENT = "squad-refusal"
UNMENTIONED = ROOT / "bench" / "data" / "unmentioned_questions.json"
RESULTS = ROOT / "bench" / "results" / "answers_heldout.json"
_PARAGRAPH_HEADING = re.compile(r"(?:Párrafo|Paragraph) (\d+)\s*$")


@dataclass
class Question:
    set: str
    department: str
    text: str
    golds: list[str]
    article: str = ""
    paragraph: int = -1

    @property
    def answerable(self) -> bool:
        return bool(self.golds)


@dataclass
class Outcome:
    question: Question
    not_found: bool
    answer: str
    direct: str
    quotes: list[str]
    cited: list[tuple[str, int]]
    seconds: float
    extra: dict = field(default_factory=dict)


# ------------------------------------------------------------------------------------------
# Corpus


def article_markdown(title: str, paragraphs: list[str], language: str) -> str:
    word = PARAGRAPH_WORD[language]
    parts = [f"# {title}"]
    for n, text in enumerate(paragraphs, 1):
        parts.append(f"## {word} {n}\n\n{text.strip()}")
    return "\n\n".join(parts) + "\n"


def xquad_corpus(language: str) -> tuple[dict[str, str], list[Question]]:
    """({article: markdown}, questions) for one language; paragraphs numbered from 1."""
    documents, questions = {}, []
    articles: dict[str, list[Paragraph]] = {}
    for p in load_paragraphs(EVAL_DIR / f"xquad.{language}.json"):
        articles.setdefault(p.article, []).append(p)
    for title, paragraphs in articles.items():
        documents[title] = article_markdown(title, [p.context for p in paragraphs], language)
        for n, p in enumerate(paragraphs, 1):
            questions.extend(
                Question(f"xquad-{language}", f"xquad-{language}", q.question, [a.text for a in q.answers], title, n)
                for q in p.questions
            )
    return documents, questions


def refusal_corpus() -> tuple[dict[str, str], list[Question]]:
    articles: dict[str, list[Paragraph]] = {}
    for p in squad_es_splits(EVAL_DIR).refusal_eval:
        articles.setdefault(p.article, []).append(p)
    documents, questions = {}, []
    for title, paragraphs in articles.items():
        documents[title] = article_markdown(title, [p.context for p in paragraphs], "es")
        for n, p in enumerate(paragraphs, 1):
            questions.extend(
                Question("refusal", REFUSAL_DEPARTMENT, q.question, [a.text for a in q.answers], title, n)
                for q in p.questions
            )
    return documents, questions


def unmentioned_questions() -> list[Question]:
    data = json.loads(UNMENTIONED.read_text())
    return [Question(f"unmentioned-{lang}", f"xquad-{lang}", text, []) for lang in ("es", "en") for text in data[lang]]


def sample(questions: list[Question], limit: int) -> list[Question]:
    """An even, deterministic sample of `limit` questions (all when 0)."""
    if not limit or limit >= len(questions):
        return questions
    step = len(questions) / limit
    return [questions[int(i * step)] for i in range(limit)]


async def index_corpus(platform: Platform, corpora: dict[str, dict[str, str]]) -> dict[str, str]:
    """Upload what is not there yet; returns {document_id: "department/article"}."""
    support = test_support()
    admin = support.Api(platform, Principal("bench-admin", departments=tuple(corpora), roles=("platform-admin",)))
    try:
        existing = await _listing(admin, support)
        have = {d.source_uri for d in existing}
        uploaded = []
        for department, documents in corpora.items():
            for title, text in documents.items():
                uri = f"heldout:{department}/{title}"
                if uri in have:
                    continue
                name = re.sub(r"[^\w.-]+", "_", title)[:80] + ".md"
                reply = await admin.upload(text.encode(), name, department, source_uri=uri)
                uploaded.append(reply.document.document_id)
        if uploaded:
            started = time.perf_counter()
            await admin.wait_settled(uploaded, timeout=3600)
            print(f"{len(uploaded)} documents indexed in {time.perf_counter() - started:.0f} s", flush=True)
        documents = await _listing(admin, support)
    finally:
        await admin.close()
    failed = [d for d in documents if d.state != ingestion_pb2.DOCUMENT_STATE_INDEXED]
    if failed:
        raise SystemExit(f"{len(failed)} documents did not index, e.g. {failed[0].source_uri}: {failed[0].error}")
    return {d.document_id: d.source_uri.removeprefix("heldout:") for d in documents}


async def _listing(api, support) -> list:
    out, token = [], ""
    while True:
        reply = await api.ingestion.ListDocuments(
            support.ingestion_pb2.ListDocumentsRequest(page_size=1000, page_token=token))
        out.extend(reply.documents)
        token = reply.next_page_token
        if not token:
            return out


# ------------------------------------------------------------------------------------------
# Asking


async def ask_all(platform: Platform, questions: list[Question], strategy: str, documents: dict[str, str],
                  progress_every: int = 200) -> list[Outcome]:
    support = test_support()
    apis = {}
    outcomes = []
    try:
        for n, q in enumerate(questions, 1):
            if q.department not in apis:
                member = Principal(f"bench-{q.department}", departments=(q.department,), roles=("member",))
                apis[q.department] = support.Api(platform, member)
            started = time.perf_counter()
            reply = await apis[q.department].inference.Answer(inference_pb2.AnswerRequest(
                question=q.text, strategy=strategy_value(strategy)))
            seconds = time.perf_counter() - started
            cited = []
            for c in reply.citations:
                match = _PARAGRAPH_HEADING.search(c.heading)
                article = documents.get(c.document_id, "").partition("/")[2]
                cited.append((article, int(match.group(1)) if match else -1))
            outcomes.append(Outcome(
                q, reply.not_found, reply.answer, reply.direct_answer, [c.quote for c in reply.citations],
                cited, seconds,
            ))
            if n % progress_every == 0:
                print(f"  {strategy}: {n}/{len(questions)}", flush=True)
    finally:
        for api in apis.values():
            await api.close()
    return outcomes


# ------------------------------------------------------------------------------------------
# Metrics


def answer_scope(outcome: Outcome) -> str:
    """What "answer contains gold" is computed on: the direct answer plus at most the first
    two quoted sentences."""
    return " ".join([outcome.direct, *outcome.quotes[:2]])


def direct_or_quotes(outcome: Outcome) -> str:
    return outcome.direct or " ".join(outcome.quotes[:2])


def answer_metrics(outcomes: list[Outcome]) -> dict[str, float]:
    answerable = [o for o in outcomes if o.question.answerable]
    if not answerable:
        return {}
    seconds = [o.seconds for o in outcomes]

    def mean(values) -> float:
        return round(statistics.fmean(values), 4)

    answered = [o for o in answerable if not o.not_found]
    return {
        "questions": len(answerable),
        "answer_contains_gold": mean(
            0.0 if o.not_found else contains_answer(answer_scope(o), o.question.golds) for o in answerable),
        "exact_match": mean(0.0 if o.not_found else exact_match(direct_or_quotes(o), o.question.golds)
                            for o in answerable),
        "token_f1": mean(0.0 if o.not_found else token_f1(direct_or_quotes(o), o.question.golds)
                         for o in answerable),
        "token_f1_when_answered": mean(token_f1(direct_or_quotes(o), o.question.golds) for o in answered)
        if answered else 0.0,
        "direct_answer_given": mean(bool(o.direct) for o in answerable),
        "gold_paragraph_cited": mean(
            (o.question.article, o.question.paragraph) in o.cited for o in answerable),
        "false_refusal": mean(o.not_found for o in answerable),
        "latency_p50_s": round(percentile(seconds, 50), 3),
        "latency_p95_s": round(percentile(seconds, 95), 3),
    }


def refusal_metrics(outcomes: list[Outcome]) -> dict[str, float]:
    unanswerable = [o for o in outcomes if not o.question.answerable]
    answerable = [o for o in outcomes if o.question.answerable]
    out: dict[str, float] = {}
    if unanswerable:
        out["unanswerable"] = len(unanswerable)
        out["declined"] = round(statistics.fmean(o.not_found for o in unanswerable), 4)
    if answerable:
        out["answerable"] = len(answerable)
        out["false_refusal"] = round(statistics.fmean(o.not_found for o in answerable), 4)
        out["answer_contains_gold"] = round(statistics.fmean(
            0.0 if o.not_found else contains_answer(answer_scope(o), o.question.golds) for o in answerable), 4)
    return out


def evaluate(outcomes: list[Outcome]) -> dict[str, dict[str, float]]:
    by_set: dict[str, list[Outcome]] = {}
    for o in outcomes:
        by_set.setdefault(o.question.set, []).append(o)
    report = {}
    for name, group in sorted(by_set.items()):
        report[name] = answer_metrics(group) if name.startswith("xquad") else refusal_metrics(group)
    return report


# ------------------------------------------------------------------------------------------
# Output


def print_report(results: dict[str, dict[str, dict[str, float]]]) -> None:
    rows = []
    for strategy, report in results.items():
        for language in ("es", "en"):
            m = report.get(f"xquad-{language}")
            if not m:
                continue
            rows.append((
                strategy, language, m["questions"], f"{m['answer_contains_gold']:.3f}", f"{m['exact_match']:.3f}",
                f"{m['token_f1']:.3f}", f"{m['gold_paragraph_cited']:.3f}", f"{m['false_refusal']:.3f}",
                f"{m['latency_p50_s']:.2f}", f"{m['latency_p95_s']:.2f}",
            ))
    table(("strategy", "lang", "questions", "contains gold", "EM", "token F1", "gold ¶ cited", "false refusal",
           "p50 s", "p95 s"), rows, "XQuAD (held out) through the Answer RPC")
    rows = []
    for strategy, report in results.items():
        r, ues, uen = report.get("refusal", {}), report.get("unmentioned-es", {}), report.get("unmentioned-en", {})
        rows.append((
            strategy, r.get("unanswerable", 0), f"{r.get('declined', 0):.3f}", f"{r.get('false_refusal', 0):.3f}",
            f"{ues.get('declined', 0) * ues.get('unanswerable', 0):.0f}/{ues.get('unanswerable', 0)}",
            f"{uen.get('declined', 0) * uen.get('unanswerable', 0):.0f}/{uen.get('unanswerable', 0)}",
        ))
    table(("strategy", "SQuAD-es v2 unanswerable", "declined", "false refusal (its answerable)",
           "unmentioned es declined", "unmentioned en declined"), rows, "Refusal")
    if "extractive" in results and "reader" in results:
        base, new = results["extractive"], results["reader"]
        for language in ("es", "en"):
            b, n = base.get(f"xquad-{language}"), new.get(f"xquad-{language}")
            if b and n:
                print(f"{language}: reader/baseline answer-contains-gold "
                      f"{n['answer_contains_gold'] / max(b['answer_contains_gold'], 1e-9):.2f}x, "
                      f"latency p50 {n['latency_p50_s'] / max(b['latency_p50_s'], 1e-9):.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, help="platform directory to reuse (started if not running)")
    parser.add_argument("--keep", action="store_true", help="leave the --home platform running")
    parser.add_argument("--strategy", action="append", choices=COMPARED)
    parser.add_argument("--limit", type=int, default=0, help="questions per set (0: all)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the figures (JSON)")
    parser.add_argument("--dump", type=Path, help="also write every answer (JSON lines) here")
    parser.add_argument("--reader", type=Path,
                        help="a reader directory to serve instead of the shipped one (compare candidates)")
    args = parser.parse_args()
    strategies = args.strategy or ["extractive", "reader"]
    print(machine_summary(), flush=True)

    es_docs, es_questions = xquad_corpus("es")
    en_docs, en_questions = xquad_corpus("en")
    refusal_docs, refusal_questions = refusal_corpus()
    questions = [
        *sample(es_questions, args.limit), *sample(en_questions, args.limit),
        *sample([q for q in refusal_questions if not q.answerable], args.limit),
        *sample([q for q in refusal_questions if q.answerable], args.limit // 2 if args.limit else 0),
        *unmentioned_questions(),
    ]
    corpora = {"xquad-es": es_docs, "xquad-en": en_docs, REFUSAL_DEPARTMENT: refusal_docs}
    env = {"SENTRA_INFERENCE_READER__PATH": str(args.reader.resolve())} if args.reader else {}

    async def run(platform: Platform) -> dict:
        documents = await index_corpus(platform, corpora)
        results = {}
        dump = args.dump.open("w") if args.dump else None
        try:
            for strategy in strategies:
                started = time.perf_counter()
                outcomes = await ask_all(platform, questions, strategy, documents)
                print(f"{strategy}: {len(outcomes)} questions in {time.perf_counter() - started:.0f} s", flush=True)
                results[strategy] = evaluate(outcomes)
                for o in outcomes if dump else ():
                    dump.write(json.dumps({
                        "strategy": strategy, "set": o.question.set, "question": o.question.text,
                        "golds": o.question.golds, "article": o.question.article, "paragraph": o.question.paragraph,
                        "not_found": o.not_found, "direct": o.direct, "quotes": o.quotes[:2], "cited": o.cited,
                        "seconds": round(o.seconds, 3),
                    }, ensure_ascii=False) + "\n")
        finally:
            if dump:
                dump.close()
        return results

    if args.home:
        platform = Platform(args.home, identity="development", extra_env=env)
        platform.up(timeout=300)
        try:
            results = asyncio.run(run(platform))
        finally:
            if not args.keep:
                platform.down()
    else:
        with temporary_platform(env, prefix="sentra-heldout-") as platform:
            results = asyncio.run(run(platform))
    print_report(results)
    write_results("answers_heldout", {
        "limit_per_set": args.limit, "strategies": strategies, "departments": sorted(corpora),
        "reader": str(args.reader) if args.reader else "shipped (sentra_inference/assets/reader)",
        "corpus_documents": {k: len(v) for k, v in corpora.items()},
        "questions": {name: sum(q.set == name for q in questions) for name in sorted({q.set for q in questions})},
        "metric_scope": "direct answer + first two citation quotes; EM/F1 on the direct answer "
                        "(extractive has none: its quoted sentences)",
    }, results, args.out)


if __name__ == "__main__":
    main()
