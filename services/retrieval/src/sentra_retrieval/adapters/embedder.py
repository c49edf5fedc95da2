"""Query embeddings through the embedding service (gRPC, with a deadline)."""

from __future__ import annotations

import grpc
from sentra.embedding.v1 import embedding_pb2, embedding_pb2_grpc
from sentra_common.errors import from_rpc_error
from sentra_common.grpc_client import CredentialProvider, open_channel
from sentra_common.tls import ChannelTls


class EmbeddingClient:
    """Retrieval calls the embedding service as itself (`credentials`, its own service
    principal): embedding a query needs no user's rights, and the service principal may
    call nothing else."""

    def __init__(self, target: str, deadline_seconds: float, credentials: CredentialProvider,
                 tls: ChannelTls | None = None) -> None:
        self.target = target
        self._channel = open_channel(target, audience="embedding", deadline_seconds=deadline_seconds,
                                     credentials=credentials, tls=tls)
        self._stub = embedding_pb2_grpc.EmbeddingServiceStub(self._channel)

    async def embed_query(self, text: str) -> list[float]:
        return (await self.embed([text], is_query=True))[0]

    async def embed(self, texts: list[str], is_query: bool = False) -> list[list[float]]:
        try:
            response = await self._stub.Embed(embedding_pb2.EmbedRequest(texts=texts, is_query=is_query))
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc, "embedding") from exc
        return [list(v.values) for v in response.vectors]

    async def dimension(self) -> int:
        info = await self._stub.GetModelInfo(
            embedding_pb2.GetModelInfoRequest(), wait_for_ready=True,
        )
        return info.dimension

    async def close(self) -> None:
        await self._channel.close()
