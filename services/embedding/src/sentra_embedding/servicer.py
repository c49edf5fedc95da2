"""gRPC surface of the embedding service: proto in → domain → proto out."""

from __future__ import annotations

from sentra.embedding.v1 import embedding_pb2, embedding_pb2_grpc
from sentra_common.principal import current_principal

from sentra_embedding.domain.service import EmbeddingService


def _require_caller() -> None:
    """The embedding service serves Sentra's services (retrieval embeds queries as itself)
    and the callers the gateway forwards (`/v1/embeddings`: the gateway's permission table
    decides who, its rate limit how often). It holds no department's data: a vector is a
    function of the text sent. A call with no verified principal never gets here (the
    server's interceptor refuses it); this names the rule."""
    current_principal()


class EmbeddingServicer(embedding_pb2_grpc.EmbeddingServiceServicer):
    def __init__(self, service: EmbeddingService, max_batch_size: int) -> None:
        self.service = service
        self.max_batch_size = max_batch_size

    async def Embed(self, request, context):
        _require_caller()
        vectors = await self.service.embed(list(request.texts))
        return embedding_pb2.EmbedResponse(
            vectors=[embedding_pb2.Vector(values=v) for v in vectors],
            model=self.service.model,
            dimension=self.service.dimension,
        )

    async def GetModelInfo(self, request, context):
        _require_caller()
        return embedding_pb2.GetModelInfoResponse(
            model=self.service.model,
            dimension=self.service.dimension,
            backend=self.service.backend.name,
            max_batch_size=self.max_batch_size,
        )
