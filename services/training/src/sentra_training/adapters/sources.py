"""The domain's `ChunkSource`: the department's INDEXED documents from the ingestion
service and their chunks from the retrieval service, both asked as the caller (the
onward assertions the gateway signed for them are forwarded), so the owners of the data
apply the caller's departments and access lists. Only chunks the whole department may
read are taken: an adapter serves the whole department, so a document restricted to some
of its people never teaches it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import grpc
from sentra.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc
from sentra.retrieval.v1 import retrieval_pb2, retrieval_pb2_grpc
from sentra_common.errors import from_rpc_error
from sentra_common.grpc_client import CredentialProvider, open_channel
from sentra_common.tls import ChannelTls

from sentra_training.domain.datasets import Chunk

PAGE = 1000


class PlatformChunks:
    def __init__(self, ingestion_target: str, retrieval_target: str, deadline_seconds: float,
                 tls: ChannelTls | None = None, credentials: CredentialProvider | None = None) -> None:
        # credentials None: the caller's onward assertions (a CreateDataset call being served)
        self._ingestion_channel = open_channel(ingestion_target, audience="ingestion", credentials=credentials,
                                               deadline_seconds=deadline_seconds, tls=tls)
        self._retrieval_channel = open_channel(retrieval_target, audience="retrieval", credentials=credentials,
                                               deadline_seconds=deadline_seconds, tls=tls,
                                               max_message_bytes=64 * 1024 * 1024)
        self._ingestion = ingestion_pb2_grpc.IngestionServiceStub(self._ingestion_channel)
        self._retrieval = retrieval_pb2_grpc.RetrievalServiceStub(self._retrieval_channel)

    async def indexed_documents(self, department: str, since: datetime | None) -> list[str]:
        out: list[str] = []
        token = ""
        while True:
            try:
                page = await self._ingestion.ListDocuments(ingestion_pb2.ListDocumentsRequest(
                    department=department, state=ingestion_pb2.DOCUMENT_STATE_INDEXED, page_size=PAGE,
                    page_token=token))
            except grpc.aio.AioRpcError as exc:
                raise from_rpc_error(exc, "ingestion") from exc
            for document in page.documents:
                if since is None or document.updated_at.ToDatetime(since.tzinfo) >= since:
                    out.append(document.document_id)
            token = page.next_page_token
            if not token:
                return out

    async def chunks(self, department: str, document_ids: Sequence[str]) -> list[Chunk]:
        out: list[Chunk] = []
        for start in range(0, len(document_ids), PAGE):
            token = ""
            while True:
                try:
                    page = await self._retrieval.ListChunks(retrieval_pb2.ListChunksRequest(
                        document_ids=list(document_ids[start : start + PAGE]), departments=[department],
                        page_size=PAGE, page_token=token, department_wide_only=True))
                except grpc.aio.AioRpcError as exc:
                    raise from_rpc_error(exc, "retrieval") from exc
                out.extend(Chunk(chunk_id=c.chunk_id, document_id=c.document_id, document_version=c.version,
                                 title=c.title, text=c.text, chunk_index=c.chunk_index) for c in page.chunks)
                token = page.next_page_token
                if not token:
                    break
        return out

    async def close(self) -> None:
        await self._ingestion_channel.close()
        await self._retrieval_channel.close()
