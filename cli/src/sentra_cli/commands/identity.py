"""`sentra login`, `logout`, `whoami`."""

from __future__ import annotations

from typing import Annotated

import typer

from sentra_cli.cli import DEFAULT_HOME, DataDir, Issuer, app, console, err, issuer_url, run_with_clients
from sentra_cli.client import Clients
from sentra_cli.session import LoginError


@app.command()
def login(
    username: Annotated[str, typer.Option("--username", "-u", help="Log in with a password.")] = "",
    password_stdin: Annotated[bool, typer.Option(help="Read the password (or client secret) from stdin.")] = False,
    device: Annotated[bool, typer.Option(help="Log in in a browser with a device code.")] = False,
    client_id: Annotated[str, typer.Option(help="Service account: log in with client credentials.")] = "",
    issuer: Issuer = "",
    home: DataDir = DEFAULT_HOME,
) -> None:
    """Log in to Sentra; tokens are stored in ~/.config/sentra/credentials.json (mode 0600)."""
    from sentra_cli import session as sessions

    realm = issuer_url(home, issuer)

    def secret(prompt: str) -> str:
        if password_stdin:
            return typer.get_text_stream("stdin").readline().rstrip("\n")
        return typer.prompt(prompt, hide_input=True)

    try:
        if client_id:
            current = sessions.client_credentials(realm, client_id, secret("client secret"))
        elif device:
            current = sessions.device_login(
                realm, lambda url, code: console.print(f"open [bold]{url}[/bold] and confirm the code {code}")
            )
        else:
            user = username or typer.prompt("username")
            current = sessions.password_login(realm, user, secret("password"))
    except LoginError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    path = current.save()
    console.print(f"logged in as {current.username or 'device user'}; token stored in {path}")


@app.command()
def logout() -> None:
    """Forget the stored tokens."""
    from sentra_cli.session import credentials_path

    credentials_path().unlink(missing_ok=True)
    console.print("logged out")


@app.command()
def whoami(home: DataDir = DEFAULT_HOME) -> None:
    """Who the gateway says you are: departments and roles."""
    from sentra.gateway.v1 import gateway_pb2

    async def action(clients: Clients):
        p = (await clients.gateway.WhoAmI(gateway_pb2.WhoAmIRequest())).principal
        console.print(f"{p.subject} ({p.display_name}) · departments: {', '.join(p.departments) or '-'} · "
                      f"roles: {', '.join(p.roles) or '-'}")
        if p.user_id:
            console.print(f"account id: {p.user_id} (access lists name you as user:{p.user_id})")

    run_with_clients(action, home)
