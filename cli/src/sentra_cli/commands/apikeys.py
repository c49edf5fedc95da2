"""`sentra api-keys create|list|revoke`: keys for automation tools that have only an "API
key" field (n8n, Open WebUI). A key acts as one department and one role; its secret is
printed once, at creation, and only a salted hash of it is stored."""

from __future__ import annotations

import json
import re
from typing import Annotated

import typer
from google.protobuf.json_format import MessageToDict
from rich.markup import escape
from rich.table import Table
from sentra.gateway.v1 import gateway_pb2

from sentra_cli.cli import DEFAULT_HOME, DataDir, app, console, err, run_with_clients
from sentra_cli.client import Clients

keys_app = typer.Typer(help="API keys for automation tools (n8n, Open WebUI): one department, one role, "
                            "revocable.", no_args_is_help=True)
app.add_typer(keys_app, name="api-keys")

DURATION = re.compile(r"^\s*(\d+)\s*([dhm]?)\s*$")
SECONDS = {"d": 86400, "h": 3600, "m": 60, "": 86400}


def parse_duration(text: str) -> int:
    """"90d" / "12h" / "30m" / "90" (days) → seconds; "" or "never" → 0."""
    if not text or text.strip().lower() == "never":
        return 0
    match = DURATION.match(text.lower())
    if match is None:
        raise ValueError(f"--expires-in {text!r}: use a number of days (90d), hours (12h) or minutes (30m), "
                         "or never")
    return int(match.group(1)) * SECONDS[match.group(2)]


def _time(ts) -> str:
    return ts.ToDatetime().strftime("%Y-%m-%d %H:%M UTC") if ts.seconds else ""


@keys_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="What the key is for, e.g. \"n8n facturas\".")],
    department: Annotated[str, typer.Option("--department", "-d", help="The one department it acts in.")],
    role: Annotated[str, typer.Option("--role", "-r", help="member (reads and asks), trainer or "
                                                           "dept-admin.")] = "member",
    expires_in: Annotated[str, typer.Option(help="Lifetime: 90d, 12h, 30m, or never.")] = "never",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (the secret included).")] = False,
    home: DataDir = DEFAULT_HOME,
) -> None:
    """Create a key (department admins for their departments, platform admins for any). The secret is shown once."""
    try:
        seconds = parse_duration(expires_in)
    except ValueError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None

    async def action(clients: Clients):
        return await clients.gateway.CreateApiKey(gateway_pb2.CreateApiKeyRequest(
            name=name, department=department, role=role, expires_in_seconds=seconds))

    reply = run_with_clients(action, home)
    if as_json:
        console.print_json(json.dumps({**MessageToDict(reply.key, preserving_proto_field_name=True),
                                       "secret": reply.secret}))
        return
    key = reply.key
    expiry = f"expires {_time(key.expires_at)}" if key.expires_at.seconds else "never expires"
    console.print(f"API key [bold]{key.key_id}[/bold] ({escape(key.name)}): {key.role} of {key.department}, {expiry}")
    console.print("Copy it now; it is not shown again:")
    print(reply.secret)


@keys_app.command("list")
def list_keys(
    department: Annotated[str, typer.Option("--department", "-d", help="Only this department.")] = "",
    revoked: Annotated[bool, typer.Option("--revoked", help="Include revoked keys.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    home: DataDir = DEFAULT_HOME,
) -> None:
    """Keys of the departments you administer (never their secrets)."""

    async def action(clients: Clients):
        return (await clients.gateway.ListApiKeys(gateway_pb2.ListApiKeysRequest(
            department=department, include_revoked=revoked))).keys

    keys = run_with_clients(action, home)
    if as_json:
        console.print_json(json.dumps([MessageToDict(k, preserving_proto_field_name=True) for k in keys]))
        return
    table = Table("key", "name", "department", "role", "created by", "created", "expires", "revoked")
    for k in keys:
        table.add_row(k.key_id, escape(k.name), k.department, k.role, k.created_by, _time(k.created_at),
                      _time(k.expires_at) or "never",
                      f"[red]{_time(k.revoked_at)} by {k.revoked_by}[/]" if k.revoked_at.seconds else "")
    console.print(table)


@keys_app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (`sentra api-keys list`).")],
    home: DataDir = DEFAULT_HOME,
) -> None:
    """Revoke a key: refused from the next call on, everywhere."""

    async def action(clients: Clients):
        return (await clients.gateway.RevokeApiKey(gateway_pb2.RevokeApiKeyRequest(key_id=key_id))).key

    key = run_with_clients(action, home)
    console.print(f"API key [bold]{key.key_id}[/bold] ({escape(key.name)}) revoked at {_time(key.revoked_at)}")
