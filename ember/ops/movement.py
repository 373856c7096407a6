"""Movement primitives: reshape, permute, expand, concatenate, flip, roll, pad, tril/triu.

Most are views in NumPy (no copy). Everything else here (squeeze, transpose, stack, split,
repeat …) is a composite of these and of indexing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ember.ops import core
from ember.ops.autocast import autocast_op
from ember.ops.core import OPAQUE, VIEW, Aval, Primitive, apply, normalize_dim

__all__ = [
    "reshape",
    "view",
    "flatten",
    "unflatten",
    "squeeze",
    "unsqueeze",
    "permute",
    "transpose",
    "swapaxes",
    "movedim",
    "expand",
    "expand_as",
    "broadcast_to",
    "repeat",
    "tile",
    "contiguous",
    "cat",
    "concat",
    "concatenate",
    "stack",
    "hstack",
    "vstack",
    "split",
    "chunk",
    "unbind",
    "narrow",
    "flip",
    "roll",
    "pad",
    "tril",
    "triu",
    "swapdims",
    "moveaxis",
    "ravel",
    "atleast_1d",
    "atleast_2d",
    "atleast_3d",
    "tensor_split",
    "hsplit",
    "vsplit",
    "dsplit",
    "dstack",
    "column_stack",
    "rot90",
    "diff",
    "MovementMethods",
]


def _shape_arg(shape: Sequence[Any]) -> tuple[int, ...]:
    """``f(2, 3)`` and ``f((2, 3))`` both mean shape (2, 3)."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(s) for s in shape)


class Reshape(Primitive):
    kind = VIEW

    @staticmethod
    def infer(x: Aval, *, shape: tuple) -> Aval:  # type: ignore[override]
        return Aval(shape, x.dtype)

    @staticmethod
    def forward(xp, x, *, shape):
        return xp.reshape(x, shape)

    @staticmethod
    def vjp(g, x, *, out, shape):
        return (g.reshape(x.shape),)

    saved_inputs = staticmethod(lambda req: (False,))


class Permute(Primitive):
    kind = VIEW

    @staticmethod
    def infer(x: Aval, *, dims: tuple) -> Aval:  # type: ignore[override]
        return Aval(tuple(x.shape[d] for d in dims), x.dtype)

    @staticmethod
    def forward(xp, x, *, dims):
        return xp.transpose(x, dims)

    @staticmethod
    def vjp(g, x, *, out, dims):
        inverse = [0] * len(dims)
        for i, d in enumerate(dims):
            inverse[d] = i
        return (g.permute(*inverse),)

    saved_inputs = staticmethod(lambda req: (False,))


class Expand(Primitive):
    """Broadcast to a larger shape without copying; the engine sums the gradient back."""

    kind = VIEW

    @staticmethod
    def infer(x: Aval, *, shape: tuple) -> Aval:  # type: ignore[override]
        return Aval(shape, x.dtype)

    @staticmethod
    def forward(xp, x, *, shape):
        return xp.broadcast_to(x, shape)

    @staticmethod
    def vjp(g, x, *, out, shape):
        return (g,)

    saved_inputs = staticmethod(lambda req: (False,))


class Contiguous(Primitive):
    @staticmethod
    def infer(x: Aval) -> Aval:  # type: ignore[override]
        return x

    @staticmethod
    def forward(xp, x):
        return xp.ascontiguousarray(x)

    @staticmethod
    def vjp(g, x, *, out):
        return (g,)

    saved_inputs = staticmethod(lambda req: (False,))


class Cat(Primitive):
    """Concatenate any number of same-dtype tensors along ``dim``."""

    kind = OPAQUE

    @staticmethod
    def infer(*xs: Aval, dim: int) -> Aval:  # type: ignore[override]
        first = xs[0]
        for i, x in enumerate(xs[1:], 1):
            if len(x.shape) != len(first.shape) or any(
                a != b for j, (a, b) in enumerate(zip(x.shape, first.shape)) if j != dim
            ):
                raise ValueError(
                    f"cat: sizes of tensors must match except in dimension {dim}: tensor 0 has "
                    f"shape {first.shape} but tensor {i} has shape {x.shape}"
                )
        size = sum(x.shape[dim] for x in xs)
        return Aval(first.shape[:dim] + (size,) + first.shape[dim + 1 :], first.dtype)

    @staticmethod
    def forward(xp, *xs, dim):
        return xp.concatenate(xs, axis=dim)

    @staticmethod
    def vjp(g, *xs, out, dim):
        grads, start = [], 0
        for x in xs:
            n = x.shape[dim]
            grads.append(g.narrow(dim, start, n))
            start += n
        return tuple(grads)

    saved_inputs = staticmethod(lambda req: (False,) * len(req))


