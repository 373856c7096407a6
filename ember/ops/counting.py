"""Counting: histc, histogram, bincount, unique and unique_consecutive.

Their kernels count on the backend (NumPy or CuPy). Like PyTorch, none has a derivative: the
floating-point results of histogram, bincount and unique take part in autograd and raise when
a gradient is asked of them; histc's do not.
"""

from __future__ import annotations

import math
from collections import namedtuple
from typing import Any

from ember.ops import core
from ember.ops.core import OPAQUE, Aval, Primitive, apply, normalize_dim
from ember.ops.index import core_data_dependent
from ember.ops.special import no_derivative

__all__ = [
    "histc",
    "histogram",
    "bincount",
    "unique",
    "unique_consecutive",
    "CountingMethods",
]

histogram_result = namedtuple("histogram", ["hist", "bin_edges"])  # torch.return_types


class HistogramEdges(Primitive):
    """``bins + 1`` equally spaced edges from ``low`` to ``high`` (the data's range where they
    are None, widened by ``pad`` on each side when it is a single value)."""

    kind = OPAQUE
    differentiable = False

    @staticmethod
    def infer(x: Aval, *, bins: int, low: Any, high: Any, pad: float, op: str) -> Aval:
        return Aval((bins + 1,), x.dtype)

    @staticmethod
    def forward(xp, x, *, bins, low, high, pad, op):
        if low is None:
            low, high = (float(x.min()), float(x.max())) if x.size else (0.0, 1.0)
            if not (math.isfinite(low) and math.isfinite(high)):
                raise RuntimeError(f"{op}: range of [{low}, {high}] is not finite")
            if low == high:
                low, high = low - pad, high + pad
        return xp.linspace(low, high, bins + 1).astype(x.dtype)


class HistogramCounts(Primitive):
    """How many elements (or how much weight) fall in each bin between the edges; the last
    bin includes its right edge; optionally normalised to a density."""

    kind = OPAQUE

    @staticmethod
    def infer(x: Aval, edges: Aval, *weight: Aval, density: bool) -> Aval:
        return Aval((edges.shape[0] - 1,), x.dtype)

    @staticmethod
    def forward(xp, x, edges, *weight, density):
        w = weight[0].reshape(-1) if weight else None
        counts, _ = xp.histogram(x.reshape(-1), bins=edges, weights=w, density=density)
        return counts.astype(x.dtype)

    @staticmethod
    def vjp(g, *inputs, out, density):
        return tuple(no_derivative("histogram", name) for name in ("input", "bins", "weight"))[
            : len(inputs)
        ]


def _float_input(op: str, input: Any) -> Any:
    if not isinstance(input, core._Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(input).__name__}")
    if not input.dtype.is_floating_point:
        raise TypeError(f"{op}: expected a floating point tensor, got {input.dtype.name}")
    return input


def _check_bins(op: str, bins: int) -> int:
    if isinstance(bins, bool) or not isinstance(bins, int) or bins <= 0:
        raise ValueError(f"{op}: bins must be a positive int, got {bins!r}")
    return bins


def histc(input: Any, bins: int = 100, min: float = 0, max: float = 0) -> Any:  # noqa: A002
    """Counts of ``input``'s elements in ``bins`` equal bins from ``min`` to ``max`` (the
    data's range when both are 0); elements outside are not counted."""
    x = _float_input("histc", input).detach()
    _check_bins("histc", bins)
    if min > max:
        raise RuntimeError("histc: max must be larger than min")
    low, high = (None, None) if min == max == 0 else (float(min), float(max))
    if low is not None and low == high:
        low, high = low - 1.0, high + 1.0
    edges = apply(HistogramEdges, x, bins=bins, low=low, high=high, pad=1.0, op="histc")
    return apply(HistogramCounts, x, edges, density=False)


def histogram(
    input: Any,
    bins: Any,
    *,
    range: tuple[float, float] | None = None,  # noqa: A002
    weight: Any = None,
    density: bool = False,
) -> Any:
    """(hist, bin_edges): counts (or the sum of ``weight``) of ``input``'s elements in
    ``bins`` equal bins over ``range`` (the data's by default), or between the edges of a
    1-D ``bins`` tensor; ``density`` normalises the histogram to integrate to 1."""
    x = _float_input("histogram", input)
    if isinstance(bins, core._Tensor):
        if bins.ndim != 1 or bins.numel() < 2:
            raise ValueError("histogram: bins must be a 1-D tensor of at least two edges")
        edges = bins.to(x.dtype).detach()
    else:
        _check_bins("histogram", bins)
        low, high = (None, None) if range is None else (float(range[0]), float(range[1]))
        if low is not None and low > high:
            raise ValueError(f"histogram: range must have min <= max, got {range}")
        edges = apply(
            HistogramEdges, x.detach(), bins=bins, low=low, high=high, pad=0.5, op="histogram"
        )
    operands = [x, edges]
    if weight is not None:
        if not isinstance(weight, core._Tensor) or tuple(weight.shape) != tuple(x.shape):
            raise ValueError("histogram: weight must be a tensor of the input's shape")
        operands.append(weight.to(x.dtype))
    return histogram_result(apply(HistogramCounts, *operands, density=bool(density)), edges)


