"""A LoRA job on Ray Train: `TorchTrainer` runs `loop.train` in each worker (CPU workers
here; the data is split between them and gradients are averaged by torch's DDP), reports
each step's progress to a file beside the run (rank 0; `read_progress`), checkpoints
through `ray.train.report`, and resumes from the run's latest
checkpoint when the same run (storage path and name) is started again — after the
service or a worker was killed. With a key file (a keyring, `sentra_common.sealed`) the
dataset is read sealed and every checkpoint file is sealed before Ray stores it; each
worker reads the key file itself (on more than one node it must be there on each: the
Secret mounted on every worker pod), and the key never travels through Ray.

Locally the job starts a Ray runtime of its own (`address=None`); with an address it
joins that cluster: "auto" in a Jobs API submission (how the training service runs jobs
on a cluster, `adapters.ray_jobs`), or a GCS address (`ray start --head`), whose token
(`RAY_AUTH_MODE=token`, `RAY_AUTH_TOKEN_PATH`) the calling process must have. On
more than one node the storage path must be shared by all of them (Ray's rule for
checkpoints; the progress file is written there by the rank-0 worker too).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from sentra_common.sealed import Keyring, SealedFiles

from sentra_training.lora.config import LoraJobConfig
from sentra_training.lora.gpu import GpuOptions, check_cluster
from sentra_training.lora.loop import Progress

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_TRAIN_V2_ENABLED", "1")


# Beside the run's checkpoints: one JSON line per step (step, loss, tokens/s, ETA…).
PROGRESS_LOG = "progress.jsonl"


def read_progress(run_dir: Path) -> list[dict]:
    """The progress lines of a run so far (what `--follow` shows)."""
    try:
        lines = (run_dir / PROGRESS_LOG).read_text().splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except ValueError:
            continue  # a line being written
    return out


def sealed_files(key_file: str | None) -> SealedFiles:
    """Files through the keyring in `key_file`, or plain files when there is none."""
    return SealedFiles(Keyring.load(Path(key_file), "the job's encryption key file") if key_file else None,
                       "SENTRA_TRAINING_ENCRYPTION_KEY_FILE")


@dataclass(frozen=True)
class JobResult:
    adapter_dir: Path  # the last checkpoint: a PEFT adapter directory
    progress: dict
    resumed_from_step: int  # 0, or the checkpoint's step this run began at


def _worker(settings: dict) -> None:
    """What each Ray Train worker runs."""
    import ray.train
    import torch
    from transformers import AutoTokenizer

    from sentra_training.lora.data import read_jsonl, training_rows
    from sentra_training.lora.loop import train

    config = LoraJobConfig(**settings["config"])
    files = sealed_files(settings.get("key_file"))
    context = ray.train.get_context()
    torch.set_num_threads(max(1, int(settings["threads"])))
    tokenizer = AutoTokenizer.from_pretrained(settings["base_model_dir"])
    rows = training_rows(read_jsonl(Path(settings["dataset"]), files=files), tokenizer, config)
    world, rank = context.get_world_size(), context.get_world_rank()

    progress_file = Path(settings["progress_file"])

    def report(progress: Progress, write_checkpoint) -> None:
        metrics = {**asdict(progress), "eta_s": progress.eta_s}
        if rank == 0:  # every step, for whoever follows the job: a line appended, no round trip
            with progress_file.open("a") as out:
                out.write(json.dumps(metrics) + "\n")
        if write_checkpoint is None:
            # ray.train.report is a barrier of all workers (~0.5 s a call here): only every
            # `report_every` steps (0: at checkpoints only)
            if settings["report_every"] and progress.step % settings["report_every"] == 0:
                ray.train.report(metrics)
            return
        with tempfile.TemporaryDirectory(prefix="sentra-lora-ckpt-") as tmp:
            if rank == 0:
                write_checkpoint(Path(tmp))
            ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(tmp) if rank == 0 else None)

    resume = None
    checkpoint = ray.train.get_checkpoint()
    if checkpoint is not None:
        resume = Path(checkpoint.to_directory(tempfile.mkdtemp(prefix="sentra-lora-resume-")))

    gpu = GpuOptions(**(settings.get("gpu") or {}))
    device = ray.train.torch.get_device() if gpu.enabled else None

    def wrap(model):  # DDP between the workers (DeepSpeed's engine does its own)
        return ray.train.torch.prepare_model(model, move_to_device=False) if world > 1 else model

    try:
        train(rows, config, Path(settings["base_model_dir"]), pad_id=tokenizer.pad_token_id or 0, report=report,
              resume_from=resume, rank=rank, world=world, wrap=wrap, files=files, gpu=gpu, device=device)
    finally:
        if resume is not None:
            shutil.rmtree(resume, ignore_errors=True)


def start_local_runtime(cpus: int, memory_bytes: int | None) -> None:
    """A Ray runtime of the job's own on this machine, with its CPU and memory limits. Always a
    new one (`address="local"`): left to itself, `ray.init()` would join whatever cluster
    RAY_ADDRESS or the last `ray start` on this machine names, without those limits."""
    import ray

    ray.init(address="local", num_cpus=cpus, include_dashboard=False, log_to_driver=False,
             _memory=memory_bytes, object_store_memory=80 * 1024 * 1024)


def run(config: LoraJobConfig, dataset: Path, base_model_dir: Path, storage: Path, name: str, *,
        address: str | None = None, workers: int = 1, threads_per_worker: int = 1, report_every: int = 0,
        memory_bytes: int | None = None, key_file: str | None = None, gpu: GpuOptions | None = None) -> JobResult:
    """Run (or resume) job `name` to its end; raises DatasetError for a bad file before
    anything starts, RuntimeError with Ray's reason if the job fails."""
    import ray
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    from sentra_training.lora.data import read_jsonl

    read_jsonl(dataset, files=sealed_files(key_file))  # every line checked here, not in a worker
    if not ray.is_initialized():
        if address:
            # A cluster on loopback (two `ray start` on one machine) must be joined on
            # loopback too, not on the machine's default address.
            host = address.rsplit(":", 1)[0].removeprefix("ray://")
            ray.init(address=address, log_to_driver=False,
                     _node_ip_address="127.0.0.1" if host in ("127.0.0.1", "localhost") else None)
        else:
            start_local_runtime(workers * threads_per_worker, memory_bytes)
    gpu = gpu or GpuOptions()
    check_cluster(gpu, float(ray.cluster_resources().get("GPU", 0)), workers)
    storage = storage.resolve()
    run_dir = storage / name
    run_dir.mkdir(parents=True, exist_ok=True)
    trainer = TorchTrainer(
        _worker,
        train_loop_config={"config": config.model_dump(), "dataset": str(dataset.resolve()),
                           "base_model_dir": str(base_model_dir), "threads": threads_per_worker,
                           "report_every": report_every, "progress_file": str(run_dir / PROGRESS_LOG),
                           "key_file": key_file, "gpu": gpu.model_dump()},
        scaling_config=ScalingConfig(num_workers=workers, use_gpu=gpu.enabled,
                                     resources_per_worker={"CPU": threads_per_worker}),
        run_config=RunConfig(storage_path=str(storage), name=name),
    )
    result = trainer.fit()
    if result.error is not None:
        raise RuntimeError(f"training job {name} failed: {result.error}")
    if result.checkpoint is None:
        raise RuntimeError(f"training job {name} ended without a checkpoint")
    adapter = Path(result.checkpoint.path)
    metrics = dict(result.metrics or {})
    return JobResult(adapter, metrics, int(metrics.get("started_step", 0)))

