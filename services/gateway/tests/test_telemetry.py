"""The gateway's usage metrics: the department label stays one of the caller's own (or a
fixed word), and answers are counted with their outcome and tokens."""

from __future__ import annotations

from prometheus_client import CollectorRegistry
from sentra.inference.v1 import inference_pb2
from sentra_common.principal import Principal
from sentra_gateway.telemetry import GatewayUsage, requested_departments, usage_department

ANA = Principal("ana", departments=("legal", "rrhh"))
LUIS = Principal("luis", departments=("rrhh",))


def test_the_department_label_is_bounded_by_the_callers_departments():
    assert usage_department(ANA, "legal") == "legal"
    assert usage_department(ANA, "marketing-2024-secret") == "other"  # not the caller's: name not kept
    assert usage_department(ANA, "") == "several"
    assert usage_department(ANA, "", ("rrhh",)) == "rrhh"
    assert usage_department(ANA, "", ("rrhh", "legal")) == "several"
    assert usage_department(LUIS, "") == "rrhh"
    assert usage_department(None, "legal") == "unknown"


def test_requested_departments_are_read_from_the_request():
    request = inference_pb2.AnswerRequest(question="¿Cuántos días?", departments=["rrhh"])
    assert requested_departments(request) == ("rrhh",)
    assert requested_departments(inference_pb2.ListAdaptersRequest(department="legal")) == ()


def test_answers_and_their_tokens_are_counted_per_department():
    prom = CollectorRegistry()
    usage = GatewayUsage(prom)
    usage.finished("/sentra.inference.v1.InferenceService/Answer", "rrhh", "OK")
    usage.response("rrhh", inference_pb2.AnswerResponse(answer="22 días", prompt_tokens=300, completion_tokens=6))
    usage.response("rrhh", inference_pb2.StreamAnswerResponse(text="No"))  # a piece, not the answer
    usage.response("rrhh", inference_pb2.StreamAnswerResponse(final=inference_pb2.AnswerResponse(not_found=True)))
    usage.response("rrhh", inference_pb2.ListAdaptersResponse())
    labels = {"method": "/sentra.inference.v1.InferenceService/Answer", "department": "rrhh", "code": "OK"}
    assert prom.get_sample_value("sentra_gateway_requests_total", labels) == 1
    assert prom.get_sample_value("sentra_gateway_answers_total", {"department": "rrhh", "outcome": "answered"}) == 1
    assert prom.get_sample_value("sentra_gateway_answers_total", {"department": "rrhh", "outcome": "not_found"}) == 1
    assert prom.get_sample_value("sentra_gateway_answer_tokens_total", {"department": "rrhh", "kind": "prompt"}) == 300