class Flip(Primitive):
    kind = VIEW

    @staticmethod
    def infer(x: Aval, *, dims: tuple) -> Aval:  # type: ignore[override]
        return x

    @staticmethod
    def forward(xp, x, *, dims):
        return xp.flip(x, dims)

    @staticmethod
    def vjp(g, x, *, out, dims):
        return (g.flip(dims),)

    saved_inputs = staticmethod(lambda req: (False,))


class Roll(Primitive):
    @staticmethod
    def infer(x: Aval, *, shifts: tuple, dims: tuple) -> Aval:  # type: ignore[override]
        return x

    @staticmethod
    def forward(xp, x, *, shifts, dims):
        return xp.roll(x, shifts, dims)

    @staticmethod
    def vjp(g, x, *, out, shifts, dims):
        return (apply(Roll, g, shifts=tuple(-s for s in shifts), dims=dims),)

    saved_inputs = staticmethod(lambda req: (False,))


class ConstantPad(Primitive):
    """Pad with a constant; ``widths`` is ((before, after), …) per dim, non-negative."""

    @staticmethod
    def infer(x: Aval, *, widths: tuple, value: float) -> Aval:  # type: ignore[override]
        return Aval(tuple(n + a + b for n, (a, b) in zip(x.shape, widths)), x.dtype)

    @staticmethod
    def forward(xp, x, *, widths, value):
        return xp.pad(x, widths, mode="constant", constant_values=value)

    @staticmethod
    def vjp(g, x, *, out, widths, value):
        index = tuple(slice(a, a + n) for (a, _), n in zip(widths, x.shape))
        return (g[index],)

    saved_inputs = staticmethod(lambda req: (False,))


class _Triangle(Primitive):
    abstract = True

    @classmethod
    def infer(cls, x: Aval, *, diagonal: int) -> Aval:  # type: ignore[override]
        if len(x.shape) < 2:
            raise ValueError(
                f"{cls.name.lower()}: input tensor must have at least 2 dimensions, got shape "
                f"{x.shape}"
            )
        return x

    saved_inputs = staticmethod(lambda req: (False,))


class Tril(_Triangle):
    check_eagerly = True

    @staticmethod
    def forward(xp, x, *, diagonal):
        return xp.tril(x, diagonal)

    @staticmethod
    def vjp(g, x, *, out, diagonal):
        return (g.tril(diagonal),)


class Triu(_Triangle):
    check_eagerly = True

    @staticmethod
    def forward(xp, x, *, diagonal):
        return xp.triu(x, diagonal)

    @staticmethod
    def vjp(g, x, *, out, diagonal):
        return (g.triu(diagonal),)


