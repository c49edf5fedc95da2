"""The domain's `TrainingCore` port on the LoRA core (`sentra_training.lora`): its
hyper-parameter model and its JSONL reader, the same checks the job's run applies."""

from __future__ import annotations

import json

from sentra_training.lora.config import parse_config
from sentra_training.lora.data import DatasetError, parse_jsonl, parse_line


def parse_example(raw: str, line: int) -> tuple[str, str]:
    """(question, answer) of one imported JSONL line, or ValueError naming the line."""
    example = parse_line(raw, line)
    return example.prompt, example.answer


class LoraCore:
    def settings(self, values: dict) -> dict:
        return json.loads(parse_config(values).model_dump_json())

    def count_examples(self, data: bytes, max_examples: int) -> int:
        try:
            return len(parse_jsonl(data, max_examples=max_examples))
        except DatasetError as exc:
            raise ValueError(str(exc)) from None
