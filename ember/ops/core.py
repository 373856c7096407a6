"""Aval, Primitive, the primitive registry and ``apply`` — the one choke point.

Every computation in ember is ``apply(Prim, *tensors, **params)``. In eager mode it runs the
primitive's kernel now and, when grad is enabled and an input requires grad, records a Node
for backward; while ``ember.jit`` traces, the active tracer records it into a graph instead.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, NamedTuple

import numpy as np

from ember import dtypes
from ember.arrays import backend_of
from ember.autograd.grad_mode import STATE
from ember.autograd.node import Node
from ember.dtypes import FLOATING, LOW_PRECISION

__all__ = [
    "Aval",
    "Primitive",
    "PRIMITIVES",
    "apply",
    "inplace",
    "writable_in_place",
    "write_into",
    "record",
    "ELEMENTWISE",
    "REDUCTION",
    "OPAQUE",
    "VIEW",
    "normalize_dim",
    "normalize_dims",
    "broadcast_shapes",
    "c_literal",
    "ufunc_writer",
    "widened",
    "widened_write",
    "widening",
    "in_float32",
]

ELEMENTWISE, REDUCTION, VIEW, OPAQUE = "elementwise", "reduction", "view", "opaque"

PRIMITIVES: dict[str, type[Primitive]] = {}

_HOST_VALUES = (np.ndarray, np.generic, int, float, complex)  # what apply wraps into an array

_Tensor: Any = None  # ember.tensor.Tensor, bound when that module is imported (it sits above)


class Aval(NamedTuple):
    """Abstract value: what is known about a tensor without its data."""

    shape: tuple[int, ...]
    dtype: dtypes.dtype

    def __repr__(self) -> str:
        return f"{self.dtype.name}{list(self.shape)}"


def c_literal(value: float) -> str:
    """``value`` as an exact C/CUDA floating literal (hexadecimal, so nothing is rounded;
    infinities and NaN as the constant divisions that make them, since neither language has a
    literal for them without a header)."""
    value = float(value)
    if value != value:
        return "(0.0 / 0.0)"
    if value in (float("inf"), float("-inf")):
        return "(1.0 / 0.0)" if value > 0 else "(-1.0 / 0.0)"
    return value.hex()


def ufunc_writer(name: str) -> Callable[..., Any]:
    """A ``write`` lowering: the backend's ufunc ``name`` into a given buffer (``out=``)."""

    def write(xp: Any, *arrays: Any, out: Any, **params: Any) -> Any:
        return getattr(xp, name)(*arrays, out=out)

    write.__name__ = name
    return write


class Primitive:
    """A unit of computation: shape/dtype inference, a kernel, a backward rule, lowerings.

    Subclasses define (all static):
      ``infer(*avals, **params) -> Aval`` — the single source of shape/dtype errors;
      ``forward(xp, *arrays, **params) -> array`` — the kernel, written against ``xp``;
      ``vjp(g, *inputs, out, **params) -> tuple`` — one gradient per input, in ember ops,
      each a Tensor, None (no gradient) or a zero-argument callable that the engine only
      calls when that input needs a gradient (so expensive unused gradients are skipped).

    and the lowerings ``ember.jit``'s executors compile it to:
      ``write(xp, *arrays, out, **params)`` — ``forward`` into a given buffer (the plan
      executor's planned buffers); None when the kernel must allocate its result;
      ``c`` — a C expression over the operands ``{0}``, ``{1}``… and the params ``{name}``
      (``c_literal``s), type-generic through <tgmath.h>, for fused native kernels;
      ``cuda`` — the same for CUDA C++ (defaults to ``c``: CUDA's math functions are
      overloaded for float and double as <tgmath.h>'s are); ``libm`` marks a ``c`` that calls
      libm per element. ``expression`` fills them in. An elementwise primitive without ``c``
      and ``cuda`` says why in ``no_lowering`` (tests/jit/test_lowerings.py checks).
    """

    abstract: ClassVar[bool] = True
    kind: ClassVar[str] = OPAQUE
    differentiable: ClassVar[bool] = True
    uses_out: ClassVar[bool] = False  # vjp reads ``out`` (its version is then checked)
    check_eagerly: ClassVar[bool] = False  # run ``infer`` before the kernel in eager mode too
    quiet: ClassVar[bool] = (
        False  # may overflow/divide by zero: silence NumPy's warnings (PyTorch is silent)
    )
    name: ClassVar[str] = "Primitive"
    write: ClassVar[Callable[..., Any] | None] = None
    c: ClassVar[str | None] = None
    cuda: ClassVar[str | None] = None
    libm: ClassVar[bool] = False
    no_lowering: ClassVar[str] = ""
    # float16/bfloat16 inputs are computed on in float32 and the result rounded once
    # (``widened``); off for views (they must share memory) and where the kernel sets the dtype
    widens: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.name = cls.__name__
        if cls.kind is VIEW:
            cls.widens = False
        if "c" in cls.__dict__ and "cuda" not in cls.__dict__:
            cls.cuda = cls.c
        if not cls.__dict__.get("abstract", False):
            cls.abstract = False
            if cls.name in PRIMITIVES:
                raise RuntimeError(f"primitive {cls.name} is defined twice")
            PRIMITIVES[cls.name] = cls

    @staticmethod
    def infer(*avals: Aval, **params: Any) -> Aval:
        raise NotImplementedError

    @staticmethod
    def forward(xp: Any, *arrays: Any, **params: Any) -> Any:
        raise NotImplementedError

    @staticmethod
    def vjp(g: Any, *inputs: Any, out: Any, **params: Any) -> tuple:
        raise NotImplementedError

    @staticmethod
    def saved_inputs(requires: tuple[bool, ...]) -> tuple[bool, ...]:
        """Which inputs the vjp reads, given which inputs need a gradient (default: all)."""
        return (True,) * len(requires)

    @classmethod
    def expression(cls, target: str, operands: Sequence[str], params: dict) -> str | None:
        """The ``target`` ("c" or "cuda") expression of this primitive on the operand
        expressions, with these params; None when it has none (for these params)."""
        template = cls.c if target == "c" else cls.cuda
        if template is None:
            return None
        return template.format(*operands, **{k: c_literal(v) for k, v in params.items()})


