"""A gateway for unit tests: its real HTTP server (uvicorn on a free port, MCP included)
over its real core (development identity or a given authenticator, permission table,
SQLite audit log, API keys), in front of stand-in services on in-process gRPC servers that
check the gateway's signed principal as the real ones do: inference (answers), retrieval
(search and chunks), ingestion (documents) and embedding, each keeping to the caller's
departments like the real services."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
from dataclasses import dataclass
from typing import ClassVar

import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf.timestamp_pb2 import Timestamp
from prometheus_client import CollectorRegistry
from sentra.embedding.v1 import embedding_pb2, embedding_pb2_grpc
from sentra.inference.v1 import inference_pb2, inference_pb2_grpc
from sentra.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc
from sentra.retrieval.v1 import retrieval_pb2, retrieval_pb2_grpc
from sentra_common.access import can_read
from sentra_common.config import GrpcServerSettings
from sentra_common.db import create_engine, migrate
from sentra_common.errors import NotFound, Unavailable
from sentra_common.grpc_client import no_credentials, open_channel
from sentra_common.grpc_server import GrpcServer, assertion_verifier
from sentra_common.identity import AssertionSigner, AssertionVerifier, TrustedKey
from sentra_common.metrics import ServiceMetrics
from sentra_common.principal import current_principal
from sentra_gateway import local
from sentra_gateway.apikeys import ApiKeys
from sentra_gateway.app import MIGRATIONS
from sentra_gateway.audit import AuditLog
from sentra_gateway.auth import Authenticator
from sentra_gateway.config import AuthSettings, HttpSettings, RateLimitSettings
from sentra_gateway.core import Gateway
from sentra_gateway.http_api import create_http_app
from sentra_gateway.ratelimit import RateLimiter
from sentra_gateway.routes import build_routes

KEY = Ed25519PrivateKey.generate()
SIGNER = AssertionSigner(KEY, "gateway")
BASE = "gemma-3-270m"
PIECES = ["The notice ", "period is ", "thirty days ", "[1]."]
ANSWER = "".join(PIECES)
DIMENSION = 384
EMBEDDING_MODEL = "all-MiniLM-L6-v2"


def _ts(seconds: int) -> Timestamp:
    return Timestamp(seconds=seconds)


class Recorder:
    def __init__(self) -> None:
        self.requests: list[tuple[str, object]] = []

    def _record(self, request) -> None:
        self.requests.append((current_principal().subject, request))


class FakeInference(Recorder, inference_pb2_grpc.InferenceServiceServicer):
    """Answers deterministically, records what it was asked and by whom."""

    adapters: ClassVar[set[str]] = {"", "legal", "legal@2", "legal@3", BASE}

    def __init__(self) -> None:
        super().__init__()
        self.cancelled = asyncio.Event()

    def _reply(self, request) -> inference_pb2.AnswerResponse:
        if request.adapter not in self.adapters:
            raise NotFound(f"adapter {request.adapter!r} does not exist or is not one of your departments'")
        if "nothing" in request.question:
            return inference_pb2.AnswerResponse(
                answer="The documents you may see say nothing about this.", not_found=True,
                strategy=inference_pb2.ANSWER_STRATEGY_EXTRACTIVE, prompt_tokens=9)
        return inference_pb2.AnswerResponse(
            answer=ANSWER, adapter=request.adapter or "legal@3",
            strategy=request.strategy or inference_pb2.ANSWER_STRATEGY_GENERATIVE,
            prompt_tokens=120, completion_tokens=7, direct_answer="30 days",
            parts=[inference_pb2.AnswerPart(question=request.question, answer="30 days", citation=1)],
            citations=[inference_pb2.Citation(
                number=1, document_id="doc-1", title="Employment contract", page=4, heading="Termination",
                chunk_id="doc-1:12", score=0.87, quote="thirty (30) days' notice")],
        )

    async def ListAdapters(self, request, context):
        self._record(request)
        return inference_pb2.ListAdaptersResponse(
            base_model=BASE,
            adapters=[
                inference_pb2.Adapter(name="legal", version=3, department="legal", base_model=BASE,
                                      state=inference_pb2.ADAPTER_STATE_ACTIVE, created_at=_ts(1_700_000_300)),
                inference_pb2.Adapter(name="legal", version=2, department="legal", base_model=BASE,
                                      state=inference_pb2.ADAPTER_STATE_INACTIVE, created_at=_ts(1_700_000_200)),
                inference_pb2.Adapter(name="legal", version=1, department="legal", base_model=BASE,
                                      state=inference_pb2.ADAPTER_STATE_INACTIVE, created_at=_ts(1_700_000_100)),
                inference_pb2.Adapter(name="legal", version=4, department="legal", base_model=BASE,
                                      state=inference_pb2.ADAPTER_STATE_FAILED, error="bad weights"),
                inference_pb2.Adapter(name="rrhh", version=1, department="rrhh", base_model=BASE,
                                      state=inference_pb2.ADAPTER_STATE_INACTIVE),
            ],
            aliases=[
                inference_pb2.Alias(alias="legal", adapter="legal", version=3, active=True, department="legal",
                                    previous_version=2),
                inference_pb2.Alias(alias="rrhh", adapter="rrhh", version=1, active=False, department="rrhh"),
            ],
        )

    async def Answer(self, request, context):
        self._record(request)
        return self._reply(request)

    async def StreamAnswer(self, request, context):
        self._record(request)
        reply = self._reply(request)
        if "slowly" in request.question:
            try:
                for i in range(1000):
                    yield inference_pb2.StreamAnswerResponse(text=f"{i} ")
                    await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                self.cancelled.set()
                raise
        if not reply.not_found:
            for piece in PIECES:
                yield inference_pb2.StreamAnswerResponse(text=piece)
                await asyncio.sleep(0)
                if "fail midway" in request.question:
                    raise Unavailable("the model server went away; try again")
        yield inference_pb2.StreamAnswerResponse(final=reply)


# Two departments' documents: what the stand-ins for ingestion and retrieval serve.
DOCUMENTS = {
    "doc-legal": ingestion_pb2.Document(
        document_id="doc-legal", title="Contrato marco", filename="contrato.docx", department="legal",
        state=ingestion_pb2.DOCUMENT_STATE_INDEXED, chunk_count=2, page_count=3, updated_at=_ts(1_700_000_000)),
    "doc-legal-failed": ingestion_pb2.Document(
        document_id="doc-legal-failed", title="", filename="cifrado.pdf", department="legal",
        state=ingestion_pb2.DOCUMENT_STATE_FAILED, failure_reason="PDF is encrypted with a password"),
    "doc-rrhh": ingestion_pb2.Document(
        document_id="doc-rrhh", title="Bandas salariales", filename="bandas.xlsx", department="rrhh",
        state=ingestion_pb2.DOCUMENT_STATE_INDEXED, chunk_count=1),
}
CHUNKS = {
    "doc-legal": [
        retrieval_pb2.SearchHit(document_id="doc-legal", chunk_id="doc-legal:0", chunk_index=0, title="Contrato marco",
                                department="legal", page=1, heading="Objeto",
                                text="El contrato regula el transporte de hortalizas. Tiene una duración de dos años."),
        retrieval_pb2.SearchHit(document_id="doc-legal", chunk_id="doc-legal:1", chunk_index=1, title="Contrato marco",
                                department="legal", page=3, heading="Resolución",
                                text="Cualquiera de las partes puede resolverlo. El preaviso es de treinta días "
                                     "naturales."),
    ],
    "doc-rrhh": [
        retrieval_pb2.SearchHit(document_id="doc-rrhh", chunk_id="doc-rrhh:0", chunk_index=0,
                                title="Bandas salariales", department="rrhh", page=0, heading="Banda B",
                                text="El preaviso de la banda B es de treinta días. Salario de 32.000 euros."),
    ],
}


def _visible(document_id: str) -> bool:
    doc = DOCUMENTS.get(document_id)
    return doc is not None and can_read(current_principal(), doc.department, [])


class FakeIngestion(Recorder, ingestion_pb2_grpc.IngestionServiceServicer):
    async def ListDocuments(self, request, context):
        self._record(request)
        docs = [d for i, d in DOCUMENTS.items() if _visible(i) and (not request.state or d.state == request.state)
                and (not request.department or d.department == request.department)]
        return ingestion_pb2.ListDocumentsResponse(documents=docs)

    async def GetDocument(self, request, context):
        self._record(request)
        if not _visible(request.document_id):
            raise NotFound(f"document {request.document_id} does not exist or is not yours")
        return ingestion_pb2.GetDocumentResponse(document=DOCUMENTS[request.document_id])


class FakeRetrieval(Recorder, retrieval_pb2_grpc.RetrievalServiceServicer):
    async def Search(self, request, context):
        self._record(request)
        words = set(request.query.lower().split())
        hits = [retrieval_pb2.SearchHit(**{**_fields(c), "score": 0.5})
                for doc_id, chunks in CHUNKS.items() if _visible(doc_id)
                for c in chunks if words & set(c.text.lower().replace(".", " ").split())]
        return retrieval_pb2.SearchResponse(hits=hits[: request.top_k or 10])

    async def ListChunks(self, request, context):
        self._record(request)
        chunks = [c for doc_id in request.document_ids if _visible(doc_id) for c in CHUNKS.get(doc_id, [])]
        yield retrieval_pb2.ListChunksResponse(chunks=chunks)


def _fields(message) -> dict:
    return {f.name: v for f, v in message.ListFields()}


def fake_vector(text: str) -> list[float]:
    """A deterministic unit vector per text (what the model would return, in shape)."""
    seed = hashlib.sha256(text.encode()).digest()
    values = [(seed[i % len(seed)] - 127.5) / 127.5 + i * 1e-4 for i in range(DIMENSION)]
    norm = math.sqrt(sum(v * v for v in values))
    return [v / norm for v in values]


class FakeEmbedding(Recorder, embedding_pb2_grpc.EmbeddingServiceServicer):
    async def Embed(self, request, context):
        self._record(request)
        return embedding_pb2.EmbedResponse(
            vectors=[embedding_pb2.Vector(values=fake_vector(t)) for t in request.texts],
            model=EMBEDDING_MODEL, dimension=DIMENSION)

    async def GetModelInfo(self, request, context):
        self._record(request)
        return embedding_pb2.GetModelInfoResponse(model=EMBEDDING_MODEL, dimension=DIMENSION, backend="onnx",
                                                  max_batch_size=64)


BACKENDS = {
    "inference": ("sentra.inference.v1.InferenceService", FakeInference,
                  inference_pb2_grpc.add_InferenceServiceServicer_to_server),
    "retrieval": ("sentra.retrieval.v1.RetrievalService", FakeRetrieval,
                  retrieval_pb2_grpc.add_RetrievalServiceServicer_to_server),
    "ingestion": ("sentra.ingestion.v1.IngestionService", FakeIngestion,
                  ingestion_pb2_grpc.add_IngestionServiceServicer_to_server),
    "embedding": ("sentra.embedding.v1.EmbeddingService", FakeEmbedding,
                  embedding_pb2_grpc.add_EmbeddingServiceServicer_to_server),
}


@dataclass
class Stack:
    url: str
    fakes: dict[str, Recorder]
    audit: AuditLog
    api_keys: ApiKeys
    gateway: Gateway

    def __iter__(self):  # url, inference, audit
        return iter((self.url, self.fakes["inference"], self.audit))


@contextlib.asynccontextmanager
async def gateway_http(tmp_path, *, auth: Authenticator | None = None, burst: int = 100):
    metrics = ServiceMetrics("unit", registry=CollectorRegistry())
    servers: list[GrpcServer] = []
    channels = {}
    fakes: dict[str, Recorder] = {}
    for name, (service, fake_class, add) in BACKENDS.items():
        trust = AssertionVerifier([TrustedKey(SIGNER.kid, "gateway", KEY.public_key())], audience=name)
        fake = fakes[name] = fake_class()
        backend = GrpcServer(name, GrpcServerSettings(port=0, grace_seconds=0), metrics, assertion_verifier(trust))
        backend.add_service(service, lambda s, fake=fake, add=add: add(fake, s))
        await backend.start()
        await backend.set_serving(True)
        servers.append(backend)
        channels[name] = open_channel(f"127.0.0.1:{backend.port}", audience=name, credentials=no_credentials)
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}")
    await migrate(engine, MIGRATIONS, "alembic_version_gateway")
    audit = AuditLog(engine)
    api_keys = ApiKeys(engine)
    authenticator = auth or Authenticator(AuthSettings(mode="development"))
    authenticator.api_keys = api_keys
    gateway = Gateway(build_routes(), authenticator, RateLimiter(RateLimitSettings(requests_per_second=1, burst=burst)),
                      audit, SIGNER, channels, metrics)
    local.install(gateway, audit, api_keys)
    app = create_http_app(gateway, HttpSettings())
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, access_log=False,
                                           lifespan="off"))
    server.capture_signals = contextlib.nullcontext
    async with app.state.mcp.running():
        task = asyncio.create_task(server.serve())
        while not server.started:
            assert not task.done(), "the HTTP server did not start"
            await asyncio.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        try:
            yield Stack(f"http://127.0.0.1:{port}", fakes, audit, api_keys, gateway)
        finally:
            server.should_exit = True
            await asyncio.wait([task], timeout=5)
    for channel in channels.values():
        await channel.close()
    for backend in servers:
        await backend.stop()
    audit.close()
    await engine.dispose()
    await gateway.authenticator.close()
