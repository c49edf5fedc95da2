"""`sentra`: run the platform on one machine and use it from the terminal."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Annotated

import grpc
import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from sentra.inference.v1 import inference_pb2
from sentra.ingestion.v1 import ingestion_pb2
from sentra.retrieval.v1 import retrieval_pb2
from sentra_common.api_names import (
    DOCUMENT_STATE_NAMES,
    DOCUMENT_STATES,
    STRATEGIES,
    strategy_value,
    streamed_remainder,
)

from sentra_cli import answers
from sentra_cli.client import Clients
from sentra_cli.platform import SERVICES, Platform, PlatformError
from sentra_cli.session import LoginError

app = typer.Typer(help="Sentra: private AI over your company's documents.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)

DataDir = Annotated[
    Path,
    typer.Option(envvar="SENTRA_HOME", help="Where Sentra keeps its data, logs and process state."),
]
DEFAULT_HOME = Path(".sentra")

STATE_STYLES = {"INDEXED": "green", "PROCESSING": "yellow", "FAILED": "red"}
OUTCOMES = {
    ingestion_pb2.UPLOAD_OUTCOME_CREATED: "new",
    ingestion_pb2.UPLOAD_OUTCOME_UNCHANGED: "unchanged",
    ingestion_pb2.UPLOAD_OUTCOME_REPLACED: "replaced",
}


def _run(coro_factory, home: Path):
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


@app.command()
def up(home: DataDir = DEFAULT_HOME) -> None:
    """Start nats-server, Keycloak (when installed) and every service with the embedded defaults."""
    platform = Platform(home, identity=os.environ.get("SENTRA_IDENTITY_MODE", "auto"))
    try:
        with console.status("starting Sentra (Keycloak and the embedding model take a little while)…"):
            state = platform.up()
    except Exception as exc:  # PlatformError, KeycloakError: both say what to do
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    _print_status(platform)
    console.print(f"data directory: {state.data_dir}")
    if state.identity.mode == "development":
        err.print(
            "[yellow]warning: DEVELOPMENT MODE[/yellow] — Keycloak is not installed, so the gateway trusts the "
            "identity callers assert (SENTRA_IDENTITY=subject:departments:roles). Install Keycloak with "
            "`make setup` (see the README) for real logins. Never expose this gateway beyond this machine."
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
    if state.http_port:
        console.print(f"gateway: gRPC {state.target('gateway') if 'gateway' in state.services else '-'}, "
                      f"HTTP http://127.0.0.1:{state.http_port}/api/v1 (docs at /docs)")


def _collect(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(p for p in sorted(path.rglob("*")) if p.is_file() and not p.name.startswith("."))
        elif path.is_file():
            files.append(path)
        else:
            raise PlatformError(f"{path} does not exist")
    return files


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or directories to upload.")],
    department: Annotated[str, typer.Option("--department", "-d", help="Department owning the documents; "
                                             "default: the sub-directory name under a directory argument, "
                                             "else your only department.")] = "",
    access: Annotated[list[str], typer.Option(help="Restrict to user:<subject> or group:<name> (repeatable).")] = [],  # noqa: B006
    wait: Annotated[bool, typer.Option(help="Wait until every document is INDEXED or FAILED.")] = True,
    home: DataDir = DEFAULT_HOME,
) -> None:
    """Upload documents (a progress bar shows the bytes), then wait for them to be indexed."""

    async def action(clients: Clients):
        jobs = []
        for path in paths:
            for file in _collect([path]):
                dept = department
                if not dept and path.is_dir() and file.parent != path:
                    dept = file.relative_to(path).parts[0]
                jobs.append((file, dept))
        total = sum(f.stat().st_size for f, _ in jobs)
        results = []
        with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                      console=console) as progress:
            task = progress.add_task(f"uploading {len(jobs)} file(s)", total=total)
            for file, dept in jobs:
                try:
                    reply = await clients.upload(
                        file, department=dept, access_list=access,
                        source_uri=file.resolve().as_uri(),
                        progress=lambda n: progress.advance(task, n),
                    )
                    results.append((file, reply.document, OUTCOMES.get(reply.outcome, "?")))
                except grpc.aio.AioRpcError as exc:
                    progress.console.print(f"[red]{file}: {exc.details()}[/red]")
        ids = [doc.document_id for _, doc, _ in results]
        if wait and ids:
            with console.status("waiting for documents to be indexed…"):
                docs = await _wait_settled(clients, ids)
        else:
            docs = {doc.document_id: doc for _, doc, _ in results}
        table = Table("file", "upload", "state", "chunks", "document id / reason")
        for file, doc, outcome in results:
            final = docs[doc.document_id]
            state = DOCUMENT_STATE_NAMES.get(final.state, "?")
            table.add_row(
                file.name, outcome, f"[{STATE_STYLES[state]}]{state}[/]", str(final.chunk_count),
                final.failure_reason if state == "FAILED" else final.document_id,
            )
        console.print(table)

    _run(action, home)


async def _wait_settled(clients: Clients, ids: list[str], timeout: float = 3600) -> dict:
    deadline = time.monotonic() + timeout
    docs: dict = {}
    pending = list(ids)
    while pending and time.monotonic() < deadline:
        still = []
        for doc_id in pending:
            doc = (await clients.ingestion.GetDocument(ingestion_pb2.GetDocumentRequest(document_id=doc_id))).document
            docs[doc_id] = doc
            if doc.state == ingestion_pb2.DOCUMENT_STATE_PROCESSING:
                still.append(doc_id)
        pending = still
        if pending:
            await asyncio.sleep(0.5)
    return docs


@app.command()
def documents(
    department: Annotated[str, typer.Option("--department", "-d")] = "",
    state: Annotated[str, typer.Option(help="PROCESSING, INDEXED or FAILED")] = "",
    home: DataDir = DEFAULT_HOME,
) -> None:
    """A table of your documents: state, chunks, and why a document failed."""
    states = DOCUMENT_STATES
    if state and state.upper() not in states:
        err.print("[red]error:[/red] --state must be PROCESSING, INDEXED or FAILED")
        raise typer.Exit(2)

    async def action(clients: Clients):
        request = ingestion_pb2.ListDocumentsRequest(
            department=department, state=states.get(state.upper(), 0), page_size=1000
        )
        reply = await clients.ingestion.ListDocuments(request)
        table = Table("id", "department", "title", "type", "v", "state", "chunks", "reason")
        for doc in reply.documents:
            name = DOCUMENT_STATE_NAMES.get(doc.state, "?")
            table.add_row(
                doc.document_id[:8], doc.department, doc.title, doc.content_type.split("/")[-1],
                str(doc.version), f"[{STATE_STYLES[name]}]{name}[/]", str(doc.chunk_count),
                doc.failure_reason,
            )
        console.print(table)
        counts = ", ".join(f"{k.lower()}: {v}" for k, v in sorted(reply.state_counts.items()))
        console.print(counts or "no documents yet; add some with `sentra ingest PATH`")

    _run(action, home)


@app.command()
def show(document_id: str, home: DataDir = DEFAULT_HOME) -> None:
    """One document's details and its per-stage log with timings."""

    async def action(clients: Clients):
        reply = await clients.ingestion.GetDocument(ingestion_pb2.GetDocumentRequest(document_id=document_id))
        doc = reply.document
        console.print(f"[bold]{doc.title}[/bold]  ({doc.document_id})")
        console.print(f"department {doc.department} · {doc.content_type} · {doc.size_bytes} bytes · "
                      f"version {doc.version} · {DOCUMENT_STATE_NAMES.get(doc.state, '?')} · {doc.chunk_count} chunks")
        if doc.failure_reason:
            console.print(f"[red]failed at {doc.failure_stage}: {doc.failure_reason}[/red]")
        table = Table("version", "stage", "status", "ms", "service", "detail")
        for s in reply.stages:
            table.add_row(str(s.version), s.stage, s.status, str(s.duration_ms), s.service, s.detail)
        console.print(table)

    _run(action, home)


