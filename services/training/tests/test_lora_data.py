"""Training files and hyper-parameters: both JSONL formats read, every bad line named with
what to fix, bad settings refused with their bounds, and the loss counting only answers."""

from __future__ import annotations

import json

import pytest
from sentra_training.lora.config import LoraJobConfig, parse_config
from sentra_training.lora.data import (
    GENERAL_TEXT_FILE,
    DatasetError,
    Example,
    read_jsonl,
    render,
    tokenize,
    training_rows,
)
from sentra_training.lora.loop import batches, total_steps


def write(tmp_path, lines) -> object:
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n")
    return path


def test_both_formats_are_read(tmp_path):
    path = write(tmp_path, [
        {"messages": [{"role": "system", "content": "Responde en español."},
                      {"role": "user", "content": "¿Cuántos días de teletrabajo?"},
                      {"role": "assistant", "content": "Dos por semana."}]},
        "",
        {"instruction": "Resume la política", "input": "Teletrabajo: 2 días.", "output": "Dos días."},
    ])
    assert read_jsonl(path) == [
        Example("Responde en español.\n\n¿Cuántos días de teletrabajo?", "Dos por semana."),
        Example("Resume la política\nTeletrabajo: 2 días.", "Dos días."),
    ]


@pytest.mark.parametrize(("line", "reason"), [
    ("{not json", "line 2: not valid JSON"),
    ('["a"]', "line 2: expected a JSON object"),
    ({"messages": [{"role": "user", "content": "q"}]}, "line 2: 'messages' must list at least"),
    ({"messages": [{"role": "user", "content": "q"}, {"role": "user", "content": "a"}]},
     "line 2: the last message must be the assistant's answer"),
    ({"messages": [{"role": "boss", "content": "q"}, {"role": "assistant", "content": "a"}]},
     "line 2: message 1 needs a role"),
    ({"instruction": "q", "output": ""}, "line 2: 'output' must be a non-empty string"),
    ({"question": "q", "answer": "a"}, "line 2: expected 'messages', or 'instruction' and 'output'"),
])
def test_a_bad_line_is_named_with_what_to_fix(tmp_path, line, reason):
    path = write(tmp_path, [{"instruction": "q", "output": "a"}, line])
    with pytest.raises(DatasetError, match=reason.replace("(", r"\(").replace("[", r"\[")):
        read_jsonl(path)


def test_empty_or_unreadable_files_say_so(tmp_path):
    with pytest.raises(DatasetError, match="no examples"):
        read_jsonl(write(tmp_path, [""]))
    (tmp_path / "latin1.jsonl").write_bytes('{"instruction": "años", "output": "sí"}'.encode("latin-1"))
    with pytest.raises(DatasetError, match="not UTF-8"):
        read_jsonl(tmp_path / "latin1.jsonl")
    with pytest.raises(DatasetError, match="cannot read"):
        read_jsonl(tmp_path / "missing.jsonl")


def test_bad_settings_are_refused_with_their_bounds():
    assert parse_config({}) == LoraJobConfig()
    with pytest.raises(ValueError, match=r"learning_rate: Input should be greater than 0.*rank: Input should be less"):
        parse_config({"learning_rate": 0, "rank": 1000})
    with pytest.raises(ValueError, match="epochs"):
        parse_config({"epochs": "many"})
    with pytest.raises(ValueError, match="unknown: Extra inputs are not permitted"):
        parse_config({"unknown": 1})


class _Tokenizer:
    """One token per character: enough to check masking and cutting."""

    def __call__(self, text, add_special_tokens=True):
        return {"input_ids": ([1] if add_special_tokens else []) + [ord(c) for c in text]}


def test_only_the_answer_counts_in_the_loss_and_long_examples_keep_their_answer():
    prompt, completion = render(Example("¿Días?", "Dos."))
    assert prompt.endswith("<start_of_turn>model\n") and completion == "Dos.<end_of_turn>"
    row = tokenize([Example("¿Días?", "Dos.")], _Tokenizer(), 512)[0]
    answer = len(completion)
    assert row["labels"][-answer:] == row["input_ids"][-answer:]
    assert set(row["labels"][:-answer]) == {-100}
    long = tokenize([Example("x" * 1000, "Dos.")], _Tokenizer(), 128)[0]
    assert len(long["input_ids"]) == 128 and long["input_ids"][0] == 1
    assert long["labels"][-len(completion):] == [ord(c) for c in completion]


