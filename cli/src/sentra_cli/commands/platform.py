"""`sentra up`, `down`, `status`, `config`: the platform on this machine."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from sentra_cli.cli import DEFAULT_HOME, DataDir, app, console, err
from sentra_cli.platform import SERVICES, Platform, default_generation_backend, pid_alive
from sentra_cli.settings import CONFIG_NAME, DEFAULT_PORTS, load_config


@app.command()
def up(
    home: DataDir = DEFAULT_HOME,
    dev: bool = typer.Option(
        False, "--dev",
        help="Development identity: no Keycloak, callers assert who they are (SENTRA_IDENTITY). Loopback only; "
             "also SENTRA_IDENTITY_MODE=development.",
    ),
    mtls: bool = typer.Option(False, "--mtls", help="Mutual TLS between the services (certificates generated)."),
    config: Path | None = typer.Option(
        None, "--config", envvar="SENTRA_CONFIG",
        help=f"Settings file (default: <data>/{CONFIG_NAME}): [ports], [supervisor], one table per service.",
    ),
    otlp_endpoint: str = typer.Option(
        "", "--otlp-endpoint", envvar="SENTRA_OTLP_ENDPOINT",
        help="Send every service's traces to this OTLP/gRPC collector (e.g. http://127.0.0.1:4317).",
    ),
) -> None:
    """Start nats-server, Keycloak and every service under a supervisor that keeps them
    running (restart with back-off); settings from sentra.toml and SENTRA_<SERVICE>_*."""
    mode = "development" if dev else os.environ.get("SENTRA_IDENTITY_MODE", "keycloak")
    try:
        settings = load_config(config or home / CONFIG_NAME, required=config is not None)
        platform = Platform(home, identity=mode, mtls=mtls, config=settings,
                            ports={**DEFAULT_PORTS, **settings.ports},
                            inference_backend=default_generation_backend(), otlp_endpoint=otlp_endpoint)
        with console.status("starting Sentra (Keycloak and the embedding model take a little while)…"):
            state = platform.up()
    except Exception as exc:  # PlatformError, ConfigError, KeycloakError: each says what to do
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    _print_status(platform)
    console.print(f"data directory: {state.data_dir}")
    if state.identity.mode == "development":
        err.print(
            "[yellow]warning: DEVELOPMENT MODE[/yellow] (asked for) — the gateway trusts the identity callers "
            "assert (SENTRA_IDENTITY=subject:departments:roles); it listens on loopback only and says so in every "
            "response. Run `sentra up` without --dev for real logins through Keycloak."
        )
    else:
        console.print(f"identity provider: {state.identity.issuer}")
        console.print("next: `sentra admin departments create …`, `sentra admin users create …`, `sentra login`")


@app.command()
def down(home: DataDir = DEFAULT_HOME) -> None:
    """Stop the supervisor and every process that `sentra up` started."""
    Platform(home).down()
    console.print("Sentra stopped.")


@app.command()
def status(home: DataDir = DEFAULT_HOME) -> None:
    """Show which processes run and where, their restarts and last exit, and the settings
    that are not the services' defaults with where each came from."""
    _print_status(Platform(home))
    _print_settings(Platform(home), everything=False)


@app.command("config")
def config_(
    home: DataDir = DEFAULT_HOME,
    all_: bool = typer.Option(False, "--all", help="Also the values the platform sets itself (ports, keys, …)."),
) -> None:
    """Show each service's settings and which source won: file, environment, caller, platform."""
    _print_settings(Platform(home), everything=all_)


def _process_state(alive: bool, info) -> str:
    if info is not None and info.crash_loop:
        return f"[red]CRASH LOOP[/red] ({escape(info.status or 'running')})"
    if info is not None and info.status:
        return f"[yellow]{escape(info.status)}[/yellow]"
    return "[green]running[/green]" if alive else "[red]stopped[/red]"


def _print_status(platform: Platform) -> None:
    state = platform.load_state()
    alive = platform.running()
    supervisor_up = state.supervisor is not None and pid_alive(state.supervisor.pid)
    alive["supervisor"] = supervisor_up
    table = Table("process", "state", "pid", "address", "metrics", "restarts", "last exit")
    rows = [("supervisor", state.supervisor), ("nats", state.nats), *((s, state.services.get(s)) for s in SERVICES)]
    if state.keycloak is not None:
        rows.insert(2, ("keycloak", state.keycloak))
    for name, info in rows:
        address = f"127.0.0.1:{info.port}" if info and info.port else "-"
        if name == "gateway" and info and state.http_port:
            address += f", HTTP {state.http_port}"
        last = Text(f"{info.last_exit} at {info.last_exit_at}" if info and info.last_exit else "-")
        table.add_row(
            name, _process_state(alive.get(name, False), info),
            str(info.pid) if info else "-", address,
            f"http://127.0.0.1:{info.metrics_port}/metrics" if info and info.metrics_port else "-",
            str(info.restarts) if info else "-", last,
        )
    console.print(table)
    if state.supervisor is not None and not supervisor_up:
        err.print("[yellow]warning:[/yellow] the supervisor is not running: nothing restarts a process that dies. "
                  "Run `sentra up` again (it adopts the running processes).")
    if state.error:
        err.print(f"[red]start-up failed:[/red] {escape(state.error)}")
    if state.identity.mode == "development":
        console.print("identity: [yellow]DEVELOPMENT MODE[/yellow] (callers assert who they are; loopback only)")
    elif state.identity.issuer:
        console.print(f"identity: keycloak ({state.identity.issuer})")
    console.print(f"between services: signed per-call assertions{' + mutual TLS' if state.mtls else ''}")
    if state.http_port:
        console.print(f"gateway: gRPC {state.target('gateway') if 'gateway' in state.services else '-'}, "
                      f"HTTP http://127.0.0.1:{state.http_port}/api/v1 (docs at /docs)")


def _print_settings(platform: Platform, *, everything: bool) -> None:
    """Per service, the settings set by someone (file, environment, caller, platform
    defaults; with `everything` also the platform's own) and what they overrode."""
    state = platform.load_state()
    if state.config_file:
        console.print(f"settings file: {state.config_file}")
    else:
        console.print(f"settings file: none ({Path(state.data_dir) / CONFIG_NAME} does not exist)")
    table = Table("service", "setting", "value", "from", "overrode")
    for name in SERVICES:
        info = state.services.get(name)
        if info is None:
            continue
        prefix = f"SENTRA_{name.upper()}_"
        for var, entry in sorted(info.settings.items()):
            if entry["source"] == "platform" and not everything and not entry["overrode"]:
                continue
            table.add_row(name, Text(var.removeprefix(prefix)), Text(entry["value"]), entry["source"],
                          Text(", ".join(entry["overrode"]) or "-"))
    if not state.services:
        console.print("Sentra is not running here: each service's settings are recorded when `sentra up` starts it")
    elif table.row_count:
        console.print(table)
    else:
        console.print("every service runs with its defaults")
