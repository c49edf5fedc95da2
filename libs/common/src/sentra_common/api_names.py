"""How users write and read the API's enums, in one place: answer strategies (`reader`)
and document states (`INDEXED`) against their protobuf values, and the one rule for
the text of a streamed answer that its final reply adds."""

from __future__ import annotations

from sentra.inference.v1 import inference_pb2
from sentra.ingestion.v1 import ingestion_pb2


def _names(enum, prefix: str, lower: bool) -> dict[int, str]:
    """value → name without the prefix, UNSPECIFIED (0) left out."""
    return {value: name.removeprefix(prefix).lower() if lower else name.removeprefix(prefix)
            for name, value in enum.items() if value}


# 3 → "reader", …; "reader" → 3, …
STRATEGY_NAMES: dict[int, str] = _names(inference_pb2.AnswerStrategy, "ANSWER_STRATEGY_", lower=True)
STRATEGIES: dict[str, int] = {name: value for value, name in STRATEGY_NAMES.items()}
# 2 → "INDEXED", …; "INDEXED" → 2, …
DOCUMENT_STATE_NAMES: dict[int, str] = _names(ingestion_pb2.DocumentState, "DOCUMENT_STATE_", lower=False)
DOCUMENT_STATES: dict[str, int] = {name: value for value, name in DOCUMENT_STATE_NAMES.items()}


def strategy_value(name: str) -> int:
    """The protobuf value of a strategy name (any case); "" is the service's default."""
    if not name:
        return inference_pb2.ANSWER_STRATEGY_UNSPECIFIED
    try:
        return STRATEGIES[name.lower()]
    except KeyError:
        raise ValueError(f"unknown answer strategy {name!r}; use one of {', '.join(STRATEGIES)}") from None


def streamed_remainder(streamed: str, answer: str) -> str:
    """What of a final answer was not already streamed as text deltas (all of it when
    nothing was; nothing when the final text does not continue what was streamed)."""
    return answer[len(streamed):] if answer.startswith(streamed) else ""