def test_general_paragraphs_are_mixed_in_as_plain_text_and_none_of_them_is_measured():
    examples = [Example(f"¿Días {i}?", "Dos.") for i in range(10)]
    config = LoraJobConfig(max_seq_length=64, epochs=3, batch_size=5)
    rows = training_rows(examples, _Tokenizer(), config)
    assert len(rows) == 10 + 3 * 5  # the default: half a general paragraph per example, each epoch
    general = rows[10:]
    assert all(r["labels"] == r["input_ids"] and len(r["input_ids"]) <= 64 for r in general)
    # Each epoch gets its own paragraphs (none repeats while unused ones are left).
    per_epoch = [[r for r in general if r["epoch"] == e] for e in range(3)]
    assert [len(e) for e in per_epoch] == [5, 5, 5] and len({tuple(r["input_ids"]) for r in general}) == 15
    for epoch in range(3):
        seen = [r for batch in batches(rows, config, epoch) for r in batch]
        assert len(seen) == 15 and {id(r) for r in seen if "epoch" in r} == {id(r) for r in per_epoch[epoch]}
    assert total_steps(rows, config) == 9
    assert training_rows(examples, _Tokenizer(), LoraJobConfig(max_seq_length=64, seed=3))[10:] != general[:5]
    assert len(training_rows(examples, _Tokenizer(), LoraJobConfig(general_text_ratio=0))) == 10
    # None of them is a paragraph of the regression set the promotion gate measures.
    texts = {json.loads(line)["text"] for line in GENERAL_TEXT_FILE.read_text().splitlines()}
    from sentra_training.lora.evaluate import REGRESSION_FILE
    regression = [json.loads(line)["instruction"].split("\n\nPregunta: ")[0]
                  for line in REGRESSION_FILE.read_text().splitlines()]
    assert len(texts) > 200 and not texts & set(regression)
    with pytest.raises(ValueError, match="general_text_ratio"):
        parse_config({"general_text_ratio": -1})


def test_batches_follow_the_seed_and_split_between_workers():
    rows = [{"input_ids": [i], "labels": [i]} for i in range(10)]
    config = LoraJobConfig(batch_size=3, epochs=2, seed=5)
    first = batches(rows, config, 0)
    assert first == batches(rows, config, 0) and first != batches(rows, config, 1)
    assert sorted(r["input_ids"][0] for b in first for r in b) == list(range(10))
    halves = [r["input_ids"][0] for w in (0, 1) for b in batches(rows, config, 0, w, 2) for r in b]
    assert sorted(halves) == list(range(10))
    assert total_steps(rows, config) == 8 and total_steps(rows, config.model_copy(update={"max_steps": 5})) == 5


def test_the_answer_only_loss_equals_the_models_own_loss_over_left_padded_rows():
    """`loop.answer_loss` projects only the answer positions onto the vocabulary; on a
    tiny random Gemma 3 it must give the mean loss the model computes row by row."""
    import torch
    from sentra_training.lora.loop import answer_loss, collate
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    torch.manual_seed(0)
    model = Gemma3ForCausalLM(Gemma3TextConfig(
        vocab_size=97, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=1, head_dim=16, max_position_embeddings=64)).eval()
    rows = [{"input_ids": [2, 5, 6, 7, 8, 9], "labels": [-100, -100, -100, 7, 8, 9]},
            {"input_ids": [2, 11, 12, 13], "labels": [-100, -100, 12, 13]},
            {"input_ids": [2, 20, 21, 22, 23, 24, 25, 26], "labels": [-100] * 7 + [26]}]
    ids, mask, labels, keep = collate(rows, pad_id=0)
    assert keep == 4 and ids[1, :4].tolist() == [0, 0, 0, 0]  # left-padded; the longest answer + 1
    with torch.no_grad():
        ours = answer_loss(model, ids, mask, labels, keep).item()
        total = count = 0
        for r in rows:
            n = sum(1 for label in r["labels"][1:] if label != -100)
            loss = model(input_ids=torch.tensor([r["input_ids"]]), labels=torch.tensor([r["labels"]])).loss.item()
            total, count = total + loss * n, count + n
    assert abs(ours - total / count) < 1e-4
