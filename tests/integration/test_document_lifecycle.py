"""Re-uploads, deletes and retries on real processes."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from sentra.ingestion.v1 import ingestion_pb2
from sentra_common.principal import Principal

from tests.support.platform import FAILED, INDEXED, Api

pytestmark = pytest.mark.integration

FIRST = "# Horario del almacén\n\nEl almacén de Zaragoza abre a las 6:30 de lunes a viernes.\n"
SECOND = "# Horario del almacén\n\nEl almacén de Zaragoza abre a las 7:15 los sábados por la mañana.\n"


@pytest.fixture
async def api(sqlite_platform):
    client = Api(sqlite_platform)
    yield client
    await client.close()


async def test_identical_reupload_changes_nothing_and_changed_reupload_replaces(api):
    source = "test:lifecycle/horario.md"
    first = await api.upload(FIRST.encode(), "horario.md", "operaciones", source_uri=source)
    assert first.outcome == ingestion_pb2.UPLOAD_OUTCOME_CREATED
    doc_id = first.document.document_id
    await api.wait_settled([doc_id])

    again = await api.upload(FIRST.encode(), "horario.md", "operaciones", source_uri=source)
    assert again.outcome == ingestion_pb2.UPLOAD_OUTCOME_UNCHANGED
    assert again.document.version == 1

    changed = await api.upload(SECOND.encode(), "horario.md", "operaciones", source_uri=source)
    assert changed.outcome == ingestion_pb2.UPLOAD_OUTCOME_REPLACED
    assert changed.document.document_id == doc_id and changed.document.version == 2
    doc = (await api.wait_settled([doc_id]))[doc_id]
    assert doc.state == INDEXED
    assert await api.points(doc_id) == doc.chunk_count
    texts = " ".join(h.text for h in await api.search("horario almacén Zaragoza", top_k=10)
                     if h.document_id == doc_id)
    assert "7:15" in texts and "6:30" not in texts


async def test_outside_the_access_list_a_dept_admin_cannot_replace_confirm_or_count_a_document(sqlite_platform, api):
    source = "test:lifecycle/nominas.md"
    private = (await api.upload(FIRST.encode(), "nominas.md", "finanzas", source_uri=source,
                                access_list=["user:ana"])).document
    carla = Api(sqlite_platform, Principal("carla", departments=("finanzas",), roles=("dept-admin",)))
    try:
        refusals = []
        for data in (SECOND.encode(), FIRST.encode()):  # an overwrite, then a guess of its content
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await carla.upload(data, "nominas.md", "finanzas", source_uri=source)
            refusals.append((refused.value.code(), refused.value.details()))
        listed = await carla.ingestion.ListDocuments(
            ingestion_pb2.ListDocumentsRequest(department="finanzas", page_size=1000))
    finally:
        await carla.close()
    assert refusals[0] == refusals[1] and refusals[0][0] == grpc.StatusCode.PERMISSION_DENIED
    assert private.document_id not in refusals[0][1]
    assert private.document_id not in {d.document_id for d in listed.documents}
    assert sum(listed.state_counts.values()) == len(listed.documents)  # the hidden one is not counted
    stored = (await api.document(private.document_id)).document
    assert (stored.version, stored.content_sha256) == (1, private.content_sha256)


async def test_delete_removes_the_vectors(api):
    reply = await api.upload(b"Contrato de limpieza con Brillonet, vigente hasta 2031.", "limpieza.txt", "legal",
                             source_uri="test:lifecycle/limpieza.txt")
    doc_id = reply.document.document_id
    await api.wait_settled([doc_id])
    assert await api.points(doc_id) > 0
    await api.ingestion.DeleteDocument(ingestion_pb2.DeleteDocumentRequest(document_id=doc_id))
    for _ in range(100):
        if await api.points(doc_id) == 0:
            break
        await asyncio.sleep(0.1)
    assert await api.points(doc_id) == 0
    assert not [h for h in await api.search("Brillonet limpieza") if h.document_id == doc_id]


async def test_retry_of_a_failed_document_is_safe_twice(api):
    reply = await api.upload(b"%PDF-1.7\n truncated", "roto.pdf", "legal", source_uri="test:lifecycle/roto.pdf")
    doc_id = reply.document.document_id
    doc = (await api.wait_settled([doc_id]))[doc_id]
    assert doc.state == FAILED
    request = ingestion_pb2.RetryDocumentRequest(document_id=doc_id)
    first, second = await asyncio.gather(api.ingestion.RetryDocument(request), api.ingestion.RetryDocument(request))
    assert first.document.version == second.document.version == doc.version + 1
    final = (await api.wait_settled([doc_id]))[doc_id]
    assert final.state == FAILED and "PDF" in final.failure_reason
