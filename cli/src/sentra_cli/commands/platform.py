"""`sentra up`, `down`, `status`: the platform on this machine."""

from __future__ import annotations

import os

import typer
from rich.table import Table

from sentra_cli.cli import DEFAULT_HOME, DataDir, app, console, err
from sentra_cli.platform import SERVICES, Platform


@app.command()
def up(
    home: DataDir = DEFAULT_HOME,
    dev: bool = typer.Option(
        False, "--dev",
        help="Development identity: no Keycloak, callers assert who they are (SENTRA_IDENTITY). Loopback only; "
             "also SENTRA_IDENTITY_MODE=development.",
    ),
    mtls: bool = typer.Option(False, "--mtls", help="Mutual TLS between the services (certificates generated)."),
) -> None:
    """Start nats-server, Keycloak and every service with the embedded defaults."""
    mode = "development" if dev else os.environ.get("SENTRA_IDENTITY_MODE", "keycloak")
    try:
        platform = Platform(home, identity=mode, mtls=mtls)
        with console.status("starting Sentra (Keycloak and the embedding model take a little while)…"):
            state = platform.up()
    except Exception as exc:  # PlatformError, KeycloakError: both say what to do
        err.print(f"[red]error:[/red] {exc}")
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
    """Stop every process that `sentra up` started."""
    Platform(home).down()
    console.print("Sentra stopped.")


@app.command()
def status(home: DataDir = DEFAULT_HOME) -> None:
    """Show which processes run and where."""
    _print_status(Platform(home))


def _print_status(platform: Platform) -> None:
    state = platform.load_state()
    alive = platform.running()
    table = Table("process", "state", "pid", "address", "metrics")
    rows = [("nats", state.nats), *((s, state.services.get(s)) for s in SERVICES)]
    if state.keycloak is not None:
        rows.insert(1, ("keycloak", state.keycloak))
    for name, info in rows:
        up_ = alive.get(name, False)
        table.add_row(
            name, "[green]running[/green]" if up_ else "[red]stopped[/red]",
            str(info.pid) if info else "-", f"127.0.0.1:{info.port}" if info else "-",
            f"http://127.0.0.1:{info.metrics_port}/metrics" if info and info.metrics_port else "-",
        )
    console.print(table)
    if state.identity.mode == "development":
        console.print("identity: [yellow]DEVELOPMENT MODE[/yellow] (callers assert who they are; loopback only)")
    elif state.identity.issuer:
        console.print(f"identity: keycloak ({state.identity.issuer})")
    console.print(f"between services: signed per-call assertions{' + mutual TLS' if state.mtls else ''}")
    if state.http_port:
        console.print(f"gateway: gRPC {state.target('gateway') if 'gateway' in state.services else '-'}, "
                      f"HTTP http://127.0.0.1:{state.http_port}/api/v1 (docs at /docs)")
