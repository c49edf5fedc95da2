"""The inference domain's ports: what it needs from the outside, implemented in
`sentra_inference.adapters` and wired in `app.py`.

- `GenerationBackend`: every generation backend (local, vLLM). An adapter is known to a
  backend by its *key*, `name@version` (`legal@3`): the registry decides which keys should
  be loaded (`sentra_inference.domain.registry`), the backend loads, unloads and serves
  them. A request names one key or none (the base model).
- `RegistryStore`: where the adapter registry's records live (SQL in
  `adapters.registry_store`), with the records themselves.
- `ArtifactStore`: where adapter files live, one directory per department
  (`adapters.artifacts`): it confines an artifact to its department and checks that its
  files are still the ones registered.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
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


# Adapter states in the registry.
REGISTERED = "registered"
ACTIVE = "active"
INACTIVE = "inactive"
FAILED = "failed"


@dataclass
class AdapterRecord:
    name: str
    version: int
    department: str
    base_model: str
    # The artifact's directory relative to its department's adapter root (`v3`).
    artifact_uri: str
    metrics: dict[str, float] = field(default_factory=dict)
    state: str = REGISTERED
    error: str = ""
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    created_by: str = ""
    # `sha256:…` of the artifact's files when it was registered; it must match at load.
    artifact_digest: str = ""

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"


@dataclass
class AliasRecord:
    """`alias` → `alias@version`; an alias is named after its adapter."""

    alias: str
    department: str
    version: int
    active: bool
    history: list[int] = field(default_factory=list)
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    updated_by: str = ""

    @property
    def key(self) -> str:
        return f"{self.alias}@{self.version}"

    @property
    def previous_version(self) -> int:
        return self.history[-2] if len(self.history) >= 2 else 0


class RegistryStore(Protocol):
    """The adapter registry's records, durable."""

    async def snapshot(self) -> tuple[list[AdapterRecord], list[AliasRecord]]:
        """Every adapter (by name and version) and every alias (by name)."""

    async def next_version(self, name: str) -> int:
        """The version a new adapter called `name` gets (1 for the first)."""

    async def add_adapter(self, record: AdapterRecord) -> None: ...

    async def set_state(self, name: str, version: int, state: str, error: str = "") -> None: ...

    async def save_alias(self, alias: AliasRecord, states: dict[int, str]) -> None:
        """Write the alias and its adapters' states (version → state) in one transaction."""


@dataclass(frozen=True)
class Artifact:
    """An adapter's files as registered: a directory relative to the department's adapter
    root, and the digest of its files."""

    path: str
    digest: str


class ArtifactStore(Protocol):
    """Adapter files, one directory per department. Messages never contain host paths."""

    async def locate(self, department: str, given: str) -> Artifact:
        """The artifact `given` names (a path relative to the department's directory, or an
        absolute path or file:// URI inside it), resolved, confined to the department and
        digested; InvalidArgument when it is outside (the same message whether or not that
        path exists) or is not an adapter directory."""

    async def verify(self, department: str, artifact: str, digest: str) -> str:
        """The local path to load `artifact` from, after checking it is still inside the
        department's directory and its files still have `digest`; AdapterLoadError if not."""

    def hide_paths(self, text: str) -> str:
        """`text` (a backend's error) with the adapter root's host path replaced."""

    async def model_card(self, department: str, artifact: str) -> str:
        """The `model_card.json` in the artifact's directory (confined to the department's
        directory like everything else), or "" when there is none."""
