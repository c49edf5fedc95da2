"""The public API and its permission table: which RPCs the gateway serves, which roles
may call each, and which internal service answers it.

The gateway checks roles here (coarse: "may this kind of user call this at all"); the
internal service that owns the data applies the department and access-list rule
(`sentra_common.access`) to every document, vector, dataset and adapter it touches.
Internal-only RPCs (indexing, vector deletion, index statistics, indexing facts) are
absent from the table and so unreachable from outside.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor
from sentra.embedding.v1 import embedding_pb2
from sentra.gateway.v1 import gateway_pb2
from sentra.inference.v1 import inference_pb2
from sentra.ingestion.v1 import ingestion_pb2
from sentra.retrieval.v1 import retrieval_pb2
from sentra.training.v1 import training_pb2
from sentra_common.access import validate_department

PLATFORM_ADMIN = "platform-admin"
DEPT_ADMIN = "dept-admin"
TRAINER = "trainer"
MEMBER = "member"

EVERYONE = frozenset({PLATFORM_ADMIN, DEPT_ADMIN, TRAINER, MEMBER})
ADMINS = frozenset({PLATFORM_ADMIN, DEPT_ADMIN})
TRAINING = frozenset({PLATFORM_ADMIN, DEPT_ADMIN, TRAINER})

# (service, method) → roles allowed. Anything not listed is not public.
PERMISSIONS: dict[tuple[str, str], frozenset[str]] = {
    # The caller's own identity needs no role.
    ("sentra.gateway.v1.GatewayService", "WhoAmI"): frozenset(),
    ("sentra.gateway.v1.GatewayService", "QueryAuditLog"): ADMINS,
    # API keys: admins of the key's department (the gateway checks which department).
    ("sentra.gateway.v1.GatewayService", "CreateApiKey"): ADMINS,
    ("sentra.gateway.v1.GatewayService", "ListApiKeys"): ADMINS,
    ("sentra.gateway.v1.GatewayService", "RevokeApiKey"): ADMINS,
    # Documents: everyone reads their departments'; department admins change them.
    ("sentra.ingestion.v1.IngestionService", "ListDocuments"): EVERYONE,
    ("sentra.ingestion.v1.IngestionService", "GetDocument"): EVERYONE,
    ("sentra.ingestion.v1.IngestionService", "DownloadDocument"): EVERYONE,
    ("sentra.ingestion.v1.IngestionService", "UploadDocument"): ADMINS,
    ("sentra.ingestion.v1.IngestionService", "DeleteDocument"): ADMINS,
    ("sentra.ingestion.v1.IngestionService", "RetryDocument"): ADMINS,
    ("sentra.retrieval.v1.RetrievalService", "Search"): EVERYONE,
    # A document's indexed text, chunk by chunk (MCP get_document_text; the console opens a
    # citation at its place); retrieval leaves out what the caller may not read, as in Search.
    ("sentra.retrieval.v1.RetrievalService", "ListChunks"): EVERYONE,
    # The platform's embedding model (/v1/embeddings): vectors of the caller's own text.
    ("sentra.embedding.v1.EmbeddingService", "Embed"): EVERYONE,
    ("sentra.embedding.v1.EmbeddingService", "GetModelInfo"): EVERYONE,
    # Answers and the models behind them.
    ("sentra.inference.v1.InferenceService", "Answer"): EVERYONE,
    ("sentra.inference.v1.InferenceService", "StreamAnswer"): EVERYONE,
    ("sentra.inference.v1.InferenceService", "ListAdapters"): EVERYONE,
    ("sentra.inference.v1.InferenceService", "GetAdapter"): EVERYONE,
    ("sentra.inference.v1.InferenceService", "Generate"): TRAINING,
    ("sentra.inference.v1.InferenceService", "RegisterAdapter"): frozenset({PLATFORM_ADMIN, TRAINER}),
    ("sentra.inference.v1.InferenceService", "ActivateAdapter"): ADMINS,
    ("sentra.inference.v1.InferenceService", "DeactivateAdapter"): ADMINS,
    ("sentra.inference.v1.InferenceService", "RollbackAdapter"): ADMINS,
    # Datasets, training jobs and schedules.
    ("sentra.training.v1.TrainingService", "CreateDataset"): TRAINING,
    ("sentra.training.v1.TrainingService", "GetDataset"): TRAINING,
    ("sentra.training.v1.TrainingService", "ListDatasets"): TRAINING,
    ("sentra.training.v1.TrainingService", "ListDatasetItems"): TRAINING,
    ("sentra.training.v1.TrainingService", "ReviewDatasetItems"): TRAINING,
    ("sentra.training.v1.TrainingService", "EditDatasetItem"): TRAINING,
    ("sentra.training.v1.TrainingService", "ExportDataset"): TRAINING,
    ("sentra.training.v1.TrainingService", "ImportDataset"): TRAINING,
    ("sentra.training.v1.TrainingService", "StartTrainingJob"): TRAINING,
    ("sentra.training.v1.TrainingService", "GetTrainingJob"): TRAINING,
    ("sentra.training.v1.TrainingService", "ListTrainingJobs"): TRAINING,
    ("sentra.training.v1.TrainingService", "CancelTrainingJob"): TRAINING,
    ("sentra.training.v1.TrainingService", "WatchTrainingJob"): TRAINING,
    ("sentra.training.v1.TrainingService", "EvaluateAdapter"): TRAINING,
    ("sentra.training.v1.TrainingService", "ListSchedules"): TRAINING,
    ("sentra.training.v1.TrainingService", "CreateSchedule"): ADMINS,
    ("sentra.training.v1.TrainingService", "DeleteSchedule"): ADMINS,
    ("sentra.training.v1.TrainingService", "PauseSchedule"): ADMINS,
    ("sentra.training.v1.TrainingService", "ListScheduleRuns"): TRAINING,
}

# Which internal service answers each public service ("gateway": the gateway itself).
BACKENDS = {
    "sentra.gateway.v1.GatewayService": "gateway",
    "sentra.ingestion.v1.IngestionService": "ingestion",
    "sentra.retrieval.v1.RetrievalService": "retrieval",
    "sentra.embedding.v1.EmbeddingService": "embedding",
    "sentra.inference.v1.InferenceService": "inference",
    "sentra.training.v1.TrainingService": "training",
}

_FILES = (gateway_pb2, embedding_pb2, ingestion_pb2, retrieval_pb2, inference_pb2, training_pb2)


class Kind(Enum):
    UNARY = "unary_unary"
    CLIENT_STREAM = "stream_unary"
    SERVER_STREAM = "unary_stream"


@dataclass(frozen=True)
class Route:
    path: str  # /package.Service/Method
    service: str
    name: str
    backend: str
    roles: frozenset[str]
    kind: Kind
    request: type
    response: type

    def allows(self, roles: tuple[str, ...]) -> bool:
        return not self.roles or any(r in self.roles for r in roles)


def _kind(method: MethodDescriptor) -> Kind:
    if method.client_streaming and method.server_streaming:
        raise ValueError(f"{method.full_name}: bidirectional streams are not served by the gateway")
    if method.client_streaming:
        return Kind.CLIENT_STREAM
    if method.server_streaming:
        return Kind.SERVER_STREAM
    return Kind.UNARY


def build_routes() -> dict[str, Route]:
    routes: dict[str, Route] = {}
    for module in _FILES:
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                roles = PERMISSIONS.get((service.full_name, method.name))
                if roles is None:
                    continue
                path = f"/{service.full_name}/{method.name}"
                routes[path] = Route(
                    path=path, service=service.full_name, name=method.name, backend=BACKENDS[service.full_name],
                    roles=roles, kind=_kind(method),
                    request=message_factory.GetMessageClass(method.input_type),
                    response=message_factory.GetMessageClass(method.output_type),
                )
    missing = set(PERMISSIONS) - {(r.service, r.name) for r in routes.values()}
    if missing:
        raise ValueError(f"permission table names RPCs that do not exist: {sorted(missing)}")
    return routes


def public_services() -> list[str]:
    return sorted(BACKENDS)


def document_ids(message) -> list[str]:
    """Every `document_id` in a message, recursively (hits, citations, documents…)."""
    found: list[str] = []
    _collect(message, found)
    return found


def _collect(message, found: list[str]) -> None:
    for field, value in message.ListFields():
        if field.message_type is None:
            if field.name == "document_id":
                found.extend(value if _repeated(field) else [value])
            continue
        if field.message_type.GetOptions().map_entry:
            continue
        if _repeated(field):
            for item in value:
                _collect(item, found)
        else:
            _collect(value, found)


def _repeated(field) -> bool:
    # protobuf ≥ 6 has is_repeated; older releases only the label.
    if hasattr(field, "is_repeated"):
        return field.is_repeated
    return field.label == field.LABEL_REPEATED


def rewrite_access_lists(message, rewrite: Callable[[list[str]], list[str]]) -> None:
    """Replace every `access_list` in a message, recursively, with `rewrite(entries)`."""
    for field, value in message.ListFields():
        if field.message_type is None:
            if field.name == "access_list" and _repeated(field):
                entries = rewrite(list(value))
                del value[:]
                value.extend(entries)
            continue
        if field.message_type.GetOptions().map_entry:
            continue
        for item in value if _repeated(field) else (value,):
            rewrite_access_lists(item, rewrite)


def request_department(message) -> str:
    """The department a request names, if any (uploads, listings, datasets…); a name that
    breaks the department rule is refused here, before the audit log or a service sees it."""
    for field, value in message.ListFields():
        if field.name == "department" and isinstance(value, str):
            return validate_department(value)
        if field.message_type is not None and not _repeated(field):
            nested = request_department(value)
            if nested:
                return nested
    return ""
