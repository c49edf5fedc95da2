"""`sentra datasets create|list|show|items|approve|reject|edit|export|import`: Q&A datasets
generated from a department's documents (or imported), reviewed item by item, and trained
with `sentra train start --dataset`."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from google.protobuf.json_format import MessageToDict
from google.protobuf.timestamp_pb2 import Timestamp
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sentra.training.v1 import training_pb2

from sentra_cli.cli import DEFAULT_HOME, DataDir, app, console, err, run_with_clients
from sentra_cli.client import Clients

datasets_app = typer.Typer(help="Q&A datasets from your documents: generate one, review its items, export or "
                                "import JSONL, then `sentra train start --dataset`.", no_args_is_help=True)
app.add_typer(datasets_app, name="datasets")

STATES = {value: name.removeprefix("DATASET_STATE_") for name, value in training_pb2.DatasetState.items()}
STYLES = {"READY": "green", "GENERATING": "yellow", "FAILED": "red"}
ITEM_STATUSES = {name.removeprefix("ITEM_STATUS_").lower(): value
                 for name, value in training_pb2.ItemStatus.items() if value}
ITEM_STATUS_NAMES = {value: name for name, value in ITEM_STATUSES.items()}
ITEM_STYLES = {"pending": "cyan", "approved": "green", "rejected": "red", "withdrawn": "magenta"}
ENDED = {"READY", "FAILED"}
PAGE_SIZE = 500  # the service's largest page
POLL_SECONDS = 1.0  # how often `create` asks how far generation got


class PiiMode(StrEnum):
    mask = "mask"
    pseudonymise = "pseudonymise"
    keep = "keep"


class Split(StrEnum):
    train = "train"
    validation = "validation"
    test = "test"


class Status(StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"
    withdrawn = "withdrawn"


class Format(StrEnum):
    messages = "messages"
    instruction = "instruction"


PiiModeOption = Annotated[PiiMode, typer.Option(help="Personal data in the text: masked (default), replaced by "
                                                     "stable pseudonyms, or kept.")]


def _state(dataset) -> str:
    name = STATES.get(dataset.state, "?")
    return f"[{STYLES.get(name, 'white')}]{name}[/]"


def _time(ts) -> str:
    return ts.ToDatetime().strftime("%Y-%m-%d %H:%M:%S") if ts.seconds else ""


def _counts(mapping) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(mapping.items())) or "none"


def _splits(dataset) -> str:
    return (f"train {dataset.train_examples}, validation {dataset.validation_examples}, "
            f"test {dataset.test_examples}")


def _review(dataset) -> str:
    return (f"pending {dataset.pending}, approved {dataset.approved}, rejected {dataset.rejected}, "
            f"withdrawn {dataset.withdrawn}")


def _print_summary(dataset) -> None:
    console.print(f"[bold]{dataset.dataset_id}[/bold]  {dataset.department} v{dataset.version}  {_state(dataset)}")
    if STATES.get(dataset.state) == "FAILED":
        console.print(f"[red]failed:[/red] {escape(dataset.failure_reason)}")
    console.print(f"items: {_splits(dataset)}")
    console.print(f"review: {_review(dataset)}")
    console.print(f"dropped by the filters: {_counts(dataset.dropped)}")
    console.print(f"PII found ({dataset.pii_mode or 'mask'}): {_counts(dataset.pii_found)}")
    if dataset.timings:
        console.print("timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in sorted(dataset.timings.items())))


@datasets_app.command("create")
def create(
    department: Annotated[str, typer.Option("--department", "-d", help="Department whose documents it uses.")],
    document: Annotated[list[str], typer.Option(
        "--document", help="Only this document (repeatable; default: every indexed document).")] = [],  # noqa: B006
    since: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"],
                                                   help="Only documents indexed on or after this day (UTC).")] = None,
    pii_mode: PiiModeOption = PiiMode.mask,
    questions_per_chunk: Annotated[int, typer.Option(help="At most this many questions per chunk (default 2).")] = 0,
    max_examples: Annotated[int, typer.Option(help="At most this many items (default: the service's limit).")] = 0,
    seed: Annotated[int, typer.Option(help="Seed of the sampling and the splits (default 0).")] = 0,
    follow: Annotated[bool, typer.Option(help="Show progress until the dataset is READY or FAILED.")] = True,
    home: DataDir = DEFAULT_HOME,
) -> None:
    """Generate a new dataset version: questions and answers from the department's documents."""
    request = training_pb2.CreateDatasetRequest(
        department=department, document_ids=document, pii_mode=pii_mode.value,
        questions_per_chunk=questions_per_chunk, max_examples=max_examples, seed=seed,
    )
    if since is not None:
        request.since.CopyFrom(_timestamp(since))

    async def action(clients: Clients):
        dataset = (await clients.training.CreateDataset(request)).dataset
        console.print(f"dataset {dataset.dataset_id}: {dataset.department} v{dataset.version} {_state(dataset)}")
        if follow:
            return await _follow(clients, dataset)
        return dataset

    dataset = run_with_clients(action, home)
    if follow:
        _print_summary(dataset)
    if STATES.get(dataset.state) == "FAILED":
        raise typer.Exit(1)


