"""Which answer strategy is better on the example corpus: the reader, extractive or generative?

Runs the example corpus's questions (`examples/questions.json`) through the Answer RPC
with each strategy, each question asked by a member of its department, and reports:

- token F1 of the answer against the required facts (SQuAD-style: casefolded, accents
  and punctuation removed, bag of tokens),
- the share of required facts present in the answer,
- whether a citation points at the expected document,
- "not in the documents" for the unanswerable questions (and wrongly, for answerable ones).

    python bench/answer_quality.py            # a throw-away platform with the corpus
    python bench/answer_quality.py --home .sentra-eval --keep   # reuse it next time
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time
import unicodedata
from collections import Counter
from pathlib import Path

from benchlib import ROOT, table, temporary_platform, test_support
from sentra.inference.v1 import inference_pb2
from sentra_cli.platform import Platform
from sentra_common.api_names import STRATEGIES
from sentra_common.principal import Principal

QUESTIONS = ROOT / "examples" / "questions.json"


def _norm_tokens(text: str) -> list[str]:
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    return re.findall(r"\w+", text)


def token_f1(prediction: str, reference: str) -> float:
    pred, ref = _norm_tokens(_plain_numbers(prediction)), _norm_tokens(_plain_numbers(reference))
    common = sum((Counter(pred) & Counter(ref)).values())
    if not pred or not ref or common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def _plain_numbers(text: str) -> str:
    """41.000 / 41,000 / 41000 are the same number."""
    return re.sub(r"(?<=\d)[.,](?=\d{3}\b)", "", text)


def fact_present(fact: str, answer: str) -> bool:
    wanted = " ".join(_norm_tokens(_plain_numbers(fact)))
    return f" {wanted} " in f" {' '.join(_norm_tokens(_plain_numbers(answer)))} "


async def evaluate(platform: Platform, strategies: list[str], verbose: bool) -> dict[str, dict[str, float]]:
    support = test_support()
    admin = support.Api(platform)
    questions = json.loads(QUESTIONS.read_text())
    listing = await admin.ingestion.ListDocuments(support.ingestion_pb2.ListDocumentsRequest(page_size=1000))
    if not listing.documents:
        ids = await admin.upload_corpus()
        started = time.perf_counter()
        await admin.wait_settled(ids.values())
        print(f"corpus indexed in {time.perf_counter() - started:.0f} s", flush=True)
        listing = await admin.ingestion.ListDocuments(support.ingestion_pb2.ListDocumentsRequest(page_size=1000))
    files = {d.document_id: d.source_uri.removeprefix("example:") for d in listing.documents}
    await admin.close()

    results: dict[str, dict[str, float]] = {}
    for strategy in strategies:
        f1s, facts, cited, unanswered_ok, false_nf, tokens, seconds = [], [], [], [], 0, 0, 0.0
        for q in questions:
            member = Principal(subject=f"eval-{q['department']}", departments=(q["department"],), roles=("member",))
            api = support.Api(platform, member)
            started = time.perf_counter()
            reply = await api.inference.Answer(inference_pb2.AnswerRequest(
                question=q["question"], strategy=STRATEGIES[strategy],
            ))
            seconds += time.perf_counter() - started
            tokens += reply.completion_tokens
            await api.close()
            if not q["answer_facts"]:
                unanswered_ok.append(reply.not_found)
                if verbose:
                    print(f"  {q['id']} not_found={reply.not_found} {reply.answer[:100]!r}")
                continue
            false_nf += reply.not_found
            reference = " ".join(q["answer_facts"])
            f1s.append(token_f1(reply.answer, reference))
            facts.append(sum(fact_present(f, reply.answer) for f in q["answer_facts"]) / len(q["answer_facts"]))
            cited.append(any(files.get(c.document_id) == q["expected_file"] for c in reply.citations))
            if verbose:
                print(f"  {q['id']} facts={facts[-1]:.1f} f1={f1s[-1]:.2f} cited={cited[-1]} {reply.answer[:160]!r}")
        results[strategy] = {
            "token_f1": sum(f1s) / len(f1s),
            "facts": sum(facts) / len(facts),
            "cited_expected": sum(cited) / len(cited),
            "unanswerable_refused": sum(unanswered_ok) / max(1, len(unanswered_ok)),
            "answerable_refused": false_nf / len(f1s),
            "seconds_per_question": seconds / len(questions),
            "tokens": tokens,
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, help="platform directory to reuse (started if not running)")
    parser.add_argument("--keep", action="store_true", help="leave the --home platform running")
    parser.add_argument("--strategy", action="append", choices=sorted(STRATEGIES))
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    strategies = args.strategy or sorted(STRATEGIES)

    async def run(platform: Platform) -> None:
        results = await evaluate(platform, strategies, args.verbose)
        rows = [
            (name, f"{r['token_f1']:.3f}", f"{r['facts']:.3f}", f"{r['cited_expected']:.2f}",
             f"{r['unanswerable_refused']:.2f}", f"{r['answerable_refused']:.2f}", f"{r['seconds_per_question']:.2f}")
            for name, r in results.items()
        ]
        table(("strategy", "token F1", "facts", "cites expected doc", "unanswerable → not found",
               "answerable → not found", "s/question"), rows, "Answer quality on examples/questions.json")
        if "extractive" in results:
            base = results["extractive"]
            for name in [n for n in results if n != "extractive"]:
                r = results[name]
                print(f"{name}/extractive: token F1 ratio {r['token_f1'] / max(base['token_f1'], 1e-9):.2f}, "
                      f"facts ratio {r['facts'] / max(base['facts'], 1e-9):.2f}")

    if args.home:
        platform = Platform(args.home, identity="development")
        platform.up(timeout=300)
        try:
            asyncio.run(run(platform))
        finally:
            if not args.keep:
                platform.down()
    else:
        with temporary_platform(prefix="sentra-answers-") as platform:
            asyncio.run(run(platform))


if __name__ == "__main__":
    main()
