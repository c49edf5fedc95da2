"""Generation backends: one interface, two implementations.

- `local` (`sentra_inference.backends.local`): the embedded base model with PEFT LoRA
  adapters on the CPU, many adapters in one batch.
- `vllm` (`sentra_inference.backends.vllm`): vLLM OpenAI-compatible servers on GPU nodes,
  adapters loaded and unloaded at run time through vLLM's LoRA endpoints.
"""

from sentra_inference.backends.base import (
    AdapterLoadError,
    BackendUnavailable,
    GenerationBackend,
    GenerationChunk,
    GenerationRequest,
    LoadedAdapter,
    Message,
)

__all__ = [
    "AdapterLoadError",
    "BackendUnavailable",
    "GenerationBackend",
    "GenerationChunk",
    "GenerationRequest",
    "LoadedAdapter",
    "Message",
]
