"""Formatting for `sentra ask` and `sentra adapters`: answers with their sources, adapter
tables. Pure functions over the inference messages; the commands live in `main`."""

from __future__ import annotations

import json
from pathlib import Path

from google.protobuf import json_format
from rich.table import Table
from rich.text import Text
from sentra.inference.v1 import inference_pb2
from sentra_common.api_names import STRATEGY_NAMES

STATE_STYLES = {"ACTIVE": "green", "REGISTERED": "yellow", "INACTIVE": "dim", "FAILED": "red"}


def to_json(message) -> str:
    """A message as indented JSON with proto field names, defaults included."""
    return json.dumps(
        json_format.MessageToDict(
            message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
        ),
        indent=2, ensure_ascii=False,
    )


def answered_by(reply: inference_pb2.AnswerResponse) -> str:
    who = reply.adapter or "the base model"
    details = [d for d in (STRATEGY_NAMES.get(reply.strategy, ""),
                           _tokens(reply.prompt_tokens, reply.completion_tokens)) if d]
    return f"answered by {who}" + (f" ({', '.join(details)})" if details else "")


def _tokens(prompt: int, completion: int) -> str:
    return f"{prompt} prompt + {completion} completion tokens" if prompt or completion else ""


def source_header(citation: inference_pb2.Citation) -> Text:
    """`[n] title — p. N / § heading  (document_id, score 0.87)` (as Text: titles may hold `[`)."""
    where = " / ".join(p for p in (f"p. {citation.page}" if citation.page else "",
                                   f"§ {citation.heading}" if citation.heading else "") if p)
    line = Text(f"[{citation.number}] ", style="bold")
    line.append(citation.title or citation.document_id, style="bold")
    if where:
        line.append(f" — {where}")
    line.append(f"  ({citation.document_id}, score {citation.score:.2f})", style="dim")
    return line


def source_quote(citation: inference_pb2.Citation, indent: int = 4) -> Text | None:
    quote = " ".join(citation.quote.split())
    if not quote:
        return None
    return Text(" " * indent + f"“{quote}”", style="italic")


def state_name(state: int) -> str:
    return inference_pb2.AdapterState.Name(state).removeprefix("ADAPTER_STATE_")


def adapters_table(reply: inference_pb2.ListAdaptersResponse) -> Table:
    table = Table("name", "version", "department", "state", "base model", "created", "metrics")
    for a in sorted(reply.adapters, key=lambda a: (a.department, a.name, a.version)):
        state = state_name(a.state)
        cell = Text(state, style=STATE_STYLES.get(state, ""))
        if a.error:
            cell.append(f": {a.error}")
        created = a.created_at.ToDatetime().strftime("%Y-%m-%d %H:%M") if a.HasField("created_at") else "-"
        metrics = ", ".join(f"{k}={v:.4g}" for k, v in sorted(a.metrics.items()))
        table.add_row(Text(a.name), str(a.version), Text(a.department), cell, Text(a.base_model or "-"), created,
                      Text(metrics or "-"))
    return table


def aliases_table(reply: inference_pb2.ListAdaptersResponse) -> Table:
    table = Table("alias", "adapter", "active", "previous version", "department")
    for a in sorted(reply.aliases, key=lambda a: (a.department, a.alias)):
        table.add_row(
            Text(a.alias), Text(f"{a.adapter}@{a.version}"),
            Text("yes", style="green") if a.active else Text("no", style="dim"),
            str(a.previous_version) if a.previous_version else "-", Text(a.department),
        )
    return table


def alias_line(alias: inference_pb2.Alias) -> str:
    state = "active" if alias.active else "inactive"
    back = f"; rollback returns to {alias.previous_version}" if alias.previous_version else ""
    return f"{alias.alias} → {alias.adapter}@{alias.version} ({state}{back})"


def parse_metrics(items: list[str]) -> dict[str, float]:
    """`key=value` pairs → {key: float}; ValueError names the bad one."""
    metrics: dict[str, float] = {}
    for item in items:
        key, sep, value = item.partition("=")
        try:
            if not sep or not key.strip():
                raise ValueError
            metrics[key.strip()] = float(value)
        except ValueError:
            raise ValueError(f"--metric {item!r} is not key=number (e.g. --metric eval_loss=0.41)") from None
    return metrics


def artifact_uri(path: str) -> str:
    """What the inference service is given for `--path`: a path relative to the department's
    directory under its adapter root as it is (resolved there, not here), `~` expanded, a
    URI as given (the service accepts absolute paths and file:// URIs inside that directory)."""
    return str(Path(path).expanduser()) if path.startswith("~") else path