class BinCount(Primitive):
    """How often each value 0, 1, … max occurs in a 1-D integer tensor (or the sum of the
    weights at its occurrences)."""

    kind = OPAQUE

    @staticmethod
    def infer(x: Aval, *weights: Aval, minlength: int) -> Aval:
        raise core_data_dependent("bincount")

    @staticmethod
    def forward(xp, x, *weights, minlength):
        if not weights:
            return xp.bincount(x, minlength=minlength).astype(xp.int64)
        w = weights[0]
        dtype = w.dtype if w.dtype.kind == "f" else xp.float64
        return xp.bincount(x, weights=w, minlength=minlength).astype(dtype)

    @staticmethod
    def vjp(g, x, *weights, out, minlength):
        return (None, no_derivative("bincount", "weights"))[: 1 + len(weights)]


def bincount(input: Any, weights: Any = None, minlength: int = 0) -> Any:
    """Counts of each value of the 1-D non-negative integer ``input`` (at least
    ``minlength`` of them), or sums of ``weights`` (float64 for integer weights)."""
    if (
        not isinstance(input, core._Tensor)
        or input.ndim != 1
        or input._data.dtype.kind not in "iu"
        or bool((input < 0).any())
    ):
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if minlength < 0:
        raise RuntimeError(f"bincount: minlength should be >= 0, got {minlength}")
    if weights is None:
        return apply(BinCount, input, minlength=int(minlength))
    if not isinstance(weights, core._Tensor) or tuple(weights.shape) != tuple(input.shape):
        raise RuntimeError("weights should be 1-d and have the same length as input")
    return apply(BinCount, input, weights, minlength=int(minlength))


class Unique(Primitive):
    """One ``part`` of the unique values of ``x`` (along ``dim``, or of all elements):
    ``values``, the ``inverse`` indices that rebuild ``x`` from them, or their ``counts``;
    with ``consecutive``, only runs of equal neighbours are merged."""

    kind = OPAQUE

    @staticmethod
    def infer(x: Aval, *, dim: Any, consecutive: bool, part: str) -> Aval:
        raise core_data_dependent("unique")

    @staticmethod
    def forward(xp, x, *, dim, consecutive, part):
        rows = x.reshape(-1) if dim is None else xp.moveaxis(x, dim, 0)
        flat = rows.reshape(rows.shape[0], -1)
        if consecutive:
            starts = xp.ones(flat.shape[0], dtype=bool)
            starts[1:] = (flat[1:] != flat[:-1]).any(axis=1)
            first = xp.flatnonzero(starts)
            values = rows[first]
            inverse = xp.cumsum(starts) - 1
            counts = xp.diff(xp.append(first, flat.shape[0]))
        else:
            _, first, inverse, counts = xp.unique(
                flat, axis=0, return_index=True, return_inverse=True, return_counts=True
            )
            values = rows[first]
        if part == "values":
            return values if dim is None else xp.moveaxis(values, 0, dim)
        if part == "counts":
            return counts.astype(xp.int64)
        inverse = inverse.reshape(-1).astype(xp.int64)
        return inverse.reshape(x.shape) if dim is None else inverse

    @staticmethod
    def vjp(g, x, *, out, dim, consecutive, part):
        return (no_derivative("unique", "input"),)


def _unique(
    op: str, input: Any, return_inverse: bool, return_counts: bool, dim: Any, consecutive: bool
) -> Any:
    if not isinstance(input, core._Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(input).__name__}")
    if dim is not None:
        dim = normalize_dim(dim, input.ndim, op)
    x = input if input.ndim or dim is not None else input.reshape(1)
    parts = ["values"] + ["inverse"] * bool(return_inverse) + ["counts"] * bool(return_counts)
    out = [apply(Unique, x, dim=dim, consecutive=consecutive, part=part) for part in parts]
    if return_inverse and not input.ndim:
        out[1] = out[1].reshape(())
    return out[0] if len(out) == 1 else tuple(out)


def unique(
    input: Any,
    sorted: bool = True,  # noqa: A002
    return_inverse: bool = False,
    return_counts: bool = False,
    dim: int | None = None,
) -> Any:
    """The distinct values of ``input`` (or its distinct slices along ``dim``), in ascending
    order; with the indices that rebuild ``input`` and/or the count of each. Ascending order
    is always given, as PyTorch's CPU kernels give it whatever ``sorted`` says."""
    if not isinstance(sorted, bool):
        raise TypeError(f"unique: sorted must be a bool, got {type(sorted).__name__}")
    return _unique("unique", input, return_inverse, return_counts, dim, consecutive=False)


def unique_consecutive(
    input: Any, return_inverse: bool = False, return_counts: bool = False, dim: int | None = None
) -> Any:
    """``input`` with each run of equal neighbours (elements, or slices along ``dim``) merged
    into one; with the indices that rebuild ``input`` and/or the length of each run."""
    return _unique(
        "unique_consecutive", input, return_inverse, return_counts, dim, consecutive=True
    )


class CountingMethods:
    """Tensor methods of the counting ops."""

    __slots__ = ()
    histc = histc
    histogram = histogram
    bincount = bincount
    unique = unique
    unique_consecutive = unique_consecutive
