"""More of PyTorch's shape ops: diagonals, selecting and scattering slices, sliding windows
(``Tensor.unfold``), interleaved repeats, block matrices, the in-place shape methods
(``t_``, ``transpose_`` …) and the container dunders (``in``, ``reversed``).

Views (``diagonal``, ``select``, ``unfold``) share memory with their input as PyTorch's do;
the ``*_scatter`` ops are their out-of-place inverses and also their gradients.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ember import dtypes
from ember.arrays import backend_of
from ember.autograd.grad_mode import STATE
from ember.ops import core
from ember.ops.core import VIEW, Aval, Primitive, apply, normalize_dim
from ember.ops.elementwise import _inplace_method, as_tensor_like, floor_divide, remainder
from ember.ops.extra import diag_embed
from ember.ops.index import IndexAdd, index_put, index_select
from ember.ops.movement import (
    _shape_arg,
    cat,
    chunk,
    flip,
    narrow,
    pad,
    split,
    squeeze,
    transpose,
    unsqueeze,
    vstack,
)

__all__ = [
    "diagonal",
    "diagonal_scatter",
    "diag",
    "diagflat",
    "trace",
    "select",
    "select_scatter",
    "slice_scatter",
    "narrow_copy",
    "block_diag",
    "broadcast_tensors",
    "combinations",
    "unravel_index",
    "adjoint",
    "t",
    "row_stack",
    "fliplr",
    "flipud",
    "repeat_interleave",
    "split_with_sizes",
    "unsafe_chunk",
    "unsafe_split",
    "unsafe_split_with_sizes",
    "ShapeExtraMethods",
]


def _as_strided(xp: Any, x: Any, start: tuple, shape: tuple, strides: tuple) -> Any:
    """A writable view of ``x``'s memory from the element at index ``start``, with element
    ``strides`` (in units of ``x``'s strides' bytes) and ``shape``."""
    if 0 not in x.shape:
        x = x[tuple(slice(i, None) for i in start)]
    return xp.lib.stride_tricks.as_strided(
        x, shape=shape, strides=tuple(s * x.itemsize for s in strides)
    )


def _element_strides(x: Any) -> tuple[int, ...]:
    return tuple(s // x.itemsize for s in x.strides)


# -- diagonals ------------------------------------------------------------------------------
def _diagonal_view(xp: Any, x: Any, offset: int, d1: int, d2: int) -> Any:
    """The diagonal ``offset`` of dims ``d1``/``d2`` as a writable view, moved last."""
    shape, strides = x.shape, _element_strides(x)
    n = max(0, min(shape[d1] - max(-offset, 0), shape[d2] - max(offset, 0)))
    start = [0] * x.ndim
    if n:
        start[d1], start[d2] = max(-offset, 0), max(offset, 0)
    rest = [i for i in range(x.ndim) if i not in (d1, d2)]
    return _as_strided(
        xp,
        x,
        tuple(start),
        tuple(shape[i] for i in rest) + (n,),
        tuple(strides[i] for i in rest) + (strides[d1] + strides[d2],),
    )


def _diagonal_aval(x: Aval, offset: int, d1: int, d2: int) -> Aval:
    n = max(0, min(x.shape[d1] - max(-offset, 0), x.shape[d2] - max(offset, 0)))
    rest = tuple(s for i, s in enumerate(x.shape) if i not in (d1, d2))
    return Aval(rest + (n,), x.dtype)


class Diagonal(Primitive):
    """The diagonal of two dimensions, as a view (appended as the last dimension)."""

    kind = VIEW

    @staticmethod
    def infer(x: Aval, *, offset: int, dim1: int, dim2: int) -> Aval:  # type: ignore[override]
        return _diagonal_aval(x, offset, dim1, dim2)

    @staticmethod
    def forward(xp, x, *, offset, dim1, dim2):
        return _diagonal_view(xp, x, offset, dim1, dim2)

    @staticmethod
    def vjp(g, x, *, out, offset, dim1, dim2):
        zeros = g.new_zeros(*x.shape)
        return (apply(DiagonalScatter, zeros, g, offset=offset, dim1=dim1, dim2=dim2),)

    saved_inputs = staticmethod(lambda req: (False,))


class DiagonalScatter(Primitive):
    """A copy of ``x`` with ``src`` written on a diagonal (``Diagonal``'s inverse)."""

    @staticmethod
    def infer(x: Aval, src: Aval, *, offset: int, dim1: int, dim2: int) -> Aval:  # type: ignore[override]
        return x

    @staticmethod
    def forward(xp, x, src, *, offset, dim1, dim2):
        out = x.copy()
        _diagonal_view(xp, out, offset, dim1, dim2)[...] = src
        return out

    @staticmethod
    def vjp(g, x, src, *, out, offset, dim1, dim2):
        params = {"offset": offset, "dim1": dim1, "dim2": dim2}
        return (
            lambda: apply(DiagonalScatter, g, g.new_zeros(*src.shape), **params),
            lambda: apply(Diagonal, g, **params),
        )

    saved_inputs = staticmethod(lambda req: (False, False))


def _diagonal_dims(input: Any, dim1: int, dim2: int, op: str) -> tuple[int, int]:
    d1, d2 = normalize_dim(dim1, input.ndim, op), normalize_dim(dim2, input.ndim, op)
    if d1 == d2:
        raise RuntimeError(f"{op}: diagonal dimensions cannot be identical {dim1}, {dim2}")
    return d1, d2


def _check_src(src: Any, expected: tuple) -> None:
    if tuple(src.shape) != tuple(expected):
        raise RuntimeError(
            f"expected src to have a size equal to the slice of self. src size = "
            f"{list(src.shape)}, slice size = {list(expected)}"
        )


def diagonal(input: Any, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Any:
    """The diagonal ``offset`` (above the main one when positive) of dimensions ``dim1`` and
    ``dim2``, as a view with the diagonal as its last dimension."""
    d1, d2 = _diagonal_dims(input, dim1, dim2, "diagonal")
    return apply(Diagonal, input, offset=int(offset), dim1=d1, dim2=d2)


def diagonal_scatter(input: Any, src: Any, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Any:
    """A copy of ``input`` with ``src`` on the diagonal that ``diagonal`` would return."""
    d1, d2 = _diagonal_dims(input, dim1, dim2, "diagonal_scatter")
    _check_src(src, _diagonal_aval(input.aval, int(offset), d1, d2).shape)
    src = as_tensor_like(src, input.dtype, input)
    return apply(DiagonalScatter, input, src, offset=int(offset), dim1=d1, dim2=d2)


def diag(input: Any, diagonal: int = 0) -> Any:
    """A 1-D ``input`` placed on the diagonal ``diagonal`` of a square matrix, or a copy of
    the diagonal ``diagonal`` of a 2-D ``input``."""
    if input.ndim == 1:
        return diag_embed(input, diagonal)
    if input.ndim != 2:
        raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input.ndim}D")
    return apply(Diagonal, input, offset=int(diagonal), dim1=0, dim2=1).clone()


def diagflat(input: Any, offset: int = 0) -> Any:
    """``input``, flattened, on the diagonal ``offset`` of a square matrix."""
    return diag_embed(input.reshape(-1), offset)


def trace(input: Any) -> Any:
    """The sum of the main diagonal of a matrix (int64 for integer and bool input)."""
    if input.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.ndim}")
    return diagonal(input).sum()


def _check_matrices(input: Any, what: str) -> None:
    if input.ndim < 2:
        raise RuntimeError(
            f"tensor.{what} is only supported on matrices or batches of matrices. Got "
            f"{input.ndim}-D tensor."
        )


def adjoint(input: Any) -> Any:
    """The conjugate transpose of the last two dimensions (a view; real tensors: ``mT``)."""
    _check_matrices(input, "adjoint()")
    return transpose(input, -2, -1)


def t(input: Any) -> Any:
    """The transpose of a matrix; a tensor of fewer dimensions as it is (``Tensor.t``)."""
    return input.t()


# -- selecting and scattering slices --------------------------------------------------------
def _select_index(input: Any, dim: int, index: int, op: str) -> tuple:
    if input.ndim == 0:
        raise IndexError(f"{op}() cannot be applied to a 0-dim tensor.")
    d = normalize_dim(dim, input.ndim, op)
    n = input.shape[d]
    if not -n <= index < n:
        raise IndexError(
            f"{op}(): index {index} out of range for tensor of size {list(input.shape)} at "
            f"dimension {d}"
        )
    return (slice(None),) * d + (int(index),)


def select(input: Any, dim: int, index: int) -> Any:
    """The slice ``index`` of dimension ``dim`` (removed), as a view."""
    return input[_select_index(input, dim, index, "select")]


def _scatter_slice(input: Any, src: Any, key: tuple) -> Any:
    _check_src(src, input[key].shape)
    return index_put(input, key, src)


def select_scatter(input: Any, src: Any, dim: int, index: int) -> Any:
    """A copy of ``input`` with ``src`` written where ``select(input, dim, index)`` reads."""
    return _scatter_slice(input, src, _select_index(input, dim, index, "select_scatter"))


def slice_scatter(
    input: Any,
    src: Any,
    dim: int = 0,
    start: int | None = None,
    end: int | None = None,
    step: int = 1,
) -> Any:
    """A copy of ``input`` with ``src`` written where ``input[..., start:end:step, ...]``
    (the slice along ``dim``) reads."""
    d = normalize_dim(dim, input.ndim, "slice_scatter")
    if step <= 0:
        raise RuntimeError("slice step must be positive")
    return _scatter_slice(input, src, (slice(None),) * d + (slice(start, end, step),))


def narrow_copy(input: Any, dim: int, start: int, length: int) -> Any:
    """A copy (not a view) of ``narrow(input, dim, start, length)``."""
    return narrow(input, dim, start, length).clone()


# -- sliding windows ------------------------------------------------------------------------
class Unfold(Primitive):
    """Windows of ``size`` elements every ``step`` along ``dim``, as a view with the window
    as a new last dimension."""

    kind = VIEW

    @staticmethod
    def infer(x: Aval, *, dim: int, size: int, step: int) -> Aval:  # type: ignore[override]
        shape = list(x.shape)
        shape[dim] = (shape[dim] - size) // step + 1
        return Aval(tuple(shape) + (size,), x.dtype)

    @staticmethod
    def forward(xp, x, *, dim, size, step):
        strides = list(_element_strides(x))
        shape = list(x.shape)
        shape[dim] = (shape[dim] - size) // step + 1
        window = strides[dim]
        strides[dim] *= step
        return _as_strided(xp, x, (0,) * x.ndim, tuple(shape) + (size,), tuple(strides) + (window,))

    @staticmethod
    def vjp(g, x, *, out, dim, size, step):
        windows = g.shape[dim]
        starts = np.arange(windows).reshape(-1, 1) * step
        index = as_tensor_like((starts + np.arange(size)).reshape(-1), dtypes.int64, g)
        rows = g.movedim(-1, dim + 1).reshape(*x.shape[:dim], windows * size, *x.shape[dim + 1 :])
        spec = (("slice", None, None, None),) * dim + (("tensor", 0),)
        return (apply(IndexAdd, rows, index, spec=spec, shape=tuple(x.shape)),)

    saved_inputs = staticmethod(lambda req: (False,))


def unfold(input: Any, dimension: int, size: int, step: int) -> Any:
    """``Tensor.unfold``: every window of ``size`` elements, ``step`` apart, along
    ``dimension``, as a view with the window last."""
    x = input.reshape(1) if input.ndim == 0 else input
    d = normalize_dim(dimension, x.ndim, "unfold")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    if not 0 <= size <= x.shape[d]:
        raise RuntimeError(
            f"maximum size for tensor at dimension {d} is {x.shape[d]} but size is {size}"
        )
    out = apply(Unfold, x, dim=d, size=int(size), step=int(step))
    return out.reshape(size) if input.ndim == 0 else out


# -- repeats, splits, stacks ----------------------------------------------------------------
def _repeat_counts(repeats: Any, n: int, op: str = "repeat_interleave") -> np.ndarray:
    """``repeats`` (an int or an int tensor of 1 or ``n`` entries) as ``n`` host counts."""
    if isinstance(repeats, core._Tensor):
        if repeats.dtype.np.kind not in "iu" or repeats.ndim > 1:
            raise RuntimeError(
                f"{op}: repeats has to be an integer scalar or a 1-D integer tensor, got "
                f"{repeats.dtype.name} of shape {list(repeats.shape)}"
            )
        counts = np.asarray(repeats.numpy()).reshape(-1).astype(np.int64)
    else:
        counts = np.array([int(repeats)], dtype=np.int64)
    if (counts < 0).any():
        raise RuntimeError("repeats can not be negative")
    if counts.size == 1:
        return np.full(n, counts[0], dtype=np.int64)
    if counts.size != n:
        raise RuntimeError(
            f"repeats must have the same size as input along dim, but got repeats.size(0) = "
            f"{counts.size} and input.size(0) = {n}"
        )
    return counts


def _checked_size(counts: np.ndarray, output_size: int | None) -> int:
    total = int(counts.sum())
    if output_size is not None and output_size != total:
        raise RuntimeError(
            f"repeat_interleave: Invalid output_size, expected {total} but got {output_size}"
        )
    return total


def repeat_interleave(
    input: Any,
    repeats: Any = None,
    dim: int | None = None,
    *,
    output_size: int | None = None,
) -> Any:
    """Each element (each slice along ``dim``; of the flattened input when ``dim`` is None)
    repeated ``repeats`` times in place. With only an int tensor ``input``, the indices
    ``i`` repeated ``input[i]`` times."""
    if repeats is None:
        counts = _repeat_counts(input, input.numel())
        _checked_size(counts, output_size)
        return as_tensor_like(np.repeat(np.arange(counts.size), counts), dtypes.int64, input)
    x = input.reshape(-1) if dim is None else input
    d = 0 if dim is None else normalize_dim(dim, x.ndim, "repeat_interleave")
    counts = _repeat_counts(repeats, x.shape[d] if x.ndim else 1)
    _checked_size(counts, output_size)
    index = as_tensor_like(np.repeat(np.arange(counts.size), counts), dtypes.int64, x)
    return index_select(x.reshape(1) if x.ndim == 0 else x, d, index)


def split_with_sizes(input: Any, split_sizes: Sequence[int], dim: int = 0) -> tuple:
    """Views of consecutive pieces of ``split_sizes`` elements along ``dim`` (which must add
    up to its size)."""
    d = normalize_dim(dim, input.ndim, "split_with_sizes")
    sizes = [int(s) for s in split_sizes]
    if sum(sizes) != input.shape[d] or min(sizes, default=0) < 0:
        raise RuntimeError(
            f"split_with_sizes expects split_sizes to sum exactly to {input.shape[d]} (input "
            f"tensor's size at dimension {d}), but got split_sizes={sizes}"
        )
    return split(input, sizes, d)


def unsafe_split(input: Any, split_size: int, dim: int = 0) -> tuple:
    """``split`` into pieces of ``split_size`` elements (an int only, as in PyTorch)."""
    if not isinstance(split_size, (int, np.integer)):
        raise TypeError(
            f"unsafe_split(): argument 'split_size' (position 2) must be int, not "
            f"{type(split_size).__name__}"
        )
    return split(input, int(split_size), dim)


unsafe_chunk = chunk
unsafe_split_with_sizes = split_with_sizes
row_stack = vstack


def _flip_dim(input: Any, dim: int) -> Any:
    if input.ndim <= dim:
        raise RuntimeError(f"Input must be >= {dim + 1}-d.")
    return flip(input, (dim,))


def fliplr(input: Any) -> Any:
    """``input`` with its columns (dimension 1) reversed."""
    return _flip_dim(input, 1)


def flipud(input: Any) -> Any:
    """``input`` with its rows (dimension 0) reversed."""
    return _flip_dim(input, 0)


def block_diag(*tensors: Any) -> Any:
    """The matrices (scalars and vectors count as 1×1 and 1×n) along the diagonal of a zero
    matrix, in their promoted dtype."""
    blocks = []
    for i, x in enumerate(tensors):
        if x.ndim > 2:
            raise RuntimeError(
                f"torch.block_diag: Input tensors must have 2 or fewer dimensions. Input {i} "
                f"has {x.ndim} dimensions"
            )
        blocks.append(x.reshape(1, -1) if x.ndim < 2 else x)
    if not blocks:
        return core._Tensor._wrap(np.empty((1, 0), dtype=dtypes.get_default_dtype().np))
    dtype = dtypes.result_type(*blocks)
    width = sum(b.shape[1] for b in blocks)
    rows, left = [], 0
    for b in blocks:
        rows.append(pad(b.to(dtype), (left, width - left - b.shape[1])))
        left += b.shape[1]
    return cat(rows, 0)


def broadcast_tensors(*tensors: Any) -> tuple:
    """The tensors expanded (as views) to their common broadcast shape."""
    shape = core.broadcast_shapes("broadcast_tensors", *[tuple(x.shape) for x in tensors])
    return tuple(x.expand(*shape) for x in tensors)


def combinations(input: Any, r: int = 2, with_replacement: bool = False) -> Any:
    """Every length-``r`` combination of the elements of a 1-D tensor, one per row, in
    lexicographic order of positions (as ``itertools.combinations``)."""
    if input.ndim != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(input.shape)}")
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return input.new_empty(0)
    pick = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    rows = np.array(list(pick(range(input.shape[0]), r)), dtype=np.int64).reshape(-1, r)
    return input[as_tensor_like(rows, dtypes.int64, input)]


