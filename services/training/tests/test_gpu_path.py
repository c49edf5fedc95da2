"""The GPU path's settings (`lora.gpu`), checked on a CPU machine: QLoRA and DeepSpeed need
GPU workers and say so, a GPU job on a cluster without GPUs fails before it trains, and the
DeepSpeed configuration follows the job's settings. (The GPU runs themselves are
`bench/gpu_training.py`, on a machine with a GPU.)"""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError
from sentra_training.config import TrainingSettings
from sentra_training.lora.gpu import GpuOptions, check_cluster, deepspeed_config


def test_qlora_or_deepspeed_without_gpu_workers_is_refused_with_the_setting_to_change():
    with pytest.raises(ValidationError, match="QLoRA runs on GPU workers only: set SENTRA_TRAINING_GPU__ENABLED"):
        GpuOptions(qlora=True)
    with pytest.raises(ValidationError, match="DeepSpeed ZeRO stage 2 runs on GPU workers only"):
        GpuOptions(deepspeed_stage=2)
    with pytest.raises(ValidationError, match="less than or equal to 2"):
        GpuOptions(enabled=True, deepspeed_stage=3)
    assert GpuOptions(enabled=True, qlora=True, deepspeed_stage=2).qlora


def test_the_service_reads_the_gpu_settings_from_its_environment(monkeypatch):
    monkeypatch.setenv("SENTRA_TRAINING_GPU__ENABLED", "true")
    monkeypatch.setenv("SENTRA_TRAINING_GPU__QLORA", "true")
    assert TrainingSettings().gpu == GpuOptions(enabled=True, qlora=True)
    monkeypatch.setenv("SENTRA_TRAINING_GPU__ENABLED", "false")
    with pytest.raises(ValidationError, match="QLoRA runs on GPU workers only"):
        TrainingSettings()


def test_a_gpu_job_on_a_cluster_without_gpus_fails_before_it_trains():
    with pytest.raises(RuntimeError, match=r"asks for 2 GPU worker.*has 1 GPU"):
        check_cluster(GpuOptions(enabled=True), gpus=1, workers=2)
    check_cluster(GpuOptions(enabled=True), gpus=2, workers=2)
    check_cluster(GpuOptions(), gpus=0, workers=2)  # the CPU path needs none


def test_the_deepspeed_configuration_follows_the_job():
    config = deepspeed_config(GpuOptions(enabled=True, deepspeed_stage=2), batch_size=8, learning_rate=3e-4)
    assert config["zero_optimization"]["stage"] == 2 and config["train_micro_batch_size_per_gpu"] == 8
    assert config["optimizer"]["params"]["lr"] == 3e-4 and config["bf16"]["enabled"]
    json.dumps(config)  # what DeepSpeed is given is plain JSON


def test_a_cpu_job_on_ray_with_gpu_asked_fails_with_the_reason(tmp_path):
    """Through the real Ray Train path on this CPU machine: nothing silently trains on CPUs."""
    from sentra_training.lora import ray_job
    from sentra_training.lora.config import LoraJobConfig

    dataset = tmp_path / "train.jsonl"
    dataset.write_text(json.dumps({"instruction": "¿Plazo?", "output": "Tres días."}) + "\n")
    import ray

    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, object_store_memory=80 * 1024 * 1024)
    try:
        with pytest.raises(RuntimeError, match="the Ray cluster has 0 GPU"):
            ray_job.run(LoraJobConfig(max_steps=1), dataset, tmp_path / "base", tmp_path / "runs", "run",
                        gpu=GpuOptions(enabled=True))
    finally:
        ray.shutdown()
    assert not (tmp_path / "runs").exists()
