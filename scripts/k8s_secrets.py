"""Sentra's Kubernetes Secrets, made with Sentra's own code: for the Kustomize deployment
(whose manifests name Secrets but never hold them), for Helm with existing Secrets
(`identity.existingSecret`, `global.sentra.busSecret`, ...), and for the Tilt dev loop.

    python scripts/k8s_secrets.py                      # every Secret, as YAML on stdout
    python scripts/k8s_secrets.py --apply -n sentra    # create the ones missing in a namespace
    python scripts/k8s_secrets.py --only identity,bus  # some of them

Secrets (names as the Kustomize base expects them; --prefix changes `sentra`):
- `sentra-identity`: `gateway.key`, `service-retrieval.key`, `service-training.key` (Ed25519,
  PEM) and `trust.json` (`sentra_common.identity.generate_keys`);
- `sentra-bus`: `<service>.json` per service and `auth.conf`, nats-server's authorization
  block with each user's permissions and bcrypt password hash (`sentra_common.bus_access`);
- `sentra-qdrant`: `api-key` of the Qdrant server;
- `sentra-ray-token`: `token` of the Ray cluster (RAY_AUTH_MODE=token);
- `sentra-encryption`: `keyring`, the at-rest keyring (`sentra_common.sealed`);
- `sentra-dev-keycloak` (`--only dev-keycloak`, the dev overlay's Keycloak): its admin's
  `username` and `password`.
The database URLs (`sentra-database`) hold your PostgreSQL roles' passwords: create that
Secret yourself (see the README's "Deploy on Kubernetes").

`--apply` never replaces a Secret that exists: keys and passwords are made once.
"""

from __future__ import annotations

import argparse
import base64
import json
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

KINDS = ("identity", "bus", "qdrant", "ray-token", "encryption")
EXTRA_KINDS = ("dev-keycloak",)


def _secret(name: str, data: dict[str, str | bytes], component: str) -> dict:
    encoded = {k: base64.b64encode(v if isinstance(v, bytes) else v.encode()).decode() for k, v in sorted(data.items())}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": "sentra",
                                              "app.kubernetes.io/component": component}},
        "type": "Opaque",
        "data": encoded,
    }


def identity_data() -> dict[str, bytes]:
    from sentra_common.identity import GATEWAY_ISSUER, SIGNING_SERVICES, generate_keys, service_issuer

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "keys"
        generate_keys(directory, [GATEWAY_ISSUER, *(service_issuer(s) for s in SIGNING_SERVICES)])
        files = sorted(directory.iterdir())
        return {path.name: path.read_bytes() for path in files if path.suffix in (".key", ".json")}


def bus_data() -> dict[str, bytes]:
    from sentra_common.bus_access import SERVICE_ACCESS, generate_credentials, render_authorization

    with tempfile.TemporaryDirectory() as tmp:
        credentials = generate_credentials(Path(tmp) / "bus", sorted(SERVICE_ACCESS))
        data = {path.name: path.read_bytes() for path in credentials.values()}
        data["auth.conf"] = (render_authorization(credentials) + "\n").encode()
        return data


def encryption_data() -> dict[str, str]:
    from sentra_common.sealed import new_key_line

    return {"keyring": new_key_line() + "\n"}


def make(kind: str, prefix: str) -> dict:
    if kind == "identity":
        return _secret(f"{prefix}-identity", identity_data(), "identity")
    if kind == "bus":
        return _secret(f"{prefix}-bus", bus_data(), "bus")
    if kind == "qdrant":
        return _secret(f"{prefix}-qdrant", {"api-key": secrets.token_urlsafe(32)}, "qdrant")
    if kind == "ray-token":
        return _secret(f"{prefix}-ray-token", {"token": secrets.token_urlsafe(36)}, "ray")
    if kind == "encryption":
        return _secret(f"{prefix}-encryption", encryption_data(), "encryption")
    if kind == "dev-keycloak":
        return _secret(f"{prefix}-dev-keycloak", {"username": "sentra-admin", "password": secrets.token_urlsafe(18)},
                       "keycloak")
    raise ValueError(f"unknown Secret {kind!r}; choose from {', '.join(KINDS + EXTRA_KINDS)}")


def _exists(name: str, namespace: str, kubectl: str) -> bool:
    done = subprocess.run([kubectl, "get", "secret", name, "-n", namespace, "-o", "name"],
                          capture_output=True, text=True, check=False)
    if done.returncode == 0:
        return True
    if "NotFound" in done.stderr:
        return False
    raise SystemExit(f"kubectl could not check secret {name} in {namespace}: {done.stderr.strip()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(KINDS),
                        help=f"comma-separated: {', '.join(KINDS + EXTRA_KINDS)} (default: {', '.join(KINDS)})")
    parser.add_argument("--prefix", default="sentra", help="name prefix of the Secrets (default: sentra)")
    parser.add_argument("--apply", action="store_true", help="create the missing Secrets with kubectl")
    parser.add_argument("-n", "--namespace", default="sentra", help="namespace for --apply")
    parser.add_argument("--kubectl", default="kubectl")
    args = parser.parse_args(argv)
    kinds = [k.strip() for k in args.only.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in KINDS + EXTRA_KINDS]
    if unknown:
        parser.error(f"unknown Secret(s) {', '.join(unknown)}; choose from {', '.join(KINDS + EXTRA_KINDS)}")
    if not args.apply:
        print("\n---\n".join(json.dumps(make(kind, args.prefix), indent=2) for kind in kinds))
        return 0
    for kind in kinds:
        name = f"{args.prefix}-{kind}"
        if _exists(name, args.namespace, args.kubectl):
            print(f"secret/{name} exists in {args.namespace}: kept", file=sys.stderr)
            continue
        manifest = json.dumps(make(kind, args.prefix))
        subprocess.run([args.kubectl, "create", "-n", args.namespace, "-f", "-"], input=manifest, text=True,
                       check=True, stdout=subprocess.DEVNULL)
        print(f"secret/{name} created in {args.namespace}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