_WIDER = frozenset({np.dtype(np.float64)})  # inputs that make ``widened`` step aside


def widened(kernel: Callable[..., Any], low: Any) -> Callable[..., Any]:
    """``kernel`` run as PyTorch runs float16/bfloat16 ops on CPU: on inputs of the low
    precision dtype ``low`` upcast to float32, with a float32 result rounded once to ``low``.

    Reductions and matrix products then accumulate in float32 (NumPy would add bfloat16 terms
    in bfloat16: ten thousand ones sum to 256), and kernels made of several NumPy calls round
    once instead of after each. float32 inputs (the scalar of a mul or div, which PyTorch
    reads in float32) join as they are; with a float64 one, the kernel runs as is.
    """

    def run(xp: Any, *arrays: Any, **params: Any) -> Any:
        if any(a.dtype != low and a.dtype in _WIDER for a in arrays):
            return kernel(xp, *arrays, **params)
        out = kernel(xp, *[a.astype(np.float32) if a.dtype == low else a for a in arrays], **params)
        return out.astype(low) if out.dtype == np.float32 else out

    run.__name__ = getattr(kernel, "__name__", "kernel")
    return run


def widening(prim: type[Primitive], np_dtypes: Sequence[Any]) -> Any:
    """The float16/bfloat16 dtype among the inputs' NumPy ``np_dtypes`` that ``prim`` computes
    in float32 for (as ``apply`` does: see ``widened``); None when it runs as it is."""
    if not prim.widens:
        return None
    return next((d for d in np_dtypes if d in LOW_PRECISION), None)


def widened_write(kernel: Callable[..., Any], low: Any) -> Callable[..., Any]:
    """A ``write`` lowering (into a given buffer) of ``widened(kernel, low)``."""
    forward = widened(kernel, low)

    def write(xp: Any, *arrays: Any, out: Any, **params: Any) -> Any:
        out[...] = forward(xp, *arrays, **params)
        return out

    return write


