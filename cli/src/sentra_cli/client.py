"""Talking to Sentra from the CLI: every call goes to the gateway, with the bearer token
of `sentra login` (or, on a platform in development mode, the identity in SENTRA_IDENTITY).

The gateway is found in the local platform's state (`sentra up`) or in SENTRA_GATEWAY
(`host:port` of a remote installation's gRPC API)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

from sentra.gateway.v1 import gateway_pb2_grpc
from sentra.inference.v1 import inference_pb2_grpc
from sentra.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc
from sentra.retrieval.v1 import retrieval_pb2_grpc
from sentra.training.v1 import training_pb2_grpc
from sentra_common.grpc_client import no_credentials, open_channel

from sentra_cli.platform import Platform, PlatformError
from sentra_cli.session import LoginError, Session

IDENTITY_ENV = "SENTRA_IDENTITY"
GATEWAY_ENV = "SENTRA_GATEWAY"
DEV_IDENTITY_HEADER = "x-sentra-dev-identity"
UPLOAD_PIECE = 256 * 1024


def gateway_target(platform: Platform) -> str:
    return os.environ.get(GATEWAY_ENV) or platform.load_state().target("gateway")


def call_metadata(platform: Platform):
    """A provider of the caller's credentials for every call: the stored login, else (on a
    local platform in development mode) the asserted identity."""
    session = Session.load()
    if session is not None:
        def bearer() -> list[tuple[str, str]]:
            try:
                return [("authorization", f"Bearer {session.fresh_access_token()}")]
            except LoginError as exc:
                raise PlatformError(str(exc)) from None

        return bearer
    if os.environ.get(GATEWAY_ENV) or platform.load_state().identity.mode != "development":
        raise PlatformError("you are not logged in: run `sentra login`")
    identity = os.environ.get(IDENTITY_ENV, "").strip()
    if not identity:
        raise PlatformError(
            f"this platform runs in development mode: set {IDENTITY_ENV}=subject:dept1,dept2[:role] "
            "(e.g. ana:legal:dept-admin), or install Keycloak and `sentra login`"
        )
    return lambda: [(DEV_IDENTITY_HEADER, identity)]


class Clients:
    def __init__(self, platform: Platform, deadline_seconds: float = 60.0) -> None:
        self._channel = open_channel(
            gateway_target(platform), audience="gateway", deadline_seconds=deadline_seconds,
            credentials=no_credentials,
            metadata=call_metadata(platform),
        )
        self.ingestion = ingestion_pb2_grpc.IngestionServiceStub(self._channel)
        self.retrieval = retrieval_pb2_grpc.RetrievalServiceStub(self._channel)
        self.gateway = gateway_pb2_grpc.GatewayServiceStub(self._channel)
        self.inference = inference_pb2_grpc.InferenceServiceStub(self._channel)
        self.training = training_pb2_grpc.TrainingServiceStub(self._channel)

    async def close(self) -> None:
        await self._channel.close()

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
