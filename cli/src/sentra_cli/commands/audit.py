"""`sentra audit`: read the audit log through the gateway (administrators), and
`sentra audit verify`: check its hash chain directly in the database (operators).

Verification reads the database itself, not the gateway: the gateway is what the audit
log holds to account, so its word is not the check. It needs only read access (on
PostgreSQL a role with SELECT on gateway_audit_log and gateway_audit_chain), works while
the gateway is down, and on one machine finds the local platform's audit database.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from sentra_cli.cli import DEFAULT_HOME, DataDir, app, console, err, run_with_clients
from sentra_cli.client import Clients

audit_app = typer.Typer(
    help="The audit log: `sentra audit` lists entries (administrators, through the gateway); "
         "`sentra audit verify` checks its hash chain in the database.",
    invoke_without_command=True,
)
app.add_typer(audit_app, name="audit")

MAX_SHOWN = 20


@audit_app.callback()
def audit(
    ctx: typer.Context,
    subject: Annotated[str, typer.Option(help="Only calls by this subject.")] = "",
    method: Annotated[str, typer.Option(help="Only calls of this method (substring, e.g. DeleteDocument).")] = "",
    result: Annotated[str, typer.Option(help="Only this result, e.g. PERMISSION_DENIED.")] = "",
    document: Annotated[str, typer.Option(help="Only calls that returned or touched this document id.")] = "",
    limit: Annotated[int, typer.Option(help="Newest entries to show (1..1000).")] = 50,
    home: DataDir = DEFAULT_HOME,
) -> None:
    """The audit log (administrators): who called what, when, the result and the documents."""
    if ctx.invoked_subcommand is not None:
        return
    from sentra.gateway.v1 import gateway_pb2

    async def action(clients: Clients):
        reply = await clients.gateway.QueryAuditLog(gateway_pb2.QueryAuditLogRequest(
            subject=subject, method=method, result=result, document_id=document, page_size=limit))
        table = Table("when (UTC)", "who", "method", "result", "documents", "detail")
        for e in reply.entries:
            table.add_row(
                e.at.ToDatetime().strftime("%Y-%m-%d %H:%M:%S"), e.subject or "-", e.method.rsplit("/", 1)[-1],
                e.result, ", ".join(d[:8] for d in e.document_ids[:5]) + (" …" if len(e.document_ids) > 5 else ""),
                e.detail[:120],
            )
        console.print(table)

    run_with_clients(action, home)


@audit_app.command()
def verify(
    database_url: Annotated[str, typer.Option(
        envvar="SENTRA_AUDIT_DATABASE_URL",
        help="The gateway's audit database (postgresql+psycopg://… or sqlite+aiosqlite:///…); "
             "default: the local platform's.")] = "",
    expect: Annotated[list[str], typer.Option(
        help="ID:HASH of an entry as printed by an earlier verification and kept elsewhere: it must still be in "
             "the chain with that hash (catches a chain rewritten with recomputed hashes). Repeatable.")] = [],  # noqa: B006
    home: DataDir = DEFAULT_HOME,
) -> None:
    """Check the audit log's hash chain: exits 1 naming the first entry changed, deleted or inserted."""
    import asyncio

    from sentra_common.auditchain import ChainHeadMissing, verify_database
    from sentra_common.db import create_engine
    from sqlalchemy.exc import SQLAlchemyError

    url = database_url or _local_audit_database(home)
    anchors = _anchors(expect)

    async def run():
        engine = create_engine(url)
        try:
            return await verify_database(engine, anchors)
        finally:
            await engine.dispose()

    try:
        report = asyncio.run(run())
    except ChainHeadMissing as exc:
        err.print(f"[red]error:[/red] the audit log has no hash chain ({exc}); the gateway's migrations have not "
                  "run on this database, or the chain's head was removed")
        raise typer.Exit(1) from None
    except SQLAlchemyError as exc:
        err.print(f"[red]error:[/red] cannot read the audit log at {_safe(url)}: {getattr(exc, 'orig', exc)}")
        raise typer.Exit(2) from None
    head = f"head: entry {report.head_id} {report.head_hash}"
    if report.intact:
        console.print(f"audit log intact: {report.entries} entries in one chain; {head}", soft_wrap=True)
        console.print("keep the head elsewhere; check later that the chain still holds it with "
                      f"sentra audit verify --expect {report.head_id}:{report.head_hash}", soft_wrap=True)
        return
    first = report.first
    assert first is not None
    err.print(f"[red]audit log BROKEN[/red]: first broken entry {first.id} ({first.kind}): {first.message}",
              soft_wrap=True)
    for b in report.breaks[1:MAX_SHOWN]:
        err.print(f"  entry {b.id} ({b.kind}): {b.message}", soft_wrap=True)
    if len(report.breaks) > MAX_SHOWN:
        err.print(f"  … and {len(report.breaks) - MAX_SHOWN} more")
    err.print(f"{len(report.breaks)} problem(s) in {report.entries} entries; {head}", soft_wrap=True)
    raise typer.Exit(1)


def _local_audit_database(home: Path) -> str:
    # `sentra up` gives the gateway <data dir>/audit.db (sentra_cli.platform).
    path = home.resolve() / "audit.db"
    if not path.exists():
        err.print(f"[red]error:[/red] no audit database at {path}; pass --database-url "
                  "(SENTRA_AUDIT_DATABASE_URL) or --home")
        raise typer.Exit(2)
    return f"sqlite+aiosqlite:///{path}"


def _anchors(values: list[str]) -> dict[int, str]:
    anchors = {}
    for value in values:
        entry_id, _, digest = value.partition(":")
        if not entry_id.isdigit() or len(digest) != 64:
            err.print(f"[red]error:[/red] --expect {value!r} is not ID:HASH (a number, a colon, 64 hex digits)")
            raise typer.Exit(2)
        anchors[int(entry_id)] = digest.lower()
    return anchors


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