# -- public functions -----------------------------------------------------------------------
def _resolve_shape(op: str, x: Any, shape: tuple) -> tuple[int, ...]:
    """``shape`` with its -1 inferred, checked against ``x``'s number of elements."""
    size = x._data.size
    if shape.count(-1) > 1:
        raise ValueError(f"{op}: only one dimension can be inferred (-1), got {list(shape)}")
    if -1 in shape:
        known = 1
        for s in shape:
            if s != -1:
                known *= s
        if known == 0 or size % known:
            raise ValueError(f"{op}: shape '{list(shape)}' is invalid for input of size {size}")
        shape = tuple(size // known if s == -1 else s for s in shape)
    n = 1
    for s in shape:
        if s < 0:
            raise ValueError(f"{op}: invalid shape dimension {s} in {list(shape)}")
        n *= s
    if n != size:
        raise ValueError(f"{op}: shape '{list(shape)}' is invalid for input of size {size}")
    return shape


def reshape(x: Any, *shape: Any) -> Any:
    """The same elements in a new shape (one dimension may be -1, inferred)."""
    shape = _resolve_shape("reshape", x, _shape_arg(shape))
    if shape == x._data.shape:
        return x
    return apply(Reshape, x, shape=shape)


def _viewable(shape: tuple[int, ...], strides: tuple[int, ...], new: tuple[int, ...]) -> bool:
    """Whether ``new`` (same size) can address memory of ``shape``/``strides`` without a copy.

    The old dims (size-1 dims aside) fall into runs that are contiguous with each other; a
    view may merge dims within a run and split a run, but never merge across runs.
    """
    if 0 in shape:
        return True
    runs: list[int] = []
    prev = None
    for n, st in zip(shape, strides):
        if n == 1:
            continue
        if prev is not None and prev == st * n:
            runs[-1] *= n
        else:
            runs.append(n)
        prev = st
    k, acc = 0, 1
    for n in new:
        if n == 1:
            continue
        acc *= n
        if acc == runs[k]:
            k, acc = k + 1, 1
        elif runs[k] % acc:
            return False
    return True


def view(x: Any, *shape: Any) -> Any:
    """``x``'s memory seen in a new shape; an error (like PyTorch's) where that needs a copy."""
    shape = _resolve_shape("view", x, _shape_arg(shape))
    if not _viewable(x._data.shape, x._data.strides, shape):
        raise RuntimeError(
            f"view: view size is not compatible with input tensor's size and stride (at least "
            f"one dimension spans across two contiguous subspaces): shape {tuple(x.shape)} with "
            f"strides {x.stride()} cannot be seen as {shape} without a copy. Use .reshape(...) "
            "instead."
        )
    return reshape(x, *shape)


def flatten(x: Any, start_dim: int = 0, end_dim: int = -1) -> Any:
    """Merge dimensions ``start_dim`` … ``end_dim`` into one."""
    if x.ndim == 0:
        return x.reshape(1)
    s = normalize_dim(start_dim, x.ndim, "flatten")
    e = normalize_dim(end_dim, x.ndim, "flatten")
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} cannot come after end_dim {end_dim}")
    shape = x.shape
    return x.reshape(*shape[:s], -1 if x.numel() else _prod(shape[s : e + 1]), *shape[e + 1 :])


def _prod(xs: Sequence[int]) -> int:
    n = 1
    for v in xs:
        n *= v
    return n


def unflatten(x: Any, dim: int, sizes: Sequence[int]) -> Any:
    """Split dimension ``dim`` into ``sizes``."""
    d = normalize_dim(dim, x.ndim, "unflatten")
    sizes = tuple(int(s) for s in sizes)
    known = _prod([s for s in sizes if s != -1])
    n = x.shape[d]
    if (-1 not in sizes and known != n) or (-1 in sizes and (known == 0 or n % known)):
        raise ValueError(
            f"unflatten: provided sizes {list(sizes)} don't multiply up to the size of dim "
            f"{dim} ({n}) in the input tensor of shape {tuple(x.shape)}"
        )
    return x.reshape(*x.shape[:d], *sizes, *x.shape[d + 1 :])


def squeeze(x: Any, dim: Any = None) -> Any:
    """Drop dimensions of size 1 (all of them, or those in ``dim``)."""
    if dim is None:
        return x.reshape(tuple(n for n in x.shape if n != 1))
    dims = core.normalize_dims(dim, x.ndim, "squeeze")
    return x.reshape(tuple(n for i, n in enumerate(x.shape) if not (i in dims and n == 1)))


def unsqueeze(x: Any, dim: int) -> Any:
    """Insert a dimension of size 1 at ``dim``."""
    d = normalize_dim(dim, x.ndim + 1, "unsqueeze")
    shape = tuple(x.shape)
    return x.reshape(shape[:d] + (1,) + shape[d:])


