"""Writes the two general-language sets shipped beside this module, both from SQuAD-es with
XQuAD's paragraphs (and their near copies) removed (`sentra_training.squad`):

- `regression.jsonl`, what `evaluate` scores every candidate adapter on: 30 answerable
  questions with their paragraph, one per article of the reader's `train` split (none of
  the articles the reader is calibrated or evaluated on);
- `general_text.jsonl`, the plain paragraphs a job mixes into its training examples
  (`LoraJobConfig.general_text_ratio`) so an adapter keeps reading the language: every
  paragraph of the `train` articles the regression set does not use and of the
  `calibration` articles — no article of the regression set, so what is measured is not
  what was rehearsed.

SQuAD-es: CC BY 4.0 (Carrino et al., 2019).

    python -m sentra_training.lora.regression_set [--eval-dir ../shared/eval]
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

from sentra_training.lora.data import GENERAL_TEXT_FILE
from sentra_training.lora.evaluate import REGRESSION_FILE
from sentra_training.squad import DEFAULT_EVAL_DIR, squad_es_splits

SIZE = 30
MAX_CONTEXT_CHARS = 700


def build(eval_dir: Path) -> tuple[list[dict], list[dict]]:
    """(the regression set's rows, the general text's rows)."""
    splits = squad_es_splits(eval_dir)
    by_article: dict[str, list] = {}
    for paragraph in splits.train:
        if len(paragraph.context) <= MAX_CONTEXT_CHARS:
            by_article.setdefault(paragraph.article, []).append(paragraph)
    chosen = sorted(by_article, key=lambda t: hashlib.sha256(f"sentra-regression:{t}".encode()).hexdigest())
    rows = []
    for article in chosen:
        paragraph = by_article[article][0]
        answerable = [q for q in paragraph.questions if not q.impossible and q.answers]
        if not answerable:
            continue
        qa = answerable[0]
        rows.append({"instruction": f"{paragraph.context}\n\nPregunta: {qa.question}", "output": qa.answers[0].text})
        if len(rows) == SIZE:
            break
    used = {r["instruction"].split("\n\nPregunta: ")[0] for r in rows}
    regression_articles = {p.article for p in splits.train if p.context in used}
    general = [{"text": p.context} for p in [*splits.train, *splits.calibration]
               if p.article not in regression_articles]
    return rows, general


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--eval-dir", type=Path, default=DEFAULT_EVAL_DIR)
    args = parser.parse_args()
    rows, general = build(args.eval_dir)
    for path, lines in ((REGRESSION_FILE, rows), (GENERAL_TEXT_FILE, general)):
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lines), encoding="utf-8")
        print(f"wrote {len(lines)} lines to {path}")


if __name__ == "__main__":
    main()
