"""The gateway's own metrics (beside `sentra_common.metrics.ServiceMetrics`): usage per
department — every public call (gRPC, HTTP, OpenAI-compatible) by method, department and
result, and the answers given with their outcome and tokens. Names are listed in
docs/metrics.md.

The department label stays bounded: it is a department the verified caller belongs to
(the one the request names, or the caller's only one), `several` for a request over
several of the caller's departments, `other` for a department the caller is not in (a
refused request; its name is not kept), `unknown` when the caller was not identified.
"""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter
from sentra.inference.v1 import inference_pb2
from sentra_common.principal import Principal

SEVERAL = "several"
OTHER = "other"
UNKNOWN = "unknown"


def usage_department(principal: Principal | None, named: str, scope: tuple[str, ...] = ()) -> str:
    """The department label of a call: `named` (the request's department), else the one
    department of `scope` (the departments it asks about), else the caller's only one."""
    if principal is None:
        return UNKNOWN
    if not named and len(scope) == 1:
        named = scope[0]
    if named:
        return named if named in principal.departments else OTHER
    if len(scope) > 1 or len(principal.departments) != 1:
        return SEVERAL
    return principal.departments[0]


def requested_departments(message) -> tuple[str, ...]:
    """The departments a request asks about (`departments`, e.g. an answer's scope)."""
    for field, value in message.ListFields():
        if field.name == "departments" and field.message_type is None:
            return tuple(value)
    return ()


class GatewayUsage:
    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.requests = Counter(
            "sentra_gateway_requests_total",
            "Public calls (gRPC, HTTP and OpenAI-compatible alike) by method, department and result code.",
            ["method", "department", "code"], registry=registry,
        )
        self.answers = Counter(
            "sentra_gateway_answers_total",
            "Answers given, by department and outcome: answered, or not_found (the department's documents "
            "do not contain the answer).",
            ["department", "outcome"], registry=registry,
        )
        self.answer_tokens = Counter(
            "sentra_gateway_answer_tokens_total",
            "Tokens the generation engine spent on answers (generative strategy), by department and kind "
            "(prompt, completion).",
            ["department", "kind"], registry=registry,
        )

    def finished(self, method: str, department: str, code: str) -> None:
        self.requests.labels(method, department, code).inc()

    def response(self, department: str, message) -> None:
        """Look at a response (or a streamed item) for an answer."""
        if isinstance(message, inference_pb2.StreamAnswerResponse):
            if not message.HasField("final"):
                return
            message = message.final
        if not isinstance(message, inference_pb2.AnswerResponse):
            return
        self.answers.labels(department, "not_found" if message.not_found else "answered").inc()
        if message.prompt_tokens:
            self.answer_tokens.labels(department, "prompt").inc(message.prompt_tokens)
        if message.completion_tokens:
            self.answer_tokens.labels(department, "completion").inc(message.completion_tokens)
