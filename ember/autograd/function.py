"""Custom differentiable operations: subclass ``Function`` with ``forward`` and ``backward``."""

from __future__ import annotations

from typing import Any

from ember.autograd.grad_mode import STATE
from ember.ops import core

__all__ = ["Function", "FunctionCtx"]


class FunctionCtx:
    """The ``ctx`` passed to a custom Function: save tensors and flags for backward."""

    def __init__(self) -> None:
        self.saved_tensors: tuple = ()
        self.needs_input_grad: tuple = ()
        self._versions: tuple = ()
        self.non_differentiable: tuple = ()

    def save_for_backward(self, *tensors: Any) -> None:
        """Keep ``tensors`` for backward (checked against later in-place modification)."""
        self.saved_tensors = tensors
        self._versions = tuple(t._vc[0] if t is not None else None for t in tensors)

    def mark_non_differentiable(self, *tensors: Any) -> None:
        self.non_differentiable = tensors


class _FunctionPrim:
    """Adapter that lets the engine run a custom Function's backward like a primitive's vjp.

    ``backward`` returns one gradient per forward argument; ``positions`` picks the entries of
    the tensor arguments, which are the node's inputs.
    """

    uses_out = False

    def __init__(self, fn_cls: type, ctx: FunctionCtx, positions: list[int]) -> None:
        self.fn_cls, self.ctx, self.positions = fn_cls, ctx, positions
        self.name = fn_cls.__name__

    def vjp(self, g: Any, *inputs: Any, out: Any) -> tuple:
        ctx = self.ctx
        for t, v in zip(ctx.saved_tensors, ctx._versions):
            if t is not None and t._vc[0] != v:
                raise RuntimeError(
                    f"{self.name}.backward: a tensor saved with save_for_backward was modified "
                    "by an inplace operation\nhint: clone() it before modifying it"
                )
        grads = self.fn_cls.backward(ctx, g)
        if not isinstance(grads, tuple):
            grads = (grads,)
        if len(grads) <= max(self.positions, default=-1):
            raise RuntimeError(
                f"{self.name}.backward: returned {len(grads)} gradients, expected one per "
                f"forward argument ({len(ctx.needs_input_grad)})"
            )
        return tuple(grads[p] for p in self.positions)


class Function:
    """Base class for custom autograd operations (PyTorch's ``torch.autograd.Function``).

    >>> class Square(Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x * x
    ...     @staticmethod
    ...     def backward(ctx, g):
    ...         (x,) = ctx.saved_tensors
    ...         return 2 * x * g
    """

    @staticmethod
    def forward(ctx: FunctionCtx, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("Function subclasses must implement forward(ctx, ...)")

    @staticmethod
    def backward(ctx: FunctionCtx, *grads: Any) -> Any:
        raise NotImplementedError("Function subclasses must implement backward(ctx, grad)")

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        """Run ``forward`` without recording, then attach a node that calls ``backward``."""
        from ember.autograd.node import Node

        T = core._Tensor
        ctx = FunctionCtx()
        tensor_args = [a for a in args if isinstance(a, T)]
        ctx.needs_input_grad = tuple(isinstance(a, T) and a.requires_grad for a in args)
        prev = STATE.grad_enabled
        STATE.grad_enabled = False
        try:
            out = cls.forward(ctx, *args, **kwargs)
        finally:
            STATE.grad_enabled = prev
        if not isinstance(out, T):
            raise TypeError(
                f"{cls.__name__}.forward must return a single Tensor, got {type(out).__name__}"
            )
        if prev and any(t.requires_grad for t in tensor_args) and out.is_floating_point():
            out = out.detach() if out.requires_grad else out
            if any(out is t for t in tensor_args):
                out = out.detach()
            # grads come back per positional argument; keep only tensors' entries
            positions = [i for i, a in enumerate(args) if isinstance(a, T)]
            prim = _FunctionPrim(cls, ctx, positions)
            out.node = Node(prim, tuple(tensor_args), {}, ())
            out.requires_grad = True
        return out
