"""Indexing primitives: ``x[idx]``, ``x[idx] = v``, gather/scatter, masks, sort and top-k.

An index is encoded as a hashable ``spec`` (ints, slices, None, Ellipsis, and the positions
of index tensors), so that index tensors are ordinary inputs and the spec can key jit caches.
"""

from __future__ import annotations

import functools
from collections import namedtuple
from typing import Any

import numpy as np

from ember import dtypes
from ember.arrays import backend_of
from ember.autograd.engine import LazyGrad
from ember.ops import core
from ember.ops.autocast import autocast_op
from ember.ops.core import OPAQUE, Aval, Primitive, apply, inplace, normalize_dim

__all__ = [
    "getitem",
    "index_put",
    "gather",
    "scatter",
    "scatter_add",
    "index_select",
    "index_add",
    "masked_fill",
    "masked_select",
    "take_along_dim",
    "take",
    "nonzero",
    "argwhere",
    "sort",
    "argsort",
    "topk",
    "IndexMethods",
]

values_indices = namedtuple("values_indices", ["values", "indices"])


# -- index specs ----------------------------------------------------------------------------
def encode_index(x: Any, index: Any) -> tuple[tuple, list]:
    """Split a Python index into a hashable spec and the list of index tensors it refers to."""
    T = core._Tensor
    items = index if isinstance(index, tuple) else (index,)
    spec: list[tuple] = []
    tensors: list[Any] = []
    for item in items:
        if item is None:
            spec.append(("none",))
        elif item is Ellipsis:
            spec.append(("ellipsis",))
        elif isinstance(item, slice):
            spec.append(
                (
                    "slice",
                    _int_or_none(item.start),
                    _int_or_none(item.stop),
                    _int_or_none(item.step),
                )
            )
            if item.step is not None and int(item.step) <= 0:
                raise ValueError(f"getitem: step must be greater than zero, got {item.step}")
        elif isinstance(item, (bool, np.bool_)):
            tensors.append(_as_index_tensor(np.asarray(item), x))
            spec.append(("tensor", len(tensors) - 1))
        elif isinstance(item, (int, np.integer)) or (
            isinstance(item, T) and item.ndim == 0 and item._data.dtype.kind in "iu"
        ):
            spec.append(("int", int(item)))
        elif isinstance(item, (T, np.ndarray, list, tuple, range)):
            tensors.append(_as_index_tensor(item, x))
            spec.append(("tensor", len(tensors) - 1))
        else:
            raise TypeError(
                f"getitem: unsupported index type {type(item).__name__}: expected int, slice, "
                "None, Ellipsis, or an integer/bool tensor"
            )
    _check_spec(tuple(spec), x.shape, [t.aval for t in tensors])
    return tuple(spec), tensors


def _int_or_none(v: Any) -> int | None:
    return None if v is None else int(v)


def _as_index_tensor(item: Any, like: Any) -> Any:
    T = core._Tensor
    if isinstance(item, T):
        t = item
    else:
        arr = np.asarray(item)
        if arr.size == 0:
            arr = arr.astype(np.int64)
        t = T._wrap(arr if isinstance(like._data, np.ndarray) else _to_backend(arr, like))
    kind = t._data.dtype.kind
    if kind not in "iub":
        raise TypeError(
            f"getitem: tensors used as indices must be long, int, byte or bool tensors, got "
            f"{t.dtype.name}"
        )
    return t


def _to_backend(arr: np.ndarray, like: Any) -> Any:
    return backend_of(like._data).asarray(arr)


