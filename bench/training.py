"""LoRA training throughput: a job on Ray Train (TorchTrainer running Sentra's loop in a
worker process, checkpoints through ray.train.report) against a plain PEFT loop in this
process, on the same examples, base model, hyper-parameters and threads, in the same run.

    python bench/training.py [--examples 64] [--steps 12] [--threads 2] [--two-workers] [--service]

Examples: question–answer pairs from the example corpus's questions (`examples/`), as
JSONL in the instruction format. The plain loop is written here, apart from Sentra's
(same batches: the seed's order; same padding to the longest of a batch). Tokens/s
count the non-padding tokens of the batches over the steps' time; the Ray figure is the
job's own (its worker's training time), and its wall time (Ray start, worker start,
model load) is printed beside it. Aim (issue 13): Ray ÷ plain ≥ 0.9 with one worker.

`--service`: the same job through the training service of a temporary platform
(StartTrainingJob over gRPC, the job's own process, its Ray runtime, progress polled until
SUCCEEDED; no examples held out for evaluation, so it trains on the same data). Its
tokens/s is the job's own; its wall time runs from the request to SUCCEEDED. Aim (issue
13): service ÷ plain ≥ 0.9.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from benchlib import ROOT, machine_summary, ratio, table, write_results

QUESTIONS = ROOT / "examples" / "questions.json"


def examples_file(path: Path, count: int) -> Path:
    items = [q for q in json.loads(QUESTIONS.read_text()) if q.get("answer_facts")]
    rows = []
    for i in range(count):
        q = items[i % len(items)]
        facts = "; ".join(q["answer_facts"])
        rows.append({"instruction": q["question"], "output": f"Según los documentos: {facts}."})
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    return path


def plain_loop(dataset: Path, base: Path, config, threads: int) -> dict:
    """A plain PEFT loop, written the way its documentation shows it."""
    import torch
    from peft import LoraConfig, get_peft_model
    from sentra_training.lora.data import read_jsonl, training_rows
    from sentra_training.lora.loop import batches, collate
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(threads)
    tokenizer = AutoTokenizer.from_pretrained(str(base))
    rows = training_rows(read_jsonl(dataset), tokenizer, config)
    torch.manual_seed(config.seed)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(str(base), dtype=torch.float32),
                           LoraConfig(r=config.rank, lora_alpha=config.alpha, lora_dropout=0.0,
                                      target_modules=list(config.target_modules), task_type="CAUSAL_LM"))
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=config.learning_rate)
    order = [b for epoch in range(config.epochs) for b in batches(rows, config, epoch)][: config.max_steps]
    tokens, started = 0, time.perf_counter()
    for batch in order:
        ids, mask, labels, _ = collate(batch, tokenizer.pad_token_id or 0)
        model(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        tokens += int(mask.sum())
    seconds = time.perf_counter() - started
    return {"steps": len(order), "tokens": tokens, "seconds": seconds, "tokens_per_s": tokens / seconds}


def ray_job(dataset: Path, base: Path, config, threads: int, workers: int, storage: Path,
            report_every: int = 0) -> dict:
    import ray
    from sentra_training.lora import ray_job as job

    started = time.perf_counter()
    result = job.run(config, dataset, base, storage, f"bench-{workers}w-{report_every}", workers=workers,
                     threads_per_worker=max(1, threads // workers), report_every=report_every)
    wall = time.perf_counter() - started
    ray.shutdown()
    m = result.progress
    return {"steps": m["step"], "tokens": m["tokens"], "seconds": m["elapsed_s"],
            "tokens_per_s": m["tokens_per_s"], "wall_s": wall}


def through_service(dataset: Path, config, threads: int) -> dict:
    import asyncio

    from benchlib import temporary_platform, training_job
    from sentra.training.v1 import training_pb2
    from sentra_common.principal import Principal

    env = {"SENTRA_TRAINING_THREADS_PER_WORKER": str(threads),
           # Nothing held out: the job trains on the same examples as the other paths.
           "SENTRA_TRAINING_PROMOTION__MIN_EXAMPLES_FOR_TEST": "1000000"}
    trainer = Principal("bench", departments=("bench",), roles=("trainer",))
    settings = training_pb2.TrainingSettings(
        epochs=config.epochs, learning_rate=config.learning_rate, lora_rank=config.rank, lora_alpha=config.alpha,
        max_seq_length=config.max_seq_length, batch_size=config.batch_size, max_steps=config.max_steps,
        checkpoint_every=config.checkpoint_every)

    async def run(platform) -> dict:
        job, wall = await training_job(platform, trainer, training_pb2.StartTrainingJobRequest(
            department="bench", adapter_name="bench", dataset_jsonl=dataset.read_bytes(),
            dataset_filename=dataset.name, settings=settings))
        if job.state != training_pb2.JOB_STATE_SUCCEEDED:
            raise SystemExit(f"the job through the service ended {job.state}: {job.failure_reason}")
        seconds = job.metrics["train_seconds"]
        return {"steps": job.step, "tokens": round(job.tokens_per_second * seconds), "seconds": seconds,
                "tokens_per_s": job.tokens_per_second, "wall_s": wall}

    with temporary_platform(env, prefix="sentra-bench-training-") as platform:
        return asyncio.run(run(platform))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=64)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--two-workers", action="store_true", help="also two Ray workers of threads/2 each")
    parser.add_argument("--report-every", type=int, default=0,
                        help="progress reports to Ray every N steps (0: at checkpoints only; each is a barrier)")
    parser.add_argument("--checkpoints", type=int, default=2, help="checkpoints during the run (the last at the end)")
    parser.add_argument("--service", action="store_true", help="also the same job through the training service")
    args = parser.parse_args()
    from sentra_cli.platform import base_model_dir
    from sentra_training.lora.config import LoraJobConfig

    print(machine_summary())
    base = base_model_dir()
    config = LoraJobConfig(epochs=10, max_steps=args.steps, checkpoint_every=max(1, args.steps // args.checkpoints),
                           max_seq_length=256, batch_size=4)
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="sentra-bench-training-") as tmp:
        dataset = examples_file(Path(tmp) / "train.jsonl", args.examples)
        results["plain_peft"] = plain_loop(dataset, base, config, args.threads)
        print(f"plain PEFT: {results['plain_peft']['tokens_per_s']:.1f} tokens/s", flush=True)
        results["ray_1_worker"] = ray_job(dataset, base, config, args.threads, 1, Path(tmp) / "ray",
                                          args.report_every)
        print(f"Ray, 1 worker: {results['ray_1_worker']['tokens_per_s']:.1f} tokens/s", flush=True)
        if args.two_workers:
            results["ray_2_workers"] = ray_job(dataset, base, config, args.threads, 2, Path(tmp) / "ray",
                                               args.report_every)
        if args.service:
            results["training_service"] = through_service(dataset, config, args.threads)
            print(f"training service: {results['training_service']['tokens_per_s']:.1f} tokens/s", flush=True)
    plain = results["plain_peft"]["tokens_per_s"]
    rows = [(name, r["steps"], r["tokens"], f"{r['seconds']:.1f}", f"{r['tokens_per_s']:.1f}",
             ratio(r["tokens_per_s"], plain), f"{r.get('wall_s', r['seconds']):.1f}") for name, r in results.items()]
    table(("path", "steps", "tokens", "train s", "tokens/s", "÷ plain", "wall s"), rows,
          f"LoRA rank {config.rank}, batch {config.batch_size}, {args.threads} threads in all")
    results["ray_over_plain"] = results["ray_1_worker"]["tokens_per_s"] / plain
    if args.service:
        results["service_over_plain"] = results["training_service"]["tokens_per_s"] / plain
    write_results("training", {**vars(args), "config": config.model_dump()}, results)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "bench"))
    main()