def unravel_index(indices: Any, shape: Any) -> tuple:
    """The coordinates in a tensor of ``shape`` of each flat index of ``indices`` (negative
    ones count from the end), one int64 tensor per dimension."""
    if not isinstance(indices, core._Tensor):
        raise TypeError(f"expected 'indices' to be a tensor, but got {type(indices).__name__}")
    if indices.dtype.np.kind not in "iu":
        raise TypeError(f"expected 'indices' to be integer dtype, but got {indices.dtype}")
    dims = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)
    if any(s < 0 for s in dims):
        raise ValueError("'shape' cannot have negative values, but got " + str(dims))
    n = 1
    for s in dims:
        n *= s
    flat = indices.numpy().astype(np.int64)
    if flat.size and (flat.min() < -n or flat.max() >= n):
        raise ValueError(f"'indices' must be in range [{-n}, {n - 1}]")
    coords = np.unravel_index(flat % max(n, 1), dims) if dims else ()
    return tuple(
        as_tensor_like(np.asarray(c, dtype=np.int64), dtypes.int64, indices) for c in coords
    )


# -- in-place shape changes and the container dunders --------------------------------------
def _restride(self: Any, view: Callable[[Any], Any], op: str) -> Any:
    """Make ``self`` the view ``view(self)``: same memory, new shape and strides; autograd
    follows as for any in-place op (the view's node becomes ``self``'s)."""
    if STATE.grad_enabled and self.requires_grad and self.node is None:
        raise RuntimeError(
            f"{op}: a leaf Variable that requires grad is being used in an in-place operation."
        )
    res = view(self._shallow())
    self._data = res._data
    self.node, self.requires_grad = res.node, res.requires_grad
    self._vc[0] += 1
    return self


