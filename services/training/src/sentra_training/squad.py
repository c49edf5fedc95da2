"""SQuAD-format reading-comprehension data, with XQuAD held out.

XQuAD (`xquad.{es,en}.json`) is Sentra's held-out evaluation set and SQuAD-es is a machine
translation of the SQuAD dev set that XQuAD was taken from, so the same paragraphs and
questions appear in both. Before anything is trained or calibrated on SQuAD-es:

1. every paragraph that holds an XQuAD question id is dropped, and
2. every paragraph whose text is a near copy (word-set Jaccard ≥ 0.5) of an XQuAD paragraph
   or of a paragraph dropped by rule 1 is dropped too (catches a paragraph whose XQuAD
   questions were all filtered out of the "small" files but which kept other questions).

What remains is split by article (deterministically, by a hash of the title) into:

- ``train``: fits the reader's weights;
- ``calibration``: fits the reader's combiner (a logistic regression over 12 features) and
  its answerability threshold, and chose the training settings; never the network's weights;
- ``refusal_eval``: never used for fitting; `bench/answers_heldout.py` indexes these
  paragraphs and asks their unanswerable questions.

SQuAD-es v2.0's answerable questions are the v1.1 questions (same ids, same text), so
answerable questions come from v1.1 and unanswerable ones from v2.0, joined by paragraph.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sentra_common.shared_files import shared_dir

DEFAULT_EVAL_DIR = shared_dir() / "eval"
XQUAD_FILES = ("xquad.es.json", "xquad.en.json")
SQUAD_ES_V1 = "squad-es-dev-v1.1-small.json"
SQUAD_ES_V2 = "squad-es-dev-v2.0-small.json"
NEAR_COPY_JACCARD = 0.5
# Articles of SQuAD-es v2.0 (35) set aside, in hash order: refusal evaluation first, then calibration.
REFUSAL_EVAL_ARTICLES = 7
CALIBRATION_ARTICLES = 5
_SPLIT_SALT = "sentra-reader-split-1"
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class GoldAnswer:
    text: str
    start: int


@dataclass(frozen=True)
class QA:
    id: str
    question: str
    answers: tuple[GoldAnswer, ...]
    impossible: bool = False


@dataclass
class Paragraph:
    article: str
    index: int
    context: str
    questions: list[QA] = field(default_factory=list)


@dataclass
class Splits:
    train: list[Paragraph]
    calibration: list[Paragraph]
    refusal_eval: list[Paragraph]
    dropped_paragraphs: int

    def summary(self) -> dict[str, dict[str, int]]:
        out = {}
        for name in ("train", "calibration", "refusal_eval"):
            paragraphs = getattr(self, name)
            questions = [q for p in paragraphs for q in p.questions]
            out[name] = {
                "articles": len({p.article for p in paragraphs}),
                "paragraphs": len(paragraphs),
                "answerable": sum(not q.impossible for q in questions),
                "unanswerable": sum(q.impossible for q in questions),
            }
        return out


def article_title(raw: str) -> str:
    """SQuAD-es titles keep Wikipedia's underscores as " _ "."""
    return " ".join(raw.replace("_", " ").split())


def load_paragraphs(path: Path) -> list[Paragraph]:
    """Every paragraph of a SQuAD v1.1/v2.0 JSON file, in file order."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8-sig"))["data"]
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{path} is missing: the evaluation data lives in ../shared/eval (see its README)"
        ) from None
    paragraphs = []
    for article in data:
        title = article_title(article["title"])
        for index, raw in enumerate(article["paragraphs"]):
            context = raw["context"].lstrip("\ufeff")
            shift = len(raw["context"]) - len(context)  # answer offsets count the byte-order mark
            questions = []
            for q in raw["qas"]:
                # The translated files keep a slot for every annotator; an answer that could not
                # be aligned in the translation is empty with start -1.
                answers = tuple(
                    GoldAnswer(a["text"], a["answer_start"] - shift)
                    for a in q.get("answers", []) if a["text"].strip() and a["answer_start"] >= 0
                )
                impossible = bool(q.get("is_impossible", False))
                if answers or impossible:
                    questions.append(QA(q["id"], q["question"].strip(), answers, impossible))
            paragraphs.append(Paragraph(title, index, context, questions))
    return paragraphs


def words(text: str) -> frozenset[str]:
    return frozenset(_WORD.findall(text.casefold()))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def xquad_ids(eval_dir: Path) -> set[str]:
    return {q.id for name in XQUAD_FILES for p in load_paragraphs(Path(eval_dir) / name) for q in p.questions}


def drop_held_out(
    paragraphs: Iterable[Paragraph], held_ids: set[str], held_contexts: Iterable[str],
) -> tuple[list[Paragraph], list[Paragraph]]:
    """(kept, dropped) under the two rules of the module docstring."""
    paragraphs = list(paragraphs)
    dropped = [p for p in paragraphs if any(q.id in held_ids for q in p.questions)]
    near = [words(c) for c in held_contexts] + [words(p.context) for p in dropped]
    kept = []
    for p in paragraphs:
        if any(q.id in held_ids for q in p.questions):
            continue
        own = words(p.context)
        if any(jaccard(own, other) >= NEAR_COPY_JACCARD for other in near):
            dropped.append(p)
        else:
            kept.append(p)
    return kept, dropped


def _rank(title: str) -> str:
    return hashlib.sha256(f"{_SPLIT_SALT}:{title}".encode()).hexdigest()


def squad_es_splits(eval_dir: Path = DEFAULT_EVAL_DIR) -> Splits:
    """SQuAD-es (v1.1 answerable + v2.0 unanswerable questions), XQuAD removed, split by article."""
    eval_dir = Path(eval_dir)
    held_ids = xquad_ids(eval_dir)
    held_contexts = [p.context for p in load_paragraphs(eval_dir / "xquad.es.json")]
    v1 = load_paragraphs(eval_dir / SQUAD_ES_V1)
    v2 = load_paragraphs(eval_dir / SQUAD_ES_V2)
    # One paragraph per context: v1.1's answerable questions plus v2.0's unanswerable ones.
    merged: dict[tuple[str, str], Paragraph] = {}
    for p in v1:
        merged[(p.article, p.context)] = Paragraph(p.article, p.index, p.context, [q for q in p.questions])
    for p in v2:
        target = merged.setdefault((p.article, p.context), Paragraph(p.article, p.index, p.context, []))
        known = {q.id for q in target.questions}
        target.questions.extend(q for q in p.questions if q.impossible or q.id not in known)
    kept, dropped = drop_held_out(merged.values(), held_ids, held_contexts)
    v2_titles = sorted({p.article for p in v2}, key=_rank)
    refusal = set(v2_titles[:REFUSAL_EVAL_ARTICLES])
    calibration = set(v2_titles[REFUSAL_EVAL_ARTICLES : REFUSAL_EVAL_ARTICLES + CALIBRATION_ARTICLES])
    return Splits(
        train=[p for p in kept if p.article not in refusal | calibration],
        calibration=[p for p in kept if p.article in calibration],
        refusal_eval=[p for p in kept if p.article in refusal],
        dropped_paragraphs=len(dropped),
    )
