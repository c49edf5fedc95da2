"""`sentra ask` and `sentra adapters …`: answers and the LoRA adapters that shape them."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from sentra.inference.v1 import inference_pb2
from sentra_common.api_names import (
    STRATEGIES,
    strategy_value,
    streamed_remainder,
)

from sentra_cli import answers
from sentra_cli.cli import DEFAULT_HOME, DataDir, app, console, err, run_with_clients
from sentra_cli.client import Clients

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

    run_with_clients(action, home)


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

    run_with_clients(action, home)


@adapters_app.command("show")
def adapters_show(
    spec: Annotated[str, typer.Argument(help="NAME or NAME@VERSION (without a version: the one its alias "
                                             "points at, else the newest).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the reply as JSON.")] = False,
    home: DataDir = DEFAULT_HOME,
) -> None:
    """One adapter version and its model card: data and lineage, settings, scores, decision."""
    name, _, version = spec.partition("@")
    if version and not version.isdigit():
        err.print(f"bad adapter {spec!r}: use NAME or NAME@VERSION (a number)")
        raise typer.Exit(2)

    async def action(clients: Clients):
        reply = await clients.inference.GetAdapter(inference_pb2.GetAdapterRequest(
            name=name, version=int(version or 0)))
        if as_json:
            typer.echo(answers.to_json(reply))
            return
        a = reply.adapter
        state = inference_pb2.AdapterState.Name(a.state).removeprefix("ADAPTER_STATE_").lower()
        console.print(f"{a.name}@{a.version} ({a.department}) {state}"
                      + (f", alias {reply.alias.alias} → @{reply.alias.version}"
                         f"{' active' if reply.alias.active else ' inactive'}" if reply.alias.alias else ""),
                      markup=False, highlight=False)
        if not reply.model_card_json:
            console.print("no model card (registered by hand, not trained by Sentra)")
            return
        card = json.loads(reply.model_card_json)
        dataset = card.get("dataset", {})
        lines = [
            f"trained by {card.get('created_by', '?')} at {card.get('finished_at', '?')} (job {card.get('job_id')})",
            f"data: {dataset.get('filename', '?')} — {dataset.get('train_examples', '?')} train, "
            f"{dataset.get('test_examples', '?')} test examples, sha256 {str(dataset.get('sha256', ''))[:16]}…",
        ]
        version_info = dataset.get("version")
        if version_info:
            lines.append(f"dataset version: {version_info.get('department')} v{version_info.get('version')} "
                         f"({version_info.get('dataset_id')}), {len(version_info.get('documents', []))} documents, "
                         f"generator {version_info.get('generator_id') or '-'}")
        config = card.get("config", {})
        lines.append("settings: " + ", ".join(f"{k} {config[k]}" for k in ("epochs", "learning_rate", "rank", "alpha",
                                                                            "max_seq_length", "seed") if k in config))
        for model, scores in card.get("evaluation", {}).items():
            shown = ", ".join(f"{k} {v:.3f}" for k, v in scores.items() if isinstance(v, float))
            lines.append(f"{model}: {shown}")
        lines.append(f"{'promoted' if card.get('promoted') else 'not promoted'}: {card.get('decision', '')}")
        for line in lines:
            console.print(line, markup=False, highlight=False)

    run_with_clients(action, home)


@adapters_app.command("register")
def adapters_register(
    name: Annotated[str, typer.Argument(help="Adapter name, e.g. legal (also the alias it is activated under).")],
    department: Annotated[str, typer.Option("--department", "-d", help="Department owning the adapter.")],
    path: Annotated[str, typer.Option(help="The adapter's directory under the department's adapter root on the "
                                      "inference service (<adapter root>/<department>/; `sentra up`: "
                                      "<data dir>/adapters/<department>/), relative to it (e.g. v3), or an "
                                      "absolute path or file:// URI inside it. Anything outside it is refused.")],
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

    run_with_clients(action, home)


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

    run_with_clients(action, home)


@adapters_app.command("deactivate")
def adapters_deactivate(
    name: Annotated[str, typer.Argument(help="Adapter name (alias).")],
    home: DataDir = DEFAULT_HOME,
) -> None:
    """Stop serving an adapter's alias (it keeps its version; `activate` serves it again)."""
    async def action(clients: Clients):
        await clients.inference.DeactivateAdapter(inference_pb2.DeactivateAdapterRequest(name=name))
        console.print(f"{name} deactivated", markup=False, highlight=False)

    run_with_clients(action, home)


@adapters_app.command("rollback")
def adapters_rollback(
    name: Annotated[str, typer.Argument(help="Adapter name (alias).")],
    home: DataDir = DEFAULT_HOME,
) -> None:
    """Serve the version the alias pointed to before the last activation."""
    async def action(clients: Clients):
        reply = await clients.inference.RollbackAdapter(inference_pb2.RollbackAdapterRequest(name=name))
        console.print(answers.alias_line(reply.alias), markup=False, highlight=False)

    run_with_clients(action, home)
