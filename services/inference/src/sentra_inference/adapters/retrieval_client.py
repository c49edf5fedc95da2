"""Passages for an answer, from the retrieval service, searched as the caller: the
caller's signed principal is forwarded, so retrieval applies the caller's departments
and access lists inside the vector query."""

from __future__ import annotations

import grpc
from sentra.retrieval.v1 import retrieval_pb2, retrieval_pb2_grpc
from sentra_common.errors import InvalidArgument, PermissionDenied, Unavailable
from sentra_common.grpc_client import open_channel

from sentra_inference.domain.evidence import Passage


def passages_from_hits(hits) -> list[Passage]:
    """Search hits as passages numbered 1..n in rank order."""
    return [
        Passage(
            number=i, document_id=h.document_id, chunk_id=h.chunk_id, title=h.title, text=h.text,
            page=h.page, heading=h.heading, score=h.score, department=h.department,
        )
        for i, h in enumerate(hits, 1)
    ]


class RetrievalClient:
    def __init__(self, target: str, deadline_seconds: float) -> None:
        self.target = target
        self._channel = open_channel(target, deadline_seconds=deadline_seconds)
        self._stub = retrieval_pb2_grpc.RetrievalServiceStub(self._channel)

    async def search(self, question: str, top_k: int, departments: list[str]) -> list[Passage]:
        try:
            response = await self._stub.Search(retrieval_pb2.SearchRequest(
                query=question, top_k=top_k, mode=retrieval_pb2.SEARCH_MODE_HYBRID, departments=departments,
            ))
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.INVALID_ARGUMENT:
                raise InvalidArgument(exc.details() or "the question was refused by retrieval") from None
            if exc.code() == grpc.StatusCode.PERMISSION_DENIED:
                raise PermissionDenied(exc.details() or "you may not search there") from None
            raise Unavailable(
                f"the retrieval service at {self.target} did not answer ({exc.code().name}); try again shortly"
            ) from exc
        return passages_from_hits(response.hits)

    async def close(self) -> None:
        await self._channel.close()
