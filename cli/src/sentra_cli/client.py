"""Talking to the running services from the CLI, as an explicit identity."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

from sentra.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc
from sentra.retrieval.v1 import retrieval_pb2_grpc
from sentra_common.grpc_client import open_channel
from sentra_common.principal import Principal

from sentra_cli.platform import Platform, PlatformError

IDENTITY_ENV = "SENTRA_IDENTITY"
UPLOAD_PIECE = 256 * 1024


def identity_from_env() -> Principal:
    spec = os.environ.get(IDENTITY_ENV, "").strip()
    if not spec:
        raise PlatformError(
            f"no identity configured: set {IDENTITY_ENV}=subject:dept1,dept2[:role1,role2] "
            "(development identity, e.g. ana:legal,rrhh:member)"
        )
    return Principal.parse(spec)


class Clients:
    def __init__(self, platform: Platform, principal: Principal, deadline_seconds: float = 60.0) -> None:
        state = platform.load_state()
        self._channels = {
            name: open_channel(state.target(name), deadline_seconds=deadline_seconds, principal=principal)
            for name in ("ingestion", "retrieval")
        }
        self.ingestion = ingestion_pb2_grpc.IngestionServiceStub(self._channels["ingestion"])
        self.retrieval = retrieval_pb2_grpc.RetrievalServiceStub(self._channels["retrieval"])

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()

    async def upload(
        self, path: Path, *, department: str, access_list: list[str], source_uri: str, progress=None,
    ) -> ingestion_pb2.UploadDocumentResponse:
        size = path.stat().st_size

        async def messages() -> AsyncIterator[ingestion_pb2.UploadDocumentRequest]:
            yield ingestion_pb2.UploadDocumentRequest(
                metadata=ingestion_pb2.UploadMetadata(
                    filename=path.name, department=department, access_list=access_list,
                    source_uri=source_uri, size_bytes=size,
                )
            )
            with path.open("rb") as fh:
                while piece := fh.read(UPLOAD_PIECE):
                    if progress:
                        progress(len(piece))
                    yield ingestion_pb2.UploadDocumentRequest(data=piece)

        return await self.ingestion.UploadDocument(messages(), timeout=600)
