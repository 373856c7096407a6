"""Tensor creation: ``tensor``, ``zeros``, ``arange`` … with PyTorch's dtype inference."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ember import dtypes
from ember._dlpack import (
    CPU,
    CUDA_DEVICES,
    DEVICE_NAMES,
    CapsuleProducer,
    is_capsule,
    writable,
)
from ember.arrays import backend_of, get_backend
from ember.flags import uninitialized_fill
from ember.tensor import Tensor

__all__ = [
    "tensor",
    "as_tensor",
    "asarray",
    "from_numpy",
    "from_dlpack",
    "zeros",
    "ones",
    "full",
    "empty",
    "arange",
    "linspace",
    "logspace",
    "eye",
    "zeros_like",
    "ones_like",
    "full_like",
    "empty_like",
    "scalar_tensor",
    "from_host",
    "tril_indices",
    "triu_indices",
    "meshgrid",
]


def _size(size: Sequence[Any]) -> tuple[int, ...]:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    out = tuple(int(s) for s in size)
    if any(s < 0 for s in out):
        raise ValueError(f"creation: negative dimension in size {list(out)}")
    return out


def _infer_dtype(arr: np.ndarray, given: Any, from_python: bool) -> dtypes.dtype:
    if given is not None:
        return dtypes.as_dtype(given)
    kind = arr.dtype.kind
    if arr.dtype in dtypes.FLOATING or arr.dtype.name == "bfloat16":  # (ml_dtypes not loaded)
        return dtypes.get_default_dtype() if from_python else dtypes.from_numpy_dtype(arr.dtype)
    if kind in "iu":
        return dtypes.int64 if from_python else dtypes.from_numpy_dtype(arr.dtype)
    if kind == "b":
        return dtypes.bool_
    raise TypeError(
        f"tensor: could not infer a dtype for data of NumPy dtype {arr.dtype}: "
        "expected numbers, bools or nested lists of them"
    )


def from_host(
    arr: Any, *, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """A tensor from a host/backend array already of the right dtype (no inference)."""
    d = dtypes.as_dtype(dtype) if dtype is not None else dtypes.from_numpy_dtype(arr.dtype)
    backend = get_backend(device)
    t = Tensor._wrap(backend.asarray(arr, dtype=d.np))
    if requires_grad:
        t.requires_grad_(True)
    return t


def tensor(
    data: Any, *, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """A new tensor that copies ``data`` (numbers, nested lists, arrays or tensors)."""
    if isinstance(data, Tensor):
        arr = backend_of(data._data).to_host(data._data)
        from_python = False
    else:
        from_python = not isinstance(data, np.ndarray) and not hasattr(data, "__array__")
        if hasattr(data, "__cuda_array_interface__"):  # a GPU array (CuPy, ...): stays there
            arr = get_backend("cuda").to_host(data)
            device = "cuda" if device is None else device
        elif not from_python and hasattr(data, "__dlpack__") and not isinstance(data, np.ndarray):
            arr = np.asarray(data)
        else:
            try:
                arr = np.array(data)
            except ValueError as exc:
                raise ValueError(
                    f"tensor: could not build a tensor from {type(data).__name__}: "
                    f"{exc} (nested lists must be rectangular)"
                ) from None
        if arr.dtype == object:
            raise TypeError(
                f"tensor: could not infer dtype of {type(data).__name__} data: "
                "expected numbers, bools, or (nested) sequences of them"
            )
    d = _infer_dtype(arr, dtype, from_python)
    if device is None and isinstance(data, Tensor):
        device = data.device
    t = Tensor._wrap(get_backend(device).asarray(np.array(arr, dtype=d.np, copy=True)))
    if requires_grad:
        t.requires_grad_(True)
    return t


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """``data`` as a tensor, sharing memory when it already is one (or a NumPy array)."""
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype) if (dtype or device) else data
    if isinstance(data, np.ndarray) and data.dtype.kind in "biuf" and device in (None, "cpu"):
        t = Tensor._wrap(_plain(data))
        return t.to(dtype) if dtype is not None else t
    return tensor(data, dtype=dtype, device=device)


asarray = as_tensor


def _plain(arr: np.ndarray) -> np.ndarray:
    """A base-class view of an ndarray subclass (np.memmap, np.matrix …), sharing its memory:
    the backends recognise arrays by their exact type."""
    return arr if type(arr) is np.ndarray else arr.view(np.ndarray)


def from_numpy(arr: np.ndarray) -> Tensor:
    """A tensor sharing memory with a NumPy array (or an ndarray subclass such as np.memmap)."""
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray, got {type(arr).__name__}")
    dtypes.from_numpy_dtype(arr.dtype)
    return Tensor._wrap(_plain(arr))


def from_dlpack(obj: Any) -> Tensor:
    """A tensor sharing memory with any DLPack producer (NumPy, PyTorch, CuPy …) or DLPack
    capsule (``to_dlpack``'s): host memory becomes a CPU tensor, CUDA memory a CuPy one."""
    capsule = is_capsule(obj)
    if capsule:
        obj = CapsuleProducer(obj)
    device_type = obj.__dlpack_device__()[0] if hasattr(obj, "__dlpack_device__") else CPU
    if device_type == CPU:
        arr = np.from_dlpack(obj)
        return Tensor._wrap(writable(arr) if capsule else arr)
    if device_type in CUDA_DEVICES:
        return Tensor._wrap(get_backend("cuda").xp.from_dlpack(obj))
    name = DEVICE_NAMES.get(int(device_type), "unknown")
    raise BufferError(
        f"from_dlpack: memory on DLPack device type {int(device_type)} ({name}) is not "
        f"supported: ember takes CPU ({CPU}) and CUDA ({CUDA_DEVICES[0]}) memory"
    )


def _filled(
    size: Sequence[Any], value: Any, dtype: Any, device: Any, requires_grad: bool
) -> Tensor:
    d = (
        dtypes.as_dtype(dtype)
        if dtype is not None
        else (
            dtypes.result_type(value)
            if not isinstance(value, float)
            else dtypes.get_default_dtype()
        )
    )
    xp = get_backend(device).xp
    t = Tensor._wrap(xp.full(_size(size), value, dtype=d.np))
    if requires_grad:
        t.requires_grad_(True)
    return t


def zeros(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros."""
    return _filled(size, 0, dtype or dtypes.get_default_dtype(), device, requires_grad)


def ones(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones."""
    return _filled(size, 1, dtype or dtypes.get_default_dtype(), device, requires_grad)


def empty(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """An uninitialised tensor: zeros (NumPy's empty is not cheaper here), or what torch fills
    it with under ``use_deterministic_algorithms`` (NaN, the largest integer, True)."""
    d = dtypes.get_default_dtype() if dtype is None else dtypes.as_dtype(dtype)
    fill = uninitialized_fill(d)
    return _filled(size, 0 if fill is None else fill, d, device, requires_grad)


def full(
    size: Sequence[int],
    fill_value: Any,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """A tensor filled with ``fill_value`` (dtype inferred from it like PyTorch)."""
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    return _filled((tuple(size),), fill_value, dtype, device, requires_grad)


def scalar_tensor(value: Any, *, dtype: Any = None, device: Any = None) -> Tensor:
    """A 0-d tensor (default float dtype)."""
    return _filled((), value, dtype or dtypes.get_default_dtype(), device, False)


def _like(x: Tensor, dtype: Any, device: Any) -> tuple[Any, Any]:
    return (dtype or x.dtype), (device or x.device)


def zeros_like(
    x: Tensor, *, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    d, dev = _like(x, dtype, device)
    return zeros(tuple(x.shape), dtype=d, device=dev, requires_grad=requires_grad)


def ones_like(
    x: Tensor, *, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    d, dev = _like(x, dtype, device)
    return ones(tuple(x.shape), dtype=d, device=dev, requires_grad=requires_grad)


def empty_like(
    x: Tensor, *, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """An uninitialised tensor shaped like ``x`` (filled as ``empty`` fills it)."""
    d, dev = _like(x, dtype, device)
    return empty(*x.shape, dtype=d, device=dev, requires_grad=requires_grad)


def full_like(
    x: Tensor,
    fill_value: Any,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    d, dev = _like(x, dtype, device)
    return full(tuple(x.shape), fill_value, dtype=d, device=dev, requires_grad=requires_grad)


def arange(
    start: Any,
    end: Any = None,
    step: Any = 1,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Values from ``start`` to ``end`` (exclusive) by ``step``; int64 unless a float appears."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise ValueError(
            f"arange: upper bound and larger bound inconsistent with step sign "
            f"(start={start}, end={end}, step={step})"
        )
    values = (start, end, step)
    if dtype is None:
        floating = any(
            isinstance(v, float) or (isinstance(v, Tensor) and v.is_floating_point())
            for v in values
        )
        dtype = dtypes.get_default_dtype() if floating else dtypes.int64
    d = dtypes.as_dtype(dtype)
    start, end, step = (float(v) if d.is_floating_point else int(v) for v in values)
    n = max(int(np.ceil((end - start) / step)), 0)
    arr = start + np.arange(n, dtype=np.float64 if d.is_floating_point else np.int64) * step
    return from_host(arr.astype(d.np), dtype=d, device=device, requires_grad=requires_grad)


def linspace(
    start: float,
    end: float,
    steps: int,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    if steps < 0:
        raise ValueError(f"linspace: number of steps must be non-negative, got {steps}")
    d = dtypes.as_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()
    steps = int(steps)
    if d.is_floating_point and steps > 1:
        # PyTorch's rounding, bit for bit: the step rounded to the output dtype, the first half
        # counted up from start and the second half down from end; float32/64 values are
        # rounded once (a fused multiply-add, emulated in a wider type), float16 plainly
        t = d.np.type
        wide = {8: np.longdouble, 4: np.float64, 2: np.float16}[d.itemsize]
        step = wide((t(end) - t(start)) / t(steps - 1))
        i = np.arange(steps).astype(wide)
        up = wide(t(start)) + step * i
        down = wide(t(end)) - step * (steps - 1 - i)
        arr = np.where(i < steps // 2, up, down)
    elif d.is_floating_point:
        arr = np.full(steps, start, dtype=d.np)
    else:  # integer output: the ends are truncated to integers first
        arr = np.linspace(int(start), int(end), steps)
    return from_host(arr.astype(d.np), dtype=d, device=device, requires_grad=requires_grad)


def logspace(
    start: float,
    end: float,
    steps: int,
    base: float = 10.0,
    *,
    dtype: Any = None,
    device: Any = None,
) -> Tensor:
    """``base ** linspace(start, end, steps)``."""
    d = dtypes.as_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()
    arr = np.logspace(float(start), float(end), int(steps), base=base)
    return from_host(arr.astype(d.np), dtype=d, device=device)


def eye(
    n: int,
    m: int | None = None,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """The identity matrix (n x m)."""
    d = dtypes.as_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()
    return from_host(np.eye(n, m, dtype=d.np), dtype=d, device=device, requires_grad=requires_grad)


def tril_indices(row: int, col: int, offset: int = 0, *, device: Any = None) -> Tensor:
    """The 2 x N indices of the lower triangle of a row x col matrix."""
    return from_host(np.stack(np.tril_indices(row, offset, col)).astype(np.int64), device=device)


def triu_indices(row: int, col: int, offset: int = 0, *, device: Any = None) -> Tensor:
    """The 2 x N indices of the upper triangle of a row x col matrix."""
    return from_host(np.stack(np.triu_indices(row, offset, col)).astype(np.int64), device=device)


def meshgrid(*tensors: Tensor, indexing: str = "ij") -> tuple[Tensor, ...]:
    """Coordinate grids from 1-D tensors (differentiable: expand of reshaped inputs)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    ts = list(tensors)
    if indexing == "xy" and len(ts) >= 2:
        ts[0], ts[1] = ts[1], ts[0]
    shape = tuple(t.numel() for t in ts)
    out = []
    for i, t in enumerate(ts):
        view = [1] * len(ts)
        view[i] = -1
        out.append(t.reshape(*view).expand(*shape))
    if indexing == "xy" and len(out) >= 2:  # the first two inputs swapped back: (y, x, ...)
        out[0], out[1] = out[1], out[0]
    return tuple(out)


def _new_methods() -> None:
    """Tensor.new_* constructors: same dtype and device as the tensor unless given."""

    def like(self: Tensor, dtype: Any, device: Any, requires_grad: bool) -> dict[str, Any]:
        """The factory keywords of a new_* call: ``self``'s dtype and device unless given."""
        return {
            "dtype": dtype or self.dtype,
            "device": device or self.device,
            "requires_grad": requires_grad,
        }

    def new_tensor(
        self: Tensor,
        data: Any,
        *,
        dtype: Any = None,
        device: Any = None,
        requires_grad: bool = False,
    ) -> Tensor:
        return tensor(data, **like(self, dtype, device, requires_grad))

    def new_zeros(
        self: Tensor, *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
    ) -> Tensor:
        return zeros(*size, **like(self, dtype, device, requires_grad))

    def new_ones(
        self: Tensor, *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
    ) -> Tensor:
        return ones(*size, **like(self, dtype, device, requires_grad))

    def new_full(
        self: Tensor,
        size: Sequence[int],
        fill_value: Any,
        *,
        dtype: Any = None,
        device: Any = None,
        requires_grad: bool = False,
    ) -> Tensor:
        return full(size, fill_value, **like(self, dtype, device, requires_grad))

    Tensor.new_tensor = new_tensor  # type: ignore[attr-defined]
    Tensor.new_zeros = new_zeros  # type: ignore[attr-defined]
    Tensor.new_ones = new_ones  # type: ignore[attr-defined]
    Tensor.new_empty = new_zeros  # type: ignore[attr-defined]
    Tensor.new_full = new_full  # type: ignore[attr-defined]


_new_methods()