def in_float32(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator for a composite op (several primitives) whose first argument is a tensor: on
    float16/bfloat16 it runs in float32 and its result is rounded once, as PyTorch's CPU
    kernels for softmax, layer_norm, gelu… compute (each primitive would round otherwise)."""

    @functools.wraps(fn)
    def run(x: Any, *args: Any, **kwargs: Any) -> Any:
        data = getattr(x, "_data", None)  # (not a tensor: ``fn`` raises its clear error)
        if data is None or data.dtype not in LOW_PRECISION:
            return fn(x, *args, **kwargs)
        return fn(x.to(dtypes.float32), *args, **kwargs).to(x.dtype)

    return run


def apply(prim: type[Primitive], *inputs: Any, **params: Any) -> Any:
    """Run ``prim`` on tensors ``inputs`` (the one choke point; see the module docstring)."""
    # the hot path of eager mode: locals over globals, no generators (see benchmarks/overhead)
    state = STATE
    if state.tracer is not None:
        return state.tracer.record(prim, inputs, params)
    if prim.check_eagerly:
        prim.infer(*[t.aval for t in inputs], **params)
    try:
        out = _run(prim, [t._data for t in inputs], params)
    except (ValueError, TypeError, IndexError) as exc:
        _check_same_device(prim, inputs)
        prim.infer(*[t.aval for t in inputs], **params)  # raises the clear error, if any
        raise type(exc)(f"{prim.name.lower()}: {exc} (inputs {[t.aval for t in inputs]})") from exc
    result = _Tensor._wrap(out)
    if prim.kind is VIEW and out.base is not None:
        base = inputs[0]
        result._vc = base._vc
        result._base = base if base._base is None else base._base
    if state.grad_enabled and prim.differentiable and out.dtype in FLOATING:
        for t in inputs:
            if t.requires_grad:
                record(prim, inputs, params, result)
                break
    return result


def _check_same_device(prim: Any, inputs: tuple) -> None:
    """After a failed kernel: a clear error when the inputs live on different devices."""
    if len({type(t._data) for t in inputs}) > 1:
        found = ", ".join(sorted({str(t.device) for t in inputs}))
        raise RuntimeError(
            f"{prim.name.lower()}: expected all tensors to be on the same device, but found "
            f"{found}\nhint: move them first, e.g. other.to(x.device)"
        )


def record(prim: Any, inputs: tuple, params: dict, result: Any) -> None:
    """Attach a Node to ``result`` so that backward can run ``prim``'s vjp."""
    saved = prim.saved_inputs(tuple([t.requires_grad for t in inputs]))
    versions = [(i, inputs[i]._vc[0]) for i, s in enumerate(saved) if s]
    if prim.uses_out:
        versions.append((-1, result._vc[0]))
    node = Node(prim, inputs, params, tuple(versions))
    if prim.uses_out:
        node.out_ref = weakref.ref(result)
    result.node = node
    result.requires_grad = True


def normalize_dim(dim: int, ndim: int, op: str) -> int:
    """Wrap a possibly negative ``dim`` into ``range(ndim)``, with PyTorch's error."""
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(
            f"{op}: dimension out of range: {dim} vs expected to be in range of [{-n}, {n - 1}]"
        )
    return dim % n


def normalize_dims(dim: Any, ndim: int, op: str) -> tuple[int, ...]:
    """``dim`` (None = all, an int, or a sequence) as a sorted tuple of distinct axes."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (int, np.integer)):
        return (normalize_dim(int(dim), ndim, op),)
    dims = tuple(normalize_dim(int(d), ndim, op) for d in dim)
    if len(set(dims)) != len(dims):
        raise ValueError(f"{op}: dim {tuple(dim)} appears multiple times in the list of dims")
    return tuple(sorted(dims))


def broadcast_shapes(op: str, *shapes: tuple[int, ...]) -> tuple[int, ...]:
    """The broadcast of ``shapes`` (NumPy/PyTorch rules), or a ValueError naming ``op``."""
    ndim = max(len(s) for s in shapes)
    out = [1] * ndim
    for s in shapes:
        for i, n in enumerate(s, ndim - len(s)):
            if n != 1:
                if out[i] != 1 and out[i] != n:
                    raise ValueError(
                        f"{op}: shapes {' and '.join(str(tuple(x)) for x in shapes)} cannot be "
                        f"broadcast together: size {out[i]} vs {n} at dimension {i - ndim}"
                    )
                out[i] = n
    return tuple(out)


def _kept_in_graph(src: Any, res: Any) -> Any:
    """``res`` (a write that needs no gradient, such as ``fill_``) tied to ``src``, the
    overwritten value, by a select that always picks ``res``: as in PyTorch, the tensor stays
    in the graph and its old value, and what it was made of, get a zero gradient (not the
    gradient of the value that was overwritten)."""
    from ember.ops.elementwise import where

    never = type(src)._wrap(backend_of(src._data).xp.zeros(src.shape, dtype=bool))
    return where(never, src, res)


def _fits(shape: tuple[int, ...], into: tuple[int, ...]) -> bool:
    """Whether an operand of ``shape`` broadcasts to ``into`` without enlarging it."""
    lead = len(into) - len(shape)
    return lead >= 0 and all(s == 1 or s == n for s, n in zip(shape, into[lead:]))


def unrecorded(t: Any) -> bool:
    """Whether ops on ``t`` alone leave no record: nothing traces, autocast is off and autograd
    records nothing of ``t`` (grad disabled, or ``t`` does not require grad). A composite op
    may then run its primitives on the array (``run_array``) instead of a tensor per step."""
    state = STATE
    return (
        state.tracer is None and not state.autocast and not (state.grad_enabled and t.requires_grad)
    )


def run_array(prim: type[Primitive], *arrays: Any, **params: Any) -> Any:
    """``prim``'s kernel on ``arrays`` (float16 widened, quiet where the primitive is, a scalar
    made an array): ``apply``'s computation, and an op's on an ``unrecorded`` tensor."""
    return _run(prim, arrays, params)


def _run(prim: type[Primitive], arrays: Sequence[Any], params: dict) -> Any:
    """``run_array`` on the sequence ``arrays`` and the dict ``params`` as they are (``apply``'s
    hot path: no packing of arguments)."""
    first = arrays[0]
    xp = np if type(first) is np.ndarray else backend_of(first).xp
    forward = prim.forward
    if prim.widens:
        for a in arrays:
            if a.dtype in LOW_PRECISION:
                forward = widened(forward, a.dtype)
                break
    if prim.quiet:
        with np.errstate(all="ignore"):
            out = forward(xp, *arrays, **params)
    else:
        out = forward(xp, *arrays, **params)
    if type(out) is not np.ndarray and isinstance(out, _HOST_VALUES):
        out = xp.asarray(out)  # a NumPy scalar or ndarray subclass; device arrays pass as they are
    return out


def writable_in_place(t: Any) -> bool:
    """Whether an in-place op may write into ``t`` directly (``write_into``): ``t`` is
    ``unrecorded``, writable and of a floating dtype other than float16 (which is computed in
    float32, see ``widened``)."""
    data = t._data
    return (
        unrecorded(t)
        and data.dtype in FLOATING
        and data.dtype not in LOW_PRECISION
        and getattr(data.flags, "writeable", True)
    )


def write_into(t: Any, prim: type[Primitive], operands: Sequence[Any]) -> bool:
    """Write ``prim(t, *operands)`` straight into ``t``'s memory (the primitive's ``write``
    lowering: NumPy's ``out=``) and bump ``t``'s version counter, for a ``t`` that is
    ``writable_in_place``, when every operand is a tensor of ``t``'s dtype on its device that
    broadcasts to ``t``'s shape and needs no gradient. That computes what ``inplace`` computes,
    without the result array and the copy back into ``t``. False, with nothing done, when the
    op must take ``inplace``'s general path (which raises the errors)."""
    if prim.write is None:
        return False
    data = t._data
    dtype, shape = data.dtype, data.shape
    grad = STATE.grad_enabled
    arrays = [data]
    for x in operands:
        a = getattr(x, "_data", None)
        if type(a) is not type(data) or a.dtype != dtype or (grad and x.requires_grad):
            return False
        if a.shape != shape and not _fits(a.shape, shape):
            return False
        arrays.append(a)
    xp = np if type(data) is np.ndarray else backend_of(data).xp
    if prim.quiet:
        with np.errstate(all="ignore"):
            prim.write(xp, *arrays, out=data)
    else:
        prim.write(xp, *arrays, out=data)
    t._vc[0] += 1
    return True


