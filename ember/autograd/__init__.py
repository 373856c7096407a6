"""Eager autograd.

Flow: ``apply`` records a Node on each output that needs a gradient → ``backward()`` /
``grad()`` call ``engine.run_backward``, which walks the nodes in topological order running
each primitive's vjp (written in ember ops) → leaves accumulate ``.grad``.
"""

from __future__ import annotations

from typing import Any

from ember.autograd.anomaly import (
    detect_anomaly,
    is_anomaly_check_nan_enabled,
    is_anomaly_enabled,
    set_anomaly_enabled,
    set_detect_anomaly,
)
from ember.autograd.engine import run_backward
from ember.autograd.function import Function, FunctionCtx
from ember.autograd.grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from ember.autograd.gradcheck import gradcheck, gradgradcheck

__all__ = [
    "backward",
    "grad",
    "Function",
    "FunctionCtx",
    "gradcheck",
    "gradgradcheck",
    "no_grad",
    "enable_grad",
    "set_grad_enabled",
    "inference_mode",
    "is_grad_enabled",
    "is_inference_mode_enabled",
    "detect_anomaly",
    "set_detect_anomaly",
    "is_anomaly_enabled",
    "is_anomaly_check_nan_enabled",
    "set_anomaly_enabled",
]


def _as_list(x: Any) -> list:
    if x is None:
        return []
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _root_grads(op: str, outputs: list, grad_outputs: list) -> list:
    from ember.creation import ones_like

    if grad_outputs and len(grad_outputs) != len(outputs):
        raise ValueError(f"{op}: got {len(grad_outputs)} gradients for {len(outputs)} outputs")
    grads = []
    for i, out in enumerate(outputs):
        if not out.requires_grad:
            raise RuntimeError(
                f"{op}: element {i} of tensors does not require grad and does not have a "
                "grad_fn\nhint: make sure some input has requires_grad=True and that the "
                "computation did not run under no_grad()"
            )
        g = grad_outputs[i] if grad_outputs else None
        if g is None:
            if out.numel() != 1:
                raise RuntimeError(
                    f"{op}: grad can be implicitly created only for scalar outputs, got shape "
                    f"{tuple(out.shape)}\nhint: pass gradient= (a tensor of the output's "
                    "shape), or reduce the output first, e.g. out.sum().backward()"
                )
            g = ones_like(out)
        elif tuple(g.shape) != tuple(out.shape):
            raise ValueError(
                f"{op}: gradient has shape {tuple(g.shape)} but output {i} has "
                f"shape {tuple(out.shape)}"
            )
        elif g.dtype is not out.dtype:
            g = g.to(out.dtype)
        grads.append(g)
    return grads


def backward(
    tensors: Any,
    grad_tensors: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    inputs: Any = None,
) -> None:
    """Accumulate gradients of ``tensors`` into the ``.grad`` of the leaves (or ``inputs``)."""
    outputs = _as_list(tensors)
    grads = _root_grads("backward", outputs, _as_list(grad_tensors))
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is not None:
        targets = _as_list(inputs)
        results = run_backward(
            outputs, grads, retain_graph=retain_graph, create_graph=create_graph, capture=targets
        )
        from ember.autograd.engine import _store_grad

        handed: set[int] = set()
        for t, g in zip(targets, results or []):
            if g is not None:
                _store_grad(t, g, create_graph, handed)
        return
    run_backward(outputs, grads, retain_graph=retain_graph, create_graph=create_graph)


def grad(
    outputs: Any,
    inputs: Any,
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
    materialize_grads: bool = False,
) -> tuple:
    """The gradients of ``outputs`` with respect to ``inputs``, without touching ``.grad``."""
    outs = _as_list(outputs)
    ins = _as_list(inputs)
    for i, t in enumerate(ins):
        if not t.requires_grad:
            raise RuntimeError(
                f"grad: input {i} does not require grad\nhint: set "
                "requires_grad=True on the tensors you differentiate against"
            )
    grads = _root_grads("grad", outs, _as_list(grad_outputs))
    if retain_graph is None:
        retain_graph = create_graph
    results = (
        run_backward(outs, grads, retain_graph=retain_graph, create_graph=create_graph, capture=ins)
        or []
    )
    final = []
    for i, (t, g) in enumerate(zip(ins, results)):
        if g is None:
            if materialize_grads:
                from ember.creation import zeros_like

                g = zeros_like(t)
            elif not allow_unused:
                raise RuntimeError(
                    f"grad: one of the differentiated Tensors (input {i}) appears to not have "
                    "been used in the graph\nhint: set allow_unused=True if this is intended"
                )
        elif not create_graph:
            g = g.detach()
        final.append(g)
    return tuple(final)
