"""gRPC surface of the retrieval service: proto in → domain → proto out."""

from __future__ import annotations

import time

from sentra.retrieval.v1 import retrieval_pb2, retrieval_pb2_grpc
from sentra_common.errors import PermissionDenied
from sentra_common.principal import current_principal

from sentra_retrieval.domain.model import StoredHit
from sentra_retrieval.domain.search import SearchMode
from sentra_retrieval.domain.service import RetrievalService
from sentra_retrieval.telemetry import RetrievalMetrics

_MODES = {
    retrieval_pb2.SEARCH_MODE_UNSPECIFIED: SearchMode.HYBRID,
    retrieval_pb2.SEARCH_MODE_HYBRID: SearchMode.HYBRID,
    retrieval_pb2.SEARCH_MODE_DENSE: SearchMode.DENSE,
    retrieval_pb2.SEARCH_MODE_LEXICAL: SearchMode.LEXICAL,
}


def _hit(h: StoredHit) -> retrieval_pb2.SearchHit:
    return retrieval_pb2.SearchHit(
        document_id=h.document_id, chunk_id=h.chunk_id, title=h.title, text=h.text,
        page=h.page, heading=h.heading, score=h.score, department=h.department,
        chunk_index=h.chunk_index, source_uri=h.source_uri, version=h.version,
    )


def _require_writer() -> None:
    # The pipeline indexes through events; the RPCs are for platform admins' tooling.
    if not current_principal().is_platform_admin:
        raise PermissionDenied("only platform admins may change the index or read its statistics")


class RetrievalServicer(retrieval_pb2_grpc.RetrievalServiceServicer):
    def __init__(self, service: RetrievalService, engine: str, metrics: RetrievalMetrics | None = None) -> None:
        self.service = service
        self.engine = engine
        self.metrics = metrics

    async def Search(self, request, context):
        started = time.perf_counter()
        mode = _MODES[request.mode]
        hits = await self.service.search(
            current_principal(), request.query, top_k=request.top_k, mode=mode,
            departments=list(request.departments), document_ids=list(request.document_ids),
        )
        if self.metrics is not None:
            self.metrics.searched(mode, time.perf_counter() - started, len(hits))
        return retrieval_pb2.SearchResponse(hits=[_hit(h) for h in hits])

    async def ListChunks(self, request, context):
        # Any caller: the scope (departments, access lists) decides which chunks it gets.
        # Page after page on this one stream, until the last.
        token = request.page_token
        while True:
            page = await self.service.list_chunks(
                current_principal(), list(request.document_ids), list(request.departments),
                request.page_size, token, request.department_wide_only,
            )
            yield retrieval_pb2.ListChunksResponse(chunks=[_hit(h) for h in page.chunks],
                                                   next_page_token=page.next_page_token)
            token = page.next_page_token
            if not token:
                return

    async def IndexChunks(self, request, context):
        _require_writer()
        indexed = await self.service.index_chunks(list(request.chunks))
        return retrieval_pb2.IndexChunksResponse(indexed=indexed)

    async def DeleteDocumentVectors(self, request, context):
        _require_writer()
        await self.service.delete_document(request.document_id)
        return retrieval_pb2.DeleteDocumentVectorsResponse()

    async def GetIndexStats(self, request, context):
        _require_writer()
        points = await self.service.count(request.document_id or None)
        return retrieval_pb2.GetIndexStatsResponse(points=points, engine=self.engine)
