"""Train, calibrate and evaluate Sentra's reader.

    python -m sentra_training.reader train --out services/inference/src/sentra_inference/assets/reader
    python -m sentra_training.reader calibrate --reader DIR      # refit the combiner and threshold only
    python -m sentra_training.reader evaluate --reader DIR [--split refusal_eval]   # figures

Data: SQuAD-es from ../shared/eval with XQuAD held out (see `sentra_training.squad`).
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import torch
from sentra_common.reader.model import ReaderConfig, build_model, save_model
from sentra_common.reader.runtime import Reader

from sentra_training.reader.calibration import (
    fit_combiner,
    fit_threshold,
    foreign_questions,
    read_split,
    rescore,
    summarize,
)
from sentra_training.reader.features import label_items, training_examples
from sentra_training.reader.train import TrainSettings, train
from sentra_training.squad import DEFAULT_EVAL_DIR, NEAR_COPY_JACCARD, squad_es_splits

logger = logging.getLogger("sentra_training.reader")
DEFAULT_TARGET_FALSE_REFUSAL = 0.03


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def calibrate(directory: Path, eval_dir: Path, target: float, top_k: int, limit: int = 0, foreign: int = 150) -> dict:
    """Fit the combiner and the threshold of the reader in `directory` on the calibration
    split; returns the figures (also with the cross-encoder alone, for comparison)."""
    splits = squad_es_splits(eval_dir)
    config = ReaderConfig.load(directory)
    config.combiner = None
    config.save(directory)
    reader = Reader.load(directory)
    started = time.perf_counter()
    asked = read_split(reader, splits.calibration, top_k=top_k, limit=limit,
                       foreign=foreign_questions(splits.train, foreign),
                       progress=lambda n, total: _say(f"  calibration: {n}/{total} questions read"))
    seconds = (time.perf_counter() - started) / max(1, len(asked))
    alone = summarize(asked, fit_threshold(asked, target))
    combiner = fit_combiner(asked)
    rescore(asked, combiner)
    threshold = fit_threshold(asked, target)
    figures = summarize(asked, threshold) | {
        "target_false_refusal": target, "top_k": top_k, "seconds_per_question": round(seconds, 4),
        "foreign_questions": foreign,
        "cross_encoder_alone": alone,
    }
    config.combiner = combiner.to_dict()
    config.threshold = threshold
    config.provenance["calibration"] = figures
    config.save(directory)
    return figures


def command_train(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    splits = squad_es_splits(args.eval_dir)
    config = ReaderConfig(lora_rank=args.rank, lora_alpha=2 * args.rank, max_length=args.max_length)
    settings = TrainSettings(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
                             seed=args.seed)
    model, tokenizer = build_model(config, seed=args.seed)
    examples = training_examples(splits.train, negatives=args.negatives, other_paragraph=args.other_paragraph,
                                 seed=args.seed)
    if args.max_examples:
        examples = examples[:: max(1, len(examples) // args.max_examples)][: args.max_examples]
    items = label_items(tokenizer, config, examples)
    positives = sum(item.label for item in items)
    _say(f"training on {len(items)} question–sentence pairs ({positives} answer); "
         f"{settings.epochs} epochs of batch {settings.batch_size}")
    started = time.perf_counter()
    history = train(model, items, tokenizer.pad_token_id, settings, on_progress=lambda p: _say(
        f"  step {p.step}/{p.steps} loss {p.loss:.3f} {p.items_per_second:.1f} pairs/s "
        f"ETA {p.eta_seconds / 60:.0f} min"))
    seconds = time.perf_counter() - started
    config.provenance = {
        "command": " ".join(["python -m sentra_training.reader", *sys.argv[1:]]),
        "commit": _commit(),
        "data": {
            "source": "SQuAD-es dev v1.1 small (answerable) + v2.0 small (unanswerable), ../shared/eval",
            "held_out": f"paragraphs holding an XQuAD question id, and near copies (word Jaccard ≥ "
                        f"{NEAR_COPY_JACCARD}) of XQuAD or dropped paragraphs: {splits.dropped_paragraphs} dropped",
            "splits": splits.summary(),
            "training_pairs": len(items), "answering_pairs": positives,
            "negatives_per_question": args.negatives, "other_paragraph_share": args.other_paragraph,
        },
        "training": settings.as_dict() | {
            "lora_rank": config.lora_rank, "lora_alpha": config.lora_alpha, "seconds": round(seconds),
            "final_loss": round(history[-1].loss, 4) if history else None, "threads": args.threads,
        },
    }
    save_model(model, config, args.out)
    _say(f"trained in {seconds / 60:.1f} min; calibrating on {len(splits.calibration)} held-out paragraphs")
    figures = calibrate(args.out, args.eval_dir, args.target_false_refusal, args.top_k, args.calibration_limit)
    print(json.dumps(figures, indent=2))


def command_calibrate(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    print(json.dumps(calibrate(args.reader, args.eval_dir, args.target_false_refusal, args.top_k,
                               args.calibration_limit), indent=2))


def command_evaluate(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    reader = Reader.load(args.reader)
    splits = squad_es_splits(args.eval_dir)
    asked = read_split(reader, getattr(splits, args.split), top_k=args.top_k, limit=args.calibration_limit)
    figures = summarize(asked, reader.threshold)
    if args.curve:
        # What other thresholds would trade: refusals of unanswerable questions against
        # false refusals of answerable ones (a threshold per share of false refusals).
        figures["curve"] = [summarize(asked, fit_threshold(asked, share)) | {"target_false_refusal": share}
                            for share in (0.01, 0.03, 0.05, 0.10, 0.20, 0.30, 0.50)]
    print(json.dumps(figures, indent=2))


def command_compare_gemma(args: argparse.Namespace) -> None:
    """Train the Gemma LoRA reader candidate and compare it with a MiniLM reader on the same
    calibration questions and passages (BM25 top 3)."""
    from sentra_training.reader import gemma

    torch.set_num_threads(args.threads)
    splits = squad_es_splits(args.eval_dir)
    train_examples = gemma.examples(splits.train, args.examples, seed=args.seed)
    _say(f"Gemma reader: {len(train_examples)} training examples")
    seconds = gemma.train(
        args.base_model, args.out, train_examples, epochs=args.epochs,
        progress=lambda s, t, loss, elapsed: _say(f"  step {s}/{t} loss {loss:.3f} {elapsed / s:.1f} s/step"),
    )
    questions = [(i, q) for i, p in enumerate(splits.calibration) for q in p.questions]
    questions = questions[:: max(1, len(questions) // args.questions)][: args.questions]
    candidate = gemma.evaluate(args.base_model, args.out, splits.calibration, questions)
    baseline = gemma.evaluate_minilm(Reader.load(args.reader), splits.calibration, questions)
    print(json.dumps({
        "gemma_lora": gemma.figures(candidate) | {"training_examples": len(train_examples),
                                                  "training_seconds": round(seconds)},
        "minilm_reader": gemma.figures(baseline),
    }, indent=2))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sentra_training.reader", description=__doc__.split("\n\n")[0])
    parser.add_argument("--eval-dir", type=Path, default=DEFAULT_EVAL_DIR, help="SQuAD-es and XQuAD files")
    parser.add_argument("--threads", type=int, default=max(1, torch.get_num_threads()))
    parser.add_argument("--top-k", type=int, default=6, help="passages read per question in calibration")
    parser.add_argument("--target-false-refusal", type=float, default=DEFAULT_TARGET_FALSE_REFUSAL,
                        help="share of answerable calibration questions the threshold may refuse")
    parser.add_argument("--calibration-limit", type=int, default=0, help="read only this many questions (0: all)")
    commands = parser.add_subparsers(dest="command", required=True)
    t = commands.add_parser("train", help="train a reader and calibrate it")
    t.add_argument("--out", type=Path, required=True, help="artifact directory to write")
    t.add_argument("--epochs", type=float, default=3.0)
    t.add_argument("--batch-size", type=int, default=32)
    t.add_argument("--learning-rate", type=float, default=2e-4)
    t.add_argument("--rank", type=int, default=0,
                   help="0: fine-tune the transformer layers in full; else LoRA of this rank (alpha = 2 × rank)")
    t.add_argument("--negatives", type=int, default=3, help="same-paragraph negative sentences per question")
    t.add_argument("--other-paragraph", type=float, default=1.0,
                   help="share of answerable questions that also get a negative from another paragraph")
    t.add_argument("--max-length", type=int, default=160, help="tokens of question + sentence")
    t.add_argument("--seed", type=int, default=13)
    t.add_argument("--max-examples", type=int, default=0, help="train on an even sample of N pairs (0: all)")
    t.set_defaults(func=command_train)
    for name, func, text in (("calibrate", command_calibrate, "refit the combiner and the threshold"),
                             ("evaluate", command_evaluate, "figures on a SQuAD-es split")):
        c = commands.add_parser(name, help=text)
        c.add_argument("--reader", type=Path, required=True, help="artifact directory")
        if name == "evaluate":
            c.add_argument("--split", choices=("calibration", "refusal_eval"), default="calibration")
            c.add_argument("--curve", action="store_true",
                           help="also the figures at the thresholds of 1-50 %% false refusals")
        c.set_defaults(func=func)
    g = commands.add_parser("compare-gemma", help="train the Gemma LoRA reader candidate and compare it")
    g.add_argument("--out", type=Path, required=True, help="adapter directory to write")
    g.add_argument("--reader", type=Path, required=True, help="the MiniLM reader to compare with")
    g.add_argument("--base-model", type=Path, default=Path("~/.cache/sentra/models/gemma-3-270m").expanduser())
    g.add_argument("--examples", type=int, default=1200)
    g.add_argument("--epochs", type=float, default=1.0)
    g.add_argument("--questions", type=int, default=200, help="calibration questions compared")
    g.add_argument("--seed", type=int, default=13)
    g.set_defaults(func=command_compare_gemma)
    args = parser.parse_args(argv)
    if not 0 <= args.target_false_refusal < 1:
        parser.error("--target-false-refusal must be in [0, 1)")
    logging.basicConfig(level=logging.WARNING)
    args.func(args)


if __name__ == "__main__":
    main()
