"""The dataset review endpoints of the HTTP API (`/api/v1/datasets…`), through the gateway's
one path (development identity, permission table, SQLite audit log) to a stand-in
TrainingService on an in-process gRPC server: lower-case words become the proto enums,
bodies become the request messages, bad values are 400s in the API's error shape."""

from __future__ import annotations

import contextlib

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from prometheus_client import CollectorRegistry
from sentra.training.v1 import training_pb2, training_pb2_grpc
from sentra_common.config import GrpcServerSettings
from sentra_common.db import create_engine, migrate
from sentra_common.errors import InvalidArgument
from sentra_common.grpc_client import no_credentials, open_channel
from sentra_common.grpc_server import GrpcServer, assertion_verifier
from sentra_common.identity import AssertionSigner, AssertionVerifier, TrustedKey
from sentra_common.metrics import ServiceMetrics
from sentra_common.principal import Principal, current_principal
from sentra_gateway import local
from sentra_gateway.app import MIGRATIONS
from sentra_gateway.audit import AuditLog, AuditQuery
from sentra_gateway.auth import Authenticator
from sentra_gateway.config import AuthSettings, RateLimitSettings
from sentra_gateway.core import Gateway
from sentra_gateway.http_api import create_http_app
from sentra_gateway.ratelimit import RateLimiter
from sentra_gateway.routes import build_routes

KEY = Ed25519PrivateKey.generate()
SIGNER = AssertionSigner(KEY, "gateway")
ANA = {"x-sentra-dev-identity": "ana:legal:trainer"}
JSONL = b'{"messages": [{"role": "user", "content": "Plazo?"}, {"role": "assistant", "content": "30 d\xc3\xadas"}]}\n'


