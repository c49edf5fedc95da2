"""A LoRA job on a Ray cluster of two nodes on loopback: `ray start --head` and a second
`ray start --address`, separate processes with token authentication (a token file of
this test's own), one job of two workers (one per node's CPU) to its end."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

RAY = str(Path(sys.executable).parent / "ray")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def two_nodes(tmp_path):
    token = tmp_path / "ray-token"
    token.write_text(secrets.token_hex(32))
    token.chmod(0o600)
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token), "RAY_USAGE_STATS_ENABLED": "0"}
    port = free_port()
    # Ray's sockets live under its temp dir, and a socket path may not pass 107 bytes
    short = Path(tempfile.mkdtemp(prefix="sentra-ray-"))
    common = ["--num-cpus=1", "--block", "--disable-usage-stats", "--node-ip-address=127.0.0.1",
              f"--temp-dir={short}"]
    started = []

    def start(args: list[str], name: str) -> None:
        log = (tmp_path / f"{name}.log").open("w")
        started.append(subprocess.Popen([RAY, "start", *args, *common], env=env, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True))

    start(["--head", f"--port={port}", "--include-dashboard=false"], "head")
    address = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while "Ray runtime started" not in (tmp_path / "head.log").read_text():
        assert time.monotonic() < deadline and started[0].poll() is None, (tmp_path / "head.log").read_text()[-2000:]
        time.sleep(0.5)
    start([f"--address={address}"], "second")
    try:
        yield address, env
    finally:
        for process in reversed(started):  # the --block processes stop their nodes on SIGTERM
            os.killpg(process.pid, signal.SIGTERM)
        for process in started:
            process.wait(timeout=90)
        shutil.rmtree(short, ignore_errors=True)


# The job's driver, as the training service would run it: its own process, with the
# cluster's address and token (Ray reads its authentication settings once per process).
DRIVER = """
import json, sys, time
from pathlib import Path
import ray
from sentra_cli.platform import base_model_dir
from sentra_training.lora import ray_job
from sentra_training.lora.config import LoraJobConfig
address, dataset, runs = sys.argv[1:4]
ray.init(address=address, log_to_driver=False, _node_ip_address="127.0.0.1")
deadline = time.monotonic() + 60
while len([n for n in ray.nodes() if n["Alive"]]) < 2:
    assert time.monotonic() < deadline, "the second node did not join"
    time.sleep(0.5)
result = ray_job.run(LoraJobConfig(max_steps=2, checkpoint_every=2, batch_size=2, max_seq_length=96),
                     Path(dataset), base_model_dir(), Path(runs), "two-nodes", address=address,
                     workers=2, threads_per_worker=1)
print(json.dumps({"step": result.progress["step"], "adapter": str(result.adapter_dir),
                  "nodes": len([n for n in ray.nodes() if n["Alive"]])}))
"""


def test_one_job_runs_on_two_nodes(two_nodes, tmp_path):
    address, env = two_nodes
    dataset = tmp_path / "train.jsonl"
    dataset.write_text("\n".join(json.dumps({"instruction": f"¿Horario de la sede {i}?",
                                              "output": f"La sede {i} abre de 9 a 14."}, ensure_ascii=False)
                                  for i in range(6)) + "\n")
    driver = subprocess.run([sys.executable, "-c", DRIVER, address, str(dataset), str(tmp_path / "runs")],
                            env=env, capture_output=True, text=True, timeout=400)
    assert driver.returncode == 0, driver.stderr[-3000:]
    outcome = json.loads(driver.stdout.strip().splitlines()[-1])
    assert outcome["nodes"] == 2 and outcome["step"] == 2
    assert (Path(outcome["adapter"]) / "adapter_model.safetensors").exists()