def _timestamp(day: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(day.replace(tzinfo=day.tzinfo or UTC))
    return ts


async def _follow(clients: Clients, dataset):
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} chunks"),
                  TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task("generating", total=dataset.chunks_total or None, completed=dataset.chunks_done)
        while STATES.get(dataset.state) not in ENDED:
            await asyncio.sleep(POLL_SECONDS)
            dataset = (await clients.training.GetDataset(
                training_pb2.GetDatasetRequest(dataset_id=dataset.dataset_id))).dataset
            progress.update(task, description=STATES.get(dataset.state, "?").lower(),
                            total=dataset.chunks_total or None, completed=dataset.chunks_done)
    return dataset


@datasets_app.command("list")
def list_datasets(
    department: Annotated[str, typer.Option("--department", "-d", help="Only this department.")] = "",
    home: DataDir = DEFAULT_HOME,
) -> None:
    """Dataset versions of your departments, newest first."""

    async def action(clients: Clients):
        return (await clients.training.ListDatasets(training_pb2.ListDatasetsRequest(department=department))).datasets

    datasets = run_with_clients(action, home)
    table = Table("dataset", "department", "version", "state", "source", "pending", "approved", "rejected",
                  "withdrawn", "created")
    for d in datasets:
        table.add_row(d.dataset_id, d.department, str(d.version), _state(d), d.source, str(d.pending),
                      str(d.approved), str(d.rejected), str(d.withdrawn), _time(d.created_at))
    console.print(table)


