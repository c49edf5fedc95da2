"""The interface every generation backend implements.

An adapter is known to a backend by its *key*, `name@version` (`legal@3`): the registry
decides which keys should be loaded (`sentra_inference.domain.registry`), the backend
loads, unloads and serves them. A request names one key or none (the base model).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from sentra_common.errors import FailedPrecondition, Unavailable


class AdapterLoadError(FailedPrecondition):
    """The adapter could not be loaded (missing, unreadable, or made for another base
    model); what was serving before keeps serving."""


class BackendUnavailable(Unavailable):
    """The generation backend cannot be reached or failed; retry later."""


@dataclass(frozen=True)
class Message:
    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True)
class GenerationRequest:
    """Either `messages` (rendered with the model's chat template) or a raw `prompt`."""

    messages: tuple[Message, ...] = ()
    prompt: str = ""
    # Adapter key `name@version`; empty: the base model.
    adapter: str = ""
    max_tokens: int = 128
    # 0: greedy decoding.
    temperature: float = 0.0
    stop: tuple[str, ...] = ()


@dataclass(frozen=True)
class GenerationChunk:
    """A piece of streamed text; the last chunk of a stream has `finish_reason` set
    ("stop" or "length") and the number of generated tokens."""

    text: str = ""
    finish_reason: str = ""
    completion_tokens: int = 0
    prompt_tokens: int = 0


@dataclass(frozen=True)
class LoadedAdapter:
    key: str
    path: str
    extra: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class GenerationBackend(Protocol):
    #: Identifier of the base model (`gemma-3-270m`); adapters must be made for it.
    base_model: str

    async def start(self) -> None:
        """Load the model or connect; raises BackendUnavailable when it cannot."""

    async def close(self) -> None: ...

    def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        """Stream the completion; raises AdapterLoadError if `request.adapter` is not loaded."""

    async def load_adapter(self, key: str, path: str) -> None:
        """Load the adapter at `path` under `key` (idempotent); AdapterLoadError on failure,
        in which case nothing that was loaded before changes."""

    async def unload_adapter(self, key: str) -> None:
        """Unload `key` (idempotent)."""

    async def loaded_adapters(self) -> set[str]:
        """Keys loaded now (on every replica, for a backend with several)."""

    async def reconcile(self, desired: dict[str, str]) -> None:
        """Make the loaded set equal `desired` (key → path): load what is missing and
        unload what is no longer wanted, on every replica."""