@functools.lru_cache(maxsize=1024)
def _item_dims(spec: tuple, ndim: int, widths: tuple[int, ...]) -> tuple[tuple[int, ...], int]:
    """(the first dimension each item of ``spec`` indexes (-1 for None), the number of
    dimensions the index uses) for ``ndim`` dimensions, with ``widths`` the dimensions each
    index tensor uses; cached: the same spec is indexed at every call of a step."""
    items = []
    for kind, *rest in spec:
        if kind in ("int", "slice"):
            items.append(1)
        elif kind == "tensor":
            items.append(widths[rest[0]])
        else:
            items.append(0)
    consumed = sum(items)
    dims, dim = [], 0
    for (kind, *_), width in zip(spec, items):
        dims.append(dim if kind != "none" else -1)
        dim += ndim - consumed if kind == "ellipsis" else width
    return tuple(dims), consumed


def _spec_dims(spec: tuple, shape: tuple, widths: tuple[int, ...]) -> tuple[int, ...]:
    """The first dimension of ``shape`` that each item of ``spec`` indexes (-1 for None);
    ``widths`` are the dimensions each index tensor uses (a bool mask its ndim, else 1)."""
    dims, consumed = _item_dims(spec, len(shape), widths)
    if consumed > len(shape):
        raise IndexError(
            f"getitem: too many indices for tensor of dimension {len(shape)}: "
            f"index uses {consumed} dimensions of shape {tuple(shape)}"
        )
    return dims


def _check_spec(spec: tuple, shape: tuple, tensor_avals: list) -> None:
    """Clear errors for too many indices and out-of-range integers."""
    widths = tuple([len(a.shape) if a.dtype is dtypes.bool_ else 1 for a in tensor_avals])
    for (kind, *rest), dim in zip(spec, _spec_dims(spec, shape, widths)):
        if kind == "int" and not -shape[dim] <= rest[0] < shape[dim]:
            raise IndexError(
                f"getitem: index {rest[0]} is out of bounds for dimension {dim} with size "
                f"{shape[dim]}"
            )


def _check_bounds(spec: tuple, shape: tuple, idx: tuple) -> None:
    """IndexError for integer index tensors outside their dimension (CuPy would wrap them)."""
    if not idx:
        return
    widths = tuple([a.ndim if a.dtype.kind == "b" else 1 for a in idx])
    for (kind, *rest), dim in zip(spec, _spec_dims(spec, shape, widths)):
        a = idx[rest[0]] if kind == "tensor" else None
        if a is not None and a.dtype.kind in "iu" and a.size:
            (lo, hi), n = _extremes(a), shape[dim]
            if lo < -n or hi >= n:
                # no op prefix: apply() names the primitive when it re-raises
                raise IndexError(
                    f"index {lo if lo < -n else hi} is out of bounds for dimension {dim} with "
                    f"size {n}"
                )


def _extremes(a: Any) -> tuple[int, int]:
    """(min, max) of a non-empty integer array; one read for a single index (a token's)."""
    if a.size == 1:
        v = int(a.item())
        return v, v
    return int(a.min()), int(a.max())


@functools.lru_cache(maxsize=1024)
def _index_template(spec: tuple) -> tuple[tuple, tuple[tuple[int, int], ...]]:
    """(the index that ``spec`` encodes with None for its tensors, (position, tensor slot)
    of each tensor); cached, as ``_item_dims``."""
    out: list[Any] = []
    slots = []
    for kind, *rest in spec:
        if kind == "int":
            out.append(rest[0])
        elif kind == "slice":
            out.append(slice(*rest))
        elif kind == "none":
            out.append(None)
        elif kind == "ellipsis":
            out.append(Ellipsis)
        else:
            slots.append((len(out), rest[0]))
            out.append(None)
    return tuple(out), tuple(slots)


def build_index(spec: tuple, arrays: tuple) -> tuple:
    """The NumPy/CuPy index that ``spec`` encodes, with ``arrays`` for its tensor slots."""
    index, slots = _index_template(spec)
    if not slots:
        return index
    out = list(index)
    for pos, slot in slots:
        out[pos] = arrays[slot]
    return tuple(out)


