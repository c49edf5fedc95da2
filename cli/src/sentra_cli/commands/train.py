"""`sentra train start|list|show|cancel|follow|evaluate`: LoRA training jobs of your departments, from a JSONL
file or a dataset version (`sentra datasets`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from sentra.training.v1 import training_pb2

from sentra_cli.cli import DEFAULT_HOME, DataDir, app, console, err, run_with_clients
from sentra_cli.client import Clients

train_app = typer.Typer(help="LoRA training jobs: start one from a JSONL file or a dataset, follow it, cancel it.",
                        no_args_is_help=True)
app.add_typer(train_app, name="train")

STATES = {value: name.removeprefix("JOB_STATE_") for name, value in training_pb2.JobState.items()}
STYLES = {"SUCCEEDED": "green", "RUNNING": "yellow", "EVALUATING": "yellow", "QUEUED": "cyan", "FAILED": "red",
          "CANCELLED": "magenta"}
ENDED = {"SUCCEEDED", "FAILED", "CANCELLED"}


def _state(job) -> str:
    name = STATES.get(job.state, "?")
    return f"[{STYLES.get(name, 'white')}]{name}[/]"


def _summary(job) -> str:
    name = STATES.get(job.state, "?")
    if name == "QUEUED":
        return f"queued, position {job.queue_position} in {job.department}"
    if name == "RUNNING" and job.total_steps:
        return f"step {job.step}/{job.total_steps}, loss {job.loss:.3f}, {job.tokens_per_second:.0f} tokens/s"
    if name in ("FAILED", "CANCELLED"):
        return job.failure_reason
    if name == "SUCCEEDED":
        verdict = "promoted" if job.promoted else "not promoted"
        memory = job.metrics.get("peak_worker_rss_mb", 0.0)
        return f"{job.step} steps, final loss {job.loss:.3f}, {verdict}" + (
            f", peak memory {memory:.0f} MiB per worker" if memory else "")
    if name == "EVALUATING":
        return "comparing with the base model (and the adapter promoted before) on the held-out examples"
    return ""


@train_app.command("start")
def start(
    adapter: Annotated[str, typer.Option("--adapter", "-a", help="Name of the adapter it trains.")],
    dataset: Annotated[Path | None, typer.Argument(
        help="JSONL file: one example per line, {\"messages\": [...]} or {\"instruction\", \"input\"?, "
             "\"output\"}. Or instead --dataset.")] = None,
    dataset_id: Annotated[str, typer.Option(
        "--dataset", help="A dataset version (`sentra datasets list`): its approved items train, its test split "
                          "judges the adapter. Instead of a JSONL file.")] = "",
    department: Annotated[str, typer.Option(
        "--department", "-d", help="Department the job trains for (with --dataset: the dataset's).")] = "",
    epochs: Annotated[int, typer.Option(help="Passes over the data (default 3).")] = 0,
    learning_rate: Annotated[float, typer.Option(help="Default 2e-4.")] = 0.0,
    rank: Annotated[int, typer.Option(help="LoRA rank (default 8).")] = 0,
    alpha: Annotated[int, typer.Option(help="LoRA alpha (default 16).")] = 0,
    max_seq_length: Annotated[int, typer.Option(help="Tokens per example (default 512).")] = 0,
    batch_size: Annotated[int, typer.Option(help="Examples per step (default 4).")] = 0,
    max_steps: Annotated[int, typer.Option(help="At most this many steps (default: all epochs).")] = 0,
    checkpoint_every: Annotated[int, typer.Option(help="A checkpoint every N steps (default 20).")] = 0,
    seed: Annotated[int, typer.Option(help="Seed of the data order and the adapter's start (default 0).")] = 0,
    general_text: Annotated[float | None, typer.Option(
        help="General paragraphs mixed in per example, so the adapter keeps reading the language as the base "
             "model did (default 0.5; 0: none).")] = None,
    follow: Annotated[bool, typer.Option(help="Show a progress bar until the job ends.")] = False,
    home: DataDir = DEFAULT_HOME,
) -> None:
    """Start a LoRA job on the base model (queued while another job of the department runs), from a JSONL
    file or a dataset version."""
    if (dataset is None) == (not dataset_id):
        err.print("[red]error:[/red] give a JSONL file or --dataset DATASET_ID (one of the two)")
        raise typer.Exit(2)
    if dataset is not None and not dataset.is_file():
        err.print(f"[red]error:[/red] {dataset} is not a file")
        raise typer.Exit(2)
    if dataset is not None and not department:
        err.print("[red]error:[/red] give the department the job trains for: --department/-d")
        raise typer.Exit(2)
    settings = training_pb2.TrainingSettings(
        epochs=epochs, learning_rate=learning_rate, lora_rank=rank, lora_alpha=alpha,
        max_seq_length=max_seq_length, batch_size=batch_size, max_steps=max_steps,
        checkpoint_every=checkpoint_every, seed=seed, general_text_ratio=general_text,
    )

    async def action(clients: Clients):
        request = training_pb2.StartTrainingJobRequest(
            department=department, adapter_name=adapter, dataset_id=dataset_id, settings=settings)
        if dataset is not None:
            request.dataset_jsonl, request.dataset_filename = dataset.read_bytes(), dataset.name
        reply = await clients.training.StartTrainingJob(request)
        job = reply.job
        console.print(f"job {job.job_id}: {_state(job)} {_summary(job)}")
        if follow:
            return await _follow(clients, job.job_id)
        return job

    job = run_with_clients(action, home)
    if STATES.get(job.state) in ("FAILED", "CANCELLED"):
        raise typer.Exit(1)


@train_app.command("list")
def list_jobs(
    department: Annotated[str, typer.Option("--department", "-d", help="Only this department.")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    home: DataDir = DEFAULT_HOME,
) -> None:
    """Training jobs of your departments, newest first."""

    async def action(clients: Clients):
        return (await clients.training.ListTrainingJobs(
            training_pb2.ListTrainingJobsRequest(department=department))).jobs

    jobs = run_with_clients(action, home)
    if as_json:
        console.print_json(json.dumps([_as_dict(j) for j in jobs]))
        return
    table = Table("job", "department", "adapter", "state", "progress", "started by", "created")
    for job in jobs:
        table.add_row(job.job_id, job.department, job.adapter_name, _state(job), _summary(job), job.created_by,
                      job.created_at.ToDatetime().strftime("%Y-%m-%d %H:%M:%S"))
    console.print(table)


@train_app.command("show")
def show(
    job_id: Annotated[str, typer.Argument(help="The job's id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    home: DataDir = DEFAULT_HOME,
) -> None:
    """One job: state, progress, settings and what it needs to be run again."""

    async def action(clients: Clients):
        return (await clients.training.GetTrainingJob(training_pb2.GetTrainingJobRequest(job_id=job_id))).job

    job = run_with_clients(action, home)
    if as_json:
        console.print_json(json.dumps(_as_dict(job)))
        return
    console.print(f"[bold]{job.job_id}[/bold]  {job.department}/{job.adapter_name}  {_state(job)}  {_summary(job)}")
    console.print(f"started by {job.created_by}; restarts {job.restarts}; resumed from step {job.resumed_from_step}")
    if job.decision:
        verdict = "[green]promoted[/green]" if job.promoted else "[yellow]not promoted[/yellow]"
        console.print(f"{verdict}: {job.decision}")
        console.print(f"adapter stored as {job.department}/{job.artifact_path}")
    console.print_json(job.model_card_json or job.reproducibility_json)


METRICS = ("contains", "exact_match", "token_f1", "rouge_l", "perplexity", "regression_perplexity")


@train_app.command("evaluate")
def evaluate(
    job_id: Annotated[str, typer.Argument(help="The job whose adapter is evaluated (`sentra train list`).")],
    dataset_id: Annotated[str, typer.Option(
        "--dataset", help="A dataset version of the job's department: its test split is asked. Default: the "
                          "examples held out of the job's own file.")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    home: DataDir = DEFAULT_HOME,
) -> None:
    """Evaluate a job's adapter against the base model and the adapter promoted before it, as the promotion
    gate does (answers on test examples, and the general regression set). Takes minutes on a CPU."""

    async def action(clients: Clients):
        return await clients.training.EvaluateAdapter(
            training_pb2.EvaluateAdapterRequest(job_id=job_id, dataset_id=dataset_id), timeout=3600)

    reply = run_with_clients(action, home)
    models = [("adapter", reply.metrics), ("base model", reply.baseline_metrics)]
    if reply.reference_job_id:
        models.append((f"promoted before (job {reply.reference_job_id[:8]})", reply.reference_metrics))
    if as_json:
        console.print_json(json.dumps({
            "test_set": reply.test_set, "test_examples": reply.test_examples,
            "reference_job_id": reply.reference_job_id,
            "models": {name: dict(scores) for name, scores in models}}))
        return
    table = Table(title=f"{reply.test_set}: {reply.test_examples} examples")
    table.add_column("model")
    for metric in METRICS:
        table.add_column(metric.replace("_", " "), justify="right")
    for name, scores in models:
        table.add_row(name, *(f"{scores.get(m, 0.0):.3f}" if "perplexity" not in m else f"{scores.get(m, 0.0):.1f}"
                              for m in METRICS))
    console.print(table)


@train_app.command("cancel")
def cancel(job_id: Annotated[str, typer.Argument(help="The job's id.")], home: DataDir = DEFAULT_HOME) -> None:
    """Cancel a queued or running job (a running one is stopped)."""

    async def action(clients: Clients):
        return (await clients.training.CancelTrainingJob(
            training_pb2.CancelTrainingJobRequest(job_id=job_id))).job

    job = run_with_clients(action, home)
    console.print(f"job {job.job_id}: {_state(job)} {_summary(job)}")


@train_app.command("follow")
def follow_job(job_id: Annotated[str, typer.Argument(help="The job's id.")], home: DataDir = DEFAULT_HOME) -> None:
    """A progress bar (step, loss, tokens/s, time left) until the job ends."""
    job = run_with_clients(lambda clients: _follow(clients, job_id), home)
    if STATES.get(job.state) in ("FAILED", "CANCELLED"):
        raise typer.Exit(1)


async def _follow(clients: Clients, job_id: str):
    job = None
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TextColumn("{task.fields[detail]}"), TimeRemainingColumn(), console=console) as progress:
        task = progress.add_task("queued", total=None, detail="")
        stream = clients.training.WatchTrainingJob(training_pb2.WatchTrainingJobRequest(job_id=job_id),
                                                   timeout=7 * 24 * 3600)
        async for update in stream:
            job = update.job
            name = STATES.get(job.state, "?")
            detail = f"loss {job.loss:.3f}, {job.tokens_per_second:.0f} tokens/s" if job.step else ""
            if job.restarts:
                detail += f" (restarted {job.restarts}x, resumed from step {job.resumed_from_step})"
            progress.update(task, description=name.lower(), total=job.total_steps or None, completed=job.step,
                            detail=detail)
    console.print(f"job {job.job_id}: {_state(job)} {_summary(job)}")
    return job


def _as_dict(job) -> dict:
    from google.protobuf.json_format import MessageToDict

    return MessageToDict(job, preserving_proto_field_name=True)