@app.command()
def retry(document_id: str, home: DataDir = DEFAULT_HOME) -> None:
    """Process a FAILED document again (safe to repeat)."""

    async def action(clients: Clients):
        reply = await clients.ingestion.RetryDocument(ingestion_pb2.RetryDocumentRequest(document_id=document_id))
        console.print(f"{document_id}: {DOCUMENT_STATE_NAMES.get(reply.document.state, '?')}")

    _run(action, home)


@app.command()
def delete(document_id: str, home: DataDir = DEFAULT_HOME) -> None:
    """Delete a document and its vectors."""

    async def action(clients: Clients):
        await clients.ingestion.DeleteDocument(ingestion_pb2.DeleteDocumentRequest(document_id=document_id))
        console.print(f"deleted {document_id}")

    _run(action, home)


@app.command()
def search(
    query: str,
    top_k: Annotated[int, typer.Option("--top-k", "-k")] = 5,
    mode: Annotated[str, typer.Option(help="hybrid, dense or lexical")] = "hybrid",
    department: Annotated[list[str], typer.Option("--department", "-d")] = [],  # noqa: B006
    home: DataDir = DEFAULT_HOME,
) -> None:
    """Search your departments' documents; every hit cites document, page or heading."""
    modes = {"hybrid": retrieval_pb2.SEARCH_MODE_HYBRID, "dense": retrieval_pb2.SEARCH_MODE_DENSE,
             "lexical": retrieval_pb2.SEARCH_MODE_LEXICAL}
    if mode not in modes:
        err.print("[red]error:[/red] --mode must be hybrid, dense or lexical")
        raise typer.Exit(2)

    async def action(clients: Clients):
        reply = await clients.retrieval.Search(retrieval_pb2.SearchRequest(
            query=query, top_k=top_k, mode=modes[mode], departments=department))
        if not reply.hits:
            console.print("nothing found in the documents you may see")
        for rank, hit in enumerate(reply.hits, 1):
            where = ", ".join(p for p in (f"page {hit.page}" if hit.page else "", hit.heading) if p)
            console.print(f"[bold]{rank}. {hit.title}[/bold] [dim]({hit.department}; {where or 'no page'}; "
                          f"score {hit.score:.3f}; {hit.document_id[:8]})[/dim]")
            snippet = " ".join(hit.text.split())
            console.print(f"   {snippet[:300]}{'…' if len(snippet) > 300 else ''}")

    _run(action, home)