class FakeTraining(training_pb2_grpc.TrainingServiceServicer):
    """Records (caller, request) for every call; answers with fixed messages."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, object]] = []

    def _record(self, request) -> None:
        self.requests.append((current_principal().subject, request))

    def _dataset(self) -> training_pb2.Dataset:
        return training_pb2.Dataset(dataset_id="ds-1", department="legal", version=2,
                                    state=training_pb2.DATASET_STATE_READY, pending=3)

    async def ListDatasets(self, request, context):
        self._record(request)
        return training_pb2.ListDatasetsResponse(datasets=[self._dataset()])

    async def GetDataset(self, request, context):
        self._record(request)
        return training_pb2.GetDatasetResponse(dataset=self._dataset())

    async def CreateDataset(self, request, context):
        self._record(request)
        return training_pb2.CreateDatasetResponse(dataset=self._dataset())

    async def ListDatasetItems(self, request, context):
        self._record(request)
        return training_pb2.ListDatasetItemsResponse(items=[training_pb2.DatasetItem(
            item_id="it-1", document_id="doc-1", question="Plazo?", answer="30 días",
            status=training_pb2.ITEM_STATUS_APPROVED, score=0.9)], total=1, next_page_token="next")

    async def ReviewDatasetItems(self, request, context):
        self._record(request)
        return training_pb2.ReviewDatasetItemsResponse(changed=2, dataset=self._dataset())

    async def EditDatasetItem(self, request, context):
        self._record(request)
        return training_pb2.EditDatasetItemResponse(item=training_pb2.DatasetItem(
            item_id=request.item_id, question=request.question, answer=request.answer, edited=True))

    async def ExportDataset(self, request, context):
        self._record(request)
        return training_pb2.ExportDatasetResponse(jsonl=JSONL * 3, items=3)

    async def ImportDataset(self, request, context):
        self._record(request)
        if b"broken" in request.jsonl:
            raise InvalidArgument("line 2 is not JSON; fix it and import again")
        return training_pb2.ImportDatasetResponse(dataset=self._dataset())


@contextlib.asynccontextmanager
async def gateway_http(tmp_path):
    metrics = ServiceMetrics("unit", registry=CollectorRegistry())
    trust = AssertionVerifier([TrustedKey(SIGNER.kid, "gateway", KEY.public_key())], audience="training")
    fake = FakeTraining()
    backend = GrpcServer("training", GrpcServerSettings(port=0, grace_seconds=0), metrics, assertion_verifier(trust))
    backend.add_service("sentra.training.v1.TrainingService",
                        lambda s: training_pb2_grpc.add_TrainingServiceServicer_to_server(fake, s))
    await backend.start()
    await backend.set_serving(True)
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}")
    await migrate(engine, MIGRATIONS, "alembic_version_gateway")
    audit = AuditLog(engine)
    channel = open_channel(f"127.0.0.1:{backend.port}", audience="training", credentials=no_credentials)
    gateway = Gateway(
        build_routes(), Authenticator(AuthSettings(mode="development")),
        RateLimiter(RateLimitSettings(requests_per_second=100, burst=100)), audit, SIGNER,
        {"training": channel}, metrics,
    )
    local.install(gateway, audit)
    app = create_http_app(gateway)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sentra",
                                     headers=ANA) as http:
            yield http, fake, audit, app
    finally:
        await channel.close()
        await backend.stop()
        await engine.dispose()
        await gateway.authenticator.close()


@pytest.fixture
async def stack(tmp_path):
    async with gateway_http(tmp_path) as s:
        yield s


async def test_the_dataset_endpoints_are_in_the_openapi_schema(stack):
    _, _, _, app = stack
    paths = app.openapi()["paths"]
    expected = {
        "/api/v1/datasets": {"get", "post"},
        "/api/v1/datasets/import": {"post"},
        "/api/v1/datasets/{dataset_id}": {"get"},
        "/api/v1/datasets/{dataset_id}/items": {"get"},
        "/api/v1/datasets/{dataset_id}/review": {"post"},
        "/api/v1/datasets/{dataset_id}/items/{item_id}": {"patch"},
        "/api/v1/datasets/{dataset_id}/export": {"get"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths[path]), path
    assert "application/x-ndjson" in paths["/api/v1/datasets/{dataset_id}/export"]["get"]["responses"]["200"][
        "content"]


async def test_list_and_get_reach_the_service_as_the_caller_and_are_audited(stack):
    http, fake, audit, _ = stack
    listed = await http.get("/api/v1/datasets", params={"department": "legal"})
    got = await http.get("/api/v1/datasets/ds-1")
    assert listed.status_code == 200 and got.status_code == 200
    assert listed.json()["datasets"][0]["state"] == "DATASET_STATE_READY"
    assert got.json()["dataset"]["dataset_id"] == "ds-1"
    (who, list_request), (_, get_request) = fake.requests
    assert (who, list_request.department, get_request.dataset_id) == ("ana", "legal", "ds-1")
    records, _ = await audit.query(Principal("root", roles=("platform-admin",)), AuditQuery())
    methods = {r.method.rsplit("/", 1)[1] for r in records if r.subject == "ana"}
    assert {"ListDatasets", "GetDataset"} <= methods


async def test_create_maps_the_body_to_the_request(stack):
    http, fake, _, _ = stack
    reply = await http.post("/api/v1/datasets", json={
        "department": "legal", "document_ids": ["doc-1"], "since": "2024-05-01", "pii_mode": "keep",
        "questions_per_chunk": 3, "max_examples": 40, "seed": 7,
    })
    assert reply.status_code == 200, reply.text
    _, request = fake.requests[-1]
    assert (request.department, list(request.document_ids), request.pii_mode, request.questions_per_chunk,
            request.max_examples, request.seed) == ("legal", ["doc-1"], "keep", 3, 40, 7)
    assert request.since.ToDatetime().isoformat() == "2024-05-01T00:00:00"


async def test_items_filters_map_the_status_word_to_the_enum(stack):
    http, fake, _, _ = stack
    reply = await http.get("/api/v1/datasets/ds-1/items", params={
        "status": "approved", "document_id": "doc-1", "text": "plazo", "split": "test", "page_size": 20,
        "page_token": "abc"})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["items"][0]["status"] == "ITEM_STATUS_APPROVED" and body["next_page_token"] == "next"
    _, request = fake.requests[-1]
    assert (request.dataset_id, request.status, request.document_id, request.text, request.split,
            request.page_size, request.page_token) == (
        "ds-1", training_pb2.ITEM_STATUS_APPROVED, "doc-1", "plazo", "test", 20, "abc")
    await http.get("/api/v1/datasets/ds-1/items")
    assert fake.requests[-1][1].status == training_pb2.ITEM_STATUS_UNSPECIFIED


async def test_bad_status_or_decision_is_a_400_naming_the_choices_and_never_reaches_the_service(stack):
    http, fake, _, _ = stack
    bad_status = await http.get("/api/v1/datasets/ds-1/items", params={"status": "maybe"})
    bad_decision = await http.post("/api/v1/datasets/ds-1/review", json={"decision": "pending", "item_ids": ["x"]})
    assert (bad_status.status_code, bad_decision.status_code) == (400, 400)
    assert bad_status.json() == {"error": {
        "code": "INVALID_ARGUMENT",
        "message": "status must be one of pending, approved, rejected, withdrawn, not 'maybe'"}}
    assert bad_decision.json()["error"]["message"] == "decision must be one of approved, rejected, not 'pending'"
    assert fake.requests == []


async def test_review_and_edit_map_the_body_to_the_request(stack):
    http, fake, _, _ = stack
    reviewed = await http.post("/api/v1/datasets/ds-1/review", json={"decision": "Rejected", "item_ids": ["a", "b"]})
    by_score = await http.post("/api/v1/datasets/ds-1/review", json={"decision": "approved", "min_score": 0.8})
    edited = await http.patch("/api/v1/datasets/ds-1/items/it-7", json={"answer": "Treinta días."})
    assert reviewed.status_code == 200 and reviewed.json()["changed"] == 2
    assert by_score.status_code == 200 and edited.status_code == 200
    assert edited.json()["item"] == {"item_id": "it-7", "answer": "Treinta días.", "edited": True}
    (_, reject), (_, approve), (_, edit) = fake.requests
    assert (reject.decision, list(reject.item_ids), reject.min_score) == (
        training_pb2.ITEM_STATUS_REJECTED, ["a", "b"], 0.0)
    assert (approve.decision, list(approve.item_ids), approve.min_score) == (
        training_pb2.ITEM_STATUS_APPROVED, [], 0.8)
    assert (edit.dataset_id, edit.item_id, edit.question, edit.answer) == ("ds-1", "it-7", "", "Treinta días.")


async def test_export_answers_the_jsonl_bytes_as_ndjson(stack):
    http, fake, _, _ = stack
    reply = await http.get("/api/v1/datasets/ds-1/export",
                           params={"format": "instruction", "items": "all", "split": "train"})
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("application/x-ndjson")
    assert reply.content == JSONL * 3 and reply.headers["x-sentra-items"] == "3"
    _, request = fake.requests[-1]
    assert (request.dataset_id, request.format, request.items, request.split) == ("ds-1", "instruction", "all",
                                                                                  "train")


async def test_import_sends_the_file_and_its_errors_are_400s_naming_the_line(stack):
    http, fake, _, _ = stack
    reply = await http.post("/api/v1/datasets/import", files={"file": ("faq.jsonl", JSONL)},
                            data={"department": "legal", "pii_mode": "pseudonymise", "approved": "true"})
    assert reply.status_code == 200, reply.text
    _, request = fake.requests[-1]
    assert (request.department, request.jsonl, request.filename, request.pii_mode, request.approved) == (
        "legal", JSONL, "faq.jsonl", "pseudonymise", True)
    broken = await http.post("/api/v1/datasets/import", files={"file": ("faq.jsonl", JSONL + b"broken\n")},
                             data={"department": "legal"})
    assert broken.status_code == 400
    assert broken.json()["error"]["code"] == "INVALID_ARGUMENT"
    assert "line 2" in broken.json()["error"]["message"]


async def test_members_without_a_training_role_are_refused(stack):
    http, fake, _, _ = stack
    reply = await http.get("/api/v1/datasets/ds-1/items", headers={"x-sentra-dev-identity": "bob:legal:member"})
    assert reply.status_code == 403
    assert reply.json()["error"]["code"] == "PERMISSION_DENIED"
    assert fake.requests == []
