"""The one place where the API's enum values get their names, and the streamed-text rule."""

import pytest
from sentra.inference.v1 import inference_pb2
from sentra.ingestion.v1 import ingestion_pb2
from sentra_common.api_names import (
    DOCUMENT_STATE_NAMES,
    DOCUMENT_STATES,
    STRATEGIES,
    STRATEGY_NAMES,
    strategy_value,
    streamed_remainder,
)


def test_every_strategy_and_document_state_has_a_name_both_ways():
    assert STRATEGIES == {"extractive": inference_pb2.ANSWER_STRATEGY_EXTRACTIVE,
                          "generative": inference_pb2.ANSWER_STRATEGY_GENERATIVE,
                          "reader": inference_pb2.ANSWER_STRATEGY_READER}
    assert {STRATEGY_NAMES[v] for v in STRATEGIES.values()} == set(STRATEGIES)
    assert DOCUMENT_STATES["INDEXED"] == ingestion_pb2.DOCUMENT_STATE_INDEXED
    assert set(DOCUMENT_STATE_NAMES.values()) == {"PROCESSING", "INDEXED", "FAILED"}


def test_strategy_names_are_read_in_any_case_and_unknown_ones_say_what_exists():
    assert strategy_value("Reader") == inference_pb2.ANSWER_STRATEGY_READER
    assert strategy_value("") == inference_pb2.ANSWER_STRATEGY_UNSPECIFIED
    with pytest.raises(ValueError, match="use one of"):
        strategy_value("creative")


def test_the_final_reply_adds_only_what_was_not_streamed():
    assert streamed_remainder("El plazo es", "El plazo es de 30 días.") == " de 30 días."
    assert streamed_remainder("", "Todo.") == "Todo."
    assert streamed_remainder("Otra cosa", "El plazo es de 30 días.") == ""