def _result_aval(shape: tuple, dtype: Any, spec: tuple, tensor_avals: list) -> Aval:
    probe = np.empty(shape, dtype=np.bool_)  # shapes only; strides make this free
    fakes = tuple(np.zeros(a.shape, dtype=a.dtype.np) for a in tensor_avals)
    try:
        return Aval(probe[build_index(spec, fakes)].shape, dtype)
    except IndexError as exc:
        raise IndexError(f"getitem: {exc} (tensor shape {shape})") from None


class GetItem(Primitive):
    """``x[index]``: basic slicing (a view) and advanced integer/bool indexing (a copy)."""

    kind = OPAQUE

    @staticmethod
    def infer(x: Aval, *idx: Aval, spec: tuple) -> Aval:  # type: ignore[override]
        _check_spec(spec, x.shape, list(idx))
        return _result_aval(x.shape, x.dtype, spec, list(idx))

    @staticmethod
    def forward(xp, x, *idx, spec):
        _check_bounds(spec, x.shape, idx)
        return x[build_index(spec, idx)]

    @staticmethod
    def vjp(g, x, *idx, out, spec):
        state = core.STATE
        if idx or state.grad_enabled or state.tracer is not None or state.anomaly:
            return (apply(IndexAdd, g, *idx, spec=spec, shape=tuple(x.shape)),) + (None,) * len(idx)
        return (SliceGrads(g, spec, x),)

    saved_inputs = staticmethod(lambda req: (False,) + (True,) * (len(req) - 1))


class SliceGrads(LazyGrad):
    """The gradient that basic slices ``x[spec]`` send back to ``x``, summed lazily.

    Dense, each slice's gradient would be a zero tensor of ``x``'s shape, and the engine would
    add them one by one: slicing a length-T sequence per step would cost O(T²) in backward.
    Instead the slice gradients are kept as (index, array) parts, plus the sum of any dense
    gradients of ``x``, and written into one buffer when the engine needs the Tensor.
    """

    __slots__ = ("parts", "base", "shape", "dtype")

    def __init__(self, g: Any, spec: tuple, x: Any) -> None:
        self.parts = [(build_index(spec, ()), g._data)]
        self.base: Any = None  # the sum of the dense gradients met so far
        self.shape, self.dtype = x.shape, x.dtype

    def accumulate(self, other: Any) -> SliceGrads:
        if isinstance(other, SliceGrads):
            self.parts += other.parts
            other = other.base
        if other is not None:
            self.base = other if self.base is None else self.base + other
        return self

    def materialize(self) -> Any:
        first = self.parts[0][1]
        if self.base is None:
            buf = backend_of(first).xp.zeros(tuple(self.shape), dtype=first.dtype)
        else:
            buf = self.base._data.copy()  # base may be held elsewhere (a .grad, a hook's result)
        for index, g in self.parts:
            buf[index] += g
        return core._Tensor._wrap(buf)


class IndexAdd(Primitive):
    """Zeros of ``shape`` with ``g`` added at ``index`` (repeated indices accumulate)."""

    @staticmethod
    def infer(g: Aval, *idx: Aval, spec: tuple, shape: tuple) -> Aval:  # type: ignore
        return Aval(shape, g.dtype)

    @staticmethod
    def forward(xp, g, *idx, spec, shape):
        _check_bounds(spec, shape, idx)
        out = xp.zeros(shape, dtype=g.dtype)
        index = build_index(spec, idx)
        if idx:
            backend_of(out).scatter_add(out, index, g)
        else:
            out[index] = g
        return out

    @staticmethod
    def vjp(gout, g, *idx, out, spec, shape):
        return (apply(GetItem, gout, *idx, spec=spec),) + (None,) * len(idx)

    saved_inputs = staticmethod(lambda req: (False,) + (True,) * (len(req) - 1))


