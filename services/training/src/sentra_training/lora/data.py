"""Training examples for a LoRA job: a JSONL file read, checked and tokenized.

Two line formats are accepted, one JSON object per line:
- chat: `{"messages": [{"role": "user", "content": "…"}, {"role": "assistant", "content": "…"}]}`
  (an optional leading "system" message; the last message is the assistant's answer);
- instruction: `{"instruction": "…", "output": "…"}` (optional `input`, appended to the
  instruction on a new line).

Every problem names its line and says what to fix; nothing is trained on a file with a
bad line. Examples are rendered with the prompt the platform's generative answers use
(Gemma's turn markers), and only the answer's tokens count in the loss.
"""

from __future__ import annotations

import io
import json
import random
from dataclasses import dataclass
from pathlib import Path

ROLES = ("system", "user", "assistant")
# General paragraphs (SQuAD-es, XQuAD removed; `regression_set` writes it) mixed into a
# job's examples so that an adapter keeps reading the language as the base model did.
GENERAL_TEXT_FILE = Path(__file__).parent / "general_text.jsonl"
# A general paragraph is cut to this many tokens: enough language, little cost.
GENERAL_TEXT_TOKENS = 96


class DatasetError(ValueError):
    """A training file that cannot be used, with the reason for the person who gave it."""


@dataclass(frozen=True)
class Example:
    prompt: str
    answer: str


