"""The retrieval service's domain: caller scope, the version-aware indexing stage and
search, on a real Qdrant Edge shard with a deterministic query embedder."""

from __future__ import annotations

import uuid

import pytest
from sentra.events.v1 import events_pb2
from sentra_common import events
from sentra_common.errors import InvalidArgument, PermissionDenied
from sentra_common.principal import Principal
from sentra_retrieval.adapters.edge_store import EdgeStore
from sentra_retrieval.domain.lexical import SparseEncoder
from sentra_retrieval.domain.ports import DocumentFacts
from sentra_retrieval.domain.search import SearchMode
from sentra_retrieval.domain.service import RetrievalService, scope_for
from sentra_retrieval.events import delete_document, index_batch

DIM = 8
ANA = Principal("ana", departments=("legal",))


def vector(text: str) -> list[float]:
    v = [0.0] * DIM
    for word in text.lower().split():
        v[sum(map(ord, word)) % DIM] += 1.0
    norm = sum(x * x for x in v) ** 0.5 or 1.0
    return [x / norm for x in v]


class Embedder:
    async def embed_query(self, text):
        return vector(text)


class Registry:
    """What ingestion's registry would say: the newest version each test batch announced."""

    def __init__(self):
        self.documents: dict[str, DocumentFacts] = {}

    def announce(self, doc: str, version: int, department: str) -> None:
        known = self.documents.get(doc)
        if known is None or known.version <= version:
            self.documents[doc] = DocumentFacts(version, department, (), doc, "")

    async def facts(self, document_id, *, fresh=False):
        return self.documents.get(document_id)


REGISTRY = Registry()


class Recorder:
    def __init__(self):
        self.published = []

    async def publish(self, subject, message, *, msg_id=None):
        self.published.append((subject, message))

    def of(self, subject):
        return [m for s, m in self.published if s == subject]


@pytest.fixture
def service(tmp_path):
    store = EdgeStore(tmp_path / "edge")
    store.ensure_collection(DIM)
    svc = RetrievalService(store, Embedder(), SparseEncoder(), candidates=20, rrf_k=60, weights=(1.0, 1.0),
                           max_top_k=50, max_query_chars=200)
    yield svc
    store.close()


def batch(doc: str, version: int, texts: list[str], *, index: int = 0, count: int = 1, total: int | None = None,
          department: str = "legal") -> events_pb2.ChunksEmbedded:
    message = events_pb2.ChunksEmbedded(document_id=doc, version=version, batch_index=index, batch_count=count,
                                        total_chunks=total or len(texts))
    REGISTRY.announce(doc, version, department)
    for i, text in enumerate(texts):
        chunk = events_pb2.Chunk(
            chunk_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{doc}:{version}:{index}:{i}")), document_id=doc,
            version=version, chunk_index=i, text=text, title=doc, department=department)
        message.chunks.add(chunk=chunk, dense=vector(text))
    return message


def test_scope_never_widens():
    assert scope_for(ANA, [], []).departments == ("legal",)
    with pytest.raises(PermissionDenied, match="rrhh"):
        scope_for(ANA, ["rrhh"], [])
    admin = Principal("root", roles=("platform-admin",))
    assert scope_for(admin, [], []).all_departments


async def test_document_is_announced_only_when_all_batches_are_in(service):
    bus = Recorder()
    await index_batch(service, batch("d1", 1, ["uno dos"], index=0, count=2, total=2), bus, REGISTRY)
    assert bus.of(events.DOCUMENT_INDEXED) == []
    await index_batch(service, batch("d1", 1, ["tres cuatro"], index=1, count=2, total=2), bus, REGISTRY)
    # Redelivery of a batch changes nothing.
    await index_batch(service, batch("d1", 1, ["tres cuatro"], index=1, count=2, total=2), bus, REGISTRY)
    assert [m.chunk_count for m in bus.of(events.DOCUMENT_INDEXED)] == [2, 2]
    assert await service.count("d1") == 2


