"""GPT-2 checkpoints in Hugging Face's layout, loaded into ember's ``GPT``.

A checkpoint directory holds ``config.json`` and the weights, ``model.safetensors`` (or the
older ``pytorch_model.bin``, which ``ember.load`` reads). ``from_pretrained(dir)`` does the
three steps, each usable alone:

1. ``config_from_hf(config)``: the ``GPTConfig`` that computes what GPT-2 computes: the tanh
   approximation of GELU, the file's LayerNorm epsilon, its context length as ``block_size``
   and its choice of tying the output head to the token embedding. Options ember's GPT does
   not have (another MLP width, cross-attention, per-layer attention scaling) are refused.
2. ``from_hf_state_dict(state, config)``: the tensors under ember's names. The mapping:

   ===================================================  =========================================
   Hugging Face                                         ember
   ===================================================  =========================================
   ``[transformer.]wte/wpe/ln_f.*``                     ``transformer.wte/wpe/ln_f.*``
   ``[transformer.]h.N.ln_1/ln_2.*``, ``*.bias``        ``transformer.h.N.ln_1/ln_2.*``, ``*.bias``
   ``[transformer.]h.N.{attn,mlp}.c_*.weight`` (in,out)  the same name, transposed to (out, in)
   ``[transformer.]h.N.attn.bias``, ``.masked_bias``    dropped (old files' causal-mask buffers)
   ``lm_head.weight``                                   ``lm_head.weight`` (the embedding if tied)
   ===================================================  =========================================

   GPT-2's ``Conv1D`` layers keep their weight as (in, out) and compute ``x @ W``, where
   ``nn.Linear`` keeps (out, in) and computes ``x @ W.T``; hence the transpose.
3. ``GPT(config).load_state_dict(...)``, strict, so a name that did not map is an error.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ember.models.gpt import GPT, GPTConfig
from ember.nn.module import _state_tensor
from ember.tensor import Tensor

__all__ = ["config_from_hf", "from_hf_state_dict", "from_pretrained", "is_hf_checkpoint"]

_GELU = {"gelu_new": "tanh", "gelu_pytorch_tanh": "tanh", "gelu": "none"}
_CONV1D = re.compile(r"h\.\d+\.(attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)\.weight")
_MASK = re.compile(r"h\.\d+\.attn\.(masked_)?bias")
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def config_from_hf(config: Mapping[str, Any]) -> GPTConfig:
    """The ``GPTConfig`` matching a GPT-2 ``config.json`` (as a dict)."""

    def refuse(what: str) -> ValueError:
        return ValueError(f"gpt2: {what}, which ember's GPT does not support")

    kind = config.get("model_type", "gpt2")
    if kind != "gpt2":
        raise refuse(f"the checkpoint is a {kind!r} model, not 'gpt2'")
    activation = config.get("activation_function", "gelu_new")
    if activation not in _GELU:
        raise refuse(f"the MLP uses {activation!r} (expected one of {sorted(_GELU)})")
    n_embd = config["n_embd"]
    if config.get("n_inner") not in (None, 4 * n_embd):
        raise refuse(f"the MLP is {config['n_inner']} wide, not 4 * n_embd = {4 * n_embd}")
    if config.get("add_cross_attention"):
        raise refuse("the blocks have cross-attention")
    if config.get("scale_attn_by_inverse_layer_idx") or not config.get("scale_attn_weights", 1):
        raise refuse("the attention scores are not scaled by 1/sqrt(head size) alone")
    return GPTConfig(
        vocab_size=config["vocab_size"],
        block_size=config.get("n_positions", config.get("n_ctx", 1024)),
        n_layer=config["n_layer"],
        n_head=config["n_head"],
        n_embd=n_embd,
        dropout=config.get("resid_pdrop", 0.0),
        bias=True,
        gelu_approximate=_GELU[activation],
        layer_norm_eps=config.get("layer_norm_epsilon", 1e-5),
        tie_weights=config.get("tie_word_embeddings", True),
    )


def from_hf_state_dict(state: Mapping[str, Any], config: GPTConfig) -> dict[str, Tensor]:
    """GPT-2 tensors named and shaped as ember's ``GPT(config)`` expects (see the module
    docstring for the mapping). Values may be ember Tensors, NumPy arrays or torch tensors."""
    out: dict[str, Tensor] = {}
    for key, value in state.items():
        tensor = _state_tensor(value)
        if tensor is None:
            raise TypeError(f"gpt2: {key!r} holds a {type(value).__name__}, not a tensor")
        name = key.removeprefix("transformer.")
        if _MASK.fullmatch(name):
            continue
        if _CONV1D.fullmatch(name):
            tensor = tensor.t().contiguous()
        out[name if name.startswith("lm_head.") else "transformer." + name] = tensor
    if config.tie_weights and "transformer.wte.weight" in out:
        out["lm_head.weight"] = out["transformer.wte.weight"]
    return out


def is_hf_checkpoint(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a directory with a ``config.json`` and GPT-2 weights."""
    p = Path(path)
    return (p / "config.json").is_file() and any((p / w).is_file() for w in WEIGHT_FILES)


def _read_weights(directory: Path) -> dict[str, Any]:
    from ember.io import load_file
    from ember.serialization import load

    if (directory / WEIGHT_FILES[0]).is_file():
        return load_file(directory / WEIGHT_FILES[0])
    if (directory / WEIGHT_FILES[1]).is_file():
        return load(directory / WEIGHT_FILES[1], map_location="cpu")
    raise FileNotFoundError(
        f"gpt2: {directory} holds none of {', '.join(WEIGHT_FILES)}\n"
        "hint: sharded checkpoints (*.index.json) are not read; save the model as one file"
    )


def from_pretrained(path: str | os.PathLike, device: Any = None) -> GPT:
    """ember's ``GPT`` holding the GPT-2 checkpoint in directory ``path``, in eval mode."""
    directory = Path(path)
    config_file = directory / "config.json"
    if not config_file.is_file():
        raise FileNotFoundError(f"gpt2: no config.json in {directory}")
    config = config_from_hf(json.loads(config_file.read_text(encoding="utf-8")))
    model = GPT(config, gpt2_init=False)
    model.load_state_dict(from_hf_state_dict(_read_weights(directory), config))
    return model.to(device).eval() if device is not None else model.eval()
