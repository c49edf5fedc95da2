"""Does a department's adapter learn its facts? Facts the base model cannot know (invented:
door codes, people in charge, phone extensions, delivery days of one department's
places), trained into an adapter through the training service, then asked in words the
training never used.

    python bench/facts.py [--epochs 10] [--learning-rate 3e-4] [--rank 16] [--general-text 0.5]

1. 40 facts (10 places × 4 kinds), each written as an answer and asked three ways for
   training (120 examples, `bench/data/facts.json`, deterministic) and a fourth way, held
   out, for the test.
2. A job through the training service of a temporary platform (StartTrainingJob over
   gRPC, its own process and Ray runtime; nothing held out by the service: the held-out
   set here is the fourth phrasing).
3. The base model and the job's adapter answer the 40 held-out questions (greedy,
   `sentra_training.lora.evaluate`): facts correct = the answer contains the fact's value;
   also token F1 and the perplexity of the general regression set's paragraphs (does it
   still read Spanish as well as before?).

Aim (issue 13): facts correct on the held-out questions ≥ 30 points above the base model.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from pathlib import Path

from benchlib import ROOT, machine_summary, table, write_results

FACTS_FILE = ROOT / "bench" / "data" / "facts.json"
PLACES = ["el almacén de Cariñena", "la sala Moncayo", "el muelle 3 de Plaza", "el taller de Tarazona",
          "la oficina de Calatayud", "el laboratorio de calidad", "la cámara frigorífica B", "el archivo de Borja",
          "la nave de Alagón", "el centro de Utebo"]
PEOPLE = ["Rosa Lacasa", "Javier Orús", "Pilar Gimeno", "Tomás Aznar", "Elena Bielsa", "Marcos Lasheras",
          "Nuria Sancho", "Jorge Ballarín", "Inés Lafuente", "Óscar Bescós"]
DAYS = ["lunes", "martes", "miércoles", "jueves", "viernes"]
# kind → (answer, three training questions, the held-out question)
KINDS = {
    "code": ("El código de acceso de {p} es {v}.",
             ["¿Cuál es el código de acceso de {p}?", "Dime el código de acceso de {p}.", "¿Qué código abre {p}?"],
             "Tengo que entrar en {p}: ¿qué código marco en la puerta?"),
    "person": ("El responsable de {p} es {v}.",
               ["¿Quién es el responsable de {p}?", "¿Quién se encarga de {p}?", "Nombre del responsable de {p}."],
               "¿A quién tengo que preguntar por {p}?"),
    "extension": ("La extensión telefónica de {p} es la {v}.",
                  ["¿Qué extensión tiene {p}?", "¿Cuál es la extensión telefónica de {p}?", "Extensión de {p}."],
                  "¿A qué extensión llamo para hablar con {p}?"),
    "delivery": ("El reparto en {p} se hace los {v}.",
                 ["¿Qué día se reparte en {p}?", "¿Cuándo se hace el reparto en {p}?", "Día de reparto de {p}."],
                 "¿Qué día de la semana llega la mercancía a {p}?"),
}


def build_facts(seed: int = 13) -> dict:
    rng = random.Random(seed)
    train, test = [], []
    for place in PLACES:
        values = {"code": f"{rng.randint(1000, 9999)}", "person": rng.choice(PEOPLE),
                  "extension": f"{rng.randint(200, 899)}", "delivery": rng.choice(DAYS)}
        for kind, (answer, asked, held_out) in KINDS.items():
            text = answer.format(p=place, v=values[kind])
            train += [{"instruction": q.format(p=place), "output": text} for q in asked]
            test.append({"instruction": held_out.format(p=place), "output": text, "value": values[kind]})
    return {"train": train, "test": test}


def train_through_service(train_file: Path, settings: dict) -> tuple[Path, dict, Path]:
    """(the adapter's directory, the job's figures, the platform's data dir kept until the
    evaluation is done: the caller removes nothing, the platform is stopped)."""
    from benchlib import temporary_platform, training_job
    from sentra.training.v1 import training_pb2
    from sentra_common.principal import Principal

    env = {"SENTRA_TRAINING_PROMOTION__MIN_EXAMPLES_FOR_TEST": "1000000"}
    trainer = Principal("bench", departments=("operaciones",), roles=("trainer",))

    shown = {"step": -1}

    def progress(job) -> None:
        if job.step // 20 != shown["step"] // 20:
            print(f"  step {job.step}/{job.total_steps}, loss {job.loss:.3f}", flush=True)
            shown["step"] = job.step

    async def run(platform):
        job, wall = await training_job(platform, trainer, training_pb2.StartTrainingJobRequest(
            department="operaciones", adapter_name="operaciones", dataset_jsonl=train_file.read_bytes(),
            dataset_filename=train_file.name, settings=training_pb2.TrainingSettings(**settings)), progress)
        if job.state != training_pb2.JOB_STATE_SUCCEEDED:
            raise SystemExit(f"the job ended {job.state}: {job.failure_reason}")
        return job, wall

    import shutil
    import tempfile

    keep = Path(tempfile.mkdtemp(prefix="sentra-bench-facts-adapter-"))
    with temporary_platform(env, prefix="sentra-bench-facts-") as platform:
        job, wall = asyncio.run(run(platform))
        stored = platform.adapter_root / "operaciones" / job.artifact_path
        shutil.copytree(stored, keep / "adapter")
    figures = {"steps": job.step, "final_loss": job.loss, "tokens_per_s": job.tokens_per_second,
               "train_s": job.metrics["train_seconds"], "wall_s": wall}
    return keep / "adapter", figures, keep


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--learning-rate", type=float, default=3e-4)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--general-text", type=float, default=None,
                        help="general paragraphs mixed in per example (default: the service's, 0.5; 0: none)")
    args = parser.parse_args()
    import shutil
    import tempfile

    from sentra_cli.platform import base_model_dir
    from sentra_training.lora.data import Example
    from sentra_training.lora.evaluate import evaluate

    print(machine_summary())
    facts = build_facts()
    FACTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    FACTS_FILE.write_text(json.dumps(facts, ensure_ascii=False, indent=1) + "\n")
    settings = {"epochs": args.epochs, "learning_rate": args.learning_rate, "lora_rank": args.rank,
                "lora_alpha": 2 * args.rank, "batch_size": args.batch_size, "max_seq_length": 128,
                "checkpoint_every": 1000}
    if args.general_text is not None:
        settings["general_text_ratio"] = args.general_text
    with tempfile.TemporaryDirectory(prefix="sentra-bench-facts-") as tmp:
        train_file = Path(tmp) / "facts.jsonl"
        train_file.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in facts["train"]))
        print(f"training on {len(facts['train'])} examples through the training service...", flush=True)
        adapter, figures, keep = train_through_service(train_file, settings)
        try:
            test = [Example(r["instruction"], r["value"]) for r in facts["test"]]
            started = time.perf_counter()
            scores = evaluate(base_model_dir(), adapter, test, threads=args.threads, max_new_tokens=32)
            eval_s = time.perf_counter() - started
        finally:
            shutil.rmtree(keep, ignore_errors=True)
    base, tuned = scores["base"], scores["candidate"]
    gain = (tuned["contains"] - base["contains"]) * 100
    table(("model", "facts correct (held-out phrasing)", "token F1", "regression perplexity"),
          [(name, f"{s['contains']:.3f}", f"{s['token_f1']:.3f}", f"{s['regression_perplexity']:.2f}")
           for name, s in (("base", base), ("adapter", tuned))],
          f"{len(test)} held-out questions; training {figures['steps']} steps in {figures['train_s']:.0f} s "
          f"({figures['tokens_per_s']:.0f} tokens/s), evaluation {eval_s:.0f} s")
    print(f"facts correct: +{gain:.1f} points (aim ≥ 30): {'MET' if gain >= 30 else 'NOT MET'}")
    write_results("facts", {**vars(args), "train_examples": len(facts["train"]), "test_questions": len(test)},
                  {"base": base, "adapter": tuned, "gain_points": gain, "training": figures, "eval_s": eval_s})


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "bench"))
    main()
