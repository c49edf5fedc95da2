"""The base model's regression perplexity is computed once per model and regression set."""

from __future__ import annotations

from sentra_training.lora import evaluate
from sentra_training.lora.data import Example


def counting(monkeypatch) -> list[int]:
    calls: list[int] = []

    def fake(model, tokenizer, regression):
        calls.append(len(regression))
        return 20.0 + len(calls)

    monkeypatch.setattr(evaluate, "regression_perplexity", fake)
    return calls


REGRESSION = [Example("Un párrafo general.", ""), Example("Otro párrafo.", "")]


def test_computed_once_then_read_back(tmp_path, monkeypatch):
    calls = counting(monkeypatch)
    (tmp_path / "model.safetensors").write_bytes(b"weights")
    assert evaluate.base_regression_perplexity(None, None, tmp_path, REGRESSION) == 21.0
    assert evaluate.base_regression_perplexity(None, None, tmp_path, REGRESSION) == 21.0
    assert calls == [2]


def test_another_model_or_set_computes_again(tmp_path, monkeypatch):
    calls = counting(monkeypatch)
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"weights")
    evaluate.base_regression_perplexity(None, None, tmp_path, REGRESSION)
    evaluate.base_regression_perplexity(None, None, tmp_path, REGRESSION[:1])  # another set
    weights.write_bytes(b"other weights")  # another model in the same place
    assert evaluate.base_regression_perplexity(None, None, tmp_path, REGRESSION) == 23.0
    assert calls == [2, 1, 2]


def test_a_damaged_cache_file_or_one_that_cannot_be_written_is_not_an_error(tmp_path, monkeypatch):
    calls = counting(monkeypatch)
    (tmp_path / "model.safetensors").write_bytes(b"weights")
    evaluate.base_regression_perplexity(None, None, tmp_path, REGRESSION)
    cache = next(tmp_path.glob(f"{evaluate.BASE_PERPLEXITY_CACHE}-*.json"))
    cache.write_text("{not json")
    assert evaluate.base_regression_perplexity(None, None, tmp_path, REGRESSION) == 22.0
    cache.unlink()
    cache.mkdir()  # a directory where the cache file would be: unreadable and unwritable, even for root
    assert evaluate.base_regression_perplexity(None, None, tmp_path, REGRESSION) == 23.0
    assert not any(p.is_file() for p in tmp_path.glob(f"{evaluate.BASE_PERPLEXITY_CACHE}*"))
    assert calls == [2, 2, 2]