def _sum_to_size(self: Any, *size: Any) -> Any:
    """Sum ``self`` down to ``size``, the reverse of expanding a ``size`` tensor to it."""
    target = _shape_arg(size)
    lead = self.ndim - len(target)
    ok = lead >= 0 and all(t in (1, s) for t, s in zip(target, self.shape[lead:]))
    if not ok:
        raise RuntimeError(
            f"size {{{list(target)}}} is not expandable to size {{{list(self.shape)}}}."
        )
    summed = tuple(range(lead)) + tuple(
        lead + i for i, t in enumerate(target) if t == 1 and self.shape[lead + i] != 1
    )
    out = self.sum(summed, keepdim=True) if summed else self
    return out.reshape(target)


def _fill_diagonal(self: Any, fill_value: Any, wrap: bool = False) -> Any:
    """Fill the main diagonal (every dimension's index equal); a tall matrix restarts the
    diagonal every ``cols + 1`` rows when ``wrap``."""
    if self.ndim < 2:
        raise RuntimeError("dimensions must larger than 1")
    if self.ndim > 2 and len(set(self.shape)) > 1:
        raise RuntimeError("all dimensions of input must be of equal length")
    strides = [1] * self.ndim
    for i in range(self.ndim - 2, -1, -1):
        strides[i] = strides[i + 1] * self.shape[i + 1]
    step, n = sum(strides), min(self.shape)
    end = self.numel() if wrap and self.ndim == 2 else n * step - step + 1
    positions = as_tensor_like(np.arange(0, max(end, 0), step), dtypes.int64, self)

    def fill(x: Any) -> Any:
        return index_put(x.reshape(-1), (positions,), fill_value).reshape(*x.shape)

    return core.inplace(self, fill, "fill_diagonal_")


