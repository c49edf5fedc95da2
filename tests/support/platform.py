"""Drive a real Sentra platform (separate processes) from tests, through gRPC."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from pathlib import Path

from sentra.inference.v1 import inference_pb2_grpc
from sentra.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc
from sentra.retrieval.v1 import retrieval_pb2, retrieval_pb2_grpc
from sentra_cli.platform import Platform
from sentra_common.principal import Principal

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "examples" / "corpus"
DEPARTMENTS = ("legal", "rrhh", "finanzas", "operaciones", "ventas")
ADMIN = Principal("admin", departments=DEPARTMENTS, roles=("platform-admin",))

# Faster redelivery and stall detection than production defaults, so fault tests are short.
TEST_ENV = {
    f"SENTRA_{svc}_NATS__ACK_WAIT_SECONDS": "6" for svc in ("INGESTION", "EMBEDDING", "RETRIEVAL")
} | {
    "SENTRA_INGESTION_WATCHDOG_INTERVAL_SECONDS": "5",
    "SENTRA_INGESTION_STALL_TIMEOUT_SECONDS": "90",
    "SENTRA_INGESTION_LIMITS__MAX_UPLOAD_BYTES": str(5 * 1024 * 1024),
    "SENTRA_INGESTION_LIMITS__PARSE_TIMEOUT_SECONDS": "60",
    "SENTRA_EMBEDDING_TORCH_THREADS": "1",
    "SENTRA_EMBEDDING_ONNX_THREADS": "1",
    # Refusals of unidentified callers reach the audit log within a second or two.
    "SENTRA_GATEWAY_RATE_LIMIT__REFUSAL_AUDIT_WINDOW_SECONDS": "1",
}

PROCESSING = ingestion_pb2.DOCUMENT_STATE_PROCESSING
INDEXED = ingestion_pb2.DOCUMENT_STATE_INDEXED
FAILED = ingestion_pb2.DOCUMENT_STATE_FAILED


class Api:
    """gRPC stubs of a running platform's internal services, acting as one principal: the
    test signs it with the platform's gateway key, as the gateway would."""

    def __init__(self, platform: Platform, principal: Principal = ADMIN) -> None:
        state = platform.load_state()
        self.ingestion_channel = platform.internal_channel("ingestion", principal, 120)
        self.retrieval_channel = platform.internal_channel("retrieval", principal, 120)
        self.ingestion = ingestion_pb2_grpc.IngestionServiceStub(self.ingestion_channel)
        self.retrieval = retrieval_pb2_grpc.RetrievalServiceStub(self.retrieval_channel)
        self.inference_channel = None
        if "inference" in state.services:
            self.inference_channel = platform.internal_channel("inference", principal, 300)
            self.inference = inference_pb2_grpc.InferenceServiceStub(self.inference_channel)

    async def close(self) -> None:
        await self.ingestion_channel.close()
        await self.retrieval_channel.close()
        if self.inference_channel is not None:
            await self.inference_channel.close()

    async def upload(
        self, data: bytes, filename: str, department: str, *, source_uri: str = "",
        access_list: Iterable[str] = (), piece: int = 64 * 1024,
    ) -> ingestion_pb2.UploadDocumentResponse:
        def messages():
            yield ingestion_pb2.UploadDocumentRequest(metadata=ingestion_pb2.UploadMetadata(
                filename=filename, department=department, source_uri=source_uri,
                access_list=list(access_list),
            ))
            for i in range(0, len(data), piece):
                yield ingestion_pb2.UploadDocumentRequest(data=data[i : i + piece])

        return await self.ingestion.UploadDocument(messages())

    async def upload_corpus(self, corpus: Path = CORPUS) -> dict[str, str]:
        """Upload every example document; returns {"dept/file": document_id}."""
        ids = {}
        for path in sorted(corpus.rglob("*")):
            if path.is_file():
                rel = path.relative_to(corpus).as_posix()
                reply = await self.upload(path.read_bytes(), path.name, rel.split("/")[0], source_uri=f"example:{rel}")
                ids[rel] = reply.document.document_id
        return ids

    async def document(self, document_id: str) -> ingestion_pb2.GetDocumentResponse:
        return await self.ingestion.GetDocument(ingestion_pb2.GetDocumentRequest(document_id=document_id))

    async def wait_settled(self, ids: Iterable[str], timeout: float = 600) -> dict[str, ingestion_pb2.Document]:
        """Wait until no document is PROCESSING; returns their final records."""
        pending = set(ids)
        docs: dict[str, ingestion_pb2.Document] = {}
        deadline = time.monotonic() + timeout
        while pending:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(pending)} document(s) still PROCESSING after {timeout} s")
            reply = await self.ingestion.ListDocuments(ingestion_pb2.ListDocumentsRequest(page_size=1000))
            page = {d.document_id: d for d in reply.documents}
            token = reply.next_page_token
            while token:
                more = await self.ingestion.ListDocuments(
                    ingestion_pb2.ListDocumentsRequest(page_size=1000, page_token=token))
                page.update({d.document_id: d for d in more.documents})
                token = more.next_page_token
            for doc_id in list(pending):
                if doc_id in page:
                    docs[doc_id] = page[doc_id]
                    if page[doc_id].state != PROCESSING:
                        pending.discard(doc_id)
            if pending:
                await asyncio.sleep(0.5)
        return docs

    async def search(self, query: str, top_k: int = 5, mode=retrieval_pb2.SEARCH_MODE_HYBRID, departments=()):
        reply = await self.retrieval.Search(retrieval_pb2.SearchRequest(
            query=query, top_k=top_k, mode=mode, departments=list(departments)))
        return list(reply.hits)

    async def points(self, document_id: str = "") -> int:
        reply = await self.retrieval.GetIndexStats(retrieval_pb2.GetIndexStatsRequest(document_id=document_id))
        return reply.points