class IndexPut(Primitive):
    """A copy of ``x`` with ``x[index] = v`` (``v`` broadcast to the indexed shape)."""

    @staticmethod
    def infer(x: Aval, v: Aval, *idx: Aval, spec: tuple) -> Aval:  # type: ignore[override]
        target = _result_aval(x.shape, x.dtype, spec, list(idx)).shape
        core.broadcast_shapes("index_put", v.shape, target)
        return x

    @staticmethod
    def forward(xp, x, v, *idx, spec):
        _check_bounds(spec, x.shape, idx)
        out = x.copy()
        out[build_index(spec, idx)] = v
        return out

    @staticmethod
    def vjp(g, x, v, *idx, out, spec):
        def grad_x() -> Any:
            return apply(IndexPut, g, g.new_zeros(()), *idx, spec=spec)

        def grad_v() -> Any:
            return apply(GetItem, g, *idx, spec=spec)

        return (grad_x, grad_v) + (None,) * len(idx)

    saved_inputs = staticmethod(lambda req: (False, False) + (True,) * (len(req) - 2))


def getitem(x: Any, index: Any) -> Any:
    """``x[index]`` with PyTorch/NumPy indexing semantics."""
    spec, tensors = encode_index(x, index)
    if spec == (("slice", None, None, None),) or spec == (("ellipsis",),):
        return x
    out = apply(GetItem, x, *tensors, spec=spec)
    if not tensors and core.STATE.tracer is None and out._data.base is not None:
        # basic indexing shares memory: writes through the result must bump x's version too
        out._vc, out._base = x._vc, x if x._base is None else x._base
    return out


@autocast_op
def index_put(x: Any, index: Any, value: Any, accumulate: bool = False) -> Any:
    """A copy of ``x`` with ``x[index] = value`` (``+= value`` with ``accumulate``)."""
    from ember.ops.elementwise import as_tensor_like

    index = tuple(index) if isinstance(index, list) else index
    spec, tensors = encode_index(x, index)
    v = as_tensor_like(value, x.dtype, x)
    if not accumulate:
        return apply(IndexPut, x, v, *tensors, spec=spec)
    target = _result_aval(tuple(x.shape), x.dtype, spec, [t.aval for t in tensors]).shape
    v = v.expand(*core.broadcast_shapes("index_put", tuple(v.shape), target))
    if tuple(v.shape) != target:
        raise ValueError(f"index_put: values of shape {tuple(v.shape)} vs indexed shape {target}")
    return x + apply(IndexAdd, v, *tensors, spec=spec, shape=tuple(x.shape))


# -- gather / scatter -----------------------------------------------------------------------
def _check_index_tensor(op: str, index: Any) -> None:
    if not isinstance(index, core._Tensor):
        raise TypeError(f"{op}: expected index to be a Tensor, got {type(index).__name__}")
    if index._data.dtype.kind not in "iu":
        raise TypeError(f"{op}: expected index to be an int64 tensor, got {index.dtype.name}")


def _check_along(index: Any, n: int, dim: int) -> None:
    """PyTorch's range rule for gather/scatter indices: 0 <= index < n (no wrapping)."""
    if index.size:
        lo, hi = int(index.min()), int(index.max())
        if lo < 0 or hi >= n:
            raise IndexError(
                f"index {lo if lo < 0 else hi} is out of bounds for dimension {dim} with size {n}"
            )


def _along_index(xp: Any, x_shape: tuple, index: Any, dim: int) -> tuple:
    """Fancy index that picks ``x[..., index[i,j,k], ...]`` along ``dim`` (gather): ``index``
    along ``dim``, an open grid (``arange`` along its own axis, 1 elsewhere) along the others.
    Built from ``arange`` directly: ``xp.ogrid`` costs ~15 µs per call."""

    def grid(d: int) -> Any:
        shape = [1] * index.ndim
        shape[d] = index.shape[d]
        return xp.arange(index.shape[d]).reshape(shape)

    return tuple(index if d == dim else grid(d) for d in range(len(x_shape)))


