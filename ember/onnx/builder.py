"""The ONNX graph under construction: node and initializer bookkeeping, and dynamic shapes.

``Lowering`` is what each primitive's lowering (``ember.onnx.lowerings``) writes into: it
names the jit graph's values, adds ONNX nodes and initializers, and turns the static shapes
that ember's graph holds (reshape targets, constants) into shape tensors. A shape that depends
on a dynamic axis is known from a second trace at another size of that axis: a dimension that
differs between the two traces is a multiple of a dynamic input axis, read at run time with
``Shape``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ember.jit.graph import Graph, Node

__all__ = ["ExportError", "DynamicAxis", "Lowering"]


class ExportError(RuntimeError):
    """A model that ``ember.onnx.export`` cannot express in ONNX (the message says why)."""


class DynamicAxis:
    """Axis ``axis`` of graph input ``input``: ``size`` in the traced call, ``alt`` in the
    second trace."""

    def __init__(self, input: str, axis: int, size: int, alt: int) -> None:
        self.input, self.axis, self.size, self.alt = input, axis, size, alt


class Lowering:
    """Names, nodes and initializers of the ONNX graph built from one jit ``Graph``."""

    def __init__(
        self,
        onnx: Any,
        graph: Graph,
        opset: int,
        alt_shapes: dict[int, tuple[int, ...]],
        axes: list[DynamicAxis],
    ) -> None:
        self.onnx, self.graph, self.opset = onnx, graph, opset
        self.alt_shapes, self.axes = alt_shapes, axes
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.names: dict[int, str] = {}
        self.producers: dict[int, Node] = {n.out: n for n in graph.nodes}
        self._count = 0
        self._cached: dict[Any, str] = {}

    # -- values --------------------------------------------------------------------------------
    def name(self, vid: int) -> str:
        """The ONNX name of jit value ``vid`` (lowered before its consumers)."""
        if vid not in self.names:
            node = self.producers.get(vid)
            what = node.prim.name if node else f"value %{vid}"
            raise ExportError(f"ember.onnx.export: {what} has no ONNX form here")
        return self.names[vid]

    def shapes(self, vid: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(shape in the traced call, shape in the second trace) of value ``vid``."""
        shape = tuple(self.graph.avals[vid].shape)
        return shape, tuple(self.alt_shapes.get(vid, shape))

    def dtype(self, vid: int) -> np.dtype:
        return self.graph.avals[vid].dtype.np

    def fresh(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    # -- emitting ------------------------------------------------------------------------------
    def op(self, op_type: str, inputs: Sequence[str], outputs: int = 1, **attrs: Any) -> Any:
        """Add an ONNX node; its output name (or list of names when ``outputs`` > 1)."""
        names = [self.fresh(op_type.lower()) for _ in range(outputs)]
        node = self.onnx.helper.make_node(op_type, list(inputs), names, **attrs)
        self.nodes.append(node)
        return names[0] if outputs == 1 else names

    def constant(self, array: Any, hint: str = "const") -> str:
        """An initializer holding ``array`` (small ones are shared)."""
        array = np.asarray(array)
        key = (array.dtype.str, array.shape, array.tobytes()) if array.size <= 64 else None
        if key is not None and key in self._cached:
            return self._cached[key]
        name = self.fresh(hint)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        if key is not None:
            self._cached[key] = name
        return name

    def ints(self, values: Sequence[int]) -> str:
        """A 1-D int64 initializer."""
        return self.constant(np.asarray(values, dtype=np.int64), "ints")

    def cast(self, name: str, source: np.dtype, target: np.dtype) -> str:
        """``name`` cast from ``source`` to ``target`` (unchanged when they are equal)."""
        if np.dtype(source) == np.dtype(target):
            return name
        to = self.onnx.helper.np_dtype_to_tensor_dtype(np.dtype(target))
        return self.op("Cast", [name], to=to)

    def reduce(self, op_type: str, name: str, axes: Sequence[int], keepdims: bool) -> str:
        """A Reduce* node: axes are an input from opset 18 (ReduceSum: 13), else an attribute."""
        if op_type == "ReduceSum" or self.opset >= 18:
            return self.op(op_type, [name, self.ints(axes)], keepdims=int(keepdims))
        return self.op(op_type, [name], axes=list(axes), keepdims=int(keepdims))

    # -- shapes that may depend on a dynamic axis ----------------------------------------------
    def dim(self, size: int, alt: int) -> str | None:
        """A 1-D tensor holding a dimension that is ``size`` traced and ``alt`` in the second
        trace: a multiple of a dynamic input axis read with ``Shape``; None when none fits."""
        for axis in self.axes:
            if size % axis.size == 0 and size // axis.size * axis.alt == alt:
                key = ("dim", axis.input, axis.axis)
                if key not in self._cached:
                    self._cached[key] = self.op(
                        "Shape", [axis.input], start=axis.axis, end=axis.axis + 1
                    )
                factor = size // axis.size
                read = self._cached[key]
                return read if factor == 1 else self.op("Mul", [read, self.ints([factor])])
        return None

    def shape_tensor(
        self, shape: Sequence[int], alt: Sequence[int], what: str, infer_one: bool = False
    ) -> str:
        """A 1-D int64 tensor of ``shape``, its dynamic dimensions read at run time.

        ``infer_one`` (a Reshape target) lets one dimension that no dynamic axis explains be
        -1, for Reshape to infer.
        """
        differ = [i for i, (a, b) in enumerate(zip(shape, alt)) if a != b]
        if not differ or (infer_one and len(differ) == 1):
            return self.ints([-1 if i in differ else n for i, n in enumerate(shape)])
        parts: list[str] = []
        inferred = False
        for size, other in zip(shape, alt):
            if size == other:
                parts.append(self.ints([size]))
                continue
            read = self.dim(size, other)
            if read is None and infer_one and not inferred:
                read, inferred = self.ints([-1]), True
            if read is None:
                raise ExportError(
                    f"ember.onnx.export: {what}: dimension {size} depends on the dynamic axes "
                    "in a way ONNX shape arithmetic here does not express (a product of two "
                    "dynamic axes?)\nhint: mark fewer axes dynamic"
                )
            parts.append(read)
        return self.op("Concat", parts, axis=0)
