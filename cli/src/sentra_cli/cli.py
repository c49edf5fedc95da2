"""The `sentra` command's shared parts: the Typer app its command groups register on,
the consoles, the options every command takes, and running an action with clients."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import grpc
import typer
from rich.console import Console

from sentra_cli.client import Clients
from sentra_cli.platform import Platform, PlatformError
from sentra_cli.session import LoginError

app = typer.Typer(help="Sentra: private AI over your company's documents.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)

DataDir = Annotated[
    Path,
    typer.Option(envvar="SENTRA_HOME", help="Where Sentra keeps its data, logs and process state."),
]
DEFAULT_HOME = Path(".sentra")


def run_with_clients(coro_factory, home: Path):
    """Run an async CLI action with clients; turn failures into clear messages."""

    async def runner():
        clients = Clients(Platform(home))
        try:
            return await coro_factory(clients)
        finally:
            await clients.close()

    try:
        return asyncio.run(runner())
    except (PlatformError, LoginError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    except grpc.aio.AioRpcError as exc:
        err.print(f"[red]error ({exc.code().name}):[/red] {exc.details()}")
        raise typer.Exit(1) from None


def issuer_url(home: Path, issuer: str) -> str:
    if issuer:
        return issuer
    state = Platform(home).load_state()
    if state.identity.mode != "keycloak":
        err.print("[red]error:[/red] no identity provider known: this platform runs in development mode "
                  "(set SENTRA_IDENTITY instead), or pass --issuer https://…/realms/sentra")
        raise typer.Exit(2)
    return state.identity.issuer


Issuer = Annotated[str, typer.Option(envvar="SENTRA_ISSUER", help="The Sentra realm's URL (…/realms/sentra); "
                                     "default: the local platform's Keycloak.")]
