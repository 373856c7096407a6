"""Tensor facts and small utilities torch has as methods and functions: the device index, the
legacy type name, dim order, memory pinning, casting rules, elementwise Python callbacks
(``apply_``, ``map_``, ``map2_``) and ``new_empty_strided``. ``install()`` adds the methods to
Tensor when ember loads."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ember import dtypes
from ember.arrays import cuda_available, get_backend
from ember.autograd import no_grad
from ember.creation import empty, from_host
from ember.layouts import strided
from ember.tensor import Tensor

__all__ = ["typename", "is_storage", "get_device", "can_cast"]

_TYPE_NAMES = {
    dtypes.float32: "Float",
    dtypes.float64: "Double",
    dtypes.float16: "Half",
    dtypes.bfloat16: "BFloat16",
    dtypes.int64: "Long",
    dtypes.int32: "Int",
    dtypes.int16: "Short",
    dtypes.int8: "Char",
    dtypes.uint8: "Byte",
    dtypes.bool_: "Bool",
}


def typename(obj: Any, /) -> str:
    """The legacy type name of a tensor (``ember.FloatTensor``, ``ember.cuda.LongTensor``),
    or the qualified class name of anything else."""
    if isinstance(obj, Tensor):
        where = "ember.cuda." if obj.is_cuda else "ember."
        return f"{where}{_TYPE_NAMES.get(obj.dtype, obj.dtype.name)}Tensor"
    kind = obj if isinstance(obj, type) else type(obj)
    module = kind.__module__
    if module in (None, "builtins"):
        return kind.__qualname__
    return f"{module}.{kind.__qualname__}"


def is_storage(obj: Any, /) -> bool:
    """False: ember has no storage objects (a tensor owns its array directly)."""
    return False


def get_device(input: Tensor) -> int:
    """The CUDA device index of ``input``, or -1 on the CPU."""
    if not isinstance(input, Tensor):
        raise TypeError(
            f"get_device(): argument 'input' (position 1) must be Tensor, not "
            f"{type(input).__name__}"
        )
    return input.get_device()


def _kind(d: dtypes.dtype) -> int:
    """0 bool, 1 integer, 2 floating: a cast may go up this order or stay, never down."""
    if d is dtypes.bool_:
        return 0
    return 2 if d.is_floating_point else 1


def can_cast(from_: dtypes.dtype, to: dtypes.dtype) -> bool:
    """Whether type promotion allows casting ``from_`` to ``to``: never from a floating type
    to an integer or bool one, nor from an integer to bool."""
    for position, (name, value) in enumerate((("from_", from_), ("to", to)), start=1):
        if not isinstance(value, dtypes.dtype):
            raise TypeError(
                f"can_cast(): argument '{name}' (position {position}) must be ember.dtype, not "
                f"{type(value).__name__}"
            )
    return _kind(from_) <= _kind(to)


# -- Tensor methods ---------------------------------------------------------------------------
def _get_device(self: Tensor) -> int:
    """The CUDA device index, or -1 on the CPU."""
    if not self.is_cuda:
        return -1
    index = self.device.index
    return 0 if index is None else index


def _char(self: Tensor) -> Tensor:
    """This tensor as int8."""
    return self.to(dtypes.int8)


def _is_pinned(self: Tensor) -> bool:
    """Whether this CPU tensor's memory is page-locked (pinned) for fast copies to a GPU."""
    if self.is_cuda or not cuda_available():
        return False
    from cupy.cuda import runtime

    attributes = runtime.pointerGetAttributes(self.data_ptr())
    return attributes.type == runtime.memoryTypeHost


def _pin_memory(self: Tensor) -> Tensor:
    """A copy of this CPU tensor in page-locked memory (copies from it to a GPU are faster
    and can run asynchronously); needs a GPU, like torch."""
    if not cuda_available():
        raise RuntimeError("Cannot access accelerator device when none is available.")
    if self.is_cuda:
        raise RuntimeError(f"cannot pin '{typename(self)}' only dense CPU tensors can be pinned")
    if _is_pinned(self):
        return self
    import cupyx

    pinned = cupyx.empty_pinned(tuple(self.shape), dtype=self._data.dtype)
    pinned[...] = self._data
    return Tensor._wrap(pinned)


def _output_nr(self: Tensor) -> int:
    """Which output of its grad_fn this tensor is: always 0, as each ember node has one."""
    return 0


