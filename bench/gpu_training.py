"""The training service's GPU path on one GPU: plain LoRA in bfloat16, QLoRA (4-bit base)
and DeepSpeed ZeRO-2, each a real job on Ray Train (`lora.ray_job.run`, one GPU worker) on
the same examples, run in this process one after the other: tokens/s and peak GPU memory,
each as a ratio to the plain run.

    python bench/gpu_training.py [--steps 60] [--batch-size 8]

Needs a CUDA GPU and `pip install 'sentra[training-gpu]'` (bitsandbytes, DeepSpeed); on a
machine without one it says so and exits 2. The figures go to `bench/results/gpu_training.json`.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from benchlib import ROOT, machine_summary, ratio, table, write_results

VARIANTS = {
    "plain (bf16, DDP)": {"enabled": True},
    "QLoRA (4-bit NF4 base)": {"enabled": True, "qlora": True},
    "DeepSpeed ZeRO-2": {"enabled": True, "deepspeed_stage": 2},
}


def examples_file(path: Path, count: int) -> Path:
    rows = [json.loads(line) for line in (ROOT / "services/training/src/sentra_training/lora/regression.jsonl")
            .read_text().splitlines()]
    lines = [json.dumps(rows[i % len(rows)], ensure_ascii=False) for i in range(count)]
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-seq-length", type=int, default=512)
    args = parser.parse_args()
    import torch

    if not torch.cuda.is_available():
        print("no CUDA GPU on this machine: the GPU path is measured on one (see bench/README.md)")
        raise SystemExit(2)
    import ray
    from sentra_cli.platform import base_model_dir
    from sentra_training.lora import ray_job
    from sentra_training.lora.config import LoraJobConfig
    from sentra_training.lora.gpu import GpuOptions

    print(machine_summary(), "|", torch.cuda.get_device_name(0))
    config = LoraJobConfig(max_steps=args.steps, batch_size=args.batch_size, max_seq_length=args.max_seq_length,
                           checkpoint_every=args.steps, epochs=50, general_text_ratio=0.0)
    figures: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="sentra-bench-gpu-") as tmp:
        dataset = examples_file(Path(tmp) / "train.jsonl", args.batch_size * args.steps)
        ray.init(num_gpus=1, num_cpus=4, include_dashboard=False, log_to_driver=False)
        for name, options in VARIANTS.items():
            started = time.perf_counter()
            result = ray_job.run(config, dataset, base_model_dir(), Path(tmp) / "runs", name.split()[0].lower(),
                                 workers=1, threads_per_worker=4, gpu=GpuOptions(**options))
            figures[name] = {"tokens_per_s": result.progress.get("tokens_per_s", 0.0),
                             "peak_gpu_mb": result.progress.get("peak_gpu_mb", 0.0),
                             "final_loss": result.progress.get("loss", 0.0), "wall_s": time.perf_counter() - started}
            print(f"  {name}: {figures[name]}", flush=True)
        ray.shutdown()
    plain = figures["plain (bf16, DDP)"]
    table(("variant", "tokens/s", "÷ plain", "peak GPU MiB", "÷ plain", "final loss"),
          [(name, f"{f['tokens_per_s']:.0f}", ratio(f["tokens_per_s"], plain["tokens_per_s"]),
            f"{f['peak_gpu_mb']:.0f}", ratio(f["peak_gpu_mb"], plain["peak_gpu_mb"]), f"{f['final_loss']:.3f}")
           for name, f in figures.items()],
          f"{args.steps} steps of {args.batch_size} examples, up to {args.max_seq_length} tokens, one GPU worker")
    write_results("gpu_training", vars(args), figures)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "bench"))
    main()
