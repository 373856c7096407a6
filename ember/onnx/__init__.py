"""``torch.onnx`` for ember: ``export`` a model to an ONNX file from ``ember.jit``'s graph.

``builder`` holds the ONNX graph under construction, ``lowerings`` the mapping from each
ember primitive to ONNX ops, ``exporter`` the tracing and the file. The ``onnx`` package is an
optional dependency (``pip install 'ember[onnx]'``), imported when ``export`` runs.
"""

from __future__ import annotations

from ember.onnx.builder import ExportError
from ember.onnx.exporter import export, is_in_onnx_export

__all__ = ["export", "is_in_onnx_export", "ExportError"]
