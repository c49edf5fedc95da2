"""The VectorStore contract, for both engines (Qdrant Edge, and qdrant-client local mode
standing in for a Qdrant server)."""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sentra_retrieval.adapters.edge_store import EdgeStore
from sentra_retrieval.adapters.qdrant_store import QdrantServerStore
from sentra_retrieval.app import open_store
from sentra_retrieval.domain.model import ScopeFilter
from sentra_retrieval.domain.ports import VectorStore
from sentra_retrieval.domain.search import SearchMode, hybrid_search

HR = ScopeFilter(departments=("hr",))
LEGAL = ScopeFilter(departments=("legal",))


def ids(hits) -> list[str]:
    return [h.chunk_id for h in hits]


def test_both_engines_satisfy_the_protocol(store) -> None:
    assert isinstance(store, VectorStore)
    assert store.engine in {"qdrant-edge", "qdrant"}


def test_upsert_is_idempotent_by_chunk_id(store, make_point) -> None:
    first = make_point("c1", "Las vacaciones se piden con antelación")
    store.upsert([first])
    store.upsert([first])
    assert store.count() == 1
    store.upsert([dataclasses.replace(first, text="Texto nuevo")])
    assert store.count() == 1
    [hit] = store.search_dense(first.dense, HR, 5)
    assert hit.text == "Texto nuevo"
    assert hit.chunk_id == first.chunk_id


def test_count_max_version_and_deletes(store, make_point) -> None:
    store.upsert(
        [
            make_point("a1", "uno", document_id="a", version=1),
            make_point("a2", "dos", document_id="a", version=2, chunk_index=0),
            make_point("a3", "tres", document_id="a", version=2, chunk_index=1),
            make_point("b1", "cuatro", document_id="b", version=7),
        ]
    )
    assert store.count() == 4
    assert store.count("a") == 3
    assert store.count("a", 2) == 2
    assert store.count("a", 3) == 0
    assert store.count(version=7) == 1
    assert store.max_version("a") == 2
    assert store.max_version("b") == 7
    assert store.max_version("missing") is None

    store.delete_other_versions("a", keep_version=2)
    assert store.count("a") == 2
    assert store.count("a", 1) == 0
    assert store.count("b") == 1

    store.delete_document("a")
    assert store.count("a") == 0
    assert store.max_version("a") is None
    assert store.count() == 1
    store.delete_document("missing")
    store.flush()


def test_hits_carry_the_payload(store, make_point) -> None:
    point = make_point("p", "Texto", document_id="d9", version=3, chunk_index=4)
    store.upsert([point])
    [hit] = store.search_dense(point.dense, HR, 1)
    assert (hit.document_id, hit.version, hit.chunk_index, hit.page) == ("d9", 3, 4, 1)
    assert (hit.heading, hit.title, hit.department) == ("Heading", "Title", "hr")
    assert hit.source_uri == "file:///d9.pdf"


def test_department_scoping_for_dense_and_sparse(store, make_point, encoder) -> None:
    text = "Política de auditoría interna de proveedores"
    hr = make_point("hr", "Calendario laboral de verano", department="hr")
    legal = make_point("legal", text, department="legal")
    store.upsert([hr, legal])
    query = encoder.encode_query("auditoría")
    # The legal point is the exact dense match and the only lexical match: HR never sees it.
    assert ids(store.search_dense(legal.dense, HR, 10)) == [hr.chunk_id]
    assert store.search_sparse(query, HR, 10) == []
    assert ids(store.search_sparse(query, LEGAL, 10)) == [legal.chunk_id]
    both = ScopeFilter(departments=("hr", "legal"))
    assert set(ids(store.search_dense(legal.dense, both, 10))) == {hr.chunk_id, legal.chunk_id}
    nobody = ScopeFilter(departments=())
    assert store.search_dense(legal.dense, nobody, 10) == []
    assert store.search_sparse(query, nobody, 10) == []
    for mode in SearchMode:
        hits = hybrid_search(
            store,
            dense=legal.dense,
            sparse=encoder.encode_query(text),
            scope=HR,
            top_k=10,
            mode=mode,
        )
        assert legal.chunk_id not in ids(hits)