@app.command()
def download(
    document_id: str,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write; default: its name.")] = None,
    home: DataDir = DEFAULT_HOME,
) -> None:
    """Download the stored original of a document you may read."""

    async def action(clients: Clients):
        stream = clients.ingestion.DownloadDocument(ingestion_pb2.DownloadDocumentRequest(document_id=document_id))
        target: Path | None = None
        written = 0
        fh = None
        try:
            async for piece in stream:
                if piece.WhichOneof("payload") == "document":
                    target = output or Path(Path(piece.document.filename).name or document_id)
                    fh = target.open("wb")
                else:
                    assert fh is not None
                    fh.write(piece.data)
                    written += len(piece.data)
        finally:
            if fh is not None:
                fh.close()
        console.print(f"{target}: {written} bytes")

    _run(action, home)


# Answers and adapters ---------------------------------------------------------------------

ASK_TIMEOUT = 600.0  # generation on a CPU can be slow; the gateway's own deadline still applies


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="Your question, answered from your departments' documents.")],
    department: Annotated[list[str], typer.Option("--department", "-d", help="Only these departments "
                                                  "(repeatable); default: all of yours.")] = [],  # noqa: B006
    adapter: Annotated[str, typer.Option(help="An adapter alias (legal), a version (legal@3) or the base model's "
                                         "id for none; default: the department's active adapter.")] = "",
    strategy: Annotated[str, typer.Option(help="reader (the learned reader's short answer and quote), extractive "
                                          "or generative; default: the service's.")] = "",
    top_k: Annotated[int, typer.Option("--top-k", "-k", help="Passages to retrieve; 0: the service default.",
                                       min=0)] = 0,
    max_tokens: Annotated[int, typer.Option(help="Longest answer in tokens; 0: the service default.", min=0)] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the final answer message as JSON.")] = False,
    home: DataDir = DEFAULT_HOME,
) -> None:
    """Ask a question: the answer streams in, then the sources it cites."""
    if strategy and strategy.lower() not in STRATEGIES:
        err.print("[red]error:[/red] --strategy must be reader, extractive or generative")
        raise typer.Exit(2)

    async def action(clients: Clients):
        request = inference_pb2.AnswerRequest(
            question=question, departments=department, adapter=adapter, top_k=top_k, max_tokens=max_tokens,
            strategy=strategy_value(strategy),
        )
        streamed: list[str] = []
        final = None
        try:
            async for event in clients.inference.StreamAnswer(request, timeout=ASK_TIMEOUT):
                if event.WhichOneof("event") == "text":
                    streamed.append(event.text)
                    if not as_json:
                        _write(event.text)
                elif event.WhichOneof("event") == "final":
                    final = event.final
        finally:
            if streamed and not as_json and final is None:
                console.print()  # the error goes on a line of its own
        if final is None:
            err.print("[red]error:[/red] the answer ended without its final message; try again")
            raise typer.Exit(1)
        if as_json:
            typer.echo(answers.to_json(final))
            return
        _write(streamed_remainder("".join(streamed), final.answer))
        console.print()
        console.print(answers.answered_by(final), style="dim", markup=False, highlight=False)
        if final.not_found or not final.citations:
            return
        console.print()
        console.print("Sources", style="bold")
        for citation in final.citations:
            console.print(answers.source_header(citation), highlight=False)
            quote = answers.source_quote(citation)
            if quote is not None:
                console.print(quote, highlight=False)

    _run(action, home)