def _storage(t: Any) -> tuple[Any, int]:
    """(the memory ``t`` lives in as a flat array, ``t``'s offset in it): the array of the
    tensor ``t`` is a view of, in memory order."""
    root = (t._base if t._base is not None else t)._data
    if root.flags.c_contiguous:
        flat = root.reshape(-1)
    elif root.flags.f_contiguous:
        flat = root.T.reshape(-1)
    else:  # a strided leaf (from_numpy of a view): its own elements are its storage
        return t._data.reshape(-1), 0
    return flat, (t.data_ptr() - int(flat.__array_interface__["data"][0])) // t.itemsize


def _resize(self: Any, *sizes: Any) -> Any:
    """``self`` made a contiguous tensor of ``sizes`` over the same memory, from its first
    element on; memory is grown as needed (the new elements are zeros, where PyTorch leaves
    them uninitialised)."""
    shape = _shape_arg(sizes)
    if any(n < 0 for n in shape):
        raise RuntimeError(f"resize_: negative dimension in the requested size {list(shape)}")
    if self.requires_grad:
        raise RuntimeError("cannot resize variables that require grad")
    if STATE.tracer is not None:  # ember.jit's plan has a fixed shape for every value
        STATE.tracer.host_read("resize_")
    if shape == tuple(self.shape):
        return self
    n = int(np.prod(shape, dtype=np.int64))
    flat, offset = _storage(self)
    if offset + n <= flat.size:
        data = flat[offset : offset + n]
    else:
        data = backend_of(flat).xp.zeros(n, dtype=flat.dtype)
        data[: flat.size - offset] = flat[offset:]
        self._base = None
    self._data = data.reshape(shape)
    self._vc[0] += 1
    return self


