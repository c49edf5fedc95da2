"""Passages for an answer, from the retrieval service, searched as the caller: the
caller's signed principal is forwarded, so retrieval applies the caller's departments
and access lists inside the vector query."""

from __future__ import annotations

import grpc
from sentra.retrieval.v1 import retrieval_pb2, retrieval_pb2_grpc
from sentra_common.errors import from_rpc_error
from sentra_common.grpc_client import open_channel
from sentra_common.tls import ChannelTls

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
    def __init__(self, target: str, deadline_seconds: float, tls: ChannelTls | None = None) -> None:
        self.target = target
        # The caller's onward assertion for retrieval (signed by the gateway) is forwarded.
        self._channel = open_channel(target, audience="retrieval", deadline_seconds=deadline_seconds, tls=tls)
        self._stub = retrieval_pb2_grpc.RetrievalServiceStub(self._channel)

    async def search(self, question: str, top_k: int, departments: list[str]) -> list[Passage]:
        try:
            response = await self._stub.Search(retrieval_pb2.SearchRequest(
                query=question, top_k=top_k, mode=retrieval_pb2.SEARCH_MODE_HYBRID, departments=departments,
            ))
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc, "retrieval") from exc
        return passages_from_hits(response.hits)

    async def close(self) -> None:
        await self._channel.close()