def test_access_lists(store, make_point, encoder) -> None:
    public = make_point("open", "Contrato marco de proveedores")
    secret = make_point("secret", "Contrato de adquisición confidencial", access_list=("user:alice", "group:ma"))
    store.upsert([public, secret])
    query = encoder.encode_query("contrato")
    both = {public.chunk_id, secret.chunk_id}
    for scope, visible in [
        (HR, {public.chunk_id}),
        (ScopeFilter(("hr",), principals=("user:bob",)), {public.chunk_id}),
        (ScopeFilter(("hr",), principals=("user:alice",)), both),
        (ScopeFilter(("hr",), principals=("user:bob", "group:ma")), both),
        (ScopeFilter(("legal",), principals=("user:alice",)), set()),
    ]:
        assert set(ids(store.search_dense(secret.dense, scope, 10))) == visible
        assert set(ids(store.search_sparse(query, scope, 10))) == visible


def test_scroll_lists_chunks_by_index_under_the_scope(store, make_point) -> None:
    current = [make_point(f"a2-{i}", f"texto {i}", document_id="a", version=2, chunk_index=i) for i in (3, 0, 4, 1, 2)]
    older = [make_point(f"a1-{i}", "viejo", document_id="a", version=1, chunk_index=i) for i in range(3)]
    secret = make_point("a2-5", "confidencial", document_id="a", version=2, chunk_index=5, access_list=("user:alice",))
    legal = [make_point(f"b-{i}", "contrato", document_id="b", chunk_index=i, department="legal") for i in range(2)]
    store.upsert([*current, *older, secret, *legal])

    def indexes(scope, limit=10, offset=0, version=None):
        return [(h.document_id, h.version, h.chunk_index) for h in store.scroll(scope, limit, offset, version=version)]

    hr_a = ScopeFilter(("hr",), document_ids=("a",))
    assert indexes(hr_a, version=2) == [("a", 2, i) for i in range(5)]  # the secret chunk is absent
    alice = ScopeFilter(("hr",), principals=("user:alice",), document_ids=("a",))
    assert indexes(alice, version=2) == [("a", 2, i) for i in range(6)]
    # Pages follow each other: the next starts at the last index + 1.
    assert indexes(hr_a, 2, 0, 2) == [("a", 2, 0), ("a", 2, 1)]
    assert indexes(hr_a, 2, 2, 2) == [("a", 2, 2), ("a", 2, 3)]
    assert indexes(hr_a, 2, 4, 2) == [("a", 2, 4)]
    assert indexes(hr_a, 2, 5, 2) == []
    # Without a version, every stored version, by index.
    assert [i for _, _, i in indexes(hr_a)] == [0, 0, 1, 1, 2, 2, 3, 4]
    # Another department's document is absent, even when named.
    assert indexes(ScopeFilter(("hr",), document_ids=("b",))) == []
    assert indexes(ScopeFilter(("legal",), document_ids=("a", "b"))) == [("b", 1, 0), ("b", 1, 1)]
    assert indexes(ScopeFilter((), document_ids=("b",), all_departments=True)) == [("b", 1, 0), ("b", 1, 1)]
    assert indexes(ScopeFilter((), document_ids=("a", "b"))) == []
    assert indexes(hr_a, 0) == []
    [hit] = store.scroll(hr_a, 1, 3, version=2)
    assert (hit.chunk_id, hit.score, hit.text, hit.department) == (current[0].chunk_id, 0.0, "texto 3", "hr")


def test_reserved_acl_value_is_rejected(store, make_point) -> None:
    with pytest.raises(ValueError):
        store.upsert([make_point("bad", "texto", access_list=("*",))])