def _to_dense(self: Tensor, dtype: Any = None, *, masked_grad: bool | None = None) -> Tensor:
    """Itself (ember tensors are dense), in ``dtype`` when given."""
    return self if dtype is None else self.to(dtype)


def _dim_order(self: Tensor, ambiguity_check: bool = False) -> tuple[int, ...]:
    """The dims from outermost to innermost in memory (largest stride first); with
    ``ambiguity_check``, an error when two dims share a stride (size-1 dims) so the order is
    not unique."""
    strides = self.stride()
    if ambiguity_check and len(set(strides)) != len(strides):
        raise RuntimeError(
            "The tensor does not have unique dim order, or cannot map to exact one of the given "
            "memory formats."
        )
    return tuple(sorted(range(self.ndim), key=lambda d: -strides[d]))


def _check_callback_target(self: Tensor, op: str) -> None:
    if self.requires_grad:
        raise RuntimeError(
            f"Can't call {op}() on Variable that requires grad. Use var.detach().{op}() instead."
        )
    if self.is_cuda:
        raise RuntimeError(f"{op}: only implemented on CPU tensors")


def _map_values(self: Tensor, op: str, others: Sequence[Tensor], fn: Callable) -> Tensor:
    """Write ``fn(self[i], *(o[i] for o in others))`` into every element, in place."""
    _check_callback_target(self, op)
    shape = tuple(self.shape)
    columns = [self.numpy().ravel().tolist()]
    for other in others:
        if not isinstance(other, Tensor):
            raise TypeError(f"{op}: expected Tensor arguments, got {type(other).__name__}")
        if other.dtype is not self.dtype:
            raise TypeError(
                f"{op}: expected {typename(self)} for the other tensors (got {typename(other)})"
            )
        columns.append(np.broadcast_to(other.detach().numpy(), shape).ravel().tolist())
    values = np.array([fn(*items) for items in zip(*columns)], dtype=self._data.dtype)
    with no_grad():
        self.copy_(from_host(values.reshape(shape), dtype=self.dtype))
    return self


def _apply_(self: Tensor, callable: Callable[[Any], Any]) -> Tensor:
    """Replace each element x by ``callable(x)`` (a Python function: slow, CPU only)."""
    return _map_values(self, "apply_", (), callable)


def _map_(self: Tensor, tensor: Tensor, callable: Callable[[Any, Any], Any]) -> Tensor:
    """Replace each element x by ``callable(x, y)``, y from ``tensor`` broadcast to this shape."""
    return _map_values(self, "map_", (tensor,), callable)


def _map2_(self: Tensor, x: Tensor, y: Tensor, callable: Callable[..., Any]) -> Tensor:
    """Replace each element s by ``callable(s, a, b)``, a and b from ``x`` and ``y``."""
    return _map_values(self, "map2_", (x, y), callable)


def _new_empty_strided(
    self: Tensor,
    size: Sequence[int],
    stride: Sequence[int],
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """An uninitialised tensor of ``size`` laid out with ``stride`` (in elements), of this
    tensor's dtype and device unless given."""
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    if len(size) != len(stride):
        raise RuntimeError(
            f"mismatch in length of strides and shape: got {len(stride)} strides for "
            f"{len(size)} dims"
        )
    if any(s < 0 for s in (*size, *stride)):
        raise RuntimeError(f"new_empty_strided: negative size or stride in {size}, {stride}")
    d = self.dtype if dtype is None else dtypes.as_dtype(dtype)
    dev = self.device if device is None else device
    extent = 0 if 0 in size else 1 + sum((n - 1) * s for n, s in zip(size, stride))
    buffer = empty(extent, dtype=d, device=dev)._data
    xp = get_backend(dev).xp
    view = xp.lib.stride_tricks.as_strided(buffer, size, tuple(s * buffer.itemsize for s in stride))
    out = Tensor._wrap(view)
    return out.requires_grad_(True) if requires_grad else out


def install() -> None:
    """Add the Tensor methods of this module."""
    methods = {
        "get_device": _get_device,
        "char": _char,
        "layout": property(lambda self: strided),
        "is_pinned": _is_pinned,
        "pin_memory": _pin_memory,
        "output_nr": property(_output_nr),
        "to_dense": _to_dense,
        "dim_order": _dim_order,
        "apply_": _apply_,
        "map_": _map_,
        "map2_": _map2_,
        "new_empty_strided": _new_empty_strided,
    }
    for name, method in methods.items():
        setattr(Tensor, name, method)


install()
