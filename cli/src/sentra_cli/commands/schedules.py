"""`sentra schedules create|list|pause|resume|delete|history`: retrain a department's adapter on its
own, at set times (cron) or once enough new documents were indexed, and see what each run did."""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from google.protobuf.json_format import MessageToDict
from rich.markup import escape
from rich.table import Table
from sentra.training.v1 import training_pb2

from sentra_cli.cli import DEFAULT_HOME, DataDir, app, console, err, run_with_clients
from sentra_cli.client import Clients

schedules_app = typer.Typer(help="Retrain an adapter on its own: at set times (cron, or `--at \"friday 18:00\"`) "
                                 "or once enough new documents were indexed.", no_args_is_help=True)
app.add_typer(schedules_app, name="schedules")

# Cron day-of-week numbers (0 is Sunday), by English and Spanish name (accents optional).
DAYS = {
    "sunday": 0, "monday": 1, "tuesday": 2, "wednesday": 3, "thursday": 4, "friday": 5, "saturday": 6,
    "domingo": 0, "lunes": 1, "martes": 2, "miercoles": 3, "jueves": 4, "viernes": 5, "sabado": 6,
}
EVERY_DAY = {"daily", "diario"}
AT = re.compile(r"^\s*(\S+)\s+(\d{1,2}):(\d{2})\s*$")
RUN_STYLES = {"SUCCEEDED": "green", "RUNNING": "yellow", "FAILED": "red"}


class AtError(ValueError):
    """`--at` is not "DAY HH:MM"."""


def at_to_cron(at: str) -> str:
    """ "friday 18:00" / "viernes 18:00" → "0 18 * * 5"; "daily 9:30" / "diario 9:30" → "30 9 * * *"."""
    match = AT.match(at)
    if match is None:
        raise AtError(f"--at {at!r}: expected a day and a time, like \"friday 18:00\", \"viernes 18:00\" or "
                      "\"daily 09:30\"")
    day, hour, minute = _plain(match.group(1)), int(match.group(2)), int(match.group(3))
    if day not in DAYS and day not in EVERY_DAY:
        raise AtError(f"--at {at!r}: unknown day {match.group(1)!r}; use monday … sunday, lunes … domingo, "
                      "daily or diario")
    if hour > 23 or minute > 59:
        raise AtError(f"--at {at!r}: {match.group(2)}:{match.group(3)} is not a time of day (00:00 … 23:59)")
    return f"{minute} {hour} * * {'*' if day in EVERY_DAY else DAYS[day]}"


def _plain(word: str) -> str:
    """Lower case without accents: "Miércoles" → "miercoles"."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _time(ts, zone: str = "") -> str:
    """A timestamp in the schedule's time zone ("" when unset)."""
    if not ts.seconds:
        return ""
    return ts.ToDatetime(tzinfo=_zone(zone)).strftime("%Y-%m-%d %H:%M %Z")


def _when(s) -> str:
    parts = []
    if s.cron:
        parts.append(f"cron \"{s.cron}\" ({s.time_zone or 'UTC'})")
    if s.min_new_documents:
        parts.append(f"after {s.min_new_documents} new document(s)")
    return " or ".join(parts)


def _next(s) -> str:
    if s.paused:
        return "paused"
    if s.next_run_at.seconds:
        return _time(s.next_run_at, s.time_zone)
    if s.min_new_documents:
        return f"when {s.min_new_documents} new document(s) are indexed ({s.new_documents} so far)"
    return ""


def _print_schedule(s) -> None:
    console.print(f"schedule [bold]{s.schedule_id}[/bold]: {s.department}/{s.adapter_name}, {escape(_when(s))}")
    console.print(f"next run: {_next(s)}")


def _as_dict(message) -> dict:
    return MessageToDict(message, preserving_proto_field_name=True)


