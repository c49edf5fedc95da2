"""The document registry's facts, asked of the ingestion service as the retrieval service
itself (its own principal may call `GetIndexingFacts` and nothing else of ingestion).

Batches of one document version arrive close together, so facts are cached per
document for a few seconds; a changed access list is a new version (a new upload) and a
new version is never served from the cache.
"""

from __future__ import annotations

import time
from collections import OrderedDict

import grpc
from sentra.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc
from sentra_common.errors import from_rpc_error
from sentra_common.grpc_client import CredentialProvider, open_channel
from sentra_common.tls import ChannelTls

from sentra_retrieval.domain.ports import DocumentFacts


class RegistryClient:
    def __init__(self, target: str, deadline_seconds: float, credentials: CredentialProvider,
                 tls: ChannelTls | None = None, cache_seconds: float = 5.0, cache_entries: int = 1024) -> None:
        self.target = target
        self._channel = open_channel(target, audience="ingestion", deadline_seconds=deadline_seconds,
                                     credentials=credentials, tls=tls)
        self._stub = ingestion_pb2_grpc.IngestionServiceStub(self._channel)
        self.cache_seconds = cache_seconds
        self.cache_entries = cache_entries
        self._cache: OrderedDict[str, tuple[float, DocumentFacts | None]] = OrderedDict()

    async def facts(self, document_id: str, *, fresh: bool = False) -> DocumentFacts | None:
        cached = self._cache.get(document_id)
        if cached is not None and not fresh and time.monotonic() - cached[0] < self.cache_seconds:
            return cached[1]
        try:
            reply = await self._stub.GetIndexingFacts(ingestion_pb2.GetIndexingFactsRequest(document_id=document_id))
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc, "ingestion") from exc
        facts = DocumentFacts(
            version=reply.version, department=reply.department, access_list=tuple(reply.access_list),
            title=reply.title, source_uri=reply.source_uri,
        ) if reply.exists else None
        self._cache[document_id] = (time.monotonic(), facts)
        self._cache.move_to_end(document_id)
        while len(self._cache) > self.cache_entries:
            self._cache.popitem(last=False)
        return facts

    async def close(self) -> None:
        await self._channel.close()
