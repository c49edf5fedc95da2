"""Attacks on the event bus of a running platform: a local process without credentials,
and a service whose credentials were stolen forging what the index stores."""

from __future__ import annotations

import asyncio
import json
import uuid

import nats
import pytest
from sentra.events.v1 import events_pb2
from sentra_common import events
from sentra_common.principal import Principal

from tests.support.platform import Api

pytestmark = pytest.mark.integration


async def test_a_local_process_without_credentials_cannot_reach_the_bus(sqlite_platform):
    state = sqlite_platform.load_state()
    with pytest.raises(Exception):  # noqa: B017 - the server refuses the connection (authorization violation)
        await nats.connect(state.nats_url, allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=3)


async def test_forged_chunks_cannot_move_a_document_into_another_department(sqlite_platform):
    """With embedding's stolen credentials (the only user allowed to publish chunks.embedded),
    re-announce rrhh's payroll as legal's, open to everyone: the index keeps the registry's
    department and access list."""
    admin = Api(sqlite_platform)
    upload = await admin.upload(b"Nomina de marzo: el salario del director es de 9.999 euros.\n" * 3,
                                "nomina-forja.txt", "rrhh", access_list=["group:direccion"])
    doc = upload.document
    await admin.wait_settled([doc.document_id])
    user = json.loads((sqlite_platform.bus_credentials_dir / "embedding.json").read_text())
    nc = await nats.connect(sqlite_platform.load_state().nats_url, user=user["user"], password=user["password"],
                            inbox_prefix="_INBOX_embedding")
    forged = events_pb2.ChunksEmbedded(document_id=doc.document_id, version=doc.version, batch_index=0,
                                       batch_count=1, total_chunks=1, model="x")
    chunk = events_pb2.Chunk(chunk_id=str(uuid.uuid4()), document_id=doc.document_id, version=doc.version,
                             chunk_index=99, text="salario del director 9.999 euros", title="abierto",
                             department="legal")
    forged.chunks.add(chunk=chunk, dense=[0.1] * 384)
    await nc.jetstream().publish(events.CHUNKS_EMBEDDED, forged.SerializeToString())
    await nc.close()
    legal = Api(sqlite_platform, Principal("lena", departments=("legal",), roles=("member",)))
    rrhh = Api(sqlite_platform, Principal("raul", departments=("rrhh",), roles=("member",)))
    try:
        for _ in range(20):  # give the indexer time to take the forged batch
            await asyncio.sleep(0.5)
            hits = await legal.search("salario del director", top_k=10)
            assert doc.document_id not in {h.document_id for h in hits}
        hits = await rrhh.search("salario del director", top_k=10)
        assert doc.document_id not in {h.document_id for h in hits}  # raul is not in group direccion
    finally:
        await legal.close()
        await rrhh.close()
        await admin.close()
