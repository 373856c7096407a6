"""``ember export CHECKPOINT --onnx model.onnx``: an ``ember train`` checkpoint as ONNX.

The model is rebuilt from the run config inside the checkpoint (as ``ember eval`` and
``ember sample`` do) and exported with a dynamic batch axis: classifiers take images
(B, 1, 28, 28), language models token ids (B, T) and give logits, and the VAE and the
autoencoder export their decoder (latent codes (B, latent) to images).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import ember
from ember import models, nn
from ember.argtypes import positive_int
from ember.onnx.exporter import DEFAULT_OPSET, export
from ember.train import checkpoint

__all__ = ["export_checkpoint", "add_arguments", "run"]

_DECODERS = ("vae", "autoencoder")


class _Decoder(nn.Module):
    """A generative model's ``decode`` as the module to export."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, z: Any) -> Any:
        return self.model.decode(z)


def _read(path: Path) -> dict[str, Any]:
    """The checkpoint at ``path`` (a file or an ``ember train`` run directory), with clear
    errors for a missing file and for a file ember did not write."""
    if path.is_dir():
        path = path / "checkpoint.safetensors"
    if not path.is_file():
        raise FileNotFoundError(f"export: no checkpoint at {path}")
    try:
        ckpt = checkpoint.read(path)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same answer
        raise ValueError(f"export: {path} is not an ember checkpoint ({exc})") from None
    if not (ckpt["extra"] or {}).get("config"):
        raise ValueError(f"export: {path} was not written by `ember train` (no run config inside)")
    return ckpt


def _model_and_input(cfg: dict[str, Any], batch: int) -> tuple[nn.Module, Any, list[str]]:
    """The module to export, an example input and the (input, output) names."""
    kwargs = cfg.get("model_kwargs", {})
    if "tokenizer_state" in cfg:  # a language model: token ids in, logits out
        net = models.create(cfg["registry"], **kwargs)
        tokens = ember.zeros(batch, net.config.block_size, dtype=ember.int64)
        return net, tokens, ["tokens", "logits"]
    name = cfg.get("model")
    if name in _DECODERS:
        net = models.create(name, **kwargs)
        return _Decoder(net), ember.zeros(batch, net.config.latent_dim), ["z", "images"]
    if name in ("mlp", "cnn", "resnet"):
        return models.create(name, **kwargs), ember.zeros(batch, 1, 28, 28), ["images", "logits"]
    raise ValueError(
        f"export: {name} checkpoints are not exported: classifiers (mlp, cnn, resnet), language "
        f"models (gpt, lstm) and the decoders of {' and '.join(_DECODERS)} are"
    )


def export_checkpoint(
    path: str | Path, out: str | Path, *, batch: int = 2, opset: int = DEFAULT_OPSET
) -> Path:
    """Export the model of an ``ember train`` checkpoint to the ONNX file ``out``."""
    ckpt = _read(Path(path))
    net, example, (input_name, output_name) = _model_and_input(ckpt["extra"]["config"], batch)
    state = net.model if isinstance(net, _Decoder) else net
    state.load_state_dict(ckpt["model"])
    axes = {input_name: {0: "batch"}, output_name: {0: "batch"}}
    export(
        net.eval(),
        (example,),
        out,
        input_names=[input_name],
        output_names=[output_name],
        dynamic_axes=axes,
        opset_version=opset,
    )
    return Path(out)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="an `ember train` checkpoint (or its run directory)")
    parser.add_argument("--onnx", required=True, metavar="FILE", help="the ONNX file to write")
    parser.add_argument("--opset", type=positive_int, default=DEFAULT_OPSET, help="ONNX opset")
    parser.add_argument(
        "--batch", type=positive_int, default=2, help="batch size traced (the axis stays dynamic)"
    )


def run(args: argparse.Namespace) -> int:
    out = export_checkpoint(args.checkpoint, args.onnx, batch=args.batch, opset=args.opset)
    print(f"wrote {out}")
    return 0