class Gather(Primitive):
    """``out[i][j] = x[i][index[i][j]]`` along ``dim`` (PyTorch's gather)."""

    check_eagerly = True

    @staticmethod
    def infer(x: Aval, index: Aval, *, dim: int) -> Aval:  # type: ignore[override]
        if len(index.shape) != len(x.shape):
            raise ValueError(
                f"gather: index tensor must have the same number of dimensions as "
                f"input tensor: index {index.shape} vs input {x.shape}"
            )
        for d, (a, b) in enumerate(zip(index.shape, x.shape)):
            if d != dim and a > b:
                raise ValueError(
                    f"gather: size of index {index.shape} does not fit input "
                    f"{x.shape} at dimension {d}"
                )
        return Aval(index.shape, x.dtype)

    @staticmethod
    def forward(xp, x, index, *, dim):
        _check_along(index, x.shape[dim], dim)
        return x[_along_index(xp, x.shape, index, dim)]

    @staticmethod
    def vjp(g, x, index, *, out, dim):
        return (apply(ScatterAdd, g.new_zeros(x.shape), index, g, dim=dim), None)

    saved_inputs = staticmethod(lambda req: (False, True))


def _scatter_infer(op: str, x: Aval, index: Aval, src: Aval, dim: int) -> Aval:
    """PyTorch's shape rules: index fits src everywhere and self except along ``dim``."""
    if not (len(x.shape) == len(index.shape) == len(src.shape)):
        raise ValueError(
            f"{op}: index {index.shape}, src {src.shape} and self {x.shape} must have the same "
            "number of dimensions"
        )
    for d, (i, n, m) in enumerate(zip(index.shape, src.shape, x.shape)):
        if i > n or (d != dim and i > m):
            raise ValueError(
                f"{op}: index {index.shape} does not fit src {src.shape} and self {x.shape} at "
                f"dimension {d}"
            )
    return x


class ScatterAdd(Primitive):
    """A copy of ``x`` with ``src`` added at ``index`` along ``dim`` (PyTorch's scatter_add)."""

    check_eagerly = True

    @staticmethod
    def infer(x: Aval, index: Aval, src: Aval, *, dim: int) -> Aval:  # type: ignore
        return _scatter_infer("scatter_add", x, index, src, dim)

    @staticmethod
    def forward(xp, x, index, src, *, dim):
        _check_along(index, x.shape[dim], dim)
        out = x.copy()
        src = src[tuple(slice(0, k) for k in index.shape)]
        backend_of(out).scatter_add(out, _along_index(xp, x.shape, index, dim), src)
        return out

    @staticmethod
    def vjp(g, x, index, src, *, out, dim):
        def grad_src() -> Any:
            gs = gather(g, dim, index)
            if tuple(gs.shape) != tuple(src.shape):
                gs = pad_to(gs, src.shape)
            return gs

        return (g, None, grad_src)

    saved_inputs = staticmethod(lambda req: (False, True, False))


class Scatter(Primitive):
    """A copy of ``x`` with ``src`` written at ``index`` along ``dim`` (PyTorch's scatter)."""

    check_eagerly = True

    @staticmethod
    def infer(x: Aval, index: Aval, src: Aval, *, dim: int) -> Aval:  # type: ignore
        return _scatter_infer("scatter", x, index, src, dim)

    @staticmethod
    def forward(xp, x, index, src, *, dim):
        _check_along(index, x.shape[dim], dim)
        out = x.copy()
        out[_along_index(xp, x.shape, index, dim)] = src[tuple(slice(0, k) for k in index.shape)]
        return out

    @staticmethod
    def vjp(g, x, index, src, *, out, dim):
        def grad_src() -> Any:
            gs = gather(g, dim, index)
            return gs if tuple(gs.shape) == tuple(src.shape) else pad_to(gs, src.shape)

        return (lambda: apply(Scatter, g, index, g.new_zeros(index.shape), dim=dim), None, grad_src)

    saved_inputs = staticmethod(lambda req: (False, True, False))


def pad_to(x: Any, shape: tuple) -> Any:
    """Zero-pad ``x`` at the end of each dim up to ``shape``."""
    from ember.ops.movement import pad

    widths: list[int] = []
    for n, m in reversed(list(zip(x.shape, shape))):
        widths += [0, m - n]
    return pad(x, widths)


