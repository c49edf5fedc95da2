"""gRPC surface of the ingestion service: proto in → domain → proto out."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp
from sentra.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc
from sentra_common.api_names import DOCUMENT_STATE_NAMES, DOCUMENT_STATES
from sentra_common.errors import InvalidArgument
from sentra_common.principal import current_principal

from sentra_ingestion.domain.model import DocumentRecord, DocumentState, StageRecord, UploadOutcome
from sentra_ingestion.domain.service import DocumentService, UploadRequest
from sentra_ingestion.telemetry import IngestionMetrics

DOWNLOAD_PIECE = 256 * 1024

_OUTCOME_TO_PROTO = {
    UploadOutcome.CREATED: ingestion_pb2.UPLOAD_OUTCOME_CREATED,
    UploadOutcome.UNCHANGED: ingestion_pb2.UPLOAD_OUTCOME_UNCHANGED,
    UploadOutcome.REPLACED: ingestion_pb2.UPLOAD_OUTCOME_REPLACED,
}


def _ts(value) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


def document_to_proto(doc: DocumentRecord) -> ingestion_pb2.Document:
    return ingestion_pb2.Document(
        document_id=doc.id, title=doc.title, filename=doc.filename, department=doc.department,
        access_list=doc.access_list, source_uri=doc.source_uri, content_type=doc.content_type,
        content_sha256=doc.content_sha256, size_bytes=doc.size_bytes, version=doc.version,
        state=DOCUMENT_STATES[doc.state.value], failure_reason=doc.failure_reason,
        failure_stage=doc.failure_stage, chunk_count=doc.chunk_count, page_count=doc.page_count,
        created_at=_ts(doc.created_at), updated_at=_ts(doc.updated_at),
    )


def stage_to_proto(stage: StageRecord) -> ingestion_pb2.StageRecord:
    return ingestion_pb2.StageRecord(
        version=stage.version, stage=stage.stage, status=stage.status, at=_ts(stage.at),
        duration_ms=stage.duration_ms, detail=stage.detail, service=stage.service,
    )


class IngestionServicer(ingestion_pb2_grpc.IngestionServiceServicer):
    def __init__(self, service: DocumentService, metrics: IngestionMetrics | None = None) -> None:
        self.service = service
        self.metrics = metrics

    async def UploadDocument(self, request_iterator, context):
        principal = current_principal()
        first = await anext(aiter(request_iterator), None)
        if first is None or first.WhichOneof("payload") != "metadata":
            raise InvalidArgument("the first upload message must carry the document metadata")
        meta = first.metadata

        async def data():
            async for message in request_iterator:
                if message.WhichOneof("payload") != "data":
                    raise InvalidArgument("only the first upload message may carry metadata")
                yield message.data

        result = await self.service.upload(
            principal,
            UploadRequest(
                filename=meta.filename, department=meta.department, access_list=list(meta.access_list),
                source_uri=meta.source_uri, title=meta.title, size_bytes=meta.size_bytes,
            ),
            data(),
        )
        if self.metrics is not None:
            self.metrics.uploaded(result.document.department, result.outcome, result.document.size_bytes)
        return ingestion_pb2.UploadDocumentResponse(
            document=document_to_proto(result.document), outcome=_OUTCOME_TO_PROTO[result.outcome]
        )

    async def ListDocuments(self, request, context):
        state = DocumentState(DOCUMENT_STATE_NAMES[request.state]) if request.state in DOCUMENT_STATE_NAMES else None
        docs, token, counts = await self.service.list(
            current_principal(), request.department, state, request.page_size, request.page_token
        )
        return ingestion_pb2.ListDocumentsResponse(
            documents=[document_to_proto(d) for d in docs], next_page_token=token, state_counts=counts
        )

    async def GetDocument(self, request, context):
        doc, stages = await self.service.get(current_principal(), request.document_id)
        return ingestion_pb2.GetDocumentResponse(
            document=document_to_proto(doc), stages=[stage_to_proto(s) for s in stages]
        )

    async def DownloadDocument(self, request, context):
        doc, data = await self.service.content(current_principal(), request.document_id)
        yield ingestion_pb2.DownloadDocumentResponse(document=document_to_proto(doc))
        for start in range(0, len(data), DOWNLOAD_PIECE):
            yield ingestion_pb2.DownloadDocumentResponse(data=data[start : start + DOWNLOAD_PIECE])

    async def DeleteDocument(self, request, context):
        await self.service.delete(current_principal(), request.document_id)
        return ingestion_pb2.DeleteDocumentResponse()

    async def GetIndexingFacts(self, request, context):
        doc = await self.service.indexing_facts(current_principal(), request.document_id)
        if doc is None:
            return ingestion_pb2.GetIndexingFactsResponse(exists=False)
        return ingestion_pb2.GetIndexingFactsResponse(
            exists=True, version=doc.version, department=doc.department, access_list=doc.access_list,
            title=doc.title, source_uri=doc.source_uri,
        )

    async def RetryDocument(self, request, context):
        doc = await self.service.retry(current_principal(), request.document_id)
        return ingestion_pb2.RetryDocumentResponse(document=document_to_proto(doc))
