"""A real Kubernetes API server for the deployment tests: etcd and kube-apiserver on free
loopback ports in a temporary directory, the CRDs of ../shared/k8s-crds applied, and kubectl
pointed at it. Manifests are validated by a server-side dry run, so the API server itself
decodes every object strictly (an unknown field is an error), runs its validation (a
selector that does not match the template's labels, a bad port) and checks custom resources
against their CRD's schema. Nothing a dry run sends is stored.

No controller runs: objects are validated, never reconciled. The ServiceAccount admission
plugin is off because no controller creates service accounts and a dry run stores none (a
Pod naming the ServiceAccount rendered beside it would otherwise be refused); namespaces are
created on demand, labelled to warn (not refuse) on the `restricted` Pod Security level.
"""

from __future__ import annotations

import os
import re
import shutil
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.deploy.helmtool import SHARED_CRDS, shared
from tests.deploy.tools import etcd_binary, kube_apiserver_binary, kubectl_binary
from tests.support.servers import free_port, wait_port

FIELD_MANAGER = "sentra-tests"
# Pod Security labels of the namespaces the harness creates: warnings in kubectl's stderr.
POD_SECURITY_LABELS = {
    "pod-security.kubernetes.io/warn": "restricted",
    "pod-security.kubernetes.io/warn-version": "latest",
}


class _StrictLoader(yaml.CSafeLoader):
    """YAML that refuses a key repeated in one mapping: kubectl would keep the last silently."""