@schedules_app.command("create")
def create(
    department: Annotated[str, typer.Option("--department", "-d", help="Department whose adapter it retrains.")],
    adapter: Annotated[str, typer.Option("--adapter", "-a", help="Name of the adapter it trains.")],
    cron: Annotated[str, typer.Option(help="Five-field cron expression, e.g. \"0 18 * * fri\".")] = "",
    at: Annotated[str, typer.Option(
        "--at", help="Instead of --cron: a day and a time, e.g. \"friday 18:00\", \"viernes 18:00\", "
                     "\"daily 09:30\" (English or Spanish day names).")] = "",
    time_zone: Annotated[str, typer.Option(help="IANA time zone of --cron/--at, e.g. Europe/Madrid "
                                                "(default UTC).")] = "",
    min_new_documents: Annotated[int, typer.Option(
        min=0, help="Also (or only) run once this many documents were indexed since the last run.")] = 0,
    min_score: Annotated[float, typer.Option(
        min=0.0, max=1.0, help="Generated items at or above this support score train (default 0.5).")] = 0.0,
    epochs: Annotated[int, typer.Option(help="Passes over the data (default 3).")] = 0,
    learning_rate: Annotated[float, typer.Option(help="Default 2e-4.")] = 0.0,
    rank: Annotated[int, typer.Option(help="LoRA rank (default 8).")] = 0,
    max_steps: Annotated[int, typer.Option(help="At most this many steps (default: all epochs).")] = 0,
    batch_size: Annotated[int, typer.Option(help="Examples per step (default 4).")] = 0,
    home: DataDir = DEFAULT_HOME,
) -> None:
    """Schedule retraining: a dataset from the department's documents, a job, and promotion if it is better."""
    if cron and at:
        err.print("[red]error:[/red] give --cron or --at, not both")
        raise typer.Exit(2)
    if at:
        try:
            cron = at_to_cron(at)
        except AtError as exc:
            err.print(f"[red]error:[/red] {escape(str(exc))}")
            raise typer.Exit(2) from None
    if not cron.strip() and not min_new_documents:
        err.print("[red]error:[/red] say when it runs: at set times (--cron \"0 18 * * fri\" or --at \"friday "
                  "18:00\"), after --min-new-documents N new documents, or both")
        raise typer.Exit(2)
    if time_zone:
        try:
            ZoneInfo(time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            err.print(f"[red]error:[/red] unknown time zone {time_zone!r}; use an IANA name like Europe/Madrid")
            raise typer.Exit(2) from None
    schedule = training_pb2.Schedule(
        department=department, adapter_name=adapter, cron=cron.strip(), time_zone=time_zone,
        min_new_documents=min_new_documents, min_score=min_score,
        settings=training_pb2.TrainingSettings(epochs=epochs, learning_rate=learning_rate, lora_rank=rank,
                                               max_steps=max_steps, batch_size=batch_size),
    )

    async def action(clients: Clients):
        return (await clients.training.CreateSchedule(training_pb2.CreateScheduleRequest(schedule=schedule))).schedule

    _print_schedule(run_with_clients(action, home))


@schedules_app.command("list")
def list_schedules(
    department: Annotated[str, typer.Option("--department", "-d", help="Only this department.")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    home: DataDir = DEFAULT_HOME,
) -> None:
    """Training schedules of your departments."""

    async def action(clients: Clients):
        return (await clients.training.ListSchedules(
            training_pb2.ListSchedulesRequest(department=department))).schedules

    schedules = run_with_clients(action, home)
    if as_json:
        console.print_json(json.dumps([_as_dict(s) for s in schedules]))
        return
    table = Table("schedule", "department", "adapter", "cron", "time zone", "threshold", "paused", "last run",
                  "next run", "new documents")
    for s in schedules:
        table.add_row(s.schedule_id, s.department, s.adapter_name, escape(s.cron), s.time_zone or "UTC",
                      str(s.min_new_documents) if s.min_new_documents else "", "[yellow]yes[/]" if s.paused else "no",
                      _time(s.last_run_at, s.time_zone), _next(s), str(s.new_documents))
    console.print(table)


def _pause(schedule_id: str, paused: bool, home) -> None:
    async def action(clients: Clients):
        return (await clients.training.PauseSchedule(
            training_pb2.PauseScheduleRequest(schedule_id=schedule_id, paused=paused))).schedule

    s = run_with_clients(action, home)
    if s.paused:
        console.print(f"schedule {s.schedule_id} paused: it starts no runs until `sentra schedules resume`")
    else:
        console.print(f"schedule {s.schedule_id} resumed; next run: {_next(s)}")


@schedules_app.command("pause")
def pause(schedule_id: Annotated[str, typer.Argument(help="The schedule's id.")], home: DataDir = DEFAULT_HOME
          ) -> None:
    """Stop a schedule from starting runs (a run under way finishes)."""
    _pause(schedule_id, True, home)


@schedules_app.command("resume")
def resume(schedule_id: Annotated[str, typer.Argument(help="The schedule's id.")], home: DataDir = DEFAULT_HOME
           ) -> None:
    """Let a paused schedule start runs again."""
    _pause(schedule_id, False, home)


@schedules_app.command("delete")
def delete(schedule_id: Annotated[str, typer.Argument(help="The schedule's id.")], home: DataDir = DEFAULT_HOME
           ) -> None:
    """Delete a schedule (its adapters, datasets and jobs stay)."""

    async def action(clients: Clients):
        await clients.training.DeleteSchedule(training_pb2.DeleteScheduleRequest(schedule_id=schedule_id))

    run_with_clients(action, home)
    console.print(f"schedule {schedule_id} deleted")


@schedules_app.command("history")
def history(
    schedule_id: Annotated[str, typer.Argument(help="The schedule's id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    home: DataDir = DEFAULT_HOME,
) -> None:
    """The runs of a schedule, newest first: why each started and what it produced."""

    async def action(clients: Clients):
        return (await clients.training.ListScheduleRuns(
            training_pb2.ListScheduleRunsRequest(schedule_id=schedule_id))).runs

    runs = sorted(run_with_clients(action, home), key=lambda r: r.started_at.ToNanoseconds(), reverse=True)
    if as_json:
        console.print_json(json.dumps([_as_dict(r) for r in runs]))
        return
    table = Table("started", "reason", "state", "dataset", "job", "promoted", "outcome")
    for r in runs:
        table.add_row(_time(r.started_at), r.reason, f"[{RUN_STYLES.get(r.state, 'white')}]{escape(r.state)}[/]",
                      r.dataset_id, r.job_id, "[green]yes[/]" if r.promoted else "no", escape(r.outcome))
    console.print(table)
