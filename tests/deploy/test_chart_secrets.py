"""Secrets: never in values, never in clear outside a Secret; with existing Secrets the
chart renders none; the ones it generates once actually work — the identity keys sign
assertions the services' trust file accepts, the event-bus users log in to a real
nats-server with their permissions, the keyring opens — and so do the ones
scripts/k8s_secrets.py makes for Kustomize and for existing-Secret installs."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from sentra_cli.platform import find_nats_server
from sentra_common.errors import Unauthenticated
from sentra_common.identity import AssertionSigner, AssertionVerifier
from sentra_common.principal import Principal
from sentra_common.sealed import Keyring

from tests.deploy._manifests import CHART, OVERLAYS, PROFILES, ROOT, built, find, objects, render, rendered
from tests.support.servers import free_port

SECRET_ENV = re.compile(r"(PASSWORD|SECRET|TOKEN$|API_KEY|DATABASE__URL)")


def _secret_data(docs: list[dict]) -> dict[str, dict[str, bytes]]:
    return {d["metadata"]["name"]: {k: base64.b64decode(v) for k, v in (d.get("data") or {}).items()}
            for d in docs if d["kind"] == "Secret"}


def _clear_values(secrets: dict[str, dict[str, bytes]]) -> set[str]:
    """The secret strings a rendering holds: whole values, and passwords inside JSON ones."""
    found = set()
    for data in secrets.values():
        for value in data.values():
            text = value.decode(errors="replace")
            found.add(text.strip())
            try:
                parsed = json.loads(text)
            except ValueError:
                continue
            if isinstance(parsed, dict) and "password" in parsed:
                found.add(parsed["password"])
    return {v for v in found if len(v) >= 16}


@pytest.mark.parametrize("profile", PROFILES)
def test_no_secret_in_clear_outside_secrets(profile: str) -> None:
    docs = objects(rendered(profile))
    secrets = _clear_values(_secret_data(docs))
    assert secrets, "the rendering generates no Secret to check against"
    elsewhere = yaml.safe_dump_all([d for d in docs if d["kind"] != "Secret"])
    leaked = [s[:12] + "…" for s in secrets if s in elsewhere]
    assert not leaked, f"secret values appear outside Secrets: {leaked}"
    # Secret-looking settings only ever come from Secrets.
    for doc in docs:
        for container in _all_containers(doc):
            for env in container.get("env") or []:
                if SECRET_ENV.search(env["name"]) and "value" in env:
                    assert env["value"].startswith("sqlite+aiosqlite:///"), (
                        f"{doc['kind']}/{doc['metadata']['name']}: {env['name']} is a value, not a secretKeyRef")


def _all_containers(doc: dict):
    spec = doc.get("spec") or {}
    templates = []
    if "template" in spec:
        templates.append(spec["template"]["spec"])
    if doc["kind"] == "Pod":
        templates.append(spec)
    if doc["kind"] == "RayCluster":
        templates.append(spec["headGroupSpec"]["template"]["spec"])
        templates += [g["template"]["spec"] for g in spec.get("workerGroupSpecs") or []]
    for pod in templates:
        yield from pod.get("containers") or []
        yield from pod.get("initContainers") or []


def test_existing_secrets_render_no_secret_at_all() -> None:
    docs = objects(render(CHART, [CHART / "values-onprem-gpu.yaml"], set_values={
        "identity.existingSecret": "sentra-identity",
        "global.sentra.busSecret": "sentra-bus",
        "training.ray.tokenSecret.name": "sentra-ray-token",
        "qdrant.apiKey": False,
        "retrieval.qdrantServer.apiKeySecret.name": "sentra-qdrant",
    }))
    assert [d["metadata"]["name"] for d in docs if d["kind"] == "Secret"] == []
    gateway = find(docs, "Deployment", "sentra-gateway")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in gateway["volumes"]}
    assert volumes["identity"]["secret"]["secretName"] == "sentra-identity"
    assert volumes["bus"]["secret"]["secretName"] == "sentra-bus"
    nats = find(docs, "StatefulSet", "sentra-nats")["spec"]["template"]["spec"]
    assert {v["name"]: v for v in nats["volumes"]}["sentra-bus-auth"]["secret"]["secretName"] == "sentra-bus"


def test_generated_secrets_are_kept_on_uninstall() -> None:
    for doc in objects(rendered("values-onprem-gpu.yaml")):
        if doc["kind"] == "Secret" and doc["metadata"]["name"].startswith("sentra-"):
            if doc["metadata"]["name"] == "sentra-qdrant-apikey":
                continue  # the Qdrant chart's own
            assert doc["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep", doc["metadata"]["name"]


def _write(directory: Path, files: dict[str, bytes]) -> None:
    directory.mkdir(parents=True)
    for name, data in files.items():
        (directory / name).write_bytes(data)


def _check_identity(files: dict[str, bytes], tmp_path: Path) -> None:
    keys = tmp_path / "identity"
    _write(keys, files)
    assert {"gateway.key", "service-retrieval.key", "service-training.key", "trust.json"} <= set(files)
    user = Principal(subject="ana", departments=("legal",), roles=("member",))
    gateway = AssertionSigner.from_file(keys / "gateway.key", "gateway")
    verifier = AssertionVerifier.from_file(keys / "trust.json", audience="retrieval")
    assert verifier.verify(gateway.sign(user, "retrieval")).subject == "ana"
    # A service key signs its own principal only, for the calls it may make.
    retrieval = AssertionSigner.from_file(keys / "service-retrieval.key", "service:retrieval")
    own = Principal(subject="service:retrieval", departments=(), roles=("service",))
    embedding = AssertionVerifier.from_file(keys / "trust.json", audience="embedding")
    assert embedding.verify(retrieval.sign(own, "embedding"), "/sentra.embedding.v1.EmbeddingService/Embed")
    # A key the trust file does not list is refused.
    stranger = tmp_path / "stranger"
    subprocess.run([sys.executable, "-c", "from pathlib import Path; from sentra_common.identity import "
                    f"generate_keys; generate_keys(Path({str(stranger)!r}), ['gateway'])"], check=True)
    with pytest.raises(Unauthenticated):
        verifier.verify(AssertionSigner.from_file(stranger / "gateway.key", "gateway").sign(user, "retrieval"))


def test_generated_identity_keys_sign_what_the_trust_file_accepts(tmp_path: Path) -> None:
    secrets = _secret_data(objects(rendered("default")))
    _check_identity(secrets["sentra-identity"], tmp_path)


async def _bus_checks(conf: Path, creds: dict[str, dict], env: dict[str, str], port: int) -> None:
    import nats
    import nats.errors

    proc = await asyncio.create_subprocess_exec(find_nats_server(), "-c", str(conf), env=env,
                                                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    try:
        for _ in range(100):
            try:
                _r, w = await asyncio.open_connection("127.0.0.1", port)
                w.close()
                break
            except OSError:
                await asyncio.sleep(0.1)
        url = f"nats://127.0.0.1:{port}"
        errors: list[Exception] = []

        async def on_error(exc: Exception) -> None:
            errors.append(exc)

        for service, c in creds.items():
            client = await nats.connect(url, user=c["user"], password=c["password"], error_cb=on_error,
                                        allow_reconnect=False, inbox_prefix=f"_INBOX_{service}".encode())
            await client.close()
        embedding = await nats.connect(url, user=creds["embedding"]["user"], password=creds["embedding"]["password"],
                                       error_cb=on_error, allow_reconnect=False)
        await embedding.publish("sentra.chunks.v1.embedded", b"{}")
        await embedding.flush()
        assert not errors, f"a permitted publish was refused: {errors}"
        # Only ingestion announces uploads.
        await embedding.publish("sentra.documents.v1.uploaded", b"{}")
        await embedding.flush()
        await asyncio.sleep(0.3)
        assert any("permissions violation" in str(e).lower() for e in errors), errors
        await embedding.close()
        with pytest.raises(nats.errors.Error, match="Authorization Violation"):
            await nats.connect(url, user="embedding", password="wrong", allow_reconnect=False, connect_timeout=2)
    finally:
        proc.terminate()
        await proc.wait()


def _nats_conf_for_test(conf_text: str, auth: bytes, tmp_path: Path, port: int) -> Path:
    """The rendered nats.conf on loopback and a free port, with the Secret's auth.conf where
    the pod mounts it relative to the config (../sentra-bus/auth.conf)."""
    config_dir = tmp_path / "etc" / "nats-config"
    config_dir.mkdir(parents=True)
    _write(tmp_path / "etc" / "sentra-bus", {"auth.conf": auth})
    text = (conf_text.replace('"port": 4222', f'"port": {port}, "host": "127.0.0.1"')
            .replace('"http_port": 8222,', "")
            .replace('"/data"', json.dumps(str(tmp_path / "js")))
            .replace('"/var/run/nats/nats.pid"', json.dumps(str(tmp_path / "nats.pid"))))
    (config_dir / "nats.conf").write_text(text)
    return config_dir / "nats.conf"


def test_generated_bus_users_log_in_with_their_permissions(tmp_path: Path) -> None:
    docs = objects(rendered("default"))
    bus = _secret_data(docs)["sentra-bus"]
    creds = {name.removesuffix(".json"): json.loads(data) for name, data in bus.items() if name.endswith(".json")}
    assert set(creds) == {"gateway", "ingestion", "embedding", "retrieval", "inference", "training"}
    port = free_port()
    conf = _nats_conf_for_test(find(docs, "ConfigMap", "sentra-nats-config")["data"]["nats.conf"], bus["auth.conf"],
                               tmp_path, port)
    check = subprocess.run([find_nats_server(), "-t", "-c", str(conf)], capture_output=True, text=True,
                           env={**os.environ, "SERVER_NAME": "test"}, check=False)
    assert check.returncode == 0, check.stderr + check.stdout
    asyncio.run(_bus_checks(conf, creds, {**os.environ, "SERVER_NAME": "test"}, port))


def test_generated_keyring_opens() -> None:
    docs = objects(render(CHART, [CHART / "values-cpu-only.yaml"], set_values={"encryption.enabled": True}))
    keyring = _secret_data(docs)["sentra-encryption"]["keyring"].decode()
    ring = Keyring.parse(keyring)
    assert len(ring.ids) == 1
    sealed = ring.seal(b"adapter weights", "adapter_model.safetensors")
    assert ring.open(sealed, "adapter_model.safetensors") == b"adapter weights"
    inference = find(docs, "Deployment", "sentra-inference")["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "SENTRA_INFERENCE_ENCRYPTION_KEY_FILE", "value": "/etc/sentra/keys/keyring"} in inference["env"]


def _k8s_secrets(*args: str) -> list[dict]:
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "k8s_secrets.py"), *args], capture_output=True,
                          text=True, check=True, env={**os.environ})
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def test_k8s_secrets_script_makes_working_secrets(tmp_path: Path) -> None:
    docs = _k8s_secrets()
    secrets = _secret_data(docs)
    assert set(secrets) == {"sentra-identity", "sentra-bus", "sentra-qdrant", "sentra-ray-token", "sentra-encryption"}
    _check_identity(secrets["sentra-identity"], tmp_path)
    Keyring.parse(secrets["sentra-encryption"]["keyring"].decode())
    # The bus Secret works with the chart's nats-server configuration as an existing Secret.
    chart_docs = objects(render(CHART, set_values={"global.sentra.busSecret": "sentra-bus"}))
    port = free_port()
    conf = _nats_conf_for_test(find(chart_docs, "ConfigMap", "sentra-nats-config")["data"]["nats.conf"],
                               secrets["sentra-bus"]["auth.conf"], tmp_path / "nats", port)
    check = subprocess.run([find_nats_server(), "-t", "-c", str(conf)], capture_output=True, text=True,
                           env={**os.environ, "SERVER_NAME": "test"}, check=False)
    assert check.returncode == 0, check.stderr + check.stdout


# Secrets an operator makes with their own values (README, "Deploy on Kubernetes").
OPERATOR_SECRETS = {"sentra-database", "sentra-nats-leaf-remote"}


def _referenced_secrets(docs: list[dict]) -> set[str]:
    names = set()

    def walk(node) -> None:
        if isinstance(node, dict):
            if "secretKeyRef" in node:
                names.add(node["secretKeyRef"]["name"])
            if "secretName" in node and isinstance(node["secretName"], str):
                names.add(node["secretName"])
            if "secret" in node and isinstance(node["secret"], dict) and "name" in node["secret"]:
                names.add(node["secret"]["name"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk([d for d in docs if d["kind"] != "Secret"])
    return names


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_secret_an_overlay_names_is_made_by_the_script_or_documented(overlay: str) -> None:
    made = {d["metadata"]["name"] for d in _k8s_secrets("--only", "identity,bus,qdrant,ray-token,encryption,"
                                                                  "dev-keycloak")}
    needed = _referenced_secrets(objects(built(overlay)))
    assert needed, overlay
    missing = needed - made - OPERATOR_SECRETS
    assert not missing, f"{overlay} needs Secrets nobody makes: {missing}"
