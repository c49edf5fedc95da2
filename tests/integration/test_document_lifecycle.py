"""Re-uploads, deletes and retries on real processes."""

from __future__ import annotations

import asyncio

import pytest
from sentra.ingestion.v1 import ingestion_pb2

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