def test_document_narrowing_and_all_departments(store, make_point, encoder) -> None:
    points = [
        make_point("p1", "Gastos de viaje", document_id="d1", department="hr"),
        make_point("p2", "Gastos de viaje y dietas", document_id="d2", department="legal"),
        make_point("p3", "Gastos de viaje", document_id="d3", department="legal", access_list=("user:x",)),
    ]
    store.upsert(points)
    query = encoder.encode_query("gastos de viaje")
    narrowed = ScopeFilter(("hr", "legal"), document_ids=("d2",))
    assert ids(store.search_sparse(query, narrowed, 10)) == [points[1].chunk_id]
    assert ids(store.search_dense(points[0].dense, narrowed, 10)) == [points[1].chunk_id]
    # A platform admin crosses departments; access lists still apply.
    admin = ScopeFilter((), all_departments=True)
    assert set(ids(store.search_sparse(query, admin, 10))) == {
        points[0].chunk_id,
        points[1].chunk_id,
    }
    admin_narrowed = ScopeFilter((), document_ids=("d1",), all_departments=True)
    assert ids(store.search_dense(points[1].dense, admin_narrowed, 10)) == [points[0].chunk_id]


def test_scores_are_cosine_and_bm25(store, make_point, encoder) -> None:
    texts = ["auditoria uno", "auditoria dos", "tres cuatro", "cinco seis"]
    points = [make_point(f"s{i}", t) for i, t in enumerate(texts)]
    store.upsert(points)
    top = store.search_dense(points[0].dense, HR, 4)[0]
    assert top.chunk_id == points[0].chunk_id
    assert top.score == pytest.approx(1.0, abs=1e-5)
    query = encoder.encode_query("auditoría")
    hits = store.search_sparse(query, HR, 10)
    idf = math.log((4 - 2 + 0.5) / (2 + 0.5) + 1)  # the engine applies IDF (N=4, df=2)
    expected = {
        p.chunk_id: idf * sum(v for i, v in zip(p.sparse.indices, p.sparse.values, strict=True) if i in query.indices)
        for p in points[:2]
    }
    assert {h.chunk_id: h.score for h in hits} == pytest.approx(expected, rel=1e-4)


def test_idf_is_computed_over_the_callers_scope(store, make_point, encoder) -> None:
    store.upsert([make_point(f"hr{i}", f"auditoria anual {i}") for i in range(3)])
    store.upsert([make_point("hr-other", "calendario laboral")])
    query = encoder.encode_query("auditoría")
    before = [h.score for h in store.search_sparse(query, HR, 10)]
    # Neither another department's documents nor deleted ones move HR's scores.
    store.upsert([make_point(f"lg{i}", f"auditoria {i}", department="legal") for i in range(5)])
    assert [h.score for h in store.search_sparse(query, HR, 10)] == pytest.approx(before, rel=1e-5)
    store.upsert([make_point("gone", "auditoria temporal", document_id="gone")])
    store.delete_document("gone")
    assert [h.score for h in store.search_sparse(query, HR, 10)] == pytest.approx(before, rel=1e-5)


def test_input_checks(store, make_point, store_dim) -> None:
    with pytest.raises(ValueError):
        store.upsert([make_point("wrong", "texto", dense=[1.0, 0.0])])
    with pytest.raises(ValueError):
        store.upsert([dataclasses.replace(make_point("x", "texto"), chunk_id="not-a-uuid")])
    with pytest.raises(ValueError):
        store.ensure_collection(store_dim + 1)
    store.ensure_collection(store_dim)  # the same dimension again is fine
    assert store.count() == 0


def test_empty_texts_are_stored(store, make_point, encoder) -> None:
    blank = make_point("blank", "de la que")  # stopwords only: an empty sparse vector
    assert blank.sparse.is_empty
    store.upsert([blank, make_point("full", "auditoria")])
    assert store.count() == 2
    assert len(store.search_sparse(encoder.encode_query("auditoría"), HR, 10)) == 1
    assert store.search_sparse(encoder.encode_query("de la"), HR, 10) == []


