"""kill -9 the embedding or the retrieval process while a few hundred documents are
being ingested, restart it: every document ends INDEXED or FAILED, none is lost or
stuck in PROCESSING, and no chunk is indexed twice."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.platform import INDEXED, PROCESSING, Api

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TOPICS = ["vacaciones", "nómina", "almacén", "transporte", "factura", "seguridad", "contrato", "formación"]


def document(i: int) -> bytes:
    topic = TOPICS[i % len(TOPICS)]
    paragraphs = [
        f"Procedimiento {i} sobre {topic}. Referencia interna PR-{i:04d}.",
        f"El responsable del procedimiento {i} revisa el registro de {topic} cada {i % 12 + 1} semanas.",
        "Cualquier incidencia se comunica al coordinador de área y se documenta en el sistema.",
    ]
    return ("\n\n".join(paragraphs) * (1 + i % 3)).encode()


@pytest.mark.parametrize("victim", ["embedding", "retrieval"])
async def test_kill_9_during_ingestion_loses_nothing(sqlite_platform, victim):
    platform = sqlite_platform
    api = Api(platform)
    n = 200
    ids = []
    for i in range(n):
        reply = await api.upload(document(i), f"pr-{victim}-{i}.txt", "operaciones",
                                 source_uri=f"test:faults/{victim}/{i}")
        ids.append(reply.document.document_id)
        if i == n // 3:
            platform.stop_service(victim, kill=True)  # SIGKILL, mid-stream
    await asyncio.sleep(2)
    await asyncio.to_thread(platform.restart_service, victim)

    docs = await api.wait_settled(ids, timeout=900)
    assert len(docs) == n
    assert not [d for d in docs.values() if d.state == PROCESSING]
    indexed = [d for d in docs.values() if d.state == INDEXED]
    assert len(indexed) == n, [d.failure_reason for d in docs.values() if d.state != INDEXED][:3]
    for doc in indexed:
        assert await api.points(doc.document_id) == doc.chunk_count  # none lost, none twice
    await api.close()
