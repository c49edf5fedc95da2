"""Where the settings of a platform on one machine come from, and which value won.

A service's settings are its `SENTRA_<SERVICE>_*` variables (pydantic-settings, nested with
`__`). On one machine they come from, lowest first:

1. platform default — a value the platform suggests (e.g. the local model directory);
2. file — the service's table in `sentra.toml` (`<data>/sentra.toml`, or `--config`);
3. environment — the environment of whoever ran `sentra up`;
4. caller — `Platform(extra_env=…)` (tests and benchmarks);
5. platform — what the platform itself must decide (ports, keys, bus credentials, the
   addresses of the other services); a value set elsewhere for one of these is ignored,
   and the report says so.

`sentra.toml`:

    [ports]            # stable defaults below; 0 = any free port
    gateway_grpc = 50051
    gateway_http = 8080
    keycloak = 8180

    [supervisor]       # restarts with exponential back-off
    backoff_initial_seconds = 1
    backoff_max_seconds = 60
    stable_seconds = 60            # up this long: the back-off starts over
    crash_loop_restarts = 5        # this many restarts ...
    crash_loop_window_seconds = 300  # ... within this window: reported as a crash loop

    [inference.answer]
    default_strategy = "generative"
    [ingestion.limits]
    max_upload_bytes = 10485760
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

CONFIG_NAME = "sentra.toml"
# Start order matters: retrieval asks the embedding service for its dimension; the
# gateway comes last.
SERVICES = ("embedding", "ingestion", "retrieval", "inference", "training", "gateway")
DEFAULT_PORTS = {"gateway_grpc": 50051, "gateway_http": 8080, "keycloak": 8180}
PORT_LABELS = {"gateway_grpc": "gateway gRPC", "gateway_http": "gateway HTTP", "keycloak": "Keycloak"}
SOURCES = ("platform default", "file", "environment", "caller", "platform")
_SECRET = re.compile(r"(SECRET|PASSWORD|TOKEN|API_KEY|PRIVATE)")


class ConfigError(Exception):
    """The configuration file cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class SupervisorPolicy:
    backoff_initial_seconds: float = 1.0
    backoff_max_seconds: float = 60.0
    stable_seconds: float = 60.0
    crash_loop_restarts: int = 5
    crash_loop_window_seconds: float = 300.0

    def delay(self, failures: int) -> float:
        """Seconds to wait before restart number `failures` (1, 2, …) of a short-lived process."""
        return min(self.backoff_max_seconds, self.backoff_initial_seconds * 2 ** max(0, failures - 1))


@dataclass
class Config:
    path: Path | None = None
    services: dict[str, dict[str, str]] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)  # only those the file sets
    supervisor: SupervisorPolicy = field(default_factory=SupervisorPolicy)

    def to_json(self) -> dict:
        return {"path": str(self.path) if self.path else None, "services": self.services,
                "ports": self.ports, "supervisor": asdict(self.supervisor)}

    @classmethod
    def from_json(cls, raw: dict) -> Config:
        return cls(Path(raw["path"]) if raw.get("path") else None, raw.get("services", {}),
                   raw.get("ports", {}), SupervisorPolicy(**raw.get("supervisor", {})))


def _flatten(table: dict, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in table.items():
        name = f"{prefix}{key.upper()}"
        if isinstance(value, dict):
            out.update(_flatten(value, f"{name}__"))
        elif isinstance(value, bool):
            out[name] = "true" if value else "false"
        elif isinstance(value, list):
            out[name] = json.dumps(value)
        else:
            out[name] = str(value)
    return out


def load_config(path: Path, *, required: bool = False) -> Config:
    """Read `sentra.toml`; a missing file is an empty configuration unless `required`."""
    if not path.exists():
        if required:
            raise ConfigError(f"configuration file {path} does not exist")
        return Config()
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    config = Config(path=path.resolve())
    for section, table in raw.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: `{section}` must be a table ([{section}])")
        if section == "ports":
            for key, value in table.items():
                if key not in DEFAULT_PORTS:
                    raise ConfigError(f"{path}: [ports] {key} is not known; use {', '.join(DEFAULT_PORTS)}")
                if not isinstance(value, int) or not 0 <= value < 65536:
                    raise ConfigError(f"{path}: [ports] {key} = {value!r} is not a port (0 = any free port)")
                config.ports[key] = value
        elif section == "supervisor":
            known = {f.name for f in fields(SupervisorPolicy)}
            unknown = set(table) - known
            if unknown:
                raise ConfigError(f"{path}: [supervisor] {', '.join(sorted(unknown))} not known; "
                                  f"use {', '.join(sorted(known))}")
            bad = [k for k, v in table.items() if not isinstance(v, int | float) or isinstance(v, bool) or v <= 0]
            if bad:
                raise ConfigError(f"{path}: [supervisor] {', '.join(bad)} must be a positive number")
            config.supervisor = SupervisorPolicy(**table)
        elif section in SERVICES:
            config.services[section] = _flatten(table)
        else:
            raise ConfigError(f"{path}: [{section}] is not known; use [ports], [supervisor] or one of "
                              f"{', '.join(f'[{s}]' for s in SERVICES)}")
    return config


def masked(name: str, value: str) -> str:
    if _SECRET.search(name) and not name.endswith("_FILE"):
        return "***"
    return value


def layer(prefix: str, layers: dict[str, dict[str, str]]) -> tuple[dict[str, str], dict[str, dict]]:
    """Merge the `SENTRA_<SERVICE>_*` values of each source (keys are full variable names),
    lowest source first; returns the winning values and, per variable, its (masked) value,
    the source that won and the sources it overrode."""
    env: dict[str, str] = {}
    report: dict[str, dict] = {}
    for source in SOURCES:
        for name, value in layers.get(source, {}).items():
            if not name.startswith(prefix):
                continue
            previous = report.get(name)
            overrode = [*previous["overrode"], f"{previous['source']}={previous['value']}"] if previous else []
            env[name] = value
            report[name] = {"value": masked(name, value), "source": source, "overrode": overrode}
    return env, report
