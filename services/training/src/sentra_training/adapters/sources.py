"""The domain's `ChunkSource`: documents' chunks from the retrieval service, asked as the
caller (the onward assertion the gateway signed for retrieval is forwarded, so retrieval
applies the caller's departments and access lists) or, for schedules, as the training
service itself. Only chunks the whole department may read are taken: an adapter serves
the whole department, so a document restricted to some of its people never teaches it.

All the chunks come on one `ListChunks` stream: an assertion is good for one call."""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from sentra.retrieval.v1 import retrieval_pb2, retrieval_pb2_grpc
from sentra_common.errors import from_rpc_error
from sentra_common.grpc_client import CredentialProvider, open_channel
from sentra_common.tls import ChannelTls

from sentra_training.domain.datasets import Chunk

# Documents per ListChunks call (retrieval's limit).
DOCUMENTS_PER_CALL = 1000
PAGE = 1000


class PlatformChunks:
    def __init__(self, retrieval_target: str, deadline_seconds: float, tls: ChannelTls | None = None,
                 credentials: CredentialProvider | None = None) -> None:
        # credentials None: the caller's onward assertion (a CreateDataset call being served)
        self._channel = open_channel(retrieval_target, audience="retrieval", credentials=credentials,
                                     deadline_seconds=deadline_seconds, tls=tls, max_message_bytes=64 * 1024 * 1024)
        self._retrieval = retrieval_pb2_grpc.RetrievalServiceStub(self._channel)

    async def chunks(self, department: str, document_ids: Sequence[str]) -> list[Chunk]:
        if len(document_ids) > DOCUMENTS_PER_CALL:
            raise ValueError(f"at most {DOCUMENTS_PER_CALL} documents per dataset")
        out: list[Chunk] = []
        if not document_ids:
            return out
        try:
            async for page in self._retrieval.ListChunks(retrieval_pb2.ListChunksRequest(
                    document_ids=list(document_ids), departments=[department], page_size=PAGE,
                    department_wide_only=True)):
                out.extend(Chunk(chunk_id=c.chunk_id, document_id=c.document_id, document_version=c.version,
                                 title=c.title, text=c.text, chunk_index=c.chunk_index) for c in page.chunks)
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc, "retrieval") from exc
        return out

    async def close(self) -> None:
        await self._channel.close()