def inplace(t: Any, compute: Any, op: str) -> Any:
    """Write ``compute(t)`` into ``t``'s memory, keeping autograd and version counters right.

    ``compute`` builds the out-of-place result from a handle on ``t``'s current value (which
    carries ``t``'s old node), so the in-place op is recorded like any other; afterwards ``t``
    takes over the result's node and its version counter is bumped, which lets backward detect
    saved values that this write destroyed.
    """
    grad = STATE.grad_enabled
    if grad and t.requires_grad and t.node is None:
        raise RuntimeError(
            f"{op}: a leaf Variable that requires grad is being used in an in-place operation\n"
            "hint: wrap parameter updates in `with ember.no_grad():`, or use the out-of-place "
            "form"
        )
    src = t._shallow() if grad else t
    res = compute(src)
    if grad and src.requires_grad and not getattr(res, "requires_grad", False):
        res = _kept_in_graph(src, res)
    if res.shape != t.shape:
        raise ValueError(
            f"{op}: output with shape {tuple(t.shape)} doesn't match the broadcast shape "
            f"{tuple(res.shape)}"
        )
    if res.dtype is not t.dtype:
        if res.dtype._kind > t.dtype._kind:
            raise RuntimeError(
                f"{op}: result type {res.dtype.name} can't be cast to the desired output type "
                f"{t.dtype.name}"
            )
        res = res.to(t.dtype)
    if res.requires_grad and t._base is not None:
        raise RuntimeError(
            f"{op}: in-place modification of a view that takes part in autograd is not "
            "supported by ember\nhint: use the out-of-place form, or clone() the view first"
        )
    if res.requires_grad and src is not t:
        # the recorded nodes may have saved ``src``: keep its pre-write value for them
        src._data, src._vc = t._data.copy(), [t._vc[0]]
    if STATE.tracer is not None:  # ember.jit: record the write (before it happens)
        STATE.tracer.write(t, res, src)
    t._data[...] = res._data
    t._vc[0] += 1
    if res.requires_grad:
        node = res.node
        t.node, t.requires_grad = node, True
        if node.out_ref is not None:
            node.out_ref = weakref.ref(t)
            node.versions = node.versions[:-1] + ((-1, t._vc[0]),)
    return t
