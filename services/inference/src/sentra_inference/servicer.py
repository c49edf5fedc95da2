"""gRPC surface of the inference service: proto in → domain → proto out."""

from __future__ import annotations

import time

from google.protobuf.timestamp_pb2 import Timestamp
from sentra.inference.v1 import inference_pb2, inference_pb2_grpc
from sentra_common.api_names import STRATEGIES, STRATEGY_NAMES
from sentra_common.principal import current_principal

from sentra_inference.domain.answering import Answer, AnswerService, Question
from sentra_inference.domain.ports import (
    ACTIVE,
    FAILED,
    INACTIVE,
    REGISTERED,
    AdapterRecord,
    AliasRecord,
    GenerationRequest,
)
from sentra_inference.domain.registry import AdapterRegistry
from sentra_inference.telemetry import InferenceMetrics

_STATES = {
    REGISTERED: inference_pb2.ADAPTER_STATE_REGISTERED, ACTIVE: inference_pb2.ADAPTER_STATE_ACTIVE,
    INACTIVE: inference_pb2.ADAPTER_STATE_INACTIVE, FAILED: inference_pb2.ADAPTER_STATE_FAILED,
}
MAX_GENERATE_TOKENS = 1024


def _question(request: inference_pb2.AnswerRequest) -> Question:
    return Question(
        text=request.question, top_k=request.top_k, departments=tuple(request.departments),
        adapter=request.adapter, strategy=STRATEGY_NAMES.get(request.strategy, ""), max_tokens=request.max_tokens,
    )


def answer_proto(answer: Answer) -> inference_pb2.AnswerResponse:
    return inference_pb2.AnswerResponse(
        answer=answer.text, not_found=answer.not_found, adapter=answer.adapter,
        strategy=STRATEGIES[answer.strategy], prompt_tokens=answer.prompt_tokens,
        completion_tokens=answer.completion_tokens, direct_answer=answer.direct_answer,
        parts=[
            inference_pb2.AnswerPart(question=p.question, answer=p.answer, citation=p.citation) for p in answer.parts
        ],
        citations=[
            inference_pb2.Citation(
                number=c.number, document_id=c.passage.document_id, title=c.passage.title, page=c.passage.page,
                heading=c.passage.heading, chunk_id=c.passage.chunk_id, score=c.passage.score, quote=c.quote,
            )
            for c in answer.citations
        ],
    )


def adapter_proto(record: AdapterRecord) -> inference_pb2.Adapter:
    created = Timestamp()
    created.FromDatetime(record.created_at)
    return inference_pb2.Adapter(
        name=record.name, version=record.version, base_model=record.base_model, artifact_uri=record.artifact_uri,
        department=record.department, metrics=record.metrics, state=_STATES[record.state], created_at=created,
        error=record.error,
    )


def alias_proto(alias: AliasRecord) -> inference_pb2.Alias:
    return inference_pb2.Alias(
        alias=alias.alias, adapter=alias.alias, version=alias.version, active=alias.active,
        department=alias.department, previous_version=alias.previous_version,
    )


class InferenceServicer(inference_pb2_grpc.InferenceServiceServicer):
    def __init__(self, answers: AnswerService, registry: AdapterRegistry,
                 metrics: InferenceMetrics | None = None) -> None:
        self.answers = answers
        self.registry = registry
        self.metrics = metrics

    def _answered(self, answer: Answer, started: float) -> None:
        if self.metrics is not None:
            self.metrics.answered(answer, time.perf_counter() - started)

    async def Answer(self, request, context):
        started = time.perf_counter()
        answer = await self.answers.answer(current_principal(), _question(request))
        self._answered(answer, started)
        return answer_proto(answer)

    async def StreamAnswer(self, request, context):
        started = time.perf_counter()
        async for event in self.answers.stream(current_principal(), _question(request)):
            if isinstance(event, Answer):
                self._answered(event, started)
                yield inference_pb2.StreamAnswerResponse(final=answer_proto(event))
            elif event:
                yield inference_pb2.StreamAnswerResponse(text=event)

    async def Generate(self, request, context):
        # Who may call Generate at all is the gateway's permission table (trainers and admins);
        # here only the adapter's department is checked.
        principal = current_principal()
        adapter = self.registry.resolve(principal, request.adapter) if request.adapter else ""
        generation = GenerationRequest(
            prompt=request.prompt, adapter=adapter, max_tokens=min(request.max_tokens or 128, MAX_GENERATE_TOKENS),
            temperature=max(0.0, request.temperature), stop=tuple(request.stop),
        )
        async for chunk in self.registry.backend.generate(generation):
            yield inference_pb2.GenerateResponse(
                text=chunk.text, finish_reason=chunk.finish_reason, completion_tokens=chunk.completion_tokens,
            )

    async def ListAdapters(self, request, context):
        adapters, aliases = self.registry.visible(current_principal(), request.department)
        return inference_pb2.ListAdaptersResponse(
            adapters=[adapter_proto(a) for a in adapters], aliases=[alias_proto(a) for a in aliases],
            base_model=self.registry.base_model,
        )

    async def RegisterAdapter(self, request, context):
        a = request.adapter
        record = await self.registry.register(
            current_principal(), name=a.name, version=a.version, department=a.department,
            artifact_uri=a.artifact_uri, base_model=a.base_model, metrics=dict(a.metrics),
        )
        return inference_pb2.RegisterAdapterResponse(adapter=adapter_proto(record))

    async def ActivateAdapter(self, request, context):
        alias = await self.registry.activate(current_principal(), request.name, request.version)
        return inference_pb2.ActivateAdapterResponse(alias=alias_proto(alias))

    async def DeactivateAdapter(self, request, context):
        await self.registry.deactivate(current_principal(), request.name)
        return inference_pb2.DeactivateAdapterResponse()

    async def GetAdapter(self, request, context):
        record, card, alias = await self.registry.describe(current_principal(), request.name, request.version)
        return inference_pb2.GetAdapterResponse(adapter=adapter_proto(record), model_card_json=card,
                                                alias=alias_proto(alias) if alias is not None else None)

    async def RollbackAdapter(self, request, context):
        alias = await self.registry.rollback(current_principal(), request.name)
        return inference_pb2.RollbackAdapterResponse(alias=alias_proto(alias))
