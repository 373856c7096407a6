"""Reducing scatters and flat writes: ``scatter_reduce`` (sum, prod, mean, amax, amin, with or
without the values already there), ``index_reduce`` (the same by whole slices), ``put`` and the
method form of ``index_put``.

One primitive, ``ScatterReduce``, does the reducing; its backward follows PyTorch's: a mean
shares the gradient among the contributors, amax/amin among those equal to the result, and a
product sends each factor the product of the others (exact with zeros among them).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ember.ops.core import Aval, Primitive, apply, normalize_dim
from ember.ops.elementwise import _inplace_method, where
from ember.ops.index import (
    _along_index,
    _check_along,
    _check_index_tensor,
    _scatter_infer,
    gather,
    index_put,
    pad_to,
    scatter_add,
)

__all__ = ["scatter_reduce", "index_reduce", "put", "ScatterExtraMethods"]

_UFUNCS = {"sum": "add", "mean": "add", "prod": "multiply", "amax": "maximum", "amin": "minimum"}


def _identity(reduce: str, dtype: Any) -> Any:
    """The value that leaves ``reduce`` unchanged, in ``dtype``."""
    if reduce in ("sum", "mean"):
        return 0
    if reduce == "prod":
        return 1
    if dtype.kind == "f":
        return -np.inf if reduce == "amax" else np.inf
    if dtype.kind == "b":
        return reduce == "amin"
    info = np.iinfo(dtype)
    return info.min if reduce == "amax" else info.max


class ScatterReduce(Primitive):
    """A copy of ``x`` where each ``src`` element is reduced into the entry ``index`` picks
    along ``dim`` (the entry's own value joins when ``include_self``)."""

    check_eagerly = True

    @staticmethod
    def infer(
        x: Aval, index: Aval, src: Aval, *, dim: int, reduce: str, include_self: bool
    ) -> Aval:  # type: ignore[override]
        return _scatter_infer("scatter_reduce", x, index, src, dim)

    @staticmethod
    def forward(xp, x, index, src, *, dim, reduce, include_self):
        _check_along(index, x.shape[dim], dim)
        at = _along_index(xp, x.shape, index, dim)
        src = src[tuple(slice(0, k) for k in index.shape)]
        out = x.copy()
        if not include_self:
            out[at] = _identity(reduce, x.dtype)
        getattr(xp, _UFUNCS[reduce]).at(out, at, src)
        if reduce != "mean":
            return out
        count = xp.zeros(x.shape, dtype=np.int64)
        xp.add.at(count, at, 1)
        count += include_self
        total = out // xp.maximum(count, 1) if x.dtype.kind in "iu" else out / xp.maximum(count, 1)
        return xp.where(count > 0, total, x).astype(x.dtype)

    @staticmethod
    def vjp(g, x, index, src, *, out, dim, reduce, include_self):
        params = {"dim": dim, "reduce": reduce, "include_self": include_self}
        trim = src[tuple(slice(0, k) for k in index.shape)]
        hit = scatter_add(x.new_zeros(*x.shape), dim, index, trim.new_ones(*trim.shape)) > 0
        # how much of the result each element of x and of src gets (the rest of its gradient)
        if reduce == "sum":
            share_x, share_src = ~hit if not include_self else None, None
        elif reduce == "mean":
            count = scatter_add(x.new_zeros(*x.shape), dim, index, trim.new_ones(*trim.shape))
            count = count + (1 if include_self else 0)
            weight = where(count > 0, 1 / count.clamp(min=1), 1.0)
            share_x = where(hit, weight if include_self else 0.0, 1.0)
            share_src = gather(weight, dim, index)
        elif reduce in ("amax", "amin"):
            own = (x == out) & (hit.logical_not() | include_self)
            equal = trim == gather(out, dim, index)
            count = scatter_add(own.to(x.dtype), dim, index, equal.to(x.dtype))
            share_x = own.to(x.dtype) / count
            share_src = equal.to(x.dtype) / gather(count, dim, index)
        else:
            share_x, share_src = _product_shares(x, index, trim, out, hit, params)
        grad_x = g if share_x is None else g * share_x
        gs = gather(g, dim, index)
        grad_src = gs if share_src is None else gs * share_src
        if tuple(grad_src.shape) != tuple(src.shape):
            grad_src = pad_to(grad_src, src.shape)
        return (grad_x, None, grad_src)

    saved_inputs = staticmethod(lambda req: (True, True, True))
    uses_out = True


def _product_shares(x: Any, index: Any, src: Any, out: Any, hit: Any, params: dict) -> tuple:
    """d out / d element for a product: the product of the other factors, which is
    out / element, or for a zero element the product of the nonzero others when it is the
    group's only zero (0 when there are more)."""
    dim, include_self = params["dim"], params["include_self"]
    own = hit.logical_not() | include_self
    zero_x, zero_src = (x == 0) & own, src == 0
    zeros = scatter_add(zero_x.to(x.dtype), dim, index, zero_src.to(x.dtype))
    nonzero = apply(
        ScatterReduce, where(zero_x, 1.0, x), index, where(zero_src, 1.0, src), **params
    )
    lone = where(zeros == 1, nonzero, 0.0)
    share_x = where(zero_x, lone, out / where(zero_x, 1.0, x))
    share_x = where(own, share_x, 0.0)
    share_src = where(
        zero_src, gather(lone, dim, index), gather(out, dim, index) / where(zero_src, 1.0, src)
    )
    return share_x, share_src


def scatter_reduce(
    input: Any, dim: int, index: Any, src: Any, reduce: str, *, include_self: bool = True
) -> Any:
    """A copy of ``input`` with each element of ``src`` reduced ("sum", "prod", "mean",
    "amax" or "amin") into the entry that ``index`` names along ``dim``; with
    ``include_self=False`` the entries written to start from nothing."""
    reduce = {"max": "amax", "min": "amin"}.get(reduce, reduce)  # PyTorch's older names
    if reduce not in _UFUNCS:
        raise RuntimeError(
            f"reduce argument must be either sum, prod, mean, amax or amin, got {reduce}"
        )
    _check_index_tensor("scatter_reduce", index)
    if src.dtype is not input.dtype:
        raise RuntimeError("scatter(): Expected self.dtype to be equal to src.dtype")
    d = normalize_dim(dim, input.ndim, "scatter_reduce")
    return apply(
        ScatterReduce, input, index, src, dim=d, reduce=reduce, include_self=bool(include_self)
    )


def index_reduce(
    input: Any, dim: int, index: Any, source: Any, reduce: str, *, include_self: bool = True
) -> Any:
    """A copy of ``input`` with each slice ``i`` of ``source`` along ``dim`` reduced ("prod",
    "mean", "amax" or "amin") into the slice ``index[i]``."""
    if reduce not in ("prod", "mean", "amax", "amin"):
        raise RuntimeError(
            f"index_reduce(): Expected reduce to be one of prod, mean, amax or amin but got "
            f"{reduce}."
        )
    _check_index_tensor("index_reduce", index)
    d = normalize_dim(dim, input.ndim, "index_reduce")
    if index.ndim > 1:
        raise IndexError("index_reduce_(): Index is supposed to be a vector")
    rows = index.reshape(-1)
    if source.ndim != input.ndim or any(
        source.shape[k] != input.shape[k] for k in range(input.ndim) if k != d
    ):
        raise RuntimeError(
            f"source tensor shape must match self tensor shape, excluding the specified "
            f"dimension. Got self.shape = {list(input.shape)} source.shape = "
            f"{list(source.shape)}"
        )
    if rows.shape[0] != source.shape[d]:
        raise RuntimeError(
            f"index_reduce_(): Number of indices ({rows.shape[0]}) should be equal to "
            f"source.size(dim): ({source.shape[d]}), for dim: {dim}"
        )
    along = rows.reshape(*[-1 if k == d else 1 for k in range(input.ndim)])
    return scatter_reduce(
        input, d, along.expand(*source.shape), source, reduce, include_self=include_self
    )


def put(input: Any, index: Any, source: Any, accumulate: bool = False) -> Any:
    """A copy of ``input`` with the elements of ``source`` written (added, with
    ``accumulate``) at the flat positions ``index`` (negative ones count from the end)."""
    _check_index_tensor("put", index)
    if index.numel() != source.numel():
        raise IndexError(
            f"put_(): Expected source and index to have the same number of elements, but got "
            f"source.numel() = {source.numel()}, index.numel() = {index.numel()}"
        )
    n = input.numel()
    flat = index.reshape(-1)
    bad = flat._data[(flat._data < -n) | (flat._data >= n)]
    if bad.size:
        raise IndexError(
            f"out of range: tried to access index {int(bad[0])} on a tensor of {n} elements."
        )
    out = index_put(input.reshape(-1), (flat,), source.reshape(-1).to(input.dtype), accumulate)
    return out.reshape(*input.shape)


class ScatterExtraMethods:
    """Tensor methods of this module."""

    __slots__ = ()
    scatter_reduce = scatter_reduce
    index_reduce = index_reduce
    put = put
    scatter_reduce_ = _inplace_method(scatter_reduce, "scatter_reduce_")
    index_reduce_ = _inplace_method(index_reduce, "index_reduce_")
    put_ = _inplace_method(put, "put_")

    def index_put(self, indices: tuple, values: Any, accumulate: bool = False) -> Any:
        """A copy with ``values`` written (added, with ``accumulate``) at ``indices``."""
        return index_put(self, indices, values, accumulate)
