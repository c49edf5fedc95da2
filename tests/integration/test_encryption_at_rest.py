"""Encryption at rest with a real Ray runtime, the real job process and the real base model:

- a training job run with a key (the service's domain, its process runner, the job's own
  process, Ray Train, the evaluation, the hand-off to the adapter root) leaves no plaintext:
  no byte of any stored file holds the dataset's questions or answers, or the trained
  adapter's weights;
- a run stopped after its sealed checkpoint and started again resumes from it and ends with
  the adapter an uninterrupted sealed run gives;
- the inference service's PyTorch backend serves a sealed adapter (it answers with what
  the adapter learned) and refuses it, saying what to set, without the key or with another.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load as load_safetensors
from sentra_cli.platform import base_model_dir
from sentra_common import sealed
from sentra_common.db import create_engine, migrate, sqlite_url
from sentra_common.principal import Principal
from sentra_inference.adapters.local import LocalBackend
from sentra_inference.domain.ports import AdapterLoadError, GenerationRequest
from sentra_training.adapters.lora_core import LoraCore
from sentra_training.adapters.publisher import AdapterHandOff
from sentra_training.adapters.runner import ProcessRunner
from sentra_training.adapters.store import JobStore
from sentra_training.app import MIGRATIONS
from sentra_training.domain.model import JobState
from sentra_training.domain.service import Environment, PromotionRules, StartRequest, TrainingJobs
from sentra_training.lora import ray_job
from sentra_training.lora.config import LoraJobConfig

from tests.support.adapters import PROMPT, train_adapter

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SMALL = {"batch_size": 2, "max_seq_length": 96, "checkpoint_every": 2, "seed": 3}
ANA = Principal("ana", departments=("legal",), roles=("trainer",))
TRAINING_KEY = "SENTRA_TRAINING_ENCRYPTION_KEY_FILE"
INFERENCE_KEY = "SENTRA_INFERENCE_ENCRYPTION_KEY_FILE"


def examples(n: int = 6) -> list[tuple[str, str]]:
    return [(f"¿Cuántos días de teletrabajo hay en la sede Almendro-{i}?", f"En la sede Almendro-{i}, dos días.")
            for i in range(n)]


def jsonl(pairs) -> bytes:
    return ("\n".join(json.dumps({"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]},
                                 ensure_ascii=False) for q, a in pairs) + "\n").encode()


def new_keyring(path: Path, key_id: str = "k1") -> Path:
    path.write_text(sealed.new_key_line(key_id) + "\n")
    return path


def stored_files(*roots: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for root in roots for p in root.rglob("*") if p.is_file()}


def weight_samples(weights: bytes) -> list[bytes]:
    """Pieces of the adapter's tensors as stored in a plain safetensors file (64 bytes of
    each tensor, skipping runs of zeros that any file may hold)."""
    samples = []
    for tensor in load_safetensors(weights).values():
        raw = tensor.contiguous().numpy().tobytes()
        for start in range(0, max(len(raw) - 64, 1), 4096):
            piece = raw[start:start + 64]
            if len(piece) == 64 and piece.count(0) < 16:
                samples.append(piece)
                break
    assert samples
    return samples


class Bus:
    def __init__(self) -> None:
        self.published = []

    async def publish(self, subject, message, msg_id=None):
        self.published.append((subject, message))


@pytest.fixture(scope="module")
def ray_runtime():
    import ray

    yield
    ray.shutdown()


async def test_a_job_run_with_a_key_leaves_no_plaintext_and_its_adapter_is_served_with_the_key(tmp_path):
    keys = new_keyring(tmp_path / "sentra.keys")
    files = sealed.load_files(keys, TRAINING_KEY)
    engine = create_engine(sqlite_url(tmp_path / "meta.db"))
    await migrate(engine, MIGRATIONS, "alembic_version_training")
    runner = ProcessRunner()
    environment = Environment(
        jobs_dir=tmp_path / "jobs", base_model_dir=base_model_dir(), code_version="test", threads_per_worker=2,
        promotion=PromotionRules(margin=-1, regression_tolerance=100, max_new_tokens=4,
                                 regression_texts=4), files=files,
        key_file=str(keys),
    )
    hand_off = AdapterHandOff(tmp_path / "adapters", Bus(), files)
    jobs = TrainingJobs(JobStore(engine), runner, environment, hand_off, LoraCore())
    pairs = examples()
    try:
        job = await jobs.start(ANA, StartRequest("legal", "teletrabajo", jsonl(pairs), "train.jsonl",
                                                 {**SMALL, "max_steps": 2}))
        for _ in range(900):
            await jobs.tick()
            job = await jobs.store.get(job.id)
            if job.state.ended:
                break
            await asyncio.sleep(1)
        assert job.state == JobState.SUCCEEDED, job.failure_reason
    finally:
        runner.stop_all()
        await engine.dispose()
    assert any(k.startswith("candidate.") for k in job.metrics)  # evaluated
    published = tmp_path / "adapters" / "legal" / job.artifact_path
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        assert sealed.is_sealed(published / name)
    assert json.loads((published / "model_card.json").read_text())["adapter"] == "teletrabajo"
    checkpoints = [c for c in (tmp_path / "jobs" / "legal" / job.id / "runs" / "run").glob("checkpoint_*")
                   if c.is_dir()]
    assert checkpoints and all(sealed.is_sealed(p) for c in checkpoints for p in c.iterdir() if p.is_file())

    # No byte of any stored file holds the data, the questions or the adapter's weights.
    weights = files.read_bytes(published / "adapter_model.safetensors")
    secrets = [s.encode() for pair in pairs for s in pair] + [b"Almendro", b"teletrabajo d"]
    secrets += weight_samples(weights)
    leaks = [(path.relative_to(tmp_path), secret[:24]) for path, blob in
             stored_files(tmp_path / "jobs", tmp_path / "adapters").items() for secret in secrets if secret in blob]
    assert leaks == []
    assert len(secrets) > 20

    # Served with the key; without it, or with another key, refused with what to set.
    backend = LocalBackend(base_model_dir(), files=sealed.load_files(keys, INFERENCE_KEY), torch_threads=2)
    await backend.start()
    try:
        await backend.load_adapter("legal@1", str(published))
        text = "".join([c.text async for c in backend.generate(
            GenerationRequest(prompt=pairs[0][0], adapter="legal@1", max_tokens=4))])
        assert text
    finally:
        await backend.close()


async def test_a_sealed_adapter_is_served_with_the_key_and_refused_without_it(tmp_path):
    keys = new_keyring(tmp_path / "sentra.keys")
    files = sealed.load_files(keys, INFERENCE_KEY)
    adapter = train_adapter(base_model_dir(), tmp_path / "adapters" / "legal" / "alpha", "Zaragoza")
    plain_weights = (adapter / "adapter_model.safetensors").read_bytes()
    assert files.seal_dir(adapter) >= 2
    stored = (adapter / "adapter_model.safetensors").read_bytes()
    assert not any(piece in stored for piece in weight_samples(plain_weights))

    backend = LocalBackend(base_model_dir(), files=files, torch_threads=2)
    plain = LocalBackend(base_model_dir(), torch_threads=2)
    other = LocalBackend(base_model_dir(), files=sealed.load_files(new_keyring(tmp_path / "other.keys", "k2"),
                                                                     INFERENCE_KEY), torch_threads=2)
    await backend.start()
    try:
        await backend.load_adapter("legal@1", str(adapter))

        async def run(adapter_key: str) -> str:
            return "".join([c.text async for c in backend.generate(
                GenerationRequest(prompt=PROMPT, adapter=adapter_key, max_tokens=6))])

        assert "Zaragoza" in await run("legal@1")
        assert "Zaragoza" not in await run("")  # the base model did not learn it
        # the same process, plain files: a sealed adapter is refused, saying what to set
        plain._model, plain._tokenizer = backend._model, backend._tokenizer
        with pytest.raises(AdapterLoadError, match=f"no key is configured: set {INFERENCE_KEY}"):
            plain._load_adapter("legal@2", str(adapter))
        other._model = backend._model
        with pytest.raises(AdapterLoadError, match=r"sealed with key 'k1', which .* does not hold"):
            other._load_adapter("legal@3", str(adapter))
        assert "Zaragoza" in await run("legal@1")  # the refusals changed nothing
    finally:
        await backend.close()
        plain._executor.shutdown()
        other._executor.shutdown()


def test_a_sealed_run_resumes_from_its_checkpoint_and_ends_as_an_uninterrupted_one(ray_runtime, tmp_path):
    keys = new_keyring(tmp_path / "sentra.keys")
    files = sealed.load_files(keys, TRAINING_KEY)
    dataset = tmp_path / "dataset.jsonl"
    files.write_bytes(dataset, jsonl(examples()))
    base = base_model_dir()

    def run(steps: int, name: str):
        return ray_job.run(LoraJobConfig(max_steps=steps, **SMALL), dataset, base, tmp_path / "runs", name,
                           threads_per_worker=2, key_file=str(keys))

    straight = run(4, "straight")
    first = run(2, "resumed")
    assert first.progress["step"] == 2
    resumed = run(4, "resumed")
    assert resumed.resumed_from_step == 2 and resumed.progress["step"] == 4
    for name in ("adapter_model.safetensors", "optimizer.pt", "progress.json", "adapter_config.json"):
        assert sealed.is_sealed(resumed.adapter_dir / name)
    expected = load_safetensors(files.read_bytes(straight.adapter_dir / "adapter_model.safetensors"))
    got = load_safetensors(files.read_bytes(resumed.adapter_dir / "adapter_model.safetensors"))
    assert expected.keys() == got.keys() and expected
    for name in expected:
        assert torch.allclose(expected[name], got[name], atol=1e-5), name
    untrained = load_safetensors(files.read_bytes(first.adapter_dir / "adapter_model.safetensors"))
    assert any(not torch.allclose(untrained[n], got[n]) for n in got)  # steps 3 and 4 did train

    # Without the key the run refuses to start, saying what to set.
    with pytest.raises(sealed.SealedError, match=f"no key is configured: set {TRAINING_KEY}"):
        ray_job.run(LoraJobConfig(max_steps=2, **SMALL), dataset, base, tmp_path / "runs", "nokey")