def permute(x: Any, *dims: Any) -> Any:
    """Reorder dimensions."""
    dims = _shape_arg(dims)
    if len(dims) != x.ndim:
        raise ValueError(
            f"permute: number of dims don't match: got {len(dims)} dims "
            f"{list(dims)} for a tensor of shape {tuple(x.shape)}"
        )
    dims = tuple(normalize_dim(d, x.ndim, "permute") for d in dims)
    if len(set(dims)) != len(dims):
        raise ValueError(f"permute: repeated dim in {list(dims)}")
    if dims == tuple(range(x.ndim)):
        return x
    return apply(Permute, x, dims=dims)


def transpose(x: Any, dim0: int, dim1: int) -> Any:
    """Swap two dimensions."""
    if x.ndim == 0:
        return x
    a, b = normalize_dim(dim0, x.ndim, "transpose"), normalize_dim(dim1, x.ndim, "transpose")
    dims = list(range(x.ndim))
    dims[a], dims[b] = dims[b], dims[a]
    return permute(x, *dims)


swapaxes = swapdims = transpose


def movedim(x: Any, source: Any, destination: Any) -> Any:
    """Move dimension(s) ``source`` to position(s) ``destination``."""
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    if len(src) != len(dst):
        raise ValueError(
            f"movedim: invalid source or destination dims: source ({source}) and destination "
            f"({destination}) must have the same number of dims: {len(src)} vs {len(dst)}"
        )
    src = [normalize_dim(d, x.ndim, "movedim") for d in src]
    dst = [normalize_dim(d, x.ndim, "movedim") for d in dst]
    for what, ds in (("source", src), ("destination", dst)):
        if len(set(ds)) != len(ds):
            raise ValueError(f"movedim: repeated dim in {what} {ds}")
    rest = [d for d in range(x.ndim) if d not in src]
    order = [0] * x.ndim
    for s, d in zip(src, dst):
        order[d] = s
    it = iter(rest)
    for i in range(x.ndim):
        if i not in dst:
            order[i] = next(it)
    return permute(x, *order)


def expand(x: Any, *sizes: Any) -> Any:
    """Broadcast to ``sizes`` without copying (-1 keeps a dimension)."""
    sizes = _shape_arg(sizes)
    if len(sizes) < x.ndim:
        raise ValueError(
            f"expand: the number of sizes provided ({len(sizes)}) must be greater "
            f"or equal to the number of dimensions in the tensor ({x.ndim})"
        )
    lead = len(sizes) - x.ndim
    shape = []
    for i, s in enumerate(sizes):
        old = x.shape[i - lead] if i >= lead else None
        if s == -1:
            if old is None:
                raise ValueError("expand: -1 is not allowed in a leading, non-existing dimension")
            s = old
        if old is not None and old != 1 and old != s:
            raise ValueError(
                f"expand: the expanded size of the tensor ({s}) must match the existing size "
                f"({old}) at non-singleton dimension {i}: target sizes {list(sizes)}, tensor "
                f"shape {list(x.shape)}"
            )
        shape.append(s)
    shape_t = tuple(shape)
    if shape_t == x._data.shape:
        return x
    return apply(Expand, x, shape=shape_t)


def expand_as(x: Any, other: Any) -> Any:
    """Broadcast to ``other``'s shape."""
    return expand(x, *other.shape)


def broadcast_to(x: Any, shape: Sequence[int]) -> Any:
    """Broadcast to ``shape``."""
    return expand(x, *shape)


def repeat(x: Any, *repeats: Any) -> Any:
    """Tile the tensor ``repeats[i]`` times along each dimension (copies)."""
    reps = _shape_arg(repeats)
    if len(reps) < x.ndim:
        raise ValueError(
            f"repeat: number of repeat dims ({len(reps)}) can not be smaller than "
            f"number of tensor dims ({x.ndim})"
        )
    shape = (1,) * (len(reps) - x.ndim) + tuple(x.shape)
    inter = []
    for n in shape:
        inter += [1, n]
    big = []
    for r, n in zip(reps, shape):
        big += [r, n]
    tiled = x.reshape(inter).expand(*big).reshape(*(r * n for r, n in zip(reps, shape)))
    # the reshape may return a view of x (all repeats 1) or of the broadcast (read-only
    # memory); repeat always gives fresh memory, as torch's does
    return tiled.clone() if tiled._base is not None else tiled


