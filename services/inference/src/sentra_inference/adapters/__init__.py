"""What implements the inference domain's ports (`sentra_inference.domain.ports`):

- generation backends: `local` (the embedded base model with PEFT LoRA adapters on the
  CPU, many adapters in one batch) and `vllm` (vLLM OpenAI-compatible servers on GPU
  nodes, adapters loaded and unloaded at run time through vLLM's LoRA endpoints) and
  `llamacpp` (a supervised llama-server on this machine, GGUF LoRA adapters selected per
  request) — the two flavours of the OpenAI-compatible engine, sharing vLLM's HTTP client;
- `reader`: the learned answer reader on the CPU;
- `registry_store`: the adapter registry in SQL (SQLite or PostgreSQL);
- `retrieval_client`: searches the retrieval service as the caller.

`app.py` builds them; the domain never imports this package.
"""
