"""The same indexing and searches through both engines give the same answers.

Qdrant Edge (in-process) and qdrant-client local mode (the server API's stand-in) index a
bilingual corpus of 144 short texts with deterministic 384-d vectors; every search mode,
under several scopes, must return the same top-k ids with the same scores (order may
differ only between hits whose scores tie within 1e-4, e.g. at the top-k cut), before
and after deletions.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sentra_retrieval.domain.model import IndexedPoint, ScopeFilter, StoredHit
from sentra_retrieval.domain.search import SearchMode, hybrid_search

DIM = 384
TOP_K = 8
TIE = 1e-4
# Hybrid candidates cover the whole corpus: a tie cut at the candidate limit could let the
# engines pick different members of the tie and so fuse differently.
CANDIDATES = 200

TOPICS = [
    (
        "Las vacaciones anuales son de veintidós días laborables",
        "Annual vacation is twenty-two working days",
    ),
    (
        "La política de viajes reembolsa alojamiento y transporte",
        "The travel policy reimburses lodging and transport",
    ),
    (
        "El teletrabajo se permite tres días por semana",
        "Remote work is allowed three days per week",
    ),
    ("Las contraseñas deben tener doce caracteres", "Passwords must have twelve characters"),
    (
        "La nómina se paga el último día hábil del mes",
        "Payroll is paid on the last business day of the month",
    ),
    (
        "El equipo GX-4471 requiere mantenimiento preventivo",
        "Unit GX-4471 requires preventive maintenance",
    ),
    ("El permiso de maternidad dura dieciséis semanas", "Parental leave lasts sixteen weeks"),
    ("La empresa financia cursos de formación", "The company funds training courses"),
    (
        "El código de conducta prohíbe aceptar regalos de proveedores",
        "The code of conduct forbids accepting gifts from suppliers",
    ),
    (
        "La auditoría interna revisa los contratos con proveedores",
        "Internal audit reviews supplier contracts",
    ),
    (
        "La indemnización por despido es de treinta y tres días por año",
        "Severance pay is thirty-three days per year worked",
    ),
    (
        "Los incidentes de seguridad se notifican de inmediato",
        "Security incidents are reported immediately",
    ),
]
DETAILS = [
    "según el convenio 2026",
    "para la oficina de Madrid",
    "con aprobación del responsable",
    "as agreed in 2026",
    "for the London office",
    "with the manager's approval",
]
DEPARTMENTS = ("hr", "legal", "finance")

QUERIES = [
    "vacaciones",
    "cuántos días de vacaciones",
    "travel policy",
    "politica de viajes",
    "GX-4471",
    "contraseña",
    "password rules",
    "nómina mensual",
    "gifts from suppliers",
    "auditoria de contratos",
    "security incident",
    "despido improcedente",
    "2026",
]

SCOPES = {
    "hr": ScopeFilter(("hr",)),
    "hr+legal alice": ScopeFilter(("hr", "legal"), principals=("user:alice",)),
    "finance group": ScopeFilter(("finance",), principals=("group:board",)),
    "admin": ScopeFilter((), principals=("user:root",), all_departments=True),
    "narrowed": ScopeFilter(DEPARTMENTS, document_ids=("doc-1", "doc-4", "doc-7", "doc-10")),
}


def corpus(make_point) -> list[IndexedPoint]:
    points = []
    n = 0
    for t, (spanish, english) in enumerate(TOPICS):
        for language, base in (("es", spanish), ("en", english)):
            for d, detail in enumerate(DETAILS):
                # A distinct number of filler words per text keeps BM25 scores from tying.
                filler = " ".join(f"ref{chr(97 + (n + i) % 26)}{n}" for i in range(n % 9))
                text = f"{base} {detail} {filler}".strip()
                doc = n % 12
                points.append(
                    make_point(
                        f"{t}-{language}-{d}",
                        text,
                        document_id=f"doc-{doc}",
                        version=1 + n % 2,
                        chunk_index=n,
                        department=DEPARTMENTS[n % 3],
                        access_list=(("user:alice",), ("group:board", "user:bob"), (), ())[n % 4],
                        dimension=DIM,
                    )
                )
                n += 1
    return points


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory, make_point, open_engine):
    tmp = Path(tmp_path_factory.mktemp("congruence"))
    edge = open_engine("edge", tmp, DIM)
    local = open_engine("qdrant-local", tmp, DIM)
    points = corpus(make_point)
    for store in (edge, local):
        store.upsert(points)
    yield edge, local, points
    edge.close()
    local.close()


def assert_congruent(a: list[StoredHit], b: list[StoredHit], label: str) -> None:
    assert len(a) == len(b), label
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        tol = TIE * max(1.0, abs(x.score))
        assert abs(x.score - y.score) <= tol, f"{label}: rank {i} scores {x.score} vs {y.score}"
        if x.chunk_id != y.chunk_id:
            # Only a tie may swap places: the other engine has this id at a tied score, or
            # the tie straddles the top-k cut.
            twin = next((h for h in b if h.chunk_id == x.chunk_id), None)
            other = twin.score if twin is not None else b[-1].score
            assert abs(other - x.score) <= tol, f"{label}: rank {i} {x.chunk_id} vs {y.chunk_id}"


def run_all(edge, local, make_query) -> int:
    compared = 0
    for query in QUERIES:
        dense, sparse = make_query(query)
        for scope_name, scope in SCOPES.items():
            for mode in SearchMode:
                results = [
                    hybrid_search(
                        store,
                        dense=dense,
                        sparse=sparse,
                        scope=scope,
                        top_k=TOP_K,
                        mode=mode,
                        candidates=CANDIDATES,
                    )
                    for store in (edge, local)
                ]
                assert_congruent(*results, f"{mode.value} {query!r} in {scope_name}")
                compared += bool(results[0])
    return compared


def test_engines_agree(engines, encoder, text_vector) -> None:
    edge, local, points = engines
    assert edge.count() == local.count() == len(points) == 144

    def make_query(text: str):
        return text_vector(text, DIM), encoder.encode_query(text)

    compared = run_all(edge, local, make_query)
    assert compared > 150  # most searches return hits: the check is not vacuous

    # Scoping holds in both: nothing outside the scope ever comes back.
    by_id = {p.chunk_id: p for p in points}
    for scope in SCOPES.values():
        for store in (edge, local):
            dense, sparse = make_query("vacaciones")
            for hit in hybrid_search(
                store,
                dense=dense,
                sparse=sparse,
                scope=scope,
                top_k=50,
                mode=SearchMode.HYBRID,
                candidates=144,
            ):
                point = by_id[hit.chunk_id]
                assert scope.all_departments or point.department in scope.departments
                assert not point.access_list or set(point.access_list) & set(scope.principals)
                assert not scope.document_ids or point.document_id in scope.document_ids

    # After deletions (old versions, whole documents) the engines still agree: IDF counts
    # live points only in both.
    for store in (edge, local):
        for doc in range(6):
            store.delete_other_versions(f"doc-{doc}", keep_version=2)
        store.delete_document("doc-11")
        store.flush()
    assert edge.count() == local.count() < len(points)
    assert {edge.max_version(f"doc-{d}") for d in range(12)} == {local.max_version(f"doc-{d}") for d in range(12)}
    run_all(edge, local, make_query)