def gather(x: Any, dim: int, index: Any) -> Any:
    """Values of ``x`` at ``index`` along ``dim``: out[i][j] = x[i][index[i][j]] for dim=1."""
    _check_index_tensor("gather", index)
    d = normalize_dim(dim, x.ndim, "gather")
    if x.ndim == 0 and index.ndim == 0:  # PyTorch treats 0-d operands as one-element vectors
        return apply(Gather, x.reshape(1), index.reshape(1), dim=0).reshape(())
    return apply(Gather, x, index, dim=d)


def take_along_dim(x: Any, indices: Any, dim: int | None = None) -> Any:
    """Like NumPy's take_along_axis: ``indices`` broadcasts against ``x`` except along ``dim``."""
    _check_index_tensor("take_along_dim", indices)
    if dim is None:
        return gather(x.reshape(-1), 0, indices.reshape(-1))
    d = normalize_dim(dim, x.ndim, "take_along_dim")
    shape_x, shape_i = list(x.shape), list(indices.shape)
    shape_x[d] = shape_i[d] = 1
    common = core.broadcast_shapes("take_along_dim", tuple(shape_x), tuple(shape_i))
    xs = list(common)
    xs[d] = x.shape[d]
    ind = list(common)
    ind[d] = indices.shape[d]
    return gather(x.expand(*xs), d, indices.expand(*ind))


def scatter(x: Any, dim: int, index: Any, src: Any, *, reduce: str | None = None) -> Any:
    """A copy of ``x`` with ``src`` (tensor or number) written at ``index`` along ``dim``."""
    _check_index_tensor("scatter", index)
    d = normalize_dim(dim, x.ndim, "scatter")
    if not isinstance(src, core._Tensor):
        src = x.new_full(tuple(index.shape), src)
    src = src.to(x.dtype)
    if reduce == "add":
        return apply(ScatterAdd, x, index, src, dim=d)
    if reduce is not None:
        raise ValueError(f"scatter: reduce must be None or 'add', got {reduce!r}")
    return apply(Scatter, x, index, src, dim=d)


@autocast_op
def scatter_add(x: Any, dim: int, index: Any, src: Any) -> Any:
    """A copy of ``x`` with ``src`` added at ``index`` along ``dim`` (duplicates accumulate)."""
    _check_index_tensor("scatter_add", index)
    d = normalize_dim(dim, x.ndim, "scatter_add")
    return apply(ScatterAdd, x, index, src.to(x.dtype), dim=d)


def index_select(x: Any, dim: int, index: Any) -> Any:
    """The entries ``index`` (1-D) of dimension ``dim``."""
    _check_index_tensor("index_select", index)
    if index.ndim > 1:
        raise ValueError(f"index_select: index must be 0-D or 1-D, got shape {tuple(index.shape)}")
    d = normalize_dim(dim, x.ndim, "index_select")
    n = x.shape[d]
    if index.numel() and (int(index._data.min()) < 0 or int(index._data.max()) >= n):
        raise IndexError(
            f"index_select: index out of range in self: values must be in "
            f"[0, {n}) for dimension {d} of shape {tuple(x.shape)}"
        )
    return getitem(x, (slice(None),) * d + (index.reshape(-1),))


def index_add(x: Any, dim: int, index: Any, source: Any, *, alpha: float = 1) -> Any:
    """A copy of ``x`` with ``alpha * source`` added at rows ``index`` of dimension ``dim``."""
    _check_index_tensor("index_add", index)
    d = normalize_dim(dim, x.ndim, "index_add")
    if index.ndim > 1:
        raise ValueError(f"index_add: index must be 0-D or 1-D, got shape {tuple(index.shape)}")
    index = index.reshape(-1)
    expected = tuple(x.shape[:d]) + (index.shape[0],) + tuple(x.shape[d + 1 :])
    if tuple(source.shape) != expected:
        raise ValueError(
            f"index_add: source shape {tuple(source.shape)} vs expected {expected} (self "
            f"{tuple(x.shape)} with dimension {d} of size len(index))"
        )
    spec = (("slice", None, None, None),) * d + (("tensor", 0),)
    added = apply(IndexAdd, (source * alpha).to(x.dtype), index, spec=spec, shape=tuple(x.shape))
    return x + added


