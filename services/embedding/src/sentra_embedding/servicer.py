"""gRPC surface of the embedding service: proto in → domain → proto out."""

from __future__ import annotations

from sentra.embedding.v1 import embedding_pb2, embedding_pb2_grpc
from sentra_common.principal import current_principal

from sentra_embedding.domain.service import EmbeddingService


class EmbeddingServicer(embedding_pb2_grpc.EmbeddingServiceServicer):
    def __init__(self, service: EmbeddingService, max_batch_size: int) -> None:
        self.service = service
        self.max_batch_size = max_batch_size

    async def Embed(self, request, context):
        current_principal()
        vectors = await self.service.embed(list(request.texts))
        return embedding_pb2.EmbedResponse(
            vectors=[embedding_pb2.Vector(values=v) for v in vectors],
            model=self.service.model,
            dimension=self.service.dimension,
        )

    async def GetModelInfo(self, request, context):
        current_principal()
        return embedding_pb2.GetModelInfoResponse(
            model=self.service.model,
            dimension=self.service.dimension,
            backend=self.service.backend.name,
            max_batch_size=self.max_batch_size,
        )
