"""Checkpoints: model, optimizer, scheduler, RNG state and epoch in ONE safetensors file.

Tensors (parameters, buffers, optimizer moments, the RNG state) are stored as safetensors
entries; the non-tensor parts (hyperparameters, step counts, scheduler fields) are a JSON
skeleton in ``__metadata__`` whose ``{"__tensor__": name}`` leaves point at the entries.
Nothing is pickled, and the file is written atomically (temp file + fsync + rename), so a
crash mid-write leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from ember.io import safetensors
from ember.random import get_rng_state, set_rng_state
from ember.tensor import Tensor

__all__ = ["save", "load", "read", "restore", "FORMAT"]

FORMAT = "ember-checkpoint-1"


def _encode(obj: Any, prefix: str, tensors: dict[str, Any]) -> Any:
    """A JSON-able skeleton of ``obj``; tensors/arrays go to ``tensors`` under ``prefix`` paths."""
    if isinstance(obj, (Tensor, np.ndarray)):
        tensors[prefix] = obj
        return {"__tensor__": prefix, "numpy": isinstance(obj, np.ndarray)}
    if isinstance(obj, dict):
        return {"__dict__": [[k, _encode(v, f"{prefix}.{k}", tensors)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        items = [_encode(v, f"{prefix}.{i}", tensors) for i, v in enumerate(obj)]
        return {"__tuple__": items} if isinstance(obj, tuple) else items
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(
        f"checkpoint: cannot save a {type(obj).__name__} at {prefix!r}: only tensors, numbers, "
        "strings, None, lists, tuples and dicts are stored (never pickle)"
    )


def _decode(node: Any, tensors: dict[str, np.ndarray]) -> Any:
    if isinstance(node, list):
        return [_decode(v, tensors) for v in node]
    if isinstance(node, dict):
        if "__tensor__" in node:
            arr = tensors[node["__tensor__"]]
            return arr if node.get("numpy") else Tensor._wrap(arr)
        if "__tuple__" in node:
            return tuple(_decode(v, tensors) for v in node["__tuple__"])
        return {k: _decode(v, tensors) for k, v in node["__dict__"]}
    return node


def save(
    path: str | os.PathLike,
    model: Any = None,
    optimizer: Any = None,
    scheduler: Any = None,
    epoch: int = 0,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write a checkpoint atomically; ``extra`` is any JSON-able dict (config, history …)."""
    tensors: dict[str, Any] = {}
    meta = {"format": FORMAT, "epoch": str(int(epoch))}
    parts = {
        "model": model.state_dict() if model is not None else None,
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "extra": extra,
    }
    for name, value in parts.items():
        if value is not None:
            meta[name] = json.dumps(_encode(value, name, tensors))
    meta["rng"] = json.dumps(_encode(get_rng_state(), "rng", tensors))
    safetensors.save_file(tensors, path, metadata=meta)


def read(path: str | os.PathLike) -> dict[str, Any]:
    """Everything in a checkpoint as plain objects: model/optimizer/scheduler states, extra…"""
    arrays = safetensors.load_file(path, numpy=True)
    meta = safetensors.load_metadata(path)
    if meta.get("format") != FORMAT:
        raise ValueError(
            f"checkpoint: {os.fspath(path)} is not an ember checkpoint: "
            f"format {meta.get('format')!r} vs {FORMAT!r}"
        )
    out: dict[str, Any] = {"epoch": int(meta["epoch"])}
    for name in ("model", "optimizer", "scheduler", "extra", "rng"):
        out[name] = _decode(json.loads(meta[name]), arrays) if name in meta else None
    return out


def load(
    path: str | os.PathLike,
    model: Any = None,
    optimizer: Any = None,
    scheduler: Any = None,
    restore_rng: bool = True,
) -> dict[str, Any]:
    """Restore the given objects (and the global RNG) from ``path``; return the checkpoint."""
    return restore(read(path), model, optimizer, scheduler, restore_rng, where=os.fspath(path))


def restore(
    ckpt: dict[str, Any],
    model: Any = None,
    optimizer: Any = None,
    scheduler: Any = None,
    restore_rng: bool = True,
    where: str = "the checkpoint",
) -> dict[str, Any]:
    """``load`` from a checkpoint already ``read`` (a distributed run reads it on rank 0 and
    hands it to the other ranks, which may not see the file)."""
    for name, target in (("model", model), ("optimizer", optimizer), ("scheduler", scheduler)):
        if target is None:
            continue
        if ckpt[name] is None:
            raise ValueError(f"checkpoint: {where} holds no {name} state")
        target.load_state_dict(ckpt[name])
    if restore_rng and ckpt["rng"] is not None:
        set_rng_state(ckpt["rng"])
    return ckpt