def masked_fill(x: Any, mask: Any, value: Any) -> Any:
    """``x`` with ``value`` wherever the boolean ``mask`` (broadcast) is True."""
    from ember.ops.elementwise import where

    if not isinstance(mask, core._Tensor) or mask.dtype is not dtypes.bool_:
        raise TypeError(
            "masked_fill: expected a bool mask tensor, got "
            f"{mask.dtype.name if isinstance(mask, core._Tensor) else type(mask).__name__}"
        )
    if core.broadcast_shapes("masked_fill", tuple(x.shape), tuple(mask.shape)) != x.shape:
        raise ValueError(
            f"masked_fill: mask of shape {tuple(mask.shape)} must broadcast to the input shape "
            f"{tuple(x.shape)}"
        )
    if isinstance(value, core._Tensor):
        if value.ndim:
            raise ValueError(
                f"masked_fill: only supports a 0-dimensional value tensor, got "
                f"shape {tuple(value.shape)}"
            )
        value = value.to(x.dtype)
    else:
        value = _cast_scalar(value, x.dtype)
    return where(mask, value, x)


def _cast_scalar(value: Any, dtype: Any) -> Any:
    return (
        float(value)
        if dtype.is_floating_point
        else (bool(value) if dtype is dtypes.bool_ else int(value))
    )


def masked_select(x: Any, mask: Any) -> Any:
    """The 1-D tensor of elements where ``mask`` is True."""
    if not isinstance(mask, core._Tensor) or mask.dtype is not dtypes.bool_:
        raise TypeError("masked_select: expected a bool mask tensor")
    shape = core.broadcast_shapes("masked_select", tuple(x.shape), tuple(mask.shape))
    return getitem(x.expand(*shape), mask.expand(*shape))


def take(x: Any, index: Any) -> Any:
    """Elements of the flattened ``x`` at ``index`` (output has ``index``'s shape)."""
    _check_index_tensor("take", index)
    return getitem(x.reshape(-1), index)


class NonZero(Primitive):
    differentiable = False

    @staticmethod
    def infer(x: Aval) -> Aval:  # type: ignore[override]
        raise core_data_dependent("nonzero")

    @staticmethod
    def forward(xp, x):
        return (
            xp.stack(xp.nonzero(x), axis=1).astype(xp.int64)
            if x.ndim
            else xp.zeros((int(bool(x)), 0), dtype=xp.int64)
        )


def core_data_dependent(op: str) -> RuntimeError:
    return RuntimeError(
        f"{op}: the output shape depends on the data, so it cannot be inferred ahead of time"
    )


def nonzero(x: Any, *, as_tuple: bool = False) -> Any:
    """Indices of the nonzero elements: an [n, ndim] int64 tensor (or a tuple of columns)."""
    out = apply(NonZero, x)
    if as_tuple:
        if x.ndim == 0:  # PyTorch: one column of zeros, one entry if the value is nonzero
            return (out.new_zeros((out.shape[0],)),)
        return tuple(out[:, i] for i in range(x.ndim))
    return out


argwhere = nonzero


