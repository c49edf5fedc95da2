"""A PEFT adapter's files through `sentra_common.sealed.SealedFiles`.

With a key the adapter is written from memory (its config and weights serialised here,
sealed, then written) and read into memory (opened, then loaded into the model), so its
plaintext never reaches a disk. Without one it is PEFT's own `save_pretrained` and
`from_pretrained`, after a check that the directory is not sealed."""

from __future__ import annotations

import io
import json
from pathlib import Path

from sentra_common.sealed import SealedFiles

CONFIG = "adapter_config.json"
WEIGHTS = "adapter_model.safetensors"
FILES = (CONFIG, WEIGHTS)
PLAIN = SealedFiles(None)  # no key: files as they are


def adapter_bytes(model, adapter: str = "default") -> dict[str, bytes]:
    """The files `save_pretrained` writes for `adapter` (config and weights), as bytes."""
    from peft import get_peft_model_state_dict
    from safetensors.torch import save

    state = get_peft_model_state_dict(model, adapter_name=adapter)
    weights = save({k: v.detach().contiguous() for k, v in state.items()}, metadata={"format": "pt"})
    config = model.peft_config[adapter]
    mode, config.inference_mode = config.inference_mode, True  # as save_pretrained stores it
    try:
        values = config.to_dict()
    finally:
        config.inference_mode = mode
    values = {k: sorted(v) if isinstance(v, set) else v for k, v in values.items()}
    return {CONFIG: json.dumps(values, indent=2, sort_keys=True).encode(), WEIGHTS: weights}


def save(model, directory: Path, files: SealedFiles) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    if not files.sealing:
        model.save_pretrained(str(directory))
        return
    for name, data in adapter_bytes(model).items():
        files.write_bytes(directory / name, data)


def attach(model, data: dict[str, bytes], *, adapter_name: str = "default", is_trainable: bool = False):
    """`model` (a base model or a PeftModel) with the adapter whose files are `data`."""
    from peft import PeftConfig, PeftModel, set_peft_model_state_dict
    from safetensors.torch import load

    config = PeftConfig.from_peft_type(**json.loads(data[CONFIG]))
    config.inference_mode = not is_trainable
    if isinstance(model, PeftModel):
        model.add_adapter(adapter_name, config)
        if is_trainable:
            model.set_requires_grad(adapter_name)
    else:
        model = PeftModel(model, config, adapter_name=adapter_name)
    result = set_peft_model_state_dict(model, load(data[WEIGHTS]), adapter_name=adapter_name)
    missing = [k for k in result.missing_keys if "lora_" in k and f".{adapter_name}." in k]
    if missing:
        raise ValueError(f"the adapter's weights lack {len(missing)} of its tensors (e.g. {missing[0]})")
    if not is_trainable:
        model.eval()
    return model


def load(model, directory: Path, files: SealedFiles, *, adapter_name: str = "default", is_trainable: bool = False):
    """`model` with the adapter saved in `directory` (see `attach`)."""
    from peft import PeftModel

    if files.sealing:
        return attach(model, {name: files.read_bytes(directory / name) for name in FILES},
                      adapter_name=adapter_name, is_trainable=is_trainable)
    files.read_bytes(directory / CONFIG)  # a sealed directory without a key: refused, saying what to set
    if isinstance(model, PeftModel):
        model.load_adapter(str(directory), adapter_name=adapter_name, is_trainable=is_trainable)
        return model
    return PeftModel.from_pretrained(model, str(directory), adapter_name=adapter_name, is_trainable=is_trainable)


def torch_bytes(value) -> bytes:
    import torch

    buffer = io.BytesIO()
    torch.save(value, buffer)
    return buffer.getvalue()


def torch_value(data: bytes):
    import torch

    return torch.load(io.BytesIO(data), weights_only=True)
