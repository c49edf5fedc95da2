"""Keycloak on one machine: install the pinned distribution from Maven Central with
`mvn`, and run it in development mode with Sentra's realm imported at start-up.

    python -m sentra_cli.keycloak install     # what scripts/setup.sh runs

The distribution is unpacked once (`~/.cache/sentra/keycloak/keycloak-<version>`, or
`SENTRA_KEYCLOAK_HOME`); each running instance gets its own directory (configuration,
build output, H2 database, realm import) with links to the shared libraries, so several
instances (the platform, the tests) never write to the same files.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Sequence
from pathlib import Path

KEYCLOAK_VERSION = "26.4.2"
ARTIFACT = f"org.keycloak:keycloak-quarkus-dist:{KEYCLOAK_VERSION}:zip"
REALM = "sentra"
ROOT = Path(__file__).resolve().parents[3]
REALM_FILE = ROOT / "deploy" / "keycloak" / "sentra-realm.json"
# The web console's public client; its addresses are those of the gateway that serves it.
CONSOLE_CLIENT = "sentra-console"
# Keycloak 26 runs on Java 17 or 21.
JAVA_CANDIDATES = ("/usr/lib/jvm/java-21-openjdk-amd64", "/usr/lib/jvm/java-17-openjdk-amd64")


class KeycloakError(Exception):
    """Something the person running Sentra must fix; the message says what."""


def home() -> Path:
    configured = os.environ.get("SENTRA_KEYCLOAK_HOME")
    if configured:
        return Path(configured)
    return Path.home() / ".cache" / "sentra" / "keycloak" / f"keycloak-{KEYCLOAK_VERSION}"


def installed() -> Path | None:
    path = home()
    return path if (path / "bin" / "kc.sh").exists() and (path / "lib" / "quarkus-run.jar").exists() else None


def install() -> Path:
    """Fetch the pinned distribution with Maven and unpack it (idempotent)."""
    if (found := installed()) is not None:
        return found
    if shutil.which("mvn") is None:
        raise KeycloakError("Maven (mvn) is needed to fetch Keycloak: `apt-get install maven`")
    target = home()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        result = subprocess.run(
            ["mvn", "-q", "-B", "dependency:copy", f"-Dartifact={ARTIFACT}", f"-DoutputDirectory={tmp}"],
            capture_output=True, text=True,
        )
        if result.returncode != 0:
            raise KeycloakError(f"mvn could not fetch {ARTIFACT}:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
        archive = Path(tmp) / f"keycloak-quarkus-dist-{KEYCLOAK_VERSION}.zip"
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                extracted = Path(zf.extract(info, tmp))
                mode = info.external_attr >> 16
                if mode:
                    extracted.chmod(mode & 0o777)
        unpacked = Path(tmp) / f"keycloak-{KEYCLOAK_VERSION}"
        if target.exists():
            shutil.rmtree(target)
        unpacked.rename(target)
    return target


def find_java() -> str:
    for candidate in (os.environ.get("SENTRA_KEYCLOAK_JAVA_HOME", ""), *JAVA_CANDIDATES):
        if candidate and (Path(candidate) / "bin" / "java").exists():
            return candidate
    raise KeycloakError("Keycloak needs Java 17 or 21: `apt-get install openjdk-17-jre-headless`")


class KeycloakServer:
    """One Keycloak instance in development mode (H2 database in its own directory)."""

    def __init__(
        self, instance_dir: Path, port: int, admin_user: str, admin_password: str,
        realm_files: tuple[Path, ...] = (REALM_FILE,), management_port: int | None = None,
    ) -> None:
        dist = installed()
        if dist is None:
            raise KeycloakError(
                f"Keycloak {KEYCLOAK_VERSION} is not installed; run `make setup` "
                "(or `python -m sentra_cli.keycloak install`)"
            )
        self.dist = dist
        self.dir = instance_dir
        self.port = port
        self.management_port = management_port or port + 1
        self.admin_user = admin_user
        self.admin_password = admin_password
        self.realm_files = realm_files

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def issuer(self) -> str:
        return f"{self.url}/realms/{REALM}"

    def prepare(self) -> None:
        d = self.dir
        (d / "lib").mkdir(parents=True, exist_ok=True)
        for name in ("bin", "conf"):
            if not (d / name).exists():
                shutil.copytree(self.dist / name, d / name)
        if not (d / "lib" / "quarkus").exists():
            shutil.copytree(self.dist / "lib" / "quarkus", d / "lib" / "quarkus")
        links = {"providers": "providers", "themes": "themes", "version.txt": "version.txt",
                 "lib/app": "lib/app", "lib/lib": "lib/lib", "lib/quarkus-run.jar": "lib/quarkus-run.jar"}
        for link, source in links.items():
            if not (d / link).exists():
                (d / link).symlink_to(self.dist / source)
        imports = d / "data" / "import"
        imports.mkdir(parents=True, exist_ok=True)
        for realm_file in self.realm_files:
            shutil.copyfile(realm_file, imports / realm_file.name)

    def command(self) -> tuple[list[str], dict[str, str]]:
        env = {
            **os.environ,
            "JAVA_HOME": find_java(),
            "KC_BOOTSTRAP_ADMIN_USERNAME": self.admin_user,
            "KC_BOOTSTRAP_ADMIN_PASSWORD": self.admin_password,
            # A development instance needs little memory; the default takes 70 % of the machine.
            "JAVA_OPTS_KC_HEAP": "-Xms64m -Xmx768m",
        }
        argv = [
            str(self.dir / "bin" / "kc.sh"), "start-dev", "--import-realm",
            "--http-host", "127.0.0.1", "--http-port", str(self.port),
            "--http-management-port", str(self.management_port), "--log-level", "warn",
            # A '/' in a group's name is written `~/` in its path: a top-level group named
            # `departments/legal` must not have the path of the department legal.
            "--spi-group--jpa--escape-slashes-in-group-path=true",
        ]
        return argv, env

    def start(self, log_path: Path) -> subprocess.Popen:
        self.prepare()
        argv, env = self.command()
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            return subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                cwd=self.dir, start_new_session=True,
            )

    def wait_ready(self, proc: subprocess.Popen | None, timeout: float = 180.0, log_path: Path | None = None) -> None:
        deadline = time.monotonic() + timeout
        url = f"{self.issuer}/.well-known/openid-configuration"
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise KeycloakError(f"Keycloak exited during start-up; see {log_path or self.dir}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.5)
        raise KeycloakError(f"Keycloak did not answer within {timeout:.0f} s; see {log_path or self.dir}")

    def register_console(self, origins: Sequence[str]) -> None:
        register_console(self.url, self.admin_user, self.admin_password, origins)


def console_client(origins: Sequence[str]) -> dict:
    """The realm file's `sentra-console` client, its addresses set to the gateway's origins
    (where the console is served: `<origin>/console/`)."""
    realm = json.loads(REALM_FILE.read_text())
    client = next(c for c in realm["clients"] if c["clientId"] == CONSOLE_CLIENT)
    return {
        **client,
        "rootUrl": origins[0],
        "redirectUris": [f"{o}/console/*" for o in origins],
        "webOrigins": list(origins),
        "attributes": {**client.get("attributes", {}),
                       "post.logout.redirect.uris": "##".join(f"{o}/console/*" for o in origins)},
    }


def _admin_call(url: str, method: str | None = None, token: str = "", body: dict | None = None,
                form: dict | None = None) -> object:
    """One call to Keycloak's API (JSON); `method` defaults to POST with a body, else GET."""
    data, headers = None, {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if body is not None:
        data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
    except urllib.error.HTTPError as exc:
        raise KeycloakError(f"Keycloak answered {exc.code} to {method} {url}: {exc.read()[:300]!r}") from None
    except OSError as exc:
        raise KeycloakError(f"Keycloak cannot be reached at {url}: {exc}") from None
    return json.loads(raw) if raw else None


def register_console(server_url: str, admin_user: str, admin_password: str, origins: Sequence[str]) -> None:
    """Point the realm's `sentra-console` client at the gateway's origins (redirect URIs,
    web origins, post-logout redirects), creating it when the realm was imported before the
    client existed. Called by `sentra up` for the Keycloak it runs, since the gateway's
    HTTP port is configurable (and any free port in tests)."""
    token = _admin_call(
        f"{server_url}/realms/master/protocol/openid-connect/token",
        form={"grant_type": "password", "client_id": "admin-cli", "username": admin_user, "password": admin_password},
    )["access_token"]
    clients = f"{server_url}/admin/realms/{REALM}/clients"
    wanted = console_client(origins)
    found = _admin_call(f"{clients}?{urllib.parse.urlencode({'clientId': CONSOLE_CLIENT})}", token=token)
    if not found:
        _admin_call(clients, "POST", token, wanted)
        return
    current = found[0]
    changes = {key: wanted[key] for key in ("rootUrl", "redirectUris", "webOrigins")}
    attributes = {**current.get("attributes", {}), **wanted["attributes"]}
    _admin_call(f"{clients}/{current['id']}", "PUT", token, {**current, **changes, "attributes": attributes})


def main(argv: list[str]) -> int:
    if argv[:1] == ["install"]:
        try:
            path = install()
        except KeycloakError as exc:
            print(f"[keycloak] {exc}", file=sys.stderr)
            return 1
        print(f"[keycloak] {KEYCLOAK_VERSION} installed at {path}", file=sys.stderr)
        return 0
    print("usage: python -m sentra_cli.keycloak install", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