async def test_new_version_replaces_old_chunks_and_stale_batches_are_dropped(service):
    bus = Recorder()
    await index_batch(service, batch("d1", 1, ["vacaciones antiguas", "otro texto"]), bus, REGISTRY)
    await index_batch(service, batch("d1", 2, ["vacaciones nuevas"]), bus, REGISTRY)
    assert await service.count("d1") == 1
    await index_batch(service, batch("d1", 1, ["vacaciones antiguas", "otro texto"]), bus, REGISTRY)  # late, stale
    assert await service.count("d1") == 1
    hits = await service.search(ANA, "vacaciones", top_k=5, mode=SearchMode.HYBRID, departments=[], document_ids=[])
    assert [h.text for h in hits] == ["vacaciones nuevas"]


async def test_search_is_scoped_to_the_callers_departments(service):
    bus = Recorder()
    await index_batch(service, batch("nominas", 1, ["salario del director"], department="rrhh"), bus, REGISTRY)
    await index_batch(service, batch("contrato", 1, ["salario en el contrato"], department="legal"), bus, REGISTRY)
    for mode in SearchMode:
        hits = await service.search(ANA, "salario", top_k=5, mode=mode, departments=[], document_ids=[])
        assert {h.document_id for h in hits} == {"contrato"}


async def test_bad_queries_get_clear_errors(service):
    with pytest.raises(InvalidArgument, match="empty"):
        await service.search(ANA, "  ", top_k=5, mode=SearchMode.HYBRID, departments=[], document_ids=[])
    with pytest.raises(InvalidArgument, match="top_k"):
        await service.search(ANA, "x", top_k=500, mode=SearchMode.HYBRID, departments=[], document_ids=[])


def test_dense_ranking_counts_less_for_queries_outside_the_models_languages(tmp_path):
    store = EdgeStore(tmp_path / "edge")
    svc = RetrievalService(store, Embedder(), SparseEncoder(), candidates=20, rrf_k=60, weights=(1.0, 1.0),
                           max_top_k=50, max_query_chars=200, model_languages=("en",),
                           other_language_dense_factor=0.25)
    assert svc.fusion_weights("¿Cuál es el importe de la dieta para un viaje a Oporto?") == (0.25, 1.0)
    assert svc.fusion_weights("What is the daily allowance for a trip to Porto?") == (1.0, 1.0)
    assert svc.fusion_weights("Oporto") == (1.0, 1.0)  # language unknown: no change
    store.close()


async def test_indexed_chunks_take_department_and_access_list_from_the_registry(service):
    """Attack: a chunks.embedded claiming rrhh's payroll belongs to legal, open to all."""
    bus = Recorder()
    forged = batch("nominas-2", 1, ["salario del director general"], department="rrhh")
    REGISTRY.documents["nominas-2"] = DocumentFacts(1, "rrhh", ("group:direccion",), "Nóminas", "s3")
    for item in forged.chunks:
        item.chunk.department = "legal"
        del item.chunk.access_list[:]
    await index_batch(service, forged, bus, REGISTRY)
    hits = await service.search(ANA, "salario director", top_k=5, mode=SearchMode.HYBRID, departments=[],
                                document_ids=[])
    assert "nominas-2" not in {h.document_id for h in hits}
    rrhh = Principal("rosa", departments=("rrhh",))
    hits = await service.search(rrhh, "salario director", top_k=5, mode=SearchMode.HYBRID, departments=[],
                                document_ids=[])
    assert "nominas-2" not in {h.document_id for h in hits}  # not in group direccion either


async def test_an_unknown_version_or_a_deletion_the_registry_denies_is_refused(service):
    from sentra_common.nats import PermanentError

    bus = Recorder()
    await index_batch(service, batch("contrato-9", 1, ["cláusula de permanencia"]), bus, REGISTRY)
    future = batch("contrato-9", 1, ["texto inyectado"])
    future.version = 7
    with pytest.raises(PermanentError, match="does not know"):
        await index_batch(service, future, bus, REGISTRY)
    with pytest.raises(PermanentError, match="still holds"):
        await delete_document(service, events_pb2.DocumentDeleted(document_id="contrato-9"), REGISTRY)
    assert await service.count("contrato-9") == 1
    del REGISTRY.documents["contrato-9"]
    await delete_document(service, events_pb2.DocumentDeleted(document_id="contrato-9"), REGISTRY)
    assert await service.count("contrato-9") == 0
