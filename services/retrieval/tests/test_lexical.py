"""Lexical analysis and BM25-style sparse vectors."""

from __future__ import annotations

import itertools
import threading

import pytest
from sentra_common.text import ENGLISH, SPANISH, detect_language, normalize, tokenize
from sentra_retrieval.domain.lexical import SparseEncoder, SparseVec, term_index

encoder = SparseEncoder()


def overlap(query: str, document: str) -> set[int]:
    return set(encoder.encode_query(query).indices) & set(encoder.encode_document(document).indices)


@pytest.mark.parametrize(
    ("query", "document"),
    [
        ("vacación", "Las vacaciones se solicitan con antelación."),
        ("vacaciones", "Solicitud de vacación anual"),
        ("policy", "All travel policies are reviewed yearly."),
        ("policies", "The travel policy is reviewed yearly."),
        ("politica", "La política de viajes"),  # query typed without accents
        ("garantia", "Garantías bancarias"),
        ("contrasena", "Las contraseñas caducan"),
        ("companies", "La compañía financia cursos"),  # cognates meet through the union
        ("la travel policy", "Travel policies apply to every trip."),  # code-switching
    ],
)
def test_inflections_accents_and_languages_match(query: str, document: str) -> None:
    assert overlap(query, document)


def test_unrelated_texts_do_not_match() -> None:
    assert not overlap("nómina", "Passwords must have twelve characters.")


def test_stopwords_are_removed() -> None:
    assert encoder.encode_document("de la que el en y los del se las por").is_empty
    assert encoder.encode_document("the of and to in is it that was for").is_empty
    spanish = "el permiso de los empleados y de las empleadas en la empresa"
    assert len(encoder.encode_document(spanish).indices) < len(tokenize(spanish))
    assert not overlap("de la", "la política de la empresa")


def test_a_query_of_a_one_language_stopword_still_searches() -> None:
    assert not encoder.encode_query("sea").is_empty
    assert overlap("sea", "The sea level is rising and the sea walls of the offices are too low.")


def test_normalize_folds_accents_and_case() -> None:
    assert normalize("Año NIÑO Política ﬁnal") == "ano nino politica final"


def test_tokenize_numbers_and_codes() -> None:
    assert tokenize("Tarifas 2026") == ["tarifas", "2026"]
    assert tokenize("Equipo GX-4471") == ["equipo", "gx", "4471", "gx4471"]
    assert tokenize("a b 7") == ["7"]  # single letters dropped, digits kept
    for query in ("GX-4471", "gx4471", "GX 4471"):
        assert overlap(query, "Mantenimiento del equipo GX-4471")


def test_language_detection() -> None:
    assert detect_language(tokenize("Los empleados de la empresa tienen derecho a las vacaciones")) == SPANISH
    assert detect_language(tokenize("The employees of the company are entitled to their leave")) == ENGLISH
    assert detect_language(tokenize("vacaciones 2026")) is None
    assert detect_language(tokenize("travel policy")) is None


def test_indices_are_stable_31_bit_hashes() -> None:
    # Fixed values: a change here silently breaks every stored sparse vector.
    assert term_index("vacacion") == 1421638709
    assert term_index("polici") == 280988295
    for term in ("a", "ñ", "2026", "x" * 50):
        assert 0 <= term_index(term) < 2**31


def test_vectors_are_sorted_unique_and_queries_weigh_one() -> None:
    query = encoder.encode_query("Política de vacaciones y política de viajes 2026")
    assert query.indices == sorted(set(query.indices))
    assert set(query.values) == {1.0}
    document = encoder.encode_document("vacaciones vacaciones viajes GX-4471 2026")
    assert document.indices == sorted(set(document.indices))
    assert all(v > 0 for v in document.values)


def test_weights_saturate_with_term_frequency() -> None:
    def weight(repeats: int) -> float:
        # Same length every time: the term repeated, padded with distinct filler words.
        filler = [f"relleno{chr(97 + i)}" for i in range(20 - repeats)]
        text = " ".join(["auditoria"] * repeats + filler)
        vec = encoder.encode_document(text)
        return dict(zip(vec.indices, vec.values, strict=True))[term_index("auditori")]

    weights = [weight(n) for n in (1, 2, 4, 8, 16)]
    assert weights == sorted(weights)
    gains = [b - a for a, b in itertools.pairwise(weights)]
    assert gains == sorted(gains, reverse=True)
    assert weights[-1] < encoder.k1 + 1


def test_longer_documents_weigh_a_term_less() -> None:
    def weight(length: int) -> float:
        text = "auditoria " + " ".join(f"relleno{i}" for i in range(length))
        vec = encoder.encode_document(text)
        return dict(zip(vec.indices, vec.values, strict=True))[term_index("auditori")]

    assert weight(10) > weight(100) > weight(1000)
    short = SparseEncoder(avgdl=10)
    assert short.encode_document("auditoria uno dos").values != encoder.encode_document("auditoria uno dos").values


def test_encoder_is_thread_safe() -> None:
    texts = [f"Las políticas de vacaciones número {i} y the travel policies {i}" for i in range(200)]
    expected = [encoder.encode_document(t) for t in texts]
    results: list[list[SparseVec]] = [[] for _ in range(4)]

    def work(slot: int) -> None:
        results[slot] = [encoder.encode_document(t) for t in texts]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r == expected for r in results)


def test_sparse_vec_validates_lengths() -> None:
    with pytest.raises(ValueError):
        SparseVec([1, 2], [1.0])
    with pytest.raises(ValueError):
        SparseEncoder(avgdl=0)
