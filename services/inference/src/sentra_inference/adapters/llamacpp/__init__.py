"""Generation on llama.cpp's server (`llama-server`) on this machine's CPU: the shipped
Gemma GGUF, LoRA adapters converted to GGUF and selected per request, continuous batching
across requests.

It is the second flavour of the OpenAI-compatible engine: the HTTP/SSE client and request
body are vLLM's (`adapters.vllm.client`); what differs is that Sentra supervises the server
process itself (`server`) and converts adapters for it (`convert`), and that an adapter is
selected with llama-server's per-request `lora` list instead of the `model` name
(`backend.LlamaCppBackend`).

llama-server API used: `GET /health` (200 once the model is loaded), `POST /v1/completions`
with `stream`, `stream_options.include_usage`, `prompt` as text or token ids and
`lora: [{"id", "scale"}]` (ids in the order of `--lora-scaled`).
"""

from sentra_inference.adapters.llamacpp.backend import LlamaCppBackend
from sentra_inference.adapters.llamacpp.convert import LoraConverter
from sentra_inference.adapters.llamacpp.server import ServerOptions, find_binary, shipped_model

__all__ = ["LlamaCppBackend", "LoraConverter", "ServerOptions", "find_binary", "shipped_model"]