def _mapping_without_duplicates(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict:
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


def split_documents(yaml_text: str) -> list[tuple[str, dict]]:
    """Each non-empty document of a multi-document YAML text: its own text and its parsed object.
    Raises AssertionError for a document that does not parse or repeats a key."""
    found = []
    for number, chunk in enumerate(re.split(r"^---[^\n]*(?:\n|$)", yaml_text, flags=re.MULTILINE), start=1):
        try:
            obj = yaml.load(chunk, Loader=_StrictLoader)
        except yaml.YAMLError as exc:
            raise AssertionError(f"document {number} of the manifest is not valid YAML: {exc}\n{chunk}") from exc
        if obj is None:
            continue
        if not isinstance(obj, dict):
            raise AssertionError(f"document {number} of the manifest is not an object:\n{chunk}")
        found.append((chunk, obj))
    return found


class KubeApi:
    """kubectl against the test API server, and server-side dry runs of manifests."""

    def __init__(self, server: str, ca: Path, token: str, directory: Path) -> None:
        self.server = server
        self.kubeconfig = directory / "kubeconfig"
        self._ca, self._token = ca, token
        self._cache_dir = directory / "kubectl-cache"
        self._kubectl = kubectl_binary()
        self._namespaces: list[str] = []
        self._write_kubeconfig()

    def _write_kubeconfig(self) -> None:
        # One context per namespace: a context's namespace is the default for objects that name
        # none, and unlike --namespace it does not refuse objects that name another one.
        contexts = [{"name": "sentra-test", "context": {"cluster": "sentra-test", "user": "sentra-test"}}]
        contexts += [
            {"name": f"ns-{ns}", "context": {"cluster": "sentra-test", "user": "sentra-test", "namespace": ns}}
            for ns in self._namespaces
        ]
        cluster = {"server": self.server, "certificate-authority": str(self._ca)}
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "sentra-test", "cluster": cluster}],
            "users": [{"name": "sentra-test", "user": {"token": self._token}}],
            "contexts": contexts,
            "current-context": "sentra-test",
        }
        self.kubeconfig.touch(mode=0o600)
        self.kubeconfig.write_text(yaml.safe_dump(config))

    def kubectl(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
        """kubectl with the given arguments; the finished process (text output, not checked)."""
        argv = [str(self._kubectl), "--kubeconfig", str(self.kubeconfig), "--cache-dir", str(self._cache_dir), *args]
        env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
        return subprocess.run(argv, input=input, capture_output=True, text=True, env=env, check=False)

    @staticmethod
    def _check(done: subprocess.CompletedProcess, what: str) -> subprocess.CompletedProcess:
        if done.returncode != 0:
            raise AssertionError(f"{what} failed (exit {done.returncode}):\n{(done.stderr or done.stdout).strip()}")
        return done

    def ensure_namespace(self, name: str) -> None:
        """Create the namespace unless this harness already did (idempotent)."""
        if name in self._namespaces:
            return
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": POD_SECURITY_LABELS}}
        applied = self.kubectl(
            "apply", "--server-side", "--field-manager", FIELD_MANAGER, "-f", "-", input=yaml.safe_dump(namespace)
        )
        self._check(applied, f"creating namespace {name}")
        self._namespaces.append(name)
        self._write_kubeconfig()

    def dry_run(self, yaml_text: str, namespace: str = "sentra") -> subprocess.CompletedProcess:
        """Server-side dry run of every object in `yaml_text`; objects that name no namespace go
        to `namespace`. The namespaces are created first, as an installer would.

        Two passes, both with strict field validation (unknown fields are errors):
        `kubectl create --dry-run=server` (what `helm install` does: every error with its field
        path) and `kubectl apply --server-side --dry-run=server` (what GitOps tools and Helm 4
        do: it also refuses duplicate keys in keyed lists, two env vars of one name say). A key
        repeated within one YAML mapping is refused before either (kubectl would keep the last).

        Raises AssertionError with kubectl's message naming each object the server rejected.
        Returns the create pass's finished kubectl: its stderr holds the server's warnings
        (Pod Security ones included)."""
        documents = split_documents(yaml_text)
        if not documents:
            raise AssertionError("nothing to validate: the manifest holds no object")
        self.ensure_namespace(namespace)
        for _, obj in documents:
            named = (obj.get("metadata") or {}).get("namespace")
            if isinstance(named, str) and named:
                self.ensure_namespace(named)
        context = ("--context", f"ns-{namespace}")
        # Namespaces the manifest declares exist by now (created above): the create pass would
        # only say so; the apply pass validates them.
        creatable = "---\n".join(text for text, obj in documents if obj.get("kind") != "Namespace")
        created = None
        if creatable.strip():
            created = self._check(
                self.kubectl(*context, "create", "--dry-run=server", "--validate=strict", "-f", "-", input=creatable),
                "server-side dry run (create)",
            )
        applied = self._check(
            self.kubectl(
                *context, "apply", "--server-side", "--dry-run=server", "--validate=strict",
                "--field-manager", FIELD_MANAGER, "-f", "-", input="---\n".join(text for text, _ in documents),
            ),
            "server-side dry run (server-side apply)",
        )
        return created or applied


def _service_account_keys(directory: Path) -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private, public = directory / "sa.key", directory / "sa.pub"
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return private, public


def _tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _start(argv: list[str], log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)


def _wait_ready(url: str, token: str, proc: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    # Readiness only: the kubeconfig, not this probe, verifies the server's certificate.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    request = urllib.request.Request(f"{url}/readyz", headers={"Authorization": f"Bearer {token}"})
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"kube-apiserver exited with code {proc.returncode}:\n{_tail(log)}")
        try:
            with urllib.request.urlopen(request, context=context, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"kube-apiserver was not ready within {timeout} s:\n{_tail(log)}")
        time.sleep(0.1)


def _apply_crds(api: KubeApi) -> None:
    files = sorted(shared(SHARED_CRDS).glob("*.yaml"))
    if not files:
        raise RuntimeError(f"no CRDs in {SHARED_CRDS}: the deployment tests validate custom resources against them")
    args = ["apply", "--server-side", "--field-manager", FIELD_MANAGER]
    for path in files:
        args += ["-f", str(path)]
    api._check(api.kubectl(*args), "applying the CRDs of ../shared/k8s-crds")
    api._check(
        api.kubectl("wait", "--for=condition=Established", "--timeout=120s", "crd", "--all"),
        "waiting for the CRDs to be established",
    )
    # Discovery read before the CRDs existed must not hide their kinds from later calls.
    shutil.rmtree(api._cache_dir, ignore_errors=True)


@contextmanager
def kube_api_server() -> Iterator[KubeApi]:
    """etcd + kube-apiserver on loopback, the shared CRDs applied and namespace `sentra` created;
    both processes stopped by PID and their directory removed on exit."""
    etcd, apiserver = etcd_binary(), kube_apiserver_binary()
    kubectl_binary()  # fail now, with the message naming `make setup`, rather than after the start
    base = Path(tempfile.mkdtemp(prefix="sentra-kube-"))
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, base, ignore_errors=True)
        client_port, peer_port, api_port = free_port(), free_port(), free_port()
        etcd_log = base / "etcd.log"
        etcd_proc = _start(
            [
                str(etcd), "--name", "sentra-test", "--data-dir", str(base / "etcd"),
                "--listen-client-urls", f"http://127.0.0.1:{client_port}",
                "--advertise-client-urls", f"http://127.0.0.1:{client_port}",
                "--listen-peer-urls", f"http://127.0.0.1:{peer_port}",
                "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer_port}",
                "--initial-cluster", f"sentra-test=http://127.0.0.1:{peer_port}",
                "--log-level", "warn",
            ],
            etcd_log,
        )
        stack.callback(_stop, etcd_proc)
        try:
            wait_port(client_port, etcd_proc)
        except RuntimeError as exc:
            raise RuntimeError(f"etcd did not start: {exc}\n{_tail(etcd_log)}") from exc

        token = os.urandom(16).hex()
        (base / "tokens.csv").write_text(f'{token},sentra-test,sentra-test,"system:masters"\n')
        sa_key, sa_pub = _service_account_keys(base)
        cert_dir = base / "certs"
        api_log = base / "kube-apiserver.log"
        api_proc = _start(
            [
                str(apiserver),
                f"--etcd-servers=http://127.0.0.1:{client_port}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={api_port}",
                f"--cert-dir={cert_dir}",
                f"--token-auth-file={base / 'tokens.csv'}",
                "--anonymous-auth=false",
                "--authorization-mode=AlwaysAllow",
                # As clusters set up by kubeadm and managed offerings do: Pod Security decides.
                "--allow-privileged=true",
                "--service-account-issuer=https://kubernetes.default.svc",
                f"--service-account-key-file={sa_pub}",
                f"--service-account-signing-key-file={sa_key}",
                "--service-cluster-ip-range=10.96.0.0/16",
                "--disable-admission-plugins=ServiceAccount",
                "--profiling=false",
            ],
            api_log,
        )
        stack.callback(_stop, api_proc)
        server = f"https://127.0.0.1:{api_port}"
        _wait_ready(server, token, api_proc, api_log)

        api = KubeApi(server, cert_dir / "apiserver.crt", token, base)
        _apply_crds(api)
        api.ensure_namespace("sentra")
        yield api