def _contains(self: Any, element: Any) -> bool:
    if not isinstance(element, (core._Tensor, int, float, bool, np.generic)):
        raise RuntimeError(
            f"Tensor.__contains__ only supports Tensor or scalar, but you passed in a "
            f"{type(element)}."
        )
    return bool((self == element).any().item())


class ShapeExtraMethods:
    """Tensor methods and properties of this module."""

    __slots__ = ()
    diagonal = diagonal
    diagonal_scatter = diagonal_scatter
    diag = diag
    diagflat = diagflat
    trace = trace
    adjoint = adjoint
    select = select
    select_scatter = select_scatter
    slice_scatter = slice_scatter
    narrow_copy = narrow_copy
    unfold = unfold
    repeat_interleave = repeat_interleave
    split_with_sizes = split_with_sizes
    unsafe_chunk = unsafe_chunk
    unsafe_split = unsafe_split
    unsafe_split_with_sizes = unsafe_split_with_sizes
    fliplr = fliplr
    flipud = flipud
    sum_to_size = _sum_to_size
    fill_diagonal_ = _fill_diagonal
    resize_ = _resize

    def resize_as_(self, the_template: Any) -> Any:
        """``resize_`` to the shape of ``the_template``."""
        return _resize(self, the_template.shape)

    __contains__ = _contains
    __ifloordiv__ = _inplace_method(floor_divide, "floor_divide_")
    __imod__ = _inplace_method(remainder, "remainder_")

    @property
    def mH(self) -> Any:  # noqa: N802 - PyTorch name
        """The conjugate transpose of the last two dimensions (real tensors: ``mT``)."""
        _check_matrices(self, "mH")
        return transpose(self, -2, -1)

    @property
    def H(self) -> Any:  # noqa: N802 - PyTorch name
        """The conjugate transpose of a matrix (real tensors: ``T``)."""
        if self.ndim != 2:  # type: ignore[attr-defined]
            raise RuntimeError(
                f"tensor.H is only supported on matrices (2-D tensors). Got "
                f"{self.ndim}-D tensor. For batches of matrices, consider using tensor.mH"  # type: ignore[attr-defined]
            )
        return transpose(self, 0, 1)

    def t_(self) -> Any:
        """In-place ``t``."""
        return _restride(self, t, "t_")

    def transpose_(self, dim0: int, dim1: int) -> Any:
        """In-place ``transpose``."""
        return _restride(self, lambda x: transpose(x, dim0, dim1), "transpose_")

    swapaxes_ = swapdims_ = transpose_

    def squeeze_(self, dim: Any = None) -> Any:
        """In-place ``squeeze``."""
        return _restride(self, lambda x: squeeze(x, dim), "squeeze_")

    def unsqueeze_(self, dim: int) -> Any:
        """In-place ``unsqueeze``."""
        return _restride(self, lambda x: unsqueeze(x, dim), "unsqueeze_")

    def storage_offset(self) -> int:
        """Where this tensor's first element lies in the memory it shares with its base, in
        elements."""
        if STATE.tracer is not None:  # the compiled plan lays out its buffers itself
            STATE.tracer.host_read("storage_offset")
        base = self._base if self._base is not None else self  # type: ignore[attr-defined]
        return (self.data_ptr() - base.data_ptr()) // self.itemsize  # type: ignore[attr-defined]

    def __reversed__(self) -> Any:
        return self if self.ndim == 0 else flip(self, (0,))  # type: ignore[attr-defined]

    def __complex__(self) -> complex:
        if self.numel() != 1:  # type: ignore[attr-defined]
            raise ValueError("only one element tensors can be converted to Python scalars")
        return complex(self.item())  # type: ignore[attr-defined]

    def __delitem__(self, key: Any) -> None:
        raise TypeError("Tensor does not support deleting items")
