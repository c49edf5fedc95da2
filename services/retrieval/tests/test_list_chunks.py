"""ListChunks: the indexed chunks of some documents, in document and chunk order, page by
page, under the caller's scope (as Search) — through the domain on both engines, and once
through a real in-process gRPC server."""

from __future__ import annotations

import base64

import grpc
import pytest
from prometheus_client import CollectorRegistry
from sentra.retrieval.v1 import retrieval_pb2, retrieval_pb2_grpc
from sentra_common.config import GrpcServerSettings
from sentra_common.errors import InvalidArgument, PermissionDenied
from sentra_common.grpc_server import GrpcServer
from sentra_common.metrics import ServiceMetrics
from sentra_common.principal import Principal
from sentra_retrieval.domain.lexical import SparseEncoder
from sentra_retrieval.domain.service import RetrievalService
from sentra_retrieval.servicer import RetrievalServicer

ANA = Principal("ana", departments=("hr",))  # hr member, not on the access list
ALICE = Principal("alice", departments=("hr",))  # hr member, on the access list
LUIS = Principal("luis", departments=("legal",))
ROOT = Principal("root", roles=("platform-admin",))


class NoEmbedder:
    async def embed_query(self, text):
        raise AssertionError("listing chunks embeds nothing")


@pytest.fixture(params=["edge", "qdrant-local"])
def service(request, tmp_path, open_engine, store_dim, make_point):
    """hr: "pol" (3 chunks), "man" (v1 of 2 chunks and v2 of 4 being indexed beside it,
    chunk 2 restricted to alice), "vac" (1 chunk); legal: "con" (2 chunks)."""
    store = open_engine(request.param, tmp_path, store_dim)
    store.upsert([
        *(make_point(f"pol{i}", f"política {i}", document_id="pol", chunk_index=i) for i in (2, 0, 1)),
        *(make_point(f"man1-{i}", f"manual viejo {i}", document_id="man", chunk_index=i) for i in range(2)),
        *(make_point(f"man2-{i}", f"manual {i}", document_id="man", version=2, chunk_index=i,
                     access_list=("user:alice",) if i == 2 else ()) for i in (3, 1, 2, 0)),
        make_point("vac0", "vacaciones", document_id="vac"),
        *(make_point(f"con{i}", f"contrato {i}", document_id="con", chunk_index=i, department="legal")
          for i in range(2)),
    ])
    yield RetrievalService(store, NoEmbedder(), SparseEncoder(), candidates=20, rrf_k=60, weights=(1.0, 1.0),
                           max_top_k=50, max_query_chars=200)
    store.close()


def keys(chunks) -> list[tuple[str, int, int]]:
    return [(c.document_id, c.version, c.chunk_index) for c in chunks]


async def every_page(service, principal, documents, page_size, departments=()) -> list[list]:
    pages, token = [], ""
    while True:
        page = await service.list_chunks(principal, documents, list(departments), page_size, token)
        pages.append(keys(page.chunks))
        token = page.next_page_token
        if not token:
            return pages


async def test_chunks_come_in_the_given_document_order_then_by_chunk_index(service):
    page = await service.list_chunks(ALICE, ["vac", "man", "pol"], [], 0, "")
    assert keys(page.chunks) == [
        ("vac", 1, 0),
        *(("man", 2, i) for i in range(4)),  # only the newest version of "man"
        *(("pol", 1, i) for i in range(3)),
    ]
    assert page.next_page_token == ""
    assert {c.score for c in page.chunks} == {0.0}
    first = page.chunks[1]
    assert (first.text, first.department, first.title) == ("manual 0", "hr", "Title")


async def test_pages_follow_each_other_without_gaps_or_repeats(service):
    documents = ["pol", "missing", "man", "vac"]
    whole = keys((await service.list_chunks(ALICE, documents, [], 1000, "")).chunks)
    assert len(whole) == 8
    for size in (1, 2, 3, 7, 8):
        pages = await every_page(service, ALICE, documents, size)
        assert [k for page in pages for k in page] == whole
        assert all(len(page) == size for page in pages[:-1])
        assert 1 <= len(pages[-1]) <= size  # a token is only given when something follows


async def test_another_departments_chunks_are_absent(service):
    page = await service.list_chunks(ANA, ["con", "vac"], [], 10, "")
    assert keys(page.chunks) == [("vac", 1, 0)]
    page = await service.list_chunks(LUIS, ["con", "vac"], [], 10, "")
    assert keys(page.chunks) == [("con", 1, 0), ("con", 1, 1)]
    with pytest.raises(PermissionDenied, match="legal"):
        await service.list_chunks(ANA, ["con"], ["legal"], 10, "")
    # A platform admin sees every department; narrowing to one still narrows.
    assert len((await service.list_chunks(ROOT, ["con", "vac"], [], 10, "")).chunks) == 3
    assert keys((await service.list_chunks(ROOT, ["con", "vac"], ["legal"], 10, "")).chunks) == [
        ("con", 1, 0), ("con", 1, 1)]
    nobody = Principal("nadie")
    assert (await service.list_chunks(nobody, ["vac"], [], 10, "")).chunks == []


async def test_a_chunk_restricted_by_its_access_list_is_absent_for_others(service):
    ana = await every_page(service, ANA, ["man"], 2)
    assert [k for page in ana for k in page] == [("man", 2, 0), ("man", 2, 1), ("man", 2, 3)]
    alice = await every_page(service, ALICE, ["man"], 2)
    assert [k for page in alice for k in page] == [("man", 2, i) for i in range(4)]
    # what a department's dataset may learn from: only what the whole department may read
    wide = await service.list_chunks(ALICE, ["man"], [], 10, "", department_wide_only=True)
    assert keys(wide.chunks) == [("man", 2, 0), ("man", 2, 1), ("man", 2, 3)]


