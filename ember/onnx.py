"""``torch.onnx`` placeholder: ember cannot export ONNX yet (it comes with its own issue).
``export`` raises; ``is_in_onnx_export()`` answers False, since no export ever runs."""

from __future__ import annotations

from ember._unavailable import placeholder

__all__ = ["export", "is_in_onnx_export"]

export = placeholder("ember.onnx.export", "ember has no ONNX exporter")


def is_in_onnx_export() -> bool:
    """False: ember never traces a model for ONNX export (models branch on this)."""
    return False
