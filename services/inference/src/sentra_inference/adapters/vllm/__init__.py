"""Generation on vLLM OpenAI-compatible servers, LoRA adapters loaded at run time.

In three parts: `replicas` (which vLLM pods there are and which answered lately),
`client` (vLLM's HTTP API and its SSE stream), `reconciler` (the wanted adapters applied
to every replica, again and again); `backend.VllmBackend` puts them together behind the
domain's `GenerationBackend` port.

vLLM API used (docs.vllm.ai, "LoRA Adapters" and "OpenAI-Compatible Server"):

- `POST /v1/chat/completions` / `POST /v1/completions` with `stream: true` and
  `stream_options: {"include_usage": true}`: SSE `data: {json}` lines, `data: [DONE]` last;
  the usage arrives in a last chunk with `choices: []`. `model` is the served base model
  or the name of a loaded LoRA adapter; an unknown name answers 404
  "The model `x` does not exist.".
- `POST /v1/load_lora_adapter` `{"lora_name", "lora_path"}` and
  `POST /v1/unload_lora_adapter` `{"lora_name"}`; they exist only when vLLM runs with
  `--enable-lora` and `VLLM_ALLOW_RUNTIME_LORA_UPDATING=True`. Loading a loaded name
  answers 400 "... has already been loaded"; unloading an unknown one 404.
- `GET /v1/models`: the base model (`parent` null) and each LoRA adapter (`parent` = the
  base model, `root` = its path).
- Errors: `{"object": "error", "message", ...}` (vLLM up to 0.9) or
  `{"error": {"message", ...}}` (later); both are read. A refused adapter is 400/404, or
  500 InternalServerError in newer vLLM (404 only for "No adapter found").

vLLM keeps adapters in memory: a restarted pod has forgotten them. The backend keeps the
*desired* set (key → path) and a background task re-applies it to every replica every
`reconcile_interval_seconds`; a request that meets a forgetful replica first heals that
replica and retries once. Until `reconcile()` has been called once, the backend only
adds adapters and never unloads what it did not load itself, so a restart of this service
does not strip adapters from running replicas before the registry has spoken.

Replicas are static `urls` and/or every A record of `dns_name` (a Kubernetes headless
Service), resolved again at each reconcile pass so that new pods are found.
"""

from sentra_inference.adapters.vllm.backend import VllmBackend
from sentra_inference.adapters.vllm.client import error_of as _error_of
from sentra_inference.adapters.vllm.reconciler import ReconcileReport
from sentra_inference.adapters.vllm.replicas import resolve_a_records

__all__ = ["ReconcileReport", "VllmBackend", "_error_of", "resolve_a_records"]