def _write(text: str) -> None:
    """Streamed text, as it comes (no markup, no wrapping by rich)."""
    if text:
        console.print(text, end="", markup=False, highlight=False, soft_wrap=True)
        console.file.flush()


adapters_app = typer.Typer(help="LoRA adapters of your departments: list, register, activate, roll back.",
                           no_args_is_help=True)
app.add_typer(adapters_app, name="adapters")


@adapters_app.command("list")
def adapters_list(
    department: Annotated[str, typer.Option("--department", "-d", help="Only this department.")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print the reply as JSON.")] = False,
    home: DataDir = DEFAULT_HOME,
) -> None:
    """Adapters (versions, state, metrics) and their aliases."""
    async def action(clients: Clients):
        reply = await clients.inference.ListAdapters(inference_pb2.ListAdaptersRequest(department=department))
        if as_json:
            typer.echo(answers.to_json(reply))
            return
        if reply.base_model:
            console.print(f"base model: {reply.base_model}", markup=False, highlight=False)
        if not reply.adapters and not reply.aliases:
            console.print("no adapters yet; register one with `sentra adapters register`")
            return
        console.print(answers.adapters_table(reply))
        if reply.aliases:
            console.print(answers.aliases_table(reply))

    _run(action, home)


@adapters_app.command("register")
def adapters_register(
    name: Annotated[str, typer.Argument(help="Adapter name, e.g. legal (also the alias it is activated under).")],
    department: Annotated[str, typer.Option("--department", "-d", help="Department owning the adapter.")],
    path: Annotated[str, typer.Option(help="The adapter's directory on the inference service's machine, or a "
                                      "file:// URI; a relative path is made absolute here.")],
    version: Annotated[int, typer.Option(help="Version number of this artifact; 0: the next free one.",
                                         min=0)] = 0,
    base_model: Annotated[str, typer.Option(help="Base model it was trained on; default: the service's.")] = "",
    metric: Annotated[list[str], typer.Option(help="Evaluation result key=value (repeatable).")] = [],  # noqa: B006
    home: DataDir = DEFAULT_HOME,
) -> None:
    """Register a trained adapter version (it serves once activated)."""
    try:
        metrics = answers.parse_metrics(metric)
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None

    async def action(clients: Clients):
        reply = await clients.inference.RegisterAdapter(inference_pb2.RegisterAdapterRequest(
            adapter=inference_pb2.Adapter(
                name=name, version=version, department=department, base_model=base_model,
                artifact_uri=answers.artifact_uri(path), metrics=metrics,
            )))
        a = reply.adapter
        console.print(f"registered {a.name}@{a.version} for {a.department} ({answers.state_name(a.state)}); "
                      f"activate it with `sentra adapters activate {a.name} --version {a.version}`",
                      markup=False, highlight=False)

    _run(action, home)


@adapters_app.command("activate")
def adapters_activate(
    name: Annotated[str, typer.Argument(help="Adapter name (alias).")],
    version: Annotated[int, typer.Option(help="Version to serve; 0: the newest registered.", min=0)] = 0,
    home: DataDir = DEFAULT_HOME,
) -> None:
    """Serve a version of an adapter under its alias."""
    async def action(clients: Clients):
        reply = await clients.inference.ActivateAdapter(inference_pb2.ActivateAdapterRequest(
            name=name, version=version))
        console.print(answers.alias_line(reply.alias), markup=False, highlight=False)

    _run(action, home)


@adapters_app.command("deactivate")
def adapters_deactivate(
    name: Annotated[str, typer.Argument(help="Adapter name (alias).")],
    home: DataDir = DEFAULT_HOME,
) -> None:
    """Stop serving an adapter's alias (it keeps its version; `activate` serves it again)."""
    async def action(clients: Clients):
        await clients.inference.DeactivateAdapter(inference_pb2.DeactivateAdapterRequest(name=name))
        console.print(f"{name} deactivated", markup=False, highlight=False)

    _run(action, home)


@adapters_app.command("rollback")
def adapters_rollback(
    name: Annotated[str, typer.Argument(help="Adapter name (alias).")],
    home: DataDir = DEFAULT_HOME,
) -> None:
    """Serve the version the alias pointed to before the last activation."""
    async def action(clients: Clients):
        reply = await clients.inference.RollbackAdapter(inference_pb2.RollbackAdapterRequest(name=name))
        console.print(answers.alias_line(reply.alias), markup=False, highlight=False)

    _run(action, home)


# Identity ---------------------------------------------------------------------------------


def _issuer(home: Path, issuer: str) -> str:
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

    realm = _issuer(home, issuer)

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

    _run(action, home)


@app.command()
def audit(
    subject: Annotated[str, typer.Option(help="Only calls by this subject.")] = "",
    method: Annotated[str, typer.Option(help="Only calls of this method (substring, e.g. DeleteDocument).")] = "",
    result: Annotated[str, typer.Option(help="Only this result, e.g. PERMISSION_DENIED.")] = "",
    document: Annotated[str, typer.Option(help="Only calls that returned or touched this document id.")] = "",
    limit: Annotated[int, typer.Option(help="Newest entries to show (1..1000).")] = 50,
    home: DataDir = DEFAULT_HOME,
) -> None:
    """The audit log (administrators): who called what, when, the result and the documents."""
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

    _run(action, home)


admin_app = typer.Typer(help="Departments, users and roles in the Sentra realm (Keycloak admin API).",
                        no_args_is_help=True)
departments_app = typer.Typer(help="Departments (groups under /departments).", no_args_is_help=True)
users_app = typer.Typer(help="Users, their departments and roles.", no_args_is_help=True)
clients_app = typer.Typer(help="Service accounts (client credentials).", no_args_is_help=True)
admin_app.add_typer(departments_app, name="departments")
admin_app.add_typer(users_app, name="users")
admin_app.add_typer(clients_app, name="clients")
app.add_typer(admin_app, name="admin")

AdminUser = Annotated[str, typer.Option(envvar="SENTRA_KEYCLOAK_ADMIN_USER", help="Keycloak administrator.")]
AdminPassword = Annotated[str, typer.Option(envvar="SENTRA_KEYCLOAK_ADMIN_PASSWORD",
                                            help="Its password; default: the local platform's.")]


def _admin(home: Path, issuer: str, admin_user: str, admin_password: str):
    import json

    from sentra_cli.admin import AdminError, RealmAdmin

    realm = _issuer(home, issuer)
    if not admin_user:
        state = Platform(home).load_state()
        if not state.identity.admin_file:
            err.print("[red]error:[/red] pass --admin-user and --admin-password (SENTRA_KEYCLOAK_ADMIN_USER/PASSWORD)")
            raise typer.Exit(2)
        stored = json.loads(Path(state.identity.admin_file).read_text())
        admin_user, admin_password = stored["username"], stored["password"]
    try:
        return RealmAdmin(realm, admin_user, admin_password)
    except AdminError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None


def _admin_action(fn):
    from sentra_cli.admin import AdminError

    try:
        return fn()
    except AdminError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None


@departments_app.command("create")
def departments_create(names: list[str], issuer: Issuer = "", admin_user: AdminUser = "",
                       admin_password: AdminPassword = "", home: DataDir = DEFAULT_HOME) -> None:
    """Create departments."""
    admin = _admin(home, issuer, admin_user, admin_password)
    for name in names:
        _admin_action(lambda n=name: admin.create_department(n))
        console.print(f"department {name} ready")


@departments_app.command("list")
def departments_list(issuer: Issuer = "", admin_user: AdminUser = "", admin_password: AdminPassword = "",
                     home: DataDir = DEFAULT_HOME) -> None:
    """List departments."""
    for name in _admin(home, issuer, admin_user, admin_password).list_departments():
        console.print(name)


@users_app.command("create")
def users_create(
    username: str,
    email: Annotated[str, typer.Option(help="E-mail address (required by the realm).")],
    department: Annotated[list[str], typer.Option("--department", "-d")] = [],  # noqa: B006
    role: Annotated[list[str], typer.Option("--role", "-r", help="platform-admin, dept-admin, trainer, member")]
    = ["member"],  # noqa: B006
    name: Annotated[str, typer.Option(help="Full name.")] = "",
    password_stdin: Annotated[bool, typer.Option(help="Read the initial password from stdin.")] = False,
    temporary: Annotated[bool, typer.Option(help="The user must change the password at first login.")] = False,
    issuer: Issuer = "", admin_user: AdminUser = "", admin_password: AdminPassword = "",
    home: DataDir = DEFAULT_HOME,
) -> None:
    """Create a user with departments and roles."""
    admin = _admin(home, issuer, admin_user, admin_password)
    password = (typer.get_text_stream("stdin").readline().rstrip("\n") if password_stdin
                else typer.prompt("initial password", hide_input=True, confirmation_prompt=True))
    first, _, last = name.partition(" ")
    _admin_action(lambda: admin.create_user(
        username, email=email, password=password, first_name=first, last_name=last,
        departments=department, roles=role, temporary_password=temporary))
    console.print(f"user {username} created: departments {', '.join(department) or '-'}, roles {', '.join(role)}")


@users_app.command("list")
def users_list(issuer: Issuer = "", admin_user: AdminUser = "", admin_password: AdminPassword = "",
               home: DataDir = DEFAULT_HOME) -> None:
    """List users with their departments and roles."""
    table = Table("user", "enabled", "e-mail", "departments", "roles")
    for u in _admin(home, issuer, admin_user, admin_password).list_users():
        table.add_row(u.username, "yes" if u.enabled else "[red]no[/red]", u.email, ", ".join(u.departments),
                      ", ".join(u.roles))
    console.print(table)


def _user_change(verb: str, help_text: str):
    def command(
        username: str,
        value: str = typer.Argument("", help=help_text),
        issuer: Issuer = "", admin_user: AdminUser = "", admin_password: AdminPassword = "",
        home: DataDir = DEFAULT_HOME,
    ) -> None:
        admin = _admin(home, issuer, admin_user, admin_password)

        def change():
            user_id = admin.client_user_id(username[7:]) if username.startswith("client:") \
                else admin.user_id(username)
            actions = {
                "add-department": lambda: admin.add_department(user_id, value),
                "remove-department": lambda: admin.remove_department(user_id, value),
                "grant-role": lambda: admin.grant_role(user_id, value),
                "revoke-role": lambda: admin.revoke_role(user_id, value),
                "disable": lambda: admin.set_enabled(user_id, False),
                "enable": lambda: admin.set_enabled(user_id, True),
            }
            actions[verb]()

        _admin_action(change)
        console.print(f"{username}: {verb} {value}".rstrip())

    command.__doc__ = f"{verb.replace('-', ' ').capitalize()} (a service account: client:<client id>)."
    return command


for _verb, _help in (("add-department", "department"), ("remove-department", "department"),
                     ("grant-role", "role"), ("revoke-role", "role"), ("disable", ""), ("enable", "")):
    users_app.command(_verb)(_user_change(_verb, _help))


@clients_app.command("secret")
def clients_secret(client_id: str, issuer: Issuer = "", admin_user: AdminUser = "",
                   admin_password: AdminPassword = "", home: DataDir = DEFAULT_HOME) -> None:
    """Print a service account's client secret (for `sentra login --client-id`)."""
    admin = _admin(home, issuer, admin_user, admin_password)
    console.print(_admin_action(lambda: admin.client_secret(client_id)))


def run() -> None:  # pragma: no cover - console entry point
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()


if __name__ == "__main__":  # python -m sentra_cli.main
    run()
