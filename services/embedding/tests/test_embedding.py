"""Embedding service: validation, micro-batching, the pipeline stage, the real local
model and the TEI backend against an HTTP server speaking TEI's /embed."""

from __future__ import annotations

import asyncio
import json
import math
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sentra.events.v1 import events_pb2
from sentra_common import events
from sentra_common.errors import InvalidArgument, Unavailable
from sentra_embedding.adapters.backends import LocalBackend, TeiBackend
from sentra_embedding.domain.batcher import MicroBatcher
from sentra_embedding.domain.service import EmbeddingService
from sentra_embedding.events import embed_batch


class CountingBackend:
    name, model, dimension = "fake", "fake", 3

    def __init__(self):
        self.calls: list[int] = []

    async def embed(self, texts):
        self.calls.append(len(texts))
        await asyncio.sleep(0.01)
        return [[float(len(t)), 0.0, 1.0] for t in texts]


class Recorder:
    def __init__(self):
        self.published = []

    async def publish(self, subject, message, *, msg_id=None):
        self.published.append((subject, message, msg_id))


def make_service(backend, max_batch=64, wait_ms=20):
    batcher = MicroBatcher(backend.embed, max_batch, wait_ms)
    batcher.start()
    return EmbeddingService(backend, batcher, max_texts_per_request=10, max_text_chars=50), batcher


async def test_concurrent_requests_share_one_model_call():
    backend = CountingBackend()
    service, batcher = make_service(backend)
    results = await asyncio.gather(*(service.embed([f"q{i}" * (i + 1)]) for i in range(8)))
    await batcher.close()
    assert [r[0][0] for r in results] == [float(len(f"q{i}" * (i + 1))) for i in range(8)]
    assert len(backend.calls) < 8 and sum(backend.calls) == 8


async def test_request_limits_are_explicit():
    service, batcher = make_service(CountingBackend())
    with pytest.raises(InvalidArgument, match="at least one"):
        await service.embed([])
    with pytest.raises(InvalidArgument, match="limit is 10"):
        await service.embed(["x"] * 11)
    long = await service.embed(["y" * 500])
    assert long[0][0] == 50.0  # cut to max_text_chars
    await batcher.close()


async def test_pipeline_stage_embeds_a_batch_and_passes_it_on():
    service, batcher = make_service(CountingBackend())
    batch = events_pb2.ChunksCreated(document_id="d1", version=2, batch_index=0, batch_count=1, total_chunks=2)
    batch.chunks.add(chunk_id="c0", document_id="d1", version=2, text="hola", title="T", heading="H")
    batch.chunks.add(chunk_id="c1", document_id="d1", version=2, text="adiós", title="T")
    out = Recorder()
    await embed_batch(service, batch, out)
    await batcher.close()
    subject, message, msg_id = out.published[0]
    assert subject == events.CHUNKS_EMBEDDED and msg_id == "embedded:d1:2:0"
    assert [c.chunk.chunk_id for c in message.chunks] == ["c0", "c1"]
    assert all(len(c.dense) == 3 for c in message.chunks)
    assert out.published[1][0] == events.STAGE_COMPLETED


@pytest.fixture(scope="module")
def local_backend():
    backend = LocalBackend(None)
    asyncio.run(backend.start())
    return backend


async def test_local_model_gives_normalised_384_dimension_vectors(local_backend):
    vectors = await local_backend.embed(
        ["The warehouse opens at 7 am", "Opening hours of the warehouse", "Quarterly VAT return"]
    )
    assert local_backend.dimension == 384 and local_backend.model == "all-MiniLM-L6-v2"
    for v in vectors:
        assert math.isclose(sum(x * x for x in v), 1.0, rel_tol=1e-3)

    def cos(a, b):
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert cos(vectors[0], vectors[1]) > cos(vectors[0], vectors[2])


class _TeiHandler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"model_id": "BAAI/bge-small"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        assert self.path == "/embed" and payload["normalize"] is True
        body = json.dumps([[1.0, 0.0] for _ in payload["inputs"]]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


async def test_tei_backend_speaks_tei_embed():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _TeiHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        backend = TeiBackend(f"http://127.0.0.1:{server.server_port}", 5)
        await backend.start()
        assert backend.model == "BAAI/bge-small" and backend.dimension == 2
        assert await backend.embed(["a", "b"]) == [[1.0, 0.0], [1.0, 0.0]]
        await backend.close()
    finally:
        server.shutdown()


async def test_tei_backend_unreachable_is_unavailable():
    backend = TeiBackend("http://127.0.0.1:9", 1)
    with pytest.raises(Unavailable, match="unreachable"):
        await backend.embed(["a"])
    await backend.close()
