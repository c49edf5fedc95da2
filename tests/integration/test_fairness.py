"""A large upload does not hold up everyone else: with a document of hundreds of chunks
being embedded (its own lane), a small document of another department is INDEXED within
seconds; the large one finishes afterwards."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from tests.support.platform import INDEXED, PROCESSING, Api

pytestmark = pytest.mark.integration

CLIENTES = ["Hortalia", "Frutas del Sur", "Logística Norte", "Almacenes Iberia", "Conservas Atlántico"]
ALMACENES = ["Getafe", "Zaragoza", "Valencia", "Sevilla", "Bilbao"]


def large_document(paragraphs: int = 1200) -> bytes:
    rnd = random.Random(3)
    lines = []
    for i in range(paragraphs):
        lines.append(
            f"El pedido número {i} del cliente {rnd.choice(CLIENTES)} sale del almacén de {rnd.choice(ALMACENES)} "
            f"el día {rnd.randint(1, 28)} con {rnd.randint(2, 40)} palés; la incidencia {rnd.randint(100, 999)} "
            f"queda registrada y el transportista confirma la entrega en un plazo de {rnd.randint(1, 5)} días."
        )
    return "\n\n".join(lines).encode()


async def test_a_small_document_is_not_held_up_by_a_large_one(sqlite_platform):
    api = Api(sqlite_platform)
    try:
        big = (await api.upload(large_document(), "pedidos_2026.txt", "operaciones",
                                source_uri="fairness:big")).document
        await asyncio.sleep(2)  # the large one is parsed and its chunks announced first
        started = time.monotonic()
        small = (await api.upload(
            "Política de vacaciones: cada persona dispone de 23 días laborables al año.\n\n".encode() * 3,
            "vacaciones.txt", "rrhh", source_uri="fairness:small")).document
        while True:
            state = (await api.document(small.document_id)).document.state
            if state != PROCESSING:
                break
            assert time.monotonic() - started < 15, "the small document waited behind the large one"
            await asyncio.sleep(0.25)
        waited = time.monotonic() - started
        print(f"small document INDEXED after {waited:.1f} s with the large one in flight")
        assert state == INDEXED
        big_now = (await api.document(big.document_id)).document
        assert big_now.state == PROCESSING and big_now.chunk_count > 256, (waited, big_now.chunk_count)
        final = await api.wait_settled([big.document_id], timeout=600)
        assert final[big.document_id].state == INDEXED
    finally:
        await api.close()
