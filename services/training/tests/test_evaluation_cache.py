"""The regression set: the base model's perplexity on it computed once per model and set, and
how much of it is measured (a setting)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
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


def test_the_regression_set_or_its_first_paragraphs():
    whole = evaluate.regression_set()
    assert len(whole) == 30 and len({e.prompt for e in whole}) == 30
    assert evaluate.regression_set(4) == whole[:4]


def test_the_setting_is_bounded_by_the_shipped_set():
    from pydantic import ValidationError
    from sentra_training.config import PromotionSettings

    assert PromotionSettings(regression_texts=4).regression_texts == 4
    for bad in (0, 31):
        with pytest.raises(ValidationError, match="regression_texts"):
            PromotionSettings(regression_texts=bad)


async def test_an_on_demand_evaluation_measures_the_configured_paragraphs(tmp_path, monkeypatch):
    from sentra_training.adapters.evaluator import ProcessEvaluator

    seen: list[tuple[str, ...]] = []
    real_exec = asyncio.create_subprocess_exec

    async def recording_exec(*argv, **kwargs):  # the evaluation process, as the evaluator sees it
        seen.append(argv)
        Path(argv[argv.index("--out") + 1]).write_text(json.dumps({"candidate": {}}))
        return await real_exec("true", **kwargs)

    monkeypatch.setattr(asyncio, "create_subprocess_exec", recording_exec)
    evaluator = ProcessEvaluator(tmp_path / "base", regression_texts=4, work_dir=tmp_path)
    assert await evaluator.evaluate(tmp_path / "adapter", b"{}\n", None) == {"candidate": {}}
    (argv,) = seen
    assert argv[argv.index("--regression-texts") + 1] == "4"