def _text(value, line: int, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise DatasetError(f"line {line}: '{field}' must be a non-empty string")
    return value.strip()


def parse_line(raw: str, line: int) -> Example:
    try:
        record = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise DatasetError(f"line {line}: not valid JSON ({exc.msg}); each line must be one JSON object") from None
    if not isinstance(record, dict):
        raise DatasetError(f"line {line}: expected a JSON object with 'messages' or 'instruction' and 'output'")
    if "messages" in record:
        messages = record["messages"]
        if not isinstance(messages, list) or len(messages) < 2:
            raise DatasetError(f"line {line}: 'messages' must list at least a user and an assistant message")
        turns = []
        for i, message in enumerate(messages):
            if not isinstance(message, dict) or message.get("role") not in ROLES:
                raise DatasetError(f"line {line}: message {i + 1} needs a role of {', '.join(ROLES)}")
            turns.append((message["role"], _text(message.get("content"), line, f"messages[{i}].content")))
        if turns[-1][0] != "assistant":
            raise DatasetError(f"line {line}: the last message must be the assistant's answer")
        system = [content for role, content in turns[:-1] if role == "system"]
        users = [content for role, content in turns[:-1] if role == "user"]
        if not users:
            raise DatasetError(f"line {line}: 'messages' has no user message")
        prompt = "\n\n".join([*system, *users])
        return Example(prompt, turns[-1][1])
    if "instruction" in record or "output" in record:
        instruction = _text(record.get("instruction"), line, "instruction")
        extra = record.get("input")
        if extra is not None and not isinstance(extra, str):
            raise DatasetError(f"line {line}: 'input' must be a string")
        prompt = f"{instruction}\n{extra.strip()}" if extra and extra.strip() else instruction
        return Example(prompt, _text(record.get("output"), line, "output"))
    raise DatasetError(f"line {line}: expected 'messages', or 'instruction' and 'output'")


def read_jsonl(path: Path, *, max_examples: int = 100_000, max_line_chars: int = 100_000,
               files=None) -> list[Example]:
    """Every example of the file, or DatasetError naming the first bad line. With `files`
    (a `sentra_common.sealed.SealedFiles`) the file is read through it: a sealed file is
    opened in memory."""
    try:
        data = files.read_bytes(Path(path)) if files is not None else Path(path).read_bytes()
    except OSError as exc:
        raise DatasetError(f"cannot read the training file: {exc.strerror}") from None
    return parse_jsonl(data, max_examples=max_examples, max_line_chars=max_line_chars)


def parse_jsonl(data: bytes, *, max_examples: int = 100_000, max_line_chars: int = 100_000) -> list[Example]:
    """Every example of a JSONL file's bytes, or DatasetError naming the first bad line."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise DatasetError("the training file is not UTF-8 text") from None
    examples = []
    # universal newlines, as a file opened in text mode reads them
    for number, raw in enumerate(io.StringIO(text, newline=None), start=1):
        if not raw.strip():
            continue
        if len(raw) > max_line_chars:
            raise DatasetError(f"line {number}: longer than {max_line_chars} characters")
        examples.append(parse_line(raw, number))
        if len(examples) > max_examples:
            raise DatasetError(f"more than {max_examples} examples; split the file")
    if not examples:
        raise DatasetError("the training file has no examples")
    return examples


def render(example: Example) -> tuple[str, str]:
    """(prompt, completion) in Gemma's turn format, as the platform's answers are asked."""
    prompt = f"<start_of_turn>user\n{example.prompt}<end_of_turn>\n<start_of_turn>model\n"
    return prompt, f"{example.answer}<end_of_turn>"


def tokenize(examples: list[Example], tokenizer, max_seq_length: int) -> list[dict[str, list[int]]]:
    """input_ids and labels per example (prompt tokens masked with -100), cut to
    `max_seq_length`: a long prompt loses its middle (its first token and the end next
    to the answer stay), then a long answer its end."""
    rows = []
    for example in examples:
        prompt, completion = render(example)
        prompt_ids = tokenizer(prompt, add_special_tokens=True)["input_ids"]
        answer_ids = tokenizer(completion, add_special_tokens=False)["input_ids"]
        if len(prompt_ids) + len(answer_ids) > max_seq_length:
            # the first token (BOS) and the end of the prompt, next to the answer, are kept
            room = max(max_seq_length - len(answer_ids), max_seq_length // 2)
            prompt_ids = prompt_ids[:1] + prompt_ids[len(prompt_ids) - (room - 1):]
        ids = (prompt_ids + answer_ids)[:max_seq_length]
        labels = ([-100] * len(prompt_ids) + answer_ids)[:max_seq_length]
        rows.append({"input_ids": ids, "labels": labels})
    return rows


def general_rows(tokenizer, count: int, seed: int, max_tokens: int = GENERAL_TEXT_TOKENS,
                 epochs: int = 1) -> list[dict]:
    """`count` plain-text rows per epoch drawn (seeded) from the general paragraphs, each
    epoch's the next ones in that order (a paragraph comes back only when all were used:
    rehearsed text that repeats every epoch is memorised, and memorising it is forgetting
    too); every token is a label, as in pre-training, and each row says its `epoch`."""
    if count <= 0:
        return []
    texts = [json.loads(line)["text"] for line in GENERAL_TEXT_FILE.read_text(encoding="utf-8").splitlines()
             if line.strip()]
    order = list(range(len(texts)))
    random.Random(seed * 7919 + 17).shuffle(order)
    rows = []
    for i in range(count * epochs):
        ids = tokenizer(texts[order[i % len(order)]], add_special_tokens=True)["input_ids"][:max_tokens]
        rows.append({"input_ids": ids, "labels": list(ids), "epoch": i // count})
    return rows


def training_rows(examples: list[Example], tokenizer, config) -> list[dict]:
    """What a job trains on: its examples tokenized (every epoch), and
    `general_text_ratio` general paragraphs per example mixed into each epoch, fresh ones
    each epoch (a `LoraJobConfig`; `loop.batches` picks an epoch's rows)."""
    rows = tokenize(examples, tokenizer, config.max_seq_length)
    count = round(len(rows) * config.general_text_ratio)
    return rows + general_rows(tokenizer, count, config.seed, min(GENERAL_TEXT_TOKENS, config.max_seq_length),
                               epochs=config.epochs)
