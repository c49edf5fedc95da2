"""The embedded generation backend: the base model with PEFT LoRA adapters on the CPU.

Requests that arrive together are decoded together in one batch, each row with its own
adapter (PEFT's `adapter_names`; `__base__` for the base model), so many departments
share one copy of the base model. Tokens are streamed as they are decoded. A batch runs
until its last row stops; requests that arrive meanwhile form the next batch.

Everything that touches the model (decoding, loading and unloading adapters) runs on one
worker thread, so an adapter never changes under a running batch.

With a key (encryption at rest) an adapter's files are sealed: they are opened in memory
and the adapter is built from its config and weights there (`safetensors` from bytes), so
its plaintext never reaches a disk. A sealed adapter without the key, or with another
key, is refused with what to set.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from sentra_common.errors import InvalidArgument
from sentra_common.sealed import SealedError, SealedFiles

from sentra_inference.adapters.model_files import BASE_MODEL_ID
from sentra_inference.domain.ports import (
    AdapterLoadError,
    BackendUnavailable,
    GenerationChunk,
    GenerationRequest,
    Message,
)

logger = logging.getLogger(__name__)

BASE_ROW = "__base__"
# Gemma's turn markers; the base model stops at either of these tokens.
START_OF_TURN = "<start_of_turn>"
END_OF_TURN = "<end_of_turn>"


@dataclass
class _Job:
    """One request inside the worker: its tokens in, its text out (through `queue`)."""

    prompt_ids: list[int]
    adapter: str
    max_tokens: int
    temperature: float
    stop: tuple[str, ...]
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue
    cancelled: threading.Event = field(default_factory=threading.Event)
    generated: list[int] = field(default_factory=list)
    sent_chars: int = 0
    done: bool = False

    def put(self, chunk: GenerationChunk | BaseException) -> None:
        self.loop.call_soon_threadsafe(self.queue.put_nowait, chunk)


class LocalBackend:
    """transformers + PEFT on the CPU (or a GPU when torch sees one)."""

    def __init__(
        self, model_dir: Path, *, base_model: str = BASE_MODEL_ID, max_batch_size: int = 8,
        batch_wait_seconds: float = 0.01, max_prompt_tokens: int = 2048, torch_threads: int = 0,
        files: SealedFiles | None = None,
    ) -> None:
        self.model_dir = model_dir
        self.files = files or SealedFiles(None, "SENTRA_INFERENCE_ENCRYPTION_KEY_FILE")
        self.base_model = base_model
        self.max_batch_size = max_batch_size
        self.batch_wait_seconds = batch_wait_seconds
        self.max_prompt_tokens = max_prompt_tokens
        self.torch_threads = torch_threads
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sentra-generate")
        self._model = None  # the base model, or the PeftModel wrapping it once an adapter is loaded
        self._tokenizer = None
        self._stop_ids: set[int] = set()
        self._adapters: dict[str, str] = {}  # key → internal PEFT adapter name
        self._adapter_paths: dict[str, str] = {}
        self._counter = 0
        self._pending: asyncio.Queue[_Job] | None = None
        self._scheduler: asyncio.Task | None = None

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._load)
        self._pending = asyncio.Queue()
        self._scheduler = asyncio.create_task(self._schedule(), name="sentra-generate-scheduler")

    def _load(self) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if self.torch_threads:
            torch.set_num_threads(self.torch_threads)
        if not (self.model_dir / "config.json").exists():
            raise BackendUnavailable(
                f"no converted base model at {self.model_dir}; run "
                f"`python -m sentra_inference.adapters.model_files {self.model_dir}` or set "
                "SENTRA_INFERENCE_MODEL_DIR"
            )
        self._tokenizer = AutoTokenizer.from_pretrained(self.model_dir, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(self.model_dir, dtype=torch.float32, local_files_only=True)
        model.eval()
        self._model = model
        vocab = self._tokenizer.get_vocab()
        self._stop_ids = {i for i in (self._tokenizer.eos_token_id, vocab.get(END_OF_TURN)) if i is not None}
        logger.info("base model loaded", extra={"model": self.base_model, "path": str(self.model_dir)})

    async def close(self) -> None:
        if self._scheduler is not None:
            self._scheduler.cancel()
            await asyncio.gather(self._scheduler, return_exceptions=True)
        self._executor.shutdown(wait=True, cancel_futures=True)

    # -- adapters --------------------------------------------------------------------

    async def load_adapter(self, key: str, path: str) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._load_adapter, key, path)

    async def unload_adapter(self, key: str) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._unload_adapter, key)

    async def loaded_adapters(self) -> set[str]:
        return set(self._adapters)

    async def reconcile(self, desired: dict[str, str]) -> None:
        for key in set(self._adapters) - set(desired):
            await self.unload_adapter(key)
        for key, path in desired.items():
            if self._adapter_paths.get(key) != path:
                await self.unload_adapter(key)
                await self.load_adapter(key, path)

    def _load_adapter(self, key: str, path: str) -> None:
        if key in self._adapters and self._adapter_paths[key] == path:
            return
        directory = Path(path)
        try:
            opened = _adapter_files(key, directory, self.files)
        except SealedError as exc:
            raise AdapterLoadError(f"adapter {key}: {exc}") from None
        from peft import PeftModel

        self._counter += 1
        internal = f"a{self._counter}"
        try:
            if opened is not None:
                self._model = _attach(self._model, opened, internal)
            elif isinstance(self._model, PeftModel):
                self._model.load_adapter(str(directory), adapter_name=internal, is_trainable=False)
            else:
                self._model = PeftModel.from_pretrained(
                    self._model, str(directory), adapter_name=internal, is_trainable=False
                )
                self._model.eval()
        except Exception as exc:  # PEFT reports a wrong base model as shape or key errors
            self._discard_partial(internal)
            raise AdapterLoadError(
                f"adapter {key} does not fit the base model {self.base_model}: {_short(exc)}; "
                "train it on this base model and register it again"
            ) from None
        self._adapters[key] = internal
        self._adapter_paths[key] = path
        logger.info("adapter loaded", extra={"adapter": key})

    def _discard_partial(self, internal: str) -> None:
        from peft import PeftModel

        if isinstance(self._model, PeftModel) and internal in self._model.peft_config:
            try:
                self._model.delete_adapter(internal)
            except Exception:  # nothing more to clean
                logger.warning("could not remove a partly loaded adapter", exc_info=True)

    def _unload_adapter(self, key: str) -> None:
        internal = self._adapters.pop(key, None)
        self._adapter_paths.pop(key, None)
        if internal is None:
            return
        if len(self._model.peft_config) == 1:
            # PEFT cannot delete its last adapter; return to the plain base model.
            self._model = self._model.unload()
        else:
            self._model.delete_adapter(internal)
        logger.info("adapter unloaded", extra={"adapter": key})

    # -- generation ------------------------------------------------------------------

    async def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        if self._pending is None:
            raise BackendUnavailable("the local model is not loaded yet; retry in a few seconds")
        if request.adapter and request.adapter not in self._adapters:
            raise AdapterLoadError(f"adapter {request.adapter} is not loaded; activate it first")
        prompt_ids = self.encode(request)
        if len(prompt_ids) > self.max_prompt_tokens:
            raise InvalidArgument(
                f"the prompt has {len(prompt_ids)} tokens, more than the limit of {self.max_prompt_tokens}; "
                "shorten it or ask for fewer passages"
            )
        job = _Job(
            prompt_ids=prompt_ids, adapter=request.adapter, max_tokens=max(1, request.max_tokens),
            temperature=request.temperature, stop=request.stop, loop=asyncio.get_running_loop(),
            queue=asyncio.Queue(),
        )
        self._pending.put_nowait(job)
        try:
            while True:
                item = await job.queue.get()
                if isinstance(item, BaseException):
                    raise item
                yield item
                if item.finish_reason:
                    return
        finally:
            job.cancelled.set()

    def encode(self, request: GenerationRequest) -> list[int]:
        """Token ids of the prompt. Message text is tokenized with special tokens split, so
        text inside a message (a document, a question) can never open or close a turn."""
        if not request.messages:
            return self._tokenizer(request.prompt, add_special_tokens=True)["input_ids"]
        tok = self._tokenizer
        start, end = tok.convert_tokens_to_ids([START_OF_TURN, END_OF_TURN])
        newline = tok("\n", add_special_tokens=False)["input_ids"]

        def text(value: str) -> list[int]:
            return tok(value, add_special_tokens=False, split_special_tokens=True)["input_ids"]

        ids = [tok.bos_token_id]
        for role, content in _gemma_turns(request.messages):
            ids += [start, *text(f"{role}\n"), *text(content), end, *newline]
        ids += [start, *text("model\n")]
        return ids

    async def _schedule(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._pending.get()]
            # A short wait lets requests that arrive together share the batch.
            deadline = loop.time() + self.batch_wait_seconds
            while len(batch) < self.max_batch_size:
                remaining = deadline - loop.time()
                try:
                    batch.append(self._pending.get_nowait() if remaining <= 0 else
                                 await asyncio.wait_for(self._pending.get(), remaining))
                except (asyncio.QueueEmpty, TimeoutError):
                    break
            batch = [job for job in batch if not job.cancelled.is_set()]
            if not batch:
                continue
            try:
                await loop.run_in_executor(self._executor, self._decode, batch)
            except Exception as exc:
                logger.exception("generation failed")
                for job in batch:
                    if not job.done:
                        job.put(BackendUnavailable(f"generation failed: {_short(exc)}"))

    def _decode(self, jobs: list[_Job]) -> None:
        import torch

        missing = [job for job in jobs if job.adapter and job.adapter not in self._adapters]
        for job in missing:  # unloaded between admission and this batch
            job.done = True
            job.put(AdapterLoadError(f"adapter {job.adapter} was unloaded; ask again"))
        jobs = [job for job in jobs if not job.done]
        if not jobs:
            return
        pad = self._tokenizer.pad_token_id or 0
        width = max(len(job.prompt_ids) for job in jobs)
        input_ids = torch.tensor([[pad] * (width - len(j.prompt_ids)) + j.prompt_ids for j in jobs])
        mask = torch.tensor([[0] * (width - len(j.prompt_ids)) + [1] * len(j.prompt_ids) for j in jobs])
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        extra = {}
        if hasattr(self._model, "peft_config"):
            extra["adapter_names"] = [self._adapters[j.adapter] if j.adapter else BASE_ROW for j in jobs]
        past = None
        steps = max(job.max_tokens for job in jobs)
        with torch.inference_mode():
            for _ in range(steps):
                out = self._model(
                    input_ids=input_ids, attention_mask=mask, position_ids=positions,
                    past_key_values=past, use_cache=True, **extra,
                )
                past = out.past_key_values
                next_ids = self._pick(out.logits[:, -1, :], jobs)
                for row, job in enumerate(jobs):
                    if not job.done:
                        self._advance(job, int(next_ids[row]))
                if all(job.done for job in jobs):
                    return
                input_ids = next_ids.unsqueeze(-1)
                mask = torch.cat([mask, torch.ones((len(jobs), 1), dtype=mask.dtype)], dim=-1)
                positions = positions[:, -1:] + 1

    @staticmethod
    def _pick(logits, jobs: list[_Job]):
        import torch

        greedy = logits.argmax(dim=-1)
        for row, job in enumerate(jobs):
            if job.temperature > 0:
                probs = torch.softmax(logits[row] / job.temperature, dim=-1)
                greedy[row] = torch.multinomial(probs, 1)[0]
        return greedy

    def _advance(self, job: _Job, token: int) -> None:
        if job.cancelled.is_set():
            job.done = True
            return
        decode = self._tokenizer.decode
        if token in self._stop_ids:
            self._finish(job, "stop", decode(job.generated, skip_special_tokens=True))
            return
        job.generated.append(token)
        text = decode(job.generated, skip_special_tokens=True)
        for stop in job.stop:
            at = text.find(stop)
            if at >= 0:
                self._finish(job, "stop", text[:at])
                return
        if len(job.generated) >= job.max_tokens:
            self._finish(job, "length", text)
            return
        # Hold back an incomplete character and what could be the start of a stop string.
        hold = max((len(s) - 1 for s in job.stop), default=0)
        safe = len(text) - hold - (1 if text.endswith("\ufffd") else 0)
        self._emit(job, text[:safe])

    def _emit(self, job: _Job, text: str) -> None:
        if len(text) > job.sent_chars:
            job.put(GenerationChunk(text=text[job.sent_chars:]))
            job.sent_chars = len(text)

    def _finish(self, job: _Job, reason: str, text: str) -> None:
        self._emit(job, text)
        job.done = True
        job.put(GenerationChunk(
            finish_reason=reason, completion_tokens=len(job.generated), prompt_tokens=len(job.prompt_ids),
        ))


def _gemma_turns(messages: tuple[Message, ...]) -> list[tuple[str, str]]:
    """Gemma has `user` and `model` turns only: system text opens the first user turn."""
    system = "\n\n".join(m.content for m in messages if m.role == "system")
    turns: list[tuple[str, str]] = []
    for message in messages:
        if message.role == "system":
            continue
        role = "model" if message.role == "assistant" else "user"
        content = message.content
        if system and role == "user" and not any(r == "user" for r, _ in turns):
            content = f"{system}\n\n{content}"
        turns.append((role, content))
    if system and not turns:
        turns.append(("user", system))
    return turns


def _adapter_files(key: str, directory: Path, files: SealedFiles) -> dict[str, bytes] | None:
    """Check the artifact is a LoRA adapter; with a key, its files opened in memory (None:
    plain files PEFT reads itself). SealedError for a sealed file without the right key."""
    config = directory / "adapter_config.json"
    if not config.is_file():
        raise AdapterLoadError(
            f"adapter {key}: no adapter_config.json in its artifact; the artifact is missing or is not a "
            "PEFT adapter directory"
        )
    try:
        config_bytes = files.read_bytes(config)
        peft_type = json.loads(config_bytes).get("peft_type", "")
    except (OSError, ValueError) as exc:
        raise AdapterLoadError(f"adapter {key}: unreadable adapter_config.json ({exc})") from None
    if peft_type != "LORA":
        raise AdapterLoadError(f"adapter {key} is a {peft_type or 'unknown'} adapter; Sentra serves LoRA adapters")
    weights = directory / "adapter_model.safetensors"
    if not files.sealing:
        if not any((directory / name).is_file() for name in ("adapter_model.safetensors", "adapter_model.bin")):
            raise AdapterLoadError(f"adapter {key}: no adapter weights (adapter_model.safetensors) in its artifact")
        if weights.is_file():
            files.read_bytes(weights)  # a sealed file without the key: refused here, saying what to set
        return None
    if not weights.is_file():
        raise AdapterLoadError(f"adapter {key}: no adapter weights (adapter_model.safetensors) in its artifact")
    return {"adapter_config.json": config_bytes, "adapter_model.safetensors": files.read_bytes(weights)}


def _attach(model, opened: dict[str, bytes], name: str):
    """`model` (the base model or the PeftModel on it) with the adapter `name` built from
    its files' bytes, as PEFT's `load_adapter` would from a directory."""
    from peft import PeftConfig, PeftModel, set_peft_model_state_dict
    from safetensors.torch import load

    config = PeftConfig.from_peft_type(**json.loads(opened["adapter_config.json"]))
    config.inference_mode = True
    if isinstance(model, PeftModel):
        model.add_adapter(name, config)  # a failure from here on: the caller deletes `name`
        peft = model
    else:
        peft = PeftModel(model, config, adapter_name=name)
    try:
        result = set_peft_model_state_dict(peft, load(opened["adapter_model.safetensors"]), adapter_name=name)
        missing = [k for k in result.missing_keys if "lora_" in k and f".{name}." in k]
        if missing:
            raise ValueError(f"its weights lack {len(missing)} of the tensors its config names")
    except Exception:
        if peft is not model:
            peft.unload()  # the base model as it was
        raise
    peft.eval()
    return peft


def _short(exc: BaseException) -> str:
    return re.sub(r"\s+", " ", str(exc))[:300] or type(exc).__name__