def test_edge_store_reopens_from_disk(tmp_path: Path, make_point, open_engine, encoder) -> None:
    store = open_engine("edge", tmp_path, 8)
    points = [make_point(f"r{i}", f"Reembolso de gastos {i}", chunk_index=i, dimension=8) for i in range(5)]
    store.upsert(points)
    store.close()

    reopened = EdgeStore(tmp_path / "edge")
    assert reopened.count() == 5  # readable before ensure_collection
    reopened.ensure_collection(8)
    assert reopened.max_version("doc-1") == 1
    assert ids(reopened.search_dense(points[2].dense, HR, 1)) == [points[2].chunk_id]
    assert len(reopened.search_sparse(encoder.encode_query("reembolso"), HR, 10)) == 5
    with pytest.raises(ValueError):
        reopened.ensure_collection(16)
    reopened.close()
    with pytest.raises(ValueError):
        EdgeStore(tmp_path / "edge").ensure_collection(16)


def test_edge_store_survives_a_kill_without_flush_or_close(tmp_path: Path) -> None:
    path = tmp_path / "edge"
    script = textwrap.dedent(
        f"""
        import os, signal, uuid
        from sentra_retrieval.adapters.edge_store import EdgeStore
        from sentra_retrieval.domain.lexical import SparseEncoder
        from sentra_retrieval.domain.model import IndexedPoint

        encoder = SparseEncoder()

        def point(i, version):
            text = f"texto {{i}}"
            return IndexedPoint(
                str(uuid.uuid4()), "doc-1", version, i, text, 1, "", "", "hr", (), "",
                [1.0, float(i), 0.5, 0.0], encoder.encode_document(text),
            )

        store = EdgeStore({str(path)!r})
        store.ensure_collection(4)
        store.upsert([point(i, 1) for i in range(50)])
        store.upsert([point(0, 2)])
        store.delete_other_versions("doc-1", keep_version=2)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert result.returncode == -9, result.stderr.decode()
    store = EdgeStore(path)  # replays the write-ahead log
    store.ensure_collection(4)
    assert store.count() == 1
    assert store.max_version("doc-1") == 2
    store.close()


def test_open_store_factory(tmp_path: Path) -> None:
    edge = open_store("edge", path=tmp_path / "factory")
    assert isinstance(edge, EdgeStore)
    edge.ensure_collection(4)
    edge.close()
    with pytest.raises(ValueError):
        open_store("qdrant")
    with pytest.raises(ValueError):
        open_store("edge")
    with pytest.raises(ValueError):
        open_store("elastic", path=tmp_path)
    with pytest.raises(ValueError):
        QdrantServerStore()


def test_edge_store_before_the_collection_exists(tmp_path: Path, make_point, text_vector) -> None:
    store = EdgeStore(tmp_path / "empty")
    assert store.count() == 0
    assert store.max_version("x") is None
    assert store.search_dense(text_vector("x", 16), HR, 5) == []
    assert store.scroll(HR, 5) == []
    with pytest.raises(RuntimeError):
        store.upsert([make_point("x", "x")])
    store.close()


def test_edge_store_indexes_chunk_index_on_an_older_shard(tmp_path: Path, make_point) -> None:
    """A shard made before chunks were scrolled by index gets the index when reopened."""
    import qdrant_edge as qe

    store = EdgeStore(tmp_path / "old")
    store.ensure_collection(16)
    store.upsert([make_point(f"o{i}", "texto", chunk_index=i) for i in (2, 0, 1)])
    store._shard.update(qe.UpdateOperation.delete_field_index("chunk_index"))
    store.close()
    reopened = EdgeStore(tmp_path / "old")
    reopened.ensure_collection(16)
    assert [h.chunk_index for h in reopened.scroll(HR, 10)] == [0, 1, 2]
    reopened.close()


def test_edge_store_refuses_a_second_writer(tmp_path: Path) -> None:
    first = EdgeStore(tmp_path / "shared")
    first.ensure_collection(4)
    with pytest.raises(RuntimeError, match="another process"):
        EdgeStore(tmp_path / "shared")
    first.close()
    EdgeStore(tmp_path / "shared").close()  # free again once closed