def tile(x: Any, dims: Sequence[int]) -> Any:
    """Like ``repeat``, padding ``dims`` with leading 1s."""
    dims = tuple(dims)
    return repeat(x, *((1,) * (x.ndim - len(dims)) + dims))


def contiguous(x: Any) -> Any:
    """A C-contiguous tensor with the same values (the same tensor when it already is)."""
    if x._data.flags.c_contiguous:
        return x
    return apply(Contiguous, x)


@autocast_op
def cat(tensors: Sequence[Any], dim: int = 0) -> Any:
    """Concatenate tensors along an existing dimension."""
    from ember.ops.elementwise import promote

    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty list of Tensors")
    if any(not isinstance(t, core._Tensor) for t in tensors):
        raise TypeError(
            f"cat: expected a sequence of Tensors, got {[type(t).__name__ for t in tensors]}"
        )
    nd = tensors[0].ndim
    if nd == 0:
        raise ValueError("cat: zero-dimensional tensor cannot be concatenated")
    d = normalize_dim(dim, nd, "cat")
    tensors = list(promote("cat", *tensors)) if len(tensors) > 1 else tensors
    for i, t in enumerate(tensors):
        if t.ndim != nd:
            raise ValueError(
                f"cat: tensors must have the same number of dimensions: tensor 0 has shape "
                f"{tuple(tensors[0].shape)} but tensor {i} has shape {tuple(t.shape)}"
            )
    if len(tensors) == 1:
        return tensors[0]
    return apply(Cat, *tensors, dim=d)


concat = concatenate = cat


