"""LoRA jobs on a real Ray runtime (started by the job, CPU workers): a job trains the
shipped base model from an imported JSONL file to a PEFT adapter; a job stopped after its
checkpoint and started again resumes from it and ends with the adapter an uninterrupted
run gives; a local job's runtime is its own even where RAY_ADDRESS names a cluster; a bad
file fails before Ray starts anything."""

from __future__ import annotations

import json
import socket

import pytest
import torch
from safetensors.torch import load_file
from sentra_cli.platform import base_model_dir
from sentra_training.lora import ray_job
from sentra_training.lora.config import LoraJobConfig
from sentra_training.lora.data import DatasetError

SMALL = {"batch_size": 2, "max_seq_length": 96, "checkpoint_every": 2, "seed": 3}


@pytest.fixture(scope="module")
def ray_runtime():
    import ray

    yield
    ray.shutdown()


@pytest.fixture
def dataset(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join(json.dumps({
        "messages": [{"role": "user", "content": f"¿Cuántos días de teletrabajo hay en la sede {i}?"},
                     {"role": "assistant", "content": f"En la sede {i}, dos días por semana."}]},
        ensure_ascii=False) for i in range(6)) + "\n")
    return path


def adapter_weights(result) -> dict[str, torch.Tensor]:
    return load_file(str(result.adapter_dir / "adapter_model.safetensors"))


def test_a_job_resumes_from_its_checkpoint_and_ends_as_an_uninterrupted_one(ray_runtime, dataset, tmp_path):
    base = base_model_dir()
    straight = ray_job.run(LoraJobConfig(max_steps=4, **SMALL), dataset, base, tmp_path / "runs", "straight",
                           threads_per_worker=2)
    assert straight.progress["step"] == 4 and straight.progress["started_step"] == 0
    assert json.loads((straight.adapter_dir / "adapter_config.json").read_text())["r"] == 8
    followed = ray_job.read_progress(tmp_path / "runs" / "straight")
    assert [p["step"] for p in followed] == [1, 2, 3, 4]  # each step, for `--follow`
    assert all(p["loss"] > 0 and p["tokens_per_s"] > 0 and p["total_steps"] == 4 for p in followed)

    # Stopped after step 2's checkpoint (here: a job of 2 steps), then the same job again.
    first = ray_job.run(LoraJobConfig(max_steps=2, **SMALL), dataset, base, tmp_path / "runs", "resumed",
                        threads_per_worker=2)
    assert first.progress["step"] == 2
    resumed = ray_job.run(LoraJobConfig(max_steps=4, **SMALL), dataset, base, tmp_path / "runs", "resumed",
                          threads_per_worker=2)
    assert resumed.resumed_from_step == 2
    assert resumed.progress["started_step"] == 2 and resumed.progress["step"] == 4  # only steps 3 and 4 ran
    expected, got = adapter_weights(straight), adapter_weights(resumed)
    assert expected.keys() == got.keys() and expected
    for name in expected:
        assert torch.allclose(expected[name], got[name], atol=1e-5), name
    untrained = adapter_weights(first)
    assert any(not torch.allclose(untrained[n], got[n]) for n in got)  # steps 3 and 4 did train


def test_a_local_job_starts_a_runtime_of_its_own_whatever_ray_address_says(monkeypatch):
    import ray

    ray.shutdown()
    with socket.socket() as s:  # a port nothing listens on: a cluster that is not there
        s.bind(("127.0.0.1", 0))
        nowhere = f"127.0.0.1:{s.getsockname()[1]}"
    monkeypatch.setenv("RAY_ADDRESS", nowhere)
    ray_job.start_local_runtime(1, 512 * 1024 * 1024)
    try:
        assert ray.get_runtime_context().gcs_address != nowhere
        assert ray.cluster_resources()["CPU"] == 1  # its own limits, not a cluster's
    finally:
        ray.shutdown()


def test_a_malformed_file_fails_before_anything_runs(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"instruction": "q", "output": "a"}\n{"instruction": "q"}\n')
    with pytest.raises(DatasetError, match="line 2: 'output' must be a non-empty string"):
        ray_job.run(LoraJobConfig(), path, base_model_dir(), tmp_path / "runs", "bad")
    assert not (tmp_path / "runs").exists()
