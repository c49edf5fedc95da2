"""`sentra ingest`, `documents`, `show`, `retry`, `delete`, `search`, `download`."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Annotated

import grpc
import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from sentra.ingestion.v1 import ingestion_pb2
from sentra.retrieval.v1 import retrieval_pb2
from sentra_common.api_names import (
    DOCUMENT_STATE_NAMES,
    DOCUMENT_STATES,
)

from sentra_cli.cli import DEFAULT_HOME, DataDir, app, console, err, run_with_clients
from sentra_cli.client import Clients
from sentra_cli.platform import PlatformError

STATE_STYLES = {"INDEXED": "green", "PROCESSING": "yellow", "FAILED": "red"}
OUTCOMES = {
    ingestion_pb2.UPLOAD_OUTCOME_CREATED: "new",
    ingestion_pb2.UPLOAD_OUTCOME_UNCHANGED: "unchanged",
    ingestion_pb2.UPLOAD_OUTCOME_REPLACED: "replaced",
}



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
    access: Annotated[list[str], typer.Option(
        help="Restrict to user:<account id> (for yourself, your username will do), group:<department> "
             "or group:/<group path> (repeatable).")] = [],  # noqa: B006
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

    run_with_clients(action, home)


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

    run_with_clients(action, home)


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

    run_with_clients(action, home)


@app.command()
def retry(document_id: str, home: DataDir = DEFAULT_HOME) -> None:
    """Process a FAILED document again (safe to repeat)."""

    async def action(clients: Clients):
        reply = await clients.ingestion.RetryDocument(ingestion_pb2.RetryDocumentRequest(document_id=document_id))
        console.print(f"{document_id}: {DOCUMENT_STATE_NAMES.get(reply.document.state, '?')}")

    run_with_clients(action, home)


@app.command()
def delete(document_id: str, home: DataDir = DEFAULT_HOME) -> None:
    """Delete a document and its vectors."""

    async def action(clients: Clients):
        await clients.ingestion.DeleteDocument(ingestion_pb2.DeleteDocumentRequest(document_id=document_id))
        console.print(f"deleted {document_id}")

    run_with_clients(action, home)


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

    run_with_clients(action, home)


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

    run_with_clients(action, home)