@datasets_app.command("show")
def show(
    dataset_id: Annotated[str, typer.Argument(help="The dataset's id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    home: DataDir = DEFAULT_HOME,
) -> None:
    """One dataset version: state, items, review, what was dropped, PII, timings, lineage."""

    async def action(clients: Clients):
        return (await clients.training.GetDataset(training_pb2.GetDatasetRequest(dataset_id=dataset_id))).dataset

    d = run_with_clients(action, home)
    if as_json:
        console.print_json(json.dumps(MessageToDict(d, preserving_proto_field_name=True)))
        return
    _print_summary(d)
    if STATES.get(d.state) == "GENERATING":
        console.print(f"progress: {d.chunks_done}/{d.chunks_total} chunks")
    console.print(f"source: {d.source}" + (f", generator {d.generator_id}" if d.generator_id else ""))
    console.print(f"created by {d.created_by} at {_time(d.created_at)}"
                  + (f", finished at {_time(d.finished_at)}" if d.finished_at.seconds else ""))
    console.print(f"from {len(d.document_ids)} document(s), {len(d.source_chunk_ids)} chunk(s)")
    if d.withdrawn_document_ids:
        console.print("withdrawn (documents deleted since): " + ", ".join(d.withdrawn_document_ids))


@datasets_app.command("items")
def items(
    dataset_id: Annotated[str, typer.Argument(help="The dataset's id.")],
    status: Annotated[Status | None, typer.Option(help="Only items with this review status.")] = None,
    document: Annotated[str, typer.Option("--document", help="Only items from this document.")] = "",
    text: Annotated[str, typer.Option(help="Only items with this text in the question or answer.")] = "",
    split: Annotated[Split | None, typer.Option(help="Only this split.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many items.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    home: DataDir = DEFAULT_HOME,
) -> None:
    """The items of a dataset version, for review."""

    async def action(clients: Clients):
        found: list = []
        token, total = "", 0
        while len(found) < limit:
            reply = await clients.training.ListDatasetItems(training_pb2.ListDatasetItemsRequest(
                dataset_id=dataset_id, status=ITEM_STATUSES[status.value] if status else 0, document_id=document,
                text=text, split=split.value if split else "", page_size=min(PAGE_SIZE, limit - len(found)),
                page_token=token,
            ))
            found.extend(reply.items)
            token, total = reply.next_page_token, reply.total
            if not token:
                break
        return found[:limit], total

    found, total = run_with_clients(action, home)
    if as_json:
        for item in found:
            sys.stdout.write(json.dumps(MessageToDict(item, preserving_proto_field_name=True),
                                        ensure_ascii=False) + "\n")
        return
    table = Table("item", "status", "split", "score", "question", "answer", "document")
    for item in found:
        name = ITEM_STATUS_NAMES.get(item.status, "?")
        table.add_row(item.item_id, f"[{ITEM_STYLES.get(name, 'white')}]{name}[/]", item.split, f"{item.score:.2f}",
                      escape(item.question), escape(item.answer), escape(item.document_title))
    console.print(table)
    console.print(f"{len(found)} of {total} item(s)")


def _review_items(dataset_id: str, decision: int, item_ids: list[str], min_score: float, home: Path) -> None:
    async def action(clients: Clients):
        return await clients.training.ReviewDatasetItems(training_pb2.ReviewDatasetItemsRequest(
            dataset_id=dataset_id, decision=decision, item_ids=item_ids, min_score=min_score))

    reply = run_with_clients(action, home)
    verb = ITEM_STATUS_NAMES[decision]
    console.print(f"{reply.changed} item(s) {verb}; now {_review(reply.dataset)}")


@datasets_app.command("approve")
def approve(
    dataset_id: Annotated[str, typer.Argument(help="The dataset's id.")],
    item_ids: Annotated[list[str] | None, typer.Argument(help="Items to approve.")] = None,
    min_score: Annotated[float, typer.Option(
        help="Instead of ids: every pending item whose support score is at least this (0..1).")] = 0.0,
    home: DataDir = DEFAULT_HOME,
) -> None:
    """Approve items (by id, or every pending one at or above a score): they train."""
    if bool(item_ids) == bool(min_score):
        err.print("[red]error:[/red] give item ids, or --min-score (approve every pending item at or above it), "
                  "not both")
        raise typer.Exit(2)
    _review_items(dataset_id, training_pb2.ITEM_STATUS_APPROVED, item_ids or [], min_score, home)


@datasets_app.command("reject")
def reject(
    dataset_id: Annotated[str, typer.Argument(help="The dataset's id.")],
    item_ids: Annotated[list[str], typer.Argument(help="Items to reject.")],
    home: DataDir = DEFAULT_HOME,
) -> None:
    """Reject items: they never train."""
    _review_items(dataset_id, training_pb2.ITEM_STATUS_REJECTED, item_ids, 0.0, home)


@datasets_app.command("edit")
def edit(
    dataset_id: Annotated[str, typer.Argument(help="The dataset's id.")],
    item_id: Annotated[str, typer.Argument(help="The item's id.")],
    question: Annotated[str, typer.Option(help="The new question.")] = "",
    answer: Annotated[str, typer.Option(help="The new answer.")] = "",
    home: DataDir = DEFAULT_HOME,
) -> None:
    """Change an item's question or answer (masked for PII like generated text)."""
    if not question.strip() and not answer.strip():
        err.print("[red]error:[/red] nothing to change: give --question, --answer or both")
        raise typer.Exit(2)

    async def action(clients: Clients):
        return (await clients.training.EditDatasetItem(training_pb2.EditDatasetItemRequest(
            dataset_id=dataset_id, item_id=item_id, question=question, answer=answer))).item

    item = run_with_clients(action, home)
    console.print(f"item {item.item_id} ({ITEM_STATUS_NAMES.get(item.status, '?')}):")
    console.print(f"  Q: {item.question}", markup=False)
    console.print(f"  A: {item.answer}", markup=False)


@datasets_app.command("export")
def export(
    dataset_id: Annotated[str, typer.Argument(help="The dataset's id.")],
    fmt: Annotated[Format, typer.Option("--format", help="{\"messages\": [...]} or {\"instruction\", \"input\", "
                                                         "\"output\"} per line.")] = Format.messages,
    all_items: Annotated[bool, typer.Option("--all", help="Every item not withdrawn (default: approved only).")
                         ] = False,
    split: Annotated[Split | None, typer.Option(help="Only this split.")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here (default: stdout).")] = None,
    home: DataDir = DEFAULT_HOME,
) -> None:
    """The items as JSONL, one example per line."""

    async def action(clients: Clients):
        return await clients.training.ExportDataset(training_pb2.ExportDatasetRequest(
            dataset_id=dataset_id, format=fmt.value, items="all" if all_items else "approved",
            split=split.value if split else ""))

    reply = run_with_clients(action, home)
    if output is None:
        sys.stdout.buffer.write(reply.jsonl)
        sys.stdout.buffer.flush()
        return
    output.write_bytes(reply.jsonl)
    err.print(f"{reply.items} item(s) written to {output}")


@datasets_app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="JSONL file: one example per line, {\"messages\": [...]} "
                                              "or {\"instruction\", \"input\"?, \"output\"}.")],
    department: Annotated[str, typer.Option("--department", "-d", help="Department the dataset belongs to.")],
    pii_mode: PiiModeOption = PiiMode.mask,
    approved: Annotated[bool, typer.Option("--approved", help="Import as approved (default: pending review).")
                        ] = False,
    home: DataDir = DEFAULT_HOME,
) -> None:
    """A new dataset version from a JSONL file (checked line by line)."""
    if not file.is_file():
        err.print(f"[red]error:[/red] {file} is not a file")
        raise typer.Exit(2)

    async def action(clients: Clients):
        return (await clients.training.ImportDataset(training_pb2.ImportDatasetRequest(
            department=department, jsonl=file.read_bytes(), filename=file.name, pii_mode=pii_mode.value,
            approved=approved))).dataset

    _print_summary(run_with_clients(action, home))
