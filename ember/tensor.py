"""Tensor: a thin handle on a backend array plus the autograd bookkeeping.

All the math comes from the ops families' ``*Methods`` mixins; this file holds construction,
conversion, printing and ``backward``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ember import dtypes
from ember.arrays import backend_of, get_backend, shared
from ember.ops import core
from ember.ops.counting import CountingMethods
from ember.ops.elementwise import ElementwiseMethods, cast
from ember.ops.extra import ExtraMethods
from ember.ops.index import IndexMethods
from ember.ops.linalg import LinalgMethods
from ember.ops.linalg_extra import LinalgExtraMethods
from ember.ops.movement import MovementMethods
from ember.ops.numeric import NumericMethods
from ember.ops.predicates import PredicateMethods
from ember.ops.reduce import ReduceMethods
from ember.ops.scatter_extra import ScatterExtraMethods
from ember.ops.shape_extra import ShapeExtraMethods
from ember.ops.shrink import ShrinkMethods
from ember.ops.special import SpecialMethods
from ember.ops.stats import StatsMethods
from ember.printing import add_suffixes, format_array

__all__ = ["Tensor", "is_tensor"]

_new = object.__new__
_DTYPES = dtypes._BY_NP


class Tensor(
    ElementwiseMethods,
    ExtraMethods,
    ReduceMethods,
    MovementMethods,
    IndexMethods,
    LinalgMethods,
    ShrinkMethods,
    SpecialMethods,
    NumericMethods,
    PredicateMethods,
    StatsMethods,
    CountingMethods,
    ShapeExtraMethods,
    LinalgExtraMethods,
    ScatterExtraMethods,
):
    """A multi-dimensional array that records operations for automatic differentiation."""

    __slots__ = ("_data", "grad", "requires_grad", "node", "_vc", "_base", "_hooks", "__weakref__")
    __array_priority__ = 1000  # NumPy defers `ndarray + Tensor` to Tensor.__radd__

    def __init__(
        self, data: Any = (), *, dtype: Any = None, device: Any = None, requires_grad: bool = False
    ) -> None:
        from ember.creation import tensor as _tensor

        other = _tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)
        self._data = other._data
        self.grad = None
        self.requires_grad = other.requires_grad
        self.node = None
        self._vc = [0]
        self._base = None
        self._hooks = None

    @classmethod
    def _wrap(cls, array: Any) -> Tensor:
        """A new tensor around ``array`` (trusted: no copy, no checks)."""
        t = _new(cls)
        t._data = array
        t.grad = None
        t.requires_grad = False
        t.node = None
        t._vc = [0]
        t._base = None
        t._hooks = None
        return t

    def _shallow(self) -> Tensor:
        """Another handle on the same array, node and version counter (for in-place ops)."""
        t = Tensor._wrap(self._data)
        t.requires_grad, t.node, t._vc, t._base = (
            self.requires_grad,
            self.node,
            self._vc,
            self._base,
        )
        return t

    # -- metadata ---------------------------------------------------------------------------
    @property
    def data(self) -> Tensor:
        """A tensor sharing this one's memory, detached from the graph (PyTorch's ``.data``)."""
        t = Tensor._wrap(self._data)
        t._vc = self._vc
        return t

    @data.setter
    def data(self, value: Tensor) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f"Tensor.data: expected a Tensor, got {type(value).__name__}")
        self._data = value._data

    @property
    def shape(self) -> Size:
        return Size(self._data.shape)

    def size(self, dim: int | None = None) -> Any:
        """The shape, or the length of dimension ``dim``."""
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[core.normalize_dim(dim, self._data.ndim, "size")]

    @property
    def dtype(self) -> dtypes.dtype:
        try:
            return _DTYPES[self._data.dtype]
        except KeyError:
            return dtypes.from_numpy_dtype(self._data.dtype)  # raises the clear error

    @property
    def aval(self) -> core.Aval:
        return core.Aval(self._data.shape, self.dtype)

    @property
    def device(self) -> Any:
        return backend_of(self._data).device(self._data)

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def is_cpu(self) -> bool:
        return self.device.type == "cpu"

    # devices and layouts ember has no backend for: always False (PyTorch code branches on them)
    is_xpu = is_mps = is_meta = is_sparse = is_quantized = is_nested = property(lambda self: False)

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def dim(self) -> int:
        return self._data.ndim

    def ndimension(self) -> int:
        return self._data.ndim

    def numel(self) -> int:
        return int(self._data.size)

    nelement = numel

    def element_size(self) -> int:
        return self._data.itemsize

    @property
    def itemsize(self) -> int:
        return self._data.itemsize

    @property
    def nbytes(self) -> int:
        return int(self._data.nbytes)

    def stride(self, dim: int | None = None) -> Any:
        """Strides in elements, like PyTorch's."""
        strides = tuple(s // self._data.itemsize for s in self._data.strides)
        return strides if dim is None else strides[core.normalize_dim(dim, self.ndim, "stride")]

    def is_contiguous(self) -> bool:
        return bool(self._data.flags.c_contiguous)

    def is_floating_point(self) -> bool:
        return self._data.dtype in dtypes.FLOATING

    def data_ptr(self) -> int:
        return (
            int(self._data.__array_interface__["data"][0])
            if isinstance(self._data, np.ndarray)
            else int(self._data.data.ptr)
        )

    @property
    def _version(self) -> int:
        return self._vc[0]

    @property
    def is_leaf(self) -> bool:
        return self.node is None

    @property
    def grad_fn(self) -> Any:
        return self.node

    # -- conversion -------------------------------------------------------------------------
    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The data as a NumPy array (shares memory on CPU); a bfloat16 tensor gives an array
        of ml_dtypes' bfloat16 (PyTorch raises there: ember's data already is one)."""
        if self.requires_grad and not force:
            raise RuntimeError(
                "numpy: can't call numpy() on a Tensor that requires grad\n"
                "hint: use tensor.detach().numpy()"
            )
        return self._host("numpy()")

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        arr = self._host("np.asarray(tensor)")
        return arr if dtype is None else arr.astype(dtype)

    def _host(self, what: str) -> np.ndarray:
        """The data as a NumPy array; refused while ``ember.jit`` traces (a graph replays
        without Python, so a value read here would be frozen into it as a constant)."""
        if core.STATE.tracer is not None:
            core.STATE.tracer.host_read(what)
        return backend_of(self._data).to_host(self._data)

    def item(self) -> Any:
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise RuntimeError(
                f"item: a Tensor with {self._data.size} elements cannot be converted to Scalar"
            )
        if core.STATE.tracer is not None:  # ember.jit cannot see values while tracing
            core.STATE.tracer.host_read("item")
        return self._data.reshape(()).item()

    def tolist(self) -> Any:
        return self._host("tolist()").tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError(
                f"bool: Boolean value of Tensor with {self._data.size} elements is ambiguous"
            )
        return bool(self.item())

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    __hash__ = object.__hash__

    def __dlpack__(self, *args: Any, **kwargs: Any) -> Any:
        """A DLPack capsule of this tensor's memory (shared, not copied), for
        ``torch.from_dlpack``, ``np.from_dlpack``, ``cupy.from_dlpack`` …"""
        if self.requires_grad:
            raise RuntimeError(
                "__dlpack__: can't export a tensor that requires grad: the consumer would "
                "bypass autograd\nhint: export tensor.detach(), which shares the memory"
            )
        return self._data.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self) -> tuple[int, int]:
        """(DLPack device type, device id): (1, 0) on the CPU, (2, id) on a CUDA GPU."""
        return self._data.__dlpack_device__()

    def __reduce_ex__(self, protocol: Any) -> Any:
        return (_rebuild, (self.numpy(force=True), self.requires_grad))

    def share_memory_(self) -> Tensor:
        """Move this tensor's memory into shared memory, in place; ``ember.multiprocessing``
        then sends it to other processes by name, and their writes are seen here."""
        if self.is_cuda:
            raise RuntimeError(
                "share_memory_: ember cannot share CUDA memory between processes (PyTorch "
                "uses CUDA IPC)\nhint: share a CPU tensor; move it with .cpu() first"
            )
        if shared.segment_of(self._data) is not None:
            return self
        if self._base is not None:  # a view: share the whole tensor it is a view of
            base, before = self._base, self._base._data
            base.share_memory_()
            self._data = shared.moved_view(self._data, before, base._data)
        else:
            self._data = shared.share(self._data)
        return self

    def is_shared(self) -> bool:
        """True when this tensor's memory is shared between processes (``share_memory_``)."""
        return not self.is_cuda and shared.segment_of(self._data) is not None

    def __deepcopy__(self, memo: dict) -> Tensor:
        if self.node is not None:
            raise RuntimeError(
                "deepcopy: only tensors created explicitly by the user (graph leaves) can be "
                "deep-copied\nhint: deep-copy x.detach() (or x.detach().requires_grad_())"
            )
        t = Tensor._wrap(self._data.copy())
        t.requires_grad = self.requires_grad
        if self.grad is not None:
            t.grad = Tensor._wrap(self.grad._data.copy())
        memo[id(self)] = t
        return t

    def type_as(self, other: Tensor) -> Tensor:
        """This tensor in ``other``'s dtype and on its device (itself when they already agree)."""
        return self.to(other)

    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """``to(dtype)``, ``to(device)``, ``to(device, dtype)`` or ``to(other_tensor)``."""
        dtype, device = kwargs.pop("dtype", None), kwargs.pop("device", None)
        kwargs.pop("non_blocking", None)
        copy = kwargs.pop("copy", False)
        if kwargs:
            raise TypeError(f"to: unexpected keyword arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, Tensor):
                dtype, device = a.dtype, a.device
            elif isinstance(a, dtypes.dtype) or a in (float, int, bool):
                dtype = a
            else:
                device = a
        out = self
        if device is not None:
            out = _to_device(out, device)
        if dtype is not None:
            dtype = dtypes.as_dtype(dtype)
            if dtype is not out.dtype:
                out = cast(out, dtype)
        if copy and out is self:
            out = self.clone()
        return out

    def type(self, dtype: Any = None) -> Any:
        if dtype is None:
            return f"ember.{self.dtype.name}"
        return self.to(dtype)

    def float(self) -> Tensor:
        return self.to(dtypes.float32)

    def double(self) -> Tensor:
        return self.to(dtypes.float64)

    def half(self) -> Tensor:
        return self.to(dtypes.float16)

    def bfloat16(self) -> Tensor:
        return self.to(dtypes.bfloat16)

    def long(self) -> Tensor:
        return self.to(dtypes.int64)

    def int(self) -> Tensor:
        return self.to(dtypes.int32)

    def short(self) -> Tensor:
        return self.to(dtypes.int16)

    def bool(self) -> Tensor:
        return self.to(dtypes.bool_)

    def byte(self) -> Tensor:
        return self.to(dtypes.uint8)

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def cuda(self, device: Any = None) -> Tensor:
        return self.to("cuda" if device is None else f"cuda:{device}")

    # -- autograd ---------------------------------------------------------------------------
    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set whether autograd records operations on this (leaf) tensor."""
        if not self.is_leaf:
            if not requires_grad:
                raise RuntimeError(
                    "requires_grad_: you can only change requires_grad flags of leaf variables\n"
                    "hint: use detach() to get a tensor that does not require grad"
                )
            return self
        if requires_grad and self._data.dtype not in dtypes.FLOATING:
            raise RuntimeError(
                f"requires_grad_: only Tensors of floating point dtype can require gradients, "
                f"got {self.dtype.name}"
            )
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self) -> Tensor:
        """A tensor sharing memory with this one, cut off from the graph."""
        t = Tensor._wrap(self._data)
        t._vc = self._vc
        return t

    def detach_(self) -> Tensor:
        self.node = None
        self.requires_grad = False
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after backward."""
        if not self.requires_grad:
            raise RuntimeError(
                "retain_grad: can't retain_grad on Tensor that has requires_grad=False"
            )
        if self.node is not None:
            import weakref

            self.node.retain_ref = weakref.ref(self)

    @property
    def retains_grad(self) -> bool:
        return self.node is not None and self.node.retain_ref is not None

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> Any:
        """Call ``hook(grad)`` when this tensor's gradient is computed; it may return a new one."""
        if not self.requires_grad:
            raise RuntimeError(
                "register_hook: cannot register a hook on a tensor that doesn't require gradient"
            )
        if self.node is None:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
            hooks.append(hook)
        else:
            self.node.register_hook(hook)
            hooks = self.node.hooks
        return _HookHandle(hooks, hook)

    def register_post_accumulate_grad_hook(self, hook: Callable[[Tensor], None]) -> Any:
        """Call ``hook(self)`` after each backward has accumulated into this leaf's ``.grad``."""
        from ember.autograd.engine import register_post_accumulate_grad_hook

        if self.node is not None:
            raise RuntimeError(
                "post accumulate grad hooks cannot be registered on non-leaf tensors"
            )
        if not self.requires_grad:
            raise RuntimeError(
                "register_post_accumulate_grad_hook: cannot register a hook on a tensor that "
                "doesn't require gradient"
            )
        return _HookHandle(register_post_accumulate_grad_hook(self, hook), hook)

    def backward(
        self,
        gradient: Tensor | None = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
        inputs: Any = None,
    ) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``."""
        from ember.autograd import backward

        backward(
            self, gradient, retain_graph=retain_graph, create_graph=create_graph, inputs=inputs
        )

    # -- printing ---------------------------------------------------------------------------
    def __repr__(self) -> str:
        arr = backend_of(self._data).to_host(self._data)
        extras = []
        if self.device.type != "cpu":
            extras.append(f"device='{self.device}'")
        if arr.size == 0:
            body = "[]"
            if arr.ndim != 1:
                extras.append(f"size={tuple(arr.shape)}")
            if self.dtype is not dtypes.get_default_dtype():
                extras.append(f"dtype=ember.{self.dtype.name}")
        else:
            body = format_array(arr)
            if self.dtype not in (dtypes.get_default_dtype(), dtypes.int64, dtypes.bool_):
                extras.append(f"dtype=ember.{self.dtype.name}")
        if self.node is not None:
            extras.append(f"grad_fn=<{self.node.name()}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return add_suffixes("tensor(" + body, extras) + ")"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        """A 0-d tensor formats as its value (``f"{loss:.4f}"``); others only with an empty
        spec (as ``str``), like PyTorch."""
        if self.ndim == 0:
            return format(self.item(), spec)
        return object.__format__(self, spec)


class Size(tuple):
    """A shape; a tuple that prints like ``ember.Size([2, 3])``."""

    def __repr__(self) -> str:
        return f"ember.Size({list(self)})"

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n


class _HookHandle:
    """Returned by ``register_hook``; ``remove()`` unregisters the hook."""

    def __init__(self, hooks: list, hook: Any) -> None:
        self._hooks, self._hook = hooks, hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


def _to_device(t: Tensor, device: Any) -> Tensor:
    """Copy ``t`` to ``device`` (a differentiable identity when it is already there)."""
    target = get_backend(device)
    if backend_of(t._data) is target:
        return t
    from ember.ops.elementwise import to_device

    return to_device(t, target)


def _rebuild(array: np.ndarray, requires_grad: bool) -> Tensor:
    t = Tensor._wrap(array)
    t.requires_grad = requires_grad
    return t


def is_tensor(obj: object) -> bool:
    """True for ember tensors."""
    return isinstance(obj, Tensor)


core._Tensor = Tensor
