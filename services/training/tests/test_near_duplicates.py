"""The dataset filter's near-duplicate test on its own: which questions count as the same
question asked again, and which are different questions that merely share words."""

from __future__ import annotations

import numpy as np
from sentra_training.datasets.generate import NearDuplicates


def _unit(seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).normal(size=16)
    return vector / np.linalg.norm(vector)


def _index(*questions: str) -> NearDuplicates:
    index = NearDuplicates(cosine=0.92)
    for i, question in enumerate(questions):
        index.add(question, _unit(i))
    return index


def test_the_same_question_after_normalisation_is_seen():
    index = _index("¿Cuántos días puedo teletrabajar?")
    assert index.seen("¿cuántos  DIAS puedo teletrabajar?", _unit(99))


def test_a_template_question_with_another_slot_is_seen():
    index = _index("¿Dónde se encuentra la zona de Barcelona?", "¿Cuántos días se puede solicitar permiso?")
    assert index.seen("¿Dónde se encuentra la zona de Valencia?", _unit(98))
    assert index.seen("¿Cuántas semanas se puede solicitar permiso?", _unit(97))


def test_a_near_copy_by_the_encoder_is_seen():
    index = _index("¿Quién aprueba los gastos de viaje?")
    close = _unit(0) + 0.05 * _unit(5)
    assert index.seen("¿Qué persona autoriza los viajes?", close / np.linalg.norm(close))


def test_different_questions_sharing_words_are_kept():
    index = _index("¿Cuántos días de vacaciones tengo al año?", "¿Quién firma el contrato?")
    assert not index.seen("¿Cuántos días puedo teletrabajar a la semana?", _unit(50))
    assert not index.seen("¿Quién paga la factura?", _unit(51))


def test_an_empty_index_sees_nothing():
    assert not NearDuplicates(cosine=0.92).seen("¿Cuándo cierra la oficina?", _unit(1))
