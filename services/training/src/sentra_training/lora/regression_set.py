"""Writes the regression set that `evaluate` scores every candidate adapter on
(`regression.jsonl` beside this module): 30 answerable SQuAD-es questions with their
paragraph, one per article, from the reader's `train` split — XQuAD's paragraphs (and their
near copies) removed, and none of the articles the reader is calibrated or evaluated on.
SQuAD-es: CC BY 4.0 (Carrino et al., 2019).

    python -m sentra_training.lora.regression_set [--eval-dir ../shared/eval]
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

from sentra_training.lora.evaluate import REGRESSION_FILE
from sentra_training.squad import DEFAULT_EVAL_DIR, squad_es_splits

SIZE = 30
MAX_CONTEXT_CHARS = 700


def build(eval_dir: Path) -> list[dict]:
    by_article: dict[str, list] = {}
    for paragraph in squad_es_splits(eval_dir).train:
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
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--eval-dir", type=Path, default=DEFAULT_EVAL_DIR)
    args = parser.parse_args()
    rows = build(args.eval_dir)
    REGRESSION_FILE.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"wrote {len(rows)} examples to {REGRESSION_FILE}")


if __name__ == "__main__":
    main()