@autocast_op
def stack(tensors: Sequence[Any], dim: int = 0) -> Any:
    """Join tensors of equal shape along a new dimension."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        if tuple(t.shape) != tuple(tensors[0].shape):
            raise ValueError(
                f"stack: expects each tensor to be equal size, but got "
                f"{list(tensors[0].shape)} at entry 0 and {list(t.shape)} at "
                f"entry {i}"
            )
    d = normalize_dim(dim, tensors[0].ndim + 1, "stack")
    return (
        cat([t.unsqueeze(d) for t in tensors], d) if len(tensors) > 1 else tensors[0].unsqueeze(d)
    )


def hstack(tensors: Sequence[Any]) -> Any:
    """Concatenate along dim 1 (dim 0 for 1-D tensors)."""
    tensors = list(tensors)
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1)


def vstack(tensors: Sequence[Any]) -> Any:
    """Concatenate along dim 0 (1-D tensors become rows)."""
    return cat([t.reshape(1, -1) if t.ndim == 1 else t for t in tensors], 0)


def narrow(x: Any, dim: int, start: int, length: int) -> Any:
    """The slice ``start : start + length`` of dimension ``dim`` (a view)."""
    d = normalize_dim(dim, x.ndim, "narrow")
    n = x.shape[d]
    if start < 0:
        start += n
    if not 0 <= start <= n or length < 0 or start + length > n:
        raise ValueError(
            f"narrow: start ({start}) + length ({length}) exceeds dimension size ({n}) of dim {dim}"
        )
    index = (slice(None),) * d + (slice(start, start + length),)
    return x[index]


def split(x: Any, split_size_or_sections: Any, dim: int = 0) -> tuple:
    """Pieces of size ``split_size`` (last may be smaller), or of the listed sizes."""
    d = normalize_dim(dim, x.ndim, "split")
    n = x.shape[d]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        if size <= 0 and n:
            raise ValueError(f"split: split_size must be positive, got {size}")
        sizes = [min(size, n - s) for s in range(0, n, size)] if n else [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n:
            raise ValueError(
                f"split: split sizes {sizes} sum to {sum(sizes)}, expected the "
                f"size of dim {dim}, {n}"
            )
    out, start = [], 0
    for s in sizes:
        out.append(narrow(x, d, start, s))
        start += s
    return tuple(out)


def chunk(x: Any, chunks: int, dim: int = 0) -> tuple:
    """Split into ``chunks`` pieces of (nearly) equal size."""
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    n = x.shape[normalize_dim(dim, x.ndim, "chunk")]
    size = -(-n // chunks) if n else 1
    return split(x, size, dim)


def unbind(x: Any, dim: int = 0) -> tuple:
    """The slices along ``dim`` with that dimension removed."""
    d = normalize_dim(dim, x.ndim, "unbind")
    return tuple(x[(slice(None),) * d + (i,)] for i in range(x.shape[d]))


def flip(x: Any, dims: Any) -> Any:
    """Reverse the order of elements along ``dims``."""
    dims = core.normalize_dims(dims, x.ndim, "flip") if x.ndim else ()  # a scalar has dim 0
    return apply(Flip, x, dims=dims)


def roll(x: Any, shifts: Any, dims: Any = None) -> Any:
    """Shift elements cyclically along ``dims`` (of the flattened tensor when None)."""
    if dims is None:
        return roll(x.reshape(-1), shifts, 0).reshape(x.shape)
    shifts_t = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    dims_t = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(shifts_t) != len(dims_t):
        raise ValueError(f"roll: shifts {shifts_t} and dims {dims_t} must have the same length")
    dims_t = tuple(normalize_dim(d, x.ndim, "roll") for d in dims_t)
    return apply(Roll, x, shifts=tuple(int(s) for s in shifts_t), dims=dims_t)


def pad(x: Any, pad: Sequence[int], mode: str = "constant", value: float = 0.0) -> Any:
    """Pad the last ``len(pad) // 2`` dimensions; ``pad`` lists (left, right) from the last dim.

    Negative widths crop. Modes: 'constant', 'reflect', 'replicate', 'circular'.
    """
    pad = [int(p) for p in pad]
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(
            f"pad: padding length must be even and at most 2 * ndim ({2 * x.ndim}), got {len(pad)}"
        )
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    if any(a < 0 or b < 0 for a, b in widths):  # crop first, then pad the rest
        index = tuple(slice(-a if a < 0 else None, b if b < 0 else None) for a, b in widths)
        x = x[index]
        widths = [(max(a, 0), max(b, 0)) for a, b in widths]
    if mode == "constant":
        return apply(ConstantPad, x, widths=tuple(widths), value=float(value))
    if mode not in ("reflect", "replicate", "circular"):
        raise ValueError(
            f"pad: unknown mode {mode!r}: expected 'constant', 'reflect', 'replicate' or 'circular'"
        )
    from ember import dtypes
    from ember.ops.elementwise import as_tensor_like
    from ember.ops.index import index_select

    for d, (a, b) in enumerate(widths):
        if not a and not b:
            continue
        n = x.shape[d]
        if mode == "reflect" and (a >= n or b >= n):
            raise ValueError(
                f"pad: padding ({a}, {b}) should be less than the input size {n} "
                f"in dim {d} for reflect mode"
            )
        idx = as_tensor_like(_pad_source_indices(n, a, b, mode), dtypes.int64, x)
        x = index_select(x, d, idx)
    return x


def _pad_source_indices(n: int, before: int, after: int, mode: str) -> np.ndarray:
    """For each padded position along a dimension of size ``n``, the source position."""
    i = np.arange(-before, n + after)
    if mode == "reflect":
        i = np.abs(i)
        return np.where(i >= n, 2 * (n - 1) - i, i)
    if mode == "replicate":
        return np.clip(i, 0, n - 1)
    return i % n


def tril(x: Any, diagonal: int = 0) -> Any:
    """Zero the elements above the ``diagonal``-th diagonal."""
    return apply(Tril, x, diagonal=int(diagonal))


def triu(x: Any, diagonal: int = 0) -> Any:
    """Zero the elements below the ``diagonal``-th diagonal."""
    return apply(Triu, x, diagonal=int(diagonal))


moveaxis = movedim


def ravel(input: Any) -> Any:
    """The elements as a 1-D tensor (a view when the layout allows)."""
    return reshape(input, -1)


def _atleast(tensors: tuple, ndim: int) -> Any:
    """``atleast_Nd``: one tensor in, one out; several (or a sequence) in, a tuple out."""
    one = len(tensors) == 1 and isinstance(tensors[0], core._Tensor)
    items = tensors[0] if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else tensors
    out = []
    for t in items:
        if not isinstance(t, core._Tensor):
            raise TypeError(f"atleast_{ndim}d: expected Tensors, got {type(t).__name__}")
        if t.ndim == 0:
            t = reshape(t, *(1,) * ndim)
        elif t.ndim < ndim:  # (n,) -> (1, n) or (1, n, 1); (m, n) -> (m, n, 1), as NumPy
            t = reshape(t, *(1, *t.shape, 1)[:ndim] if t.ndim == 1 else (*t.shape, 1))
        out.append(t)
    return out[0] if one else tuple(out)


def atleast_1d(*tensors: Any) -> Any:
    """Each tensor viewed with at least one dimension."""
    return _atleast(tensors, 1)


def atleast_2d(*tensors: Any) -> Any:
    """Each tensor viewed with at least two dimensions (a vector becomes a row)."""
    return _atleast(tensors, 2)


def atleast_3d(*tensors: Any) -> Any:
    """Each tensor viewed with at least three dimensions (as PyTorch and NumPy pad them)."""
    return _atleast(tensors, 3)


def tensor_split(input: Any, indices_or_sections: Any, dim: int = 0) -> tuple:
    """Views of ``input`` split along ``dim`` into n nearly equal parts (the first ones one
    longer), or at the given indices (sliced like Python lists: negative ones count from the
    end, and out-of-order ones give empty parts)."""
    d = normalize_dim(dim, input.ndim, "tensor_split")
    n = input.shape[d]
    arg = indices_or_sections
    if isinstance(arg, core._Tensor):
        if arg.dtype.is_floating_point or arg.ndim > 1:
            raise TypeError(
                "tensor_split: indices_or_sections must be a 0-d or 1-D integer tensor, got a "
                f"{arg.ndim}-D {arg.dtype.name} tensor"
            )
        arg = arg.item() if arg.ndim == 0 else arg.tolist()
    if isinstance(arg, (int, np.integer)):
        if arg <= 0:
            raise ValueError(f"tensor_split: number of sections must be positive, got {arg}")
        size, extra = divmod(n, int(arg))
        cuts = [i * size + min(i, extra) for i in range(1, int(arg))]
    else:
        cuts = [int(i) for i in arg]
    bounds = [None, *cuts, None]
    lead = (slice(None),) * d
    return tuple(input[(*lead, slice(a, b))] for a, b in zip(bounds[:-1], bounds[1:]))


def _even_split(op: str, input: Any, sections: Any, dim: int, min_ndim: int) -> tuple:
    if input.ndim < min_ndim:
        raise ValueError(
            f"{op}: requires a tensor with at least {min_ndim} dimension(s), but got a tensor "
            f"with {input.ndim} dimension(s)"
        )
    if isinstance(sections, int) and (sections <= 0 or input.shape[dim] % sections):
        raise ValueError(
            f"{op}: attempted to split along dimension {dim}, but the size of the dimension "
            f"{input.shape[dim]} is not divisible by the split_size {sections}"
        )
    return tensor_split(input, sections, dim)


def hsplit(input: Any, indices_or_sections: Any) -> tuple:
    """``tensor_split`` along dim 1 (dim 0 for a vector), in equal parts when given a count."""
    return _even_split("hsplit", input, indices_or_sections, 0 if input.ndim == 1 else 1, 1)


def vsplit(input: Any, indices_or_sections: Any) -> tuple:
    """``tensor_split`` along dim 0 of a tensor with at least 2 dimensions."""
    return _even_split("vsplit", input, indices_or_sections, 0, 2)


def dsplit(input: Any, indices_or_sections: Any) -> tuple:
    """``tensor_split`` along dim 2 of a tensor with at least 3 dimensions."""
    return _even_split("dsplit", input, indices_or_sections, 2, 3)


def dstack(tensors: Sequence[Any]) -> Any:
    """Concatenate along dim 2, after making each tensor at least 3-D."""
    return cat(atleast_3d(tuple(tensors)), 2)


def column_stack(tensors: Sequence[Any]) -> Any:
    """Concatenate along dim 1; 0-d and 1-D tensors become columns."""
    return cat([reshape(t, -1, 1) if t.ndim <= 1 else t for t in tensors], 1)


def rot90(input: Any, k: int = 1, dims: Sequence[int] = (0, 1)) -> Any:
    """Rotate by 90 degrees ``k`` times in the plane of ``dims``, from the first towards the
    second."""
    if len(dims) != 2:
        raise ValueError(f"rot90: expected total rotation dims == 2, but got dims = {len(dims)}")
    if input.ndim < 2:
        raise ValueError(f"rot90: expected total dims >= 2, but got total dims = {input.ndim}")
    a, b = (normalize_dim(d, input.ndim, "rot90") for d in dims)
    if a == b:
        raise ValueError(f"rot90: expected rotation dims to be different, but got {a} and {b}")
    k %= 4
    if k == 1:
        return transpose(flip(input, (b,)), a, b)
    if k == 2:
        return flip(input, (a, b))
    if k == 3:
        return flip(transpose(input, a, b), (b,))
    return input.clone()


def diff(input: Any, n: int = 1, dim: int = -1, prepend: Any = None, append: Any = None) -> Any:
    """The ``n``-th forward difference along ``dim`` (``!=`` for bool tensors), after joining
    ``prepend`` and ``append`` on."""
    from ember.ops.elementwise import ne, sub

    d = normalize_dim(dim, input.ndim, "diff")
    if n < 0:
        raise ValueError(f"diff: order must be non-negative but got {n}")
    parts = [t for t in (prepend, input, append) if t is not None]
    x = cat(parts, d) if len(parts) > 1 else input
    step = ne if x.dtype.name == "bool" else sub
    for _ in range(n):
        length = x.shape[d]
        if length == 0:
            break
        x = step(narrow(x, d, 1, length - 1), narrow(x, d, 0, length - 1))
    return x


class MovementMethods:
    """Tensor methods of the movement family."""

    __slots__ = ()
    reshape = reshape
    view = view
    flatten = flatten
    unflatten = unflatten
    squeeze = squeeze
    unsqueeze = unsqueeze
    permute = permute
    transpose = transpose
    swapaxes = swapdims = swapaxes
    movedim = moveaxis = movedim
    ravel = ravel
    tensor_split = tensor_split
    hsplit = hsplit
    vsplit = vsplit
    dsplit = dsplit
    rot90 = rot90
    diff = diff
    expand = expand
    expand_as = expand_as
    broadcast_to = broadcast_to
    repeat = repeat
    tile = tile
    contiguous = contiguous
    split = split
    chunk = chunk
    unbind = unbind
    narrow = narrow

    def flip(self, *args: Any, dims: Any = None) -> Any:
        """``x.flip(0, 1)``, ``x.flip((0, 1))`` or ``x.flip(dims=(0, 1))``."""
        return flip(self, _shape_arg(args) if dims is None else dims)

    roll = roll
    tril = tril
    triu = triu

    def tril_(self, diagonal: int = 0) -> Any:
        """In-place tril."""
        return core.inplace(self, lambda x: tril(x, diagonal), "tril_")

    def triu_(self, diagonal: int = 0) -> Any:
        """In-place triu."""
        return core.inplace(self, lambda x: triu(x, diagonal), "triu_")

    def view_as(self, other: Any) -> Any:
        return reshape(self, *other.shape)

    def reshape_as(self, other: Any) -> Any:
        return reshape(self, *other.shape)

    @property
    def T(self) -> Any:  # noqa: N802 - PyTorch name
        """All dimensions reversed."""
        return permute(self, *reversed(range(self.ndim)))  # type: ignore[attr-defined]

    @property
    def mT(self) -> Any:  # noqa: N802
        """The last two dimensions swapped (batched matrix transpose)."""
        if self.ndim < 2:  # type: ignore[attr-defined]
            raise ValueError(
                f"mT: tensor.mT is only supported on matrices or batches of "
                f"matrices, got a {self.ndim}-D tensor"
            )  # type: ignore
        return transpose(self, -2, -1)

    def t(self) -> Any:
        """Transpose a matrix (≤ 2-D)."""
        if self.ndim > 2:  # type: ignore[attr-defined]
            raise RuntimeError(
                f"t() expects a tensor with <= 2 dimensions, but self is {self.ndim}D"
            )  # type: ignore[attr-defined]
        return permute(self, *reversed(range(self.ndim)))  # type: ignore[attr-defined]
