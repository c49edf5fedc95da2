"""One running platform for every monitoring test (module files share it through this
session fixture): every service sends its traces to an OTLP receiver on loopback, polls
its gauges every second, and has served one upload, a few questions and a refused call
through the gateway before the tests look at its metrics and traces."""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field

import grpc
import pytest
from sentra.inference.v1 import inference_pb2, inference_pb2_grpc
from sentra.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc
from sentra.retrieval.v1 import retrieval_pb2, retrieval_pb2_grpc
from sentra_cli.platform import Platform

from tests.monitoring.catalog import SERVICES
from tests.monitoring.otlp import OtlpReceiver
from tests.support.platform import CORPUS, TEST_ENV

DOCUMENT = CORPUS / "rrhh" / "guia_incorporacion_it.md"
QUESTION = "¿Cuántos caracteres debe tener como mínimo la contraseña corporativa?"
NOT_IN_THE_DOCUMENTS = "¿Qué menú sirve la cantina de la oficina de Oslo los viernes?"
IDENTITY = ("x-sentra-dev-identity", "ana:rrhh:dept-admin")


@dataclass
class Flow:
    """A request the tests started with a trace context of their own: its trace id, and the
    span id the first server span names as its parent (the tests' own, never exported)."""

    trace_id: str = field(default_factory=lambda: secrets.token_hex(16))
    parent_id: str = field(default_factory=lambda: secrets.token_hex(8))

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return IDENTITY, ("traceparent", f"00-{self.trace_id}-{self.parent_id}-01")


@dataclass
class Observed:
    platform: Platform
    receiver: OtlpReceiver
    upload: Flow
    answer: Flow
    document_id: str = ""


def _settings() -> dict[str, str]:
    env = dict(TEST_ENV)
    for service in SERVICES:
        env[f"SENTRA_{service.upper()}_TELEMETRY__POLL_SECONDS"] = "1"
        env[f"SENTRA_{service.upper()}_NATS__CONSUMER_INFO_SECONDS"] = "1"
    return env


async def _exercise(platform: Platform, observed: Observed) -> None:
    """What a department does in a morning, through the gateway: an upload (indexed), a
    search, a question answered by the reader, one generated, one the documents do not
    answer, and a call refused for another department."""
    async with grpc.aio.insecure_channel(platform.load_state().target("gateway")) as channel:
        ingestion = ingestion_pb2_grpc.IngestionServiceStub(channel)
        inference = inference_pb2_grpc.InferenceServiceStub(channel)

        def messages():
            yield ingestion_pb2.UploadDocumentRequest(metadata=ingestion_pb2.UploadMetadata(
                filename=DOCUMENT.name, department="rrhh", source_uri="monitoring:guia"))
            yield ingestion_pb2.UploadDocumentRequest(data=DOCUMENT.read_bytes())

        reply = await ingestion.UploadDocument(messages(), metadata=observed.upload.metadata, timeout=120)
        observed.document_id = reply.document.document_id
        deadline = time.monotonic() + 300
        while True:
            doc = (await ingestion.GetDocument(ingestion_pb2.GetDocumentRequest(document_id=observed.document_id),
                                               metadata=(IDENTITY,), timeout=30)).document
            if doc.state != ingestion_pb2.DOCUMENT_STATE_PROCESSING or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        assert doc.state == ingestion_pb2.DOCUMENT_STATE_INDEXED, doc.failure_reason
        await retrieval_pb2_grpc.RetrievalServiceStub(channel).Search(
            retrieval_pb2.SearchRequest(query="contraseña corporativa", top_k=3), metadata=(IDENTITY,), timeout=60)
        answer = await inference.Answer(inference_pb2.AnswerRequest(question=QUESTION, departments=["rrhh"]),
                                        metadata=observed.answer.metadata, timeout=300)
        assert not answer.not_found, answer.answer
        async for _ in inference.StreamAnswer(inference_pb2.AnswerRequest(
                question=QUESTION, departments=["rrhh"], strategy=inference_pb2.ANSWER_STRATEGY_GENERATIVE,
                max_tokens=12), metadata=(IDENTITY,), timeout=300):
            pass
        await inference.Answer(inference_pb2.AnswerRequest(question=NOT_IN_THE_DOCUMENTS, departments=["rrhh"]),
                               metadata=(IDENTITY,), timeout=300)
        with pytest.raises(grpc.aio.AioRpcError):
            await ingestion.ListDocuments(ingestion_pb2.ListDocumentsRequest(department="finanzas"),
                                          metadata=(IDENTITY,), timeout=30)


@pytest.fixture(scope="session")
async def observed(tmp_path_factory):
    receiver = OtlpReceiver().start()
    platform = Platform(tmp_path_factory.mktemp("observed-platform"), identity="development",
                        extra_env=_settings(), otlp_endpoint=receiver.endpoint)
    try:
        platform.up(timeout=300)
        result = Observed(platform, receiver, Flow(), Flow())
        await _exercise(platform, result)
        yield result
    finally:
        platform.down()
        receiver.stop()