class Argsort(Primitive):
    """Indices that sort ``x`` along ``dim``; with ``k``, only the first ``k`` of them (top-k
    as one node, instead of an argsort and a narrow of its result)."""

    differentiable = False

    @staticmethod
    def infer(  # type: ignore[override]
        x: Aval, *, dim: int, descending: bool, stable: bool, k: int | None = None
    ) -> Aval:
        shape = x.shape if k is None else x.shape[:dim] + (k,) + x.shape[dim + 1 :]
        return Aval(shape, dtypes.int64)

    @staticmethod
    def forward(xp, x, *, dim, descending, stable, k=None):
        if descending:
            # negate keys (bool as int) so that ties keep their original order, like PyTorch
            x = -x.astype(xp.int64) if x.dtype.kind == "b" else -x
        order = xp.argsort(x, axis=dim, kind="stable")
        if k is not None:
            order = order[(slice(None),) * dim + (slice(0, k),)]
        return order.astype(xp.int64)


def argsort(x: Any, dim: int = -1, descending: bool = False, *, stable: bool = False) -> Any:
    """Indices that sort ``x`` along ``dim``."""
    if x.ndim == 0:
        return x.new_zeros((), dtype=dtypes.int64)
    d = normalize_dim(dim, x.ndim, "argsort")
    return apply(Argsort, x, dim=d, descending=bool(descending), stable=bool(stable))


def sort(x: Any, dim: int = -1, descending: bool = False, *, stable: bool = False) -> Any:
    """(values, indices) of ``x`` sorted along ``dim``."""
    if x.ndim == 0:
        return values_indices(x, x.new_zeros((), dtype=dtypes.int64))
    idx = argsort(x, dim, descending, stable=stable)
    return values_indices(gather(x, dim, idx), idx)


def topk(x: Any, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:  # noqa: A002
    """(values, indices) of the ``k`` largest (or smallest) entries along ``dim``."""
    d = normalize_dim(dim, max(x.ndim, 1), "topk")
    n = x.shape[d] if x.ndim else 1
    if not 0 <= k <= n:
        raise ValueError(f"topk: k ({k}) is out of range for dimension {d} of size {n}")
    if x.ndim == 0:
        return values_indices(x, argsort(x))
    if core.unrecorded(x):  # the same kernels on the array (a sampling step's logits)
        order = core.run_array(Argsort, x._data, dim=d, descending=bool(largest), stable=False, k=k)
        values = core.run_array(Gather, x._data, order, dim=d)
        return values_indices(core._Tensor._wrap(values), core._Tensor._wrap(order))
    idx = apply(Argsort, x, dim=d, descending=bool(largest), stable=False, k=k)
    return values_indices(gather(x, d, idx), idx)


class IndexMethods:
    """Tensor methods of the indexing family."""

    __slots__ = ()
    __getitem__ = getitem
    gather = gather
    scatter = scatter
    scatter_add = scatter_add
    index_select = index_select
    index_add = index_add
    masked_fill = masked_fill
    masked_select = masked_select
    take_along_dim = take_along_dim
    take = take
    nonzero = nonzero
    argwhere = argwhere
    sort = sort
    argsort = argsort
    topk = topk

    def __setitem__(self, index: Any, value: Any) -> None:
        inplace(self, lambda x: index_put(x, index, value), "__setitem__")

    def index_put_(self, indices: tuple, values: Any, accumulate: bool = False) -> Any:
        """In-place ``self[indices] = values`` (or ``+=`` with ``accumulate``)."""
        return inplace(self, lambda x: index_put(x, indices, values, accumulate), "index_put_")

    def masked_fill_(self, mask: Any, value: Any) -> Any:
        return inplace(self, lambda x: masked_fill(x, mask, value), "masked_fill_")

    def scatter_(self, dim: int, index: Any, src: Any, *, reduce: str | None = None) -> Any:
        return inplace(self, lambda x: scatter(x, dim, index, src, reduce=reduce), "scatter_")

    def scatter_add_(self, dim: int, index: Any, src: Any) -> Any:
        return inplace(self, lambda x: scatter_add(x, dim, index, src), "scatter_add_")

    def index_add_(self, dim: int, index: Any, source: Any, *, alpha: float = 1) -> Any:
        return inplace(self, lambda x: index_add(x, dim, index, source, alpha=alpha), "index_add_")