async def test_repeated_documents_are_listed_once(service):
    page = await service.list_chunks(ANA, ["vac", "vac", "pol", "vac"], [], 10, "")
    assert [k[0] for k in keys(page.chunks)] == ["vac", "pol", "pol", "pol"]


async def test_bad_requests_get_clear_errors(service):
    with pytest.raises(InvalidArgument, match="document_ids is empty"):
        await service.list_chunks(ANA, [], [], 10, "")
    with pytest.raises(InvalidArgument, match="at most 1000"):
        await service.list_chunks(ANA, [f"d{i}" for i in range(1001)], [], 10, "")
    with pytest.raises(InvalidArgument, match=r"document_ids\[1\] is empty"):
        await service.list_chunks(ANA, ["vac", " "], [], 10, "")
    for size in (-1, 1001):
        with pytest.raises(InvalidArgument, match="page_size must be between 1 and 1000"):
            await service.list_chunks(ANA, ["vac"], [], size, "")
    assert len((await service.list_chunks(ANA, [f"d{i}" for i in range(1000)], [], 1000, "")).chunks) == 0


async def test_bad_page_tokens_are_refused(service):
    token = (await service.list_chunks(ANA, ["pol", "vac"], [], 1, "")).next_page_token
    assert token
    forged = base64.urlsafe_b64encode(b"1:0:0000000000000000").decode()
    for bad in ("not a token!", "bm9wZQ", forged, token[:-2]):
        with pytest.raises(InvalidArgument, match="page_token is not valid"):
            await service.list_chunks(ANA, ["pol", "vac"], [], 1, bad)
    # A token belongs to its list of documents.
    with pytest.raises(InvalidArgument, match="same document_ids"):
        await service.list_chunks(ANA, ["vac", "pol"], [], 1, token)


class HeaderIdentity:
    """Test verifier: the principal spec (`Principal.parse`) in `x-test-principal`."""

    def __call__(self, metadata, method):
        for key, value in metadata:
            if key == "x-test-principal":
                return Principal.parse(value), {}
        return None


@pytest.fixture
async def stub(service):
    metrics = ServiceMetrics("retrieval-test", registry=CollectorRegistry())
    server = GrpcServer("retrieval", GrpcServerSettings(port=0, grace_seconds=0), metrics, HeaderIdentity())
    servicer = RetrievalServicer(service, service.store.engine)
    server.add_service("sentra.retrieval.v1.RetrievalService",
                       lambda s: retrieval_pb2_grpc.add_RetrievalServiceServicer_to_server(servicer, s))
    await server.start()
    await server.set_serving(True)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    yield retrieval_pb2_grpc.RetrievalServiceStub(channel)
    await channel.close()
    await server.stop()


async def pages(call) -> list:
    return [page async for page in call]


async def test_list_chunks_rpc_streams_every_page_in_one_call(stub):
    member = (("x-test-principal", "ana:hr:member"),)
    request = retrieval_pb2.ListChunksRequest(document_ids=["con", "pol"], page_size=2)
    first, second = await pages(stub.ListChunks(request, metadata=member))
    assert [(c.document_id, c.chunk_index, c.score) for c in first.chunks] == [("pol", 0, 0.0), ("pol", 1, 0.0)]
    assert (first.chunks[0].text, first.chunks[0].version, first.chunks[0].department) == ("política 0", 1, "hr")
    assert [(c.document_id, c.chunk_index) for c in second.chunks] == [("pol", 2)]
    assert second.next_page_token == ""
    request.page_token = first.next_page_token  # a stream can start where a page left off
    (resumed,) = await pages(stub.ListChunks(request, metadata=member))
    assert [(c.document_id, c.chunk_index) for c in resumed.chunks] == [("pol", 2)]

    with pytest.raises(grpc.aio.AioRpcError) as info:
        await pages(stub.ListChunks(retrieval_pb2.ListChunksRequest(), metadata=member))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "document_ids is empty" in info.value.details()
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await pages(stub.ListChunks(retrieval_pb2.ListChunksRequest(document_ids=["pol"], page_token="x"),
                                    metadata=member))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await pages(stub.ListChunks(retrieval_pb2.ListChunksRequest(document_ids=["pol"])))
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_the_training_service_reads_one_departments_department_wide_chunks_and_nothing_else(service):
    from sentra_common.config import service_principal
    from sentra_common.errors import PermissionDenied

    training = service_principal("training")
    page = await service.list_chunks(training, ["man"], ["hr"], 10, "", department_wide_only=True)
    assert keys(page.chunks) == [("man", 2, 0), ("man", 2, 1), ("man", 2, 3)]  # not the access-listed chunk
    assert (await service.list_chunks(training, ["man"], ["legal"], 10, "", department_wide_only=True)).chunks == []
    for departments, wide in ((["hr"], False), ([], True), (["hr", "legal"], True)):
        with pytest.raises(PermissionDenied):
            await service.list_chunks(training, ["man"], departments, 10, "", department_wide_only=wide)
    with pytest.raises(PermissionDenied):  # no other service reads chunks
        await service.list_chunks(service_principal("inference"), ["man"], ["hr"], 10, "", department_wide_only=True)
