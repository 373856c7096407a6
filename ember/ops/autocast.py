"""Autocast's per-op precision policy: PyTorch's ``torch.amp`` op lists and the thread's
autocast state.

Inside an enabled ``ember.autocast`` region, an op decorated with ``autocast_op`` looks itself
up in the lists of its tensors' device type and casts its floating inputs (float64 ones are
left alone) before it runs:

- ``LOWER`` ops (matrix products, convolutions, ``linear``) run in the region's dtype;
- ``FLOAT32`` ops (losses, ``prod``, the linear-algebra solvers; on CUDA also softmax,
  layer_norm, exp, log, pow, sum …) run in float32;
- ``PROMOTE`` ops (``cat``, ``stack`` …) run in the widest floating dtype among their inputs;
- an op on no list of that device runs on its inputs as they are;
- an op given an explicit ``dtype=`` runs as it is asked to.

Either way the op's own inner ops are not autocast again, as PyTorch turns autocast off while
an op it dispatched runs: ``linear`` casts once, then its matrix product and bias add run in
bfloat16, and ``mv`` (on no CPU list, built from ``matmul`` here) stays in float32. The casts
are ``Tensor.to``, which is differentiable, so gradients come back in the inputs' dtypes.

The policy sits on the public functions rather than in ``apply`` because PyTorch's lists name
functional ops: ``linear`` is one op there and a matrix product plus an add in ember.

Casts of float32 leaves that require grad (the weights) to the region's dtype are cached until
the outermost region exits, so a weight used several times is cast once; an entry is dropped
when the weight is written in place or its cast's graph was freed by a backward.
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from ember import dtypes
from ember.autograd.grad_mode import STATE
from ember.ops import core

# the torch-level state functions (ember re-exports them); the policy's own names are
# imported by name where they are used
__all__ = [
    "is_autocast_enabled",
    "set_autocast_enabled",
    "get_autocast_dtype",
    "set_autocast_dtype",
    "is_autocast_cache_enabled",
    "set_autocast_cache_enabled",
    "clear_autocast_cache",
    "autocast_increment_nesting",
    "autocast_decrement_nesting",
]

F = TypeVar("F", bound=Callable[..., Any])

LOWER, FLOAT32, PROMOTE = "lower precision", "float32", "promote"
DEVICE_TYPES = ("cpu", "cuda")
DEFAULT_DTYPES = {"cpu": dtypes.bfloat16, "cuda": dtypes.float16}
SUPPORTED_DTYPES = (dtypes.bfloat16, dtypes.float16)

_MATMULS = "matmul mm bmm addmm addbmm baddbmm linear einsum"  # einsum: torch's reaches bmm
_CONVS = "conv1d conv2d conv3d conv_transpose1d conv_transpose2d conv_transpose3d prelu"
_LOSSES = (
    "binary_cross_entropy binary_cross_entropy_with_logits cosine_embedding_loss cross_entropy "
    "hinge_embedding_loss huber_loss kl_div l1_loss margin_ranking_loss mse_loss "
    "multi_margin_loss multilabel_margin_loss nll_loss poisson_nll_loss smooth_l1_loss "
    "soft_margin_loss triplet_margin_loss"
)
_CPU_FLOAT32 = (
    "avg_pool3d max_pool3d adaptive_avg_pool3d adaptive_max_pool3d grid_sample prod quantile "
    "nanquantile stft cdist trace inverse pinverse cholesky cholesky_inverse cholesky_solve "
    "lu_solve qr svd triangular_solve geqrf ormqr orgqr polar view_as_complex "
    "linalg_cholesky linalg_inv linalg_solve linalg_qr linalg_svd linalg_svdvals linalg_eig "
    "linalg_eigh linalg_eigvals linalg_eigvalsh linalg_lstsq linalg_pinv linalg_matrix_rank "
    "linalg_cond linalg_tensorinv linalg_tensorsolve linalg_householder_product"
)
_CUDA_FLOAT32 = (
    "acos asin cosh erfinv exp expm1 log log10 log2 log1p reciprocal rsqrt sinh tan pow "
    "softplus layer_norm group_norm norm cosine_similarity cdist pdist dist renorm logsumexp "
    "prod cumprod cumsum sum softmax log_softmax softmin normalize"
)

# torch.amp's lists ("Autocast Op Reference"), by PyTorch's op names; linalg ops as linalg_*
POLICIES: dict[str, dict[str, str]] = {
    "cpu": {
        **dict.fromkeys(f"{_MATMULS} {_CONVS} scaled_dot_product_attention".split(), LOWER),
        **dict.fromkeys(f"{_LOSSES} {_CPU_FLOAT32}".split(), FLOAT32),
        **dict.fromkeys("cat stack index_copy".split(), PROMOTE),
    },
    "cuda": {
        **dict.fromkeys(f"{_MATMULS} {_CONVS} addmv addr mv chain_matmul multi_dot".split(), LOWER),
        **dict.fromkeys(f"{_LOSSES} {_CUDA_FLOAT32}".split(), FLOAT32),
        **dict.fromkeys(
            "addcdiv addcmul atan2 bilinear cross dot grid_sample index_put scatter_add "
            "tensordot cat stack index_copy".split(),
            PROMOTE,
        ),
    },
}


# torch builds these from listed ops: on a device where they are on no list, the ops inside
# them are autocast (torch's CPU bilinear multiplies in low precision, then adds a float32 bias)
_COMPOSITES = frozenset({"bilinear"})


class _Settings(threading.local):
    """The thread's autocast settings (PyTorch keeps them per thread too)."""

    def __init__(self) -> None:
        self.enabled = dict.fromkeys(DEVICE_TYPES, False)
        self.dtype = dict(DEFAULT_DTYPES)
        self.cache_enabled = True
        self.nesting = 0
        self.cache: dict[int, tuple] = {}  # id(weight) -> (weakref, version, grad mode, cast)


_SETTINGS = _Settings()


def _publish() -> None:
    """Refresh ``STATE.autocast``, the enabled device types' dtypes (None: none enabled),
    which is all that a decorated op reads when no region is enabled."""
    s = _SETTINGS
    active = {d: s.dtype[d] for d in DEVICE_TYPES if s.enabled[d]}
    STATE.autocast = active or None


def check_device_type(device_type: str, caller: str) -> str:
    """``device_type`` if ember has it (cpu, cuda), else a RuntimeError naming ``caller``."""
    if device_type not in DEVICE_TYPES:
        raise RuntimeError(
            f"{caller}: device type {device_type!r} is not one of ember's: "
            f"{', '.join(DEVICE_TYPES)}"
        )
    return device_type


def is_autocast_enabled(device_type: str = "cuda") -> bool:
    """Whether autocast is on for ``device_type`` in this thread."""
    return _SETTINGS.enabled[check_device_type(device_type, "is_autocast_enabled")]


def set_autocast_enabled(device_type: Any, enabled: bool | None = None) -> None:
    """Turn autocast on or off for ``device_type`` (``set_autocast_enabled(flag)``: cuda)."""
    if enabled is None:
        device_type, enabled = "cuda", device_type
    _SETTINGS.enabled[check_device_type(device_type, "set_autocast_enabled")] = bool(enabled)
    _publish()


def get_autocast_dtype(device_type: str) -> dtypes.dtype:
    """The dtype that ``LOWER`` ops run in on ``device_type``."""
    return _SETTINGS.dtype[check_device_type(device_type, "get_autocast_dtype")]


def set_autocast_dtype(device_type: str, dtype: Any) -> None:
    _SETTINGS.dtype[check_device_type(device_type, "set_autocast_dtype")] = dtypes.as_dtype(dtype)
    _publish()


def is_autocast_cache_enabled() -> bool:
    return _SETTINGS.cache_enabled


def set_autocast_cache_enabled(enabled: bool) -> None:
    _SETTINGS.cache_enabled = bool(enabled)


def clear_autocast_cache() -> None:
    """Forget the cached low precision casts of the weights."""
    _SETTINGS.cache.clear()


def autocast_increment_nesting() -> int:
    """Enter one more autocast region; returns the new depth."""
    _SETTINGS.nesting += 1
    return _SETTINGS.nesting


def autocast_decrement_nesting() -> int:
    """Leave an autocast region; returns the new depth (0: outside all of them)."""
    _SETTINGS.nesting -= 1
    return _SETTINGS.nesting


def autocast_op(fn: F) -> F:
    """Make ``fn`` (a public op, named as PyTorch names it) follow the autocast policy."""
    name = fn.__name__

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        active = STATE.autocast
        if active is None:
            return fn(*args, **kwargs)
        return _run_autocast(fn, name, active, args, kwargs)

    run.autocast_name = name  # type: ignore[attr-defined]
    return run  # type: ignore[return-value]


def _run_autocast(fn: Callable, name: str, active: dict, args: tuple, kwargs: dict) -> Any:
    """``fn(*args, **kwargs)`` with its inputs cast by the policy, autocast off inside."""
    tensors = _tensors(args) + _tensors(tuple(kwargs.values()))
    device = next(("cuda" if t.is_cuda else "cpu" for t in tensors), None)
    low = active.get(device)
    policy = POLICIES[device].get(name) if low is not None else None
    STATE.autocast = None
    try:
        if policy is None and name in _COMPOSITES and low is not None:
            STATE.autocast = active
        if policy is None or kwargs.get("dtype") is not None:
            return fn(*args, **kwargs)
        if policy is LOWER:
            target = low
        elif policy is FLOAT32:
            target = dtypes.float32
        else:
            target = _widest(name, low, [t for t in tensors if _eligible(t, device)])
        cast = functools.partial(_cast, device=device, dtype=target, cache=policy is LOWER)
        args = tuple(_map(cast, a) for a in args)
        kwargs = {k: _map(cast, v) for k, v in kwargs.items()}
        return fn(*args, **kwargs)
    finally:
        STATE.autocast = active


def _tensors(values: tuple) -> list:
    """The tensors among ``values`` and in their lists/tuples (``cat``'s sequence)."""
    Tensor = core._Tensor  # bound by ember.tensor, a layer above
    found = []
    for v in values:
        if isinstance(v, Tensor):
            found.append(v)
        elif isinstance(v, (list, tuple)):
            found += [x for x in v if isinstance(x, Tensor)]
    return found


def _map(cast: Callable, value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return type(value)(cast(v) for v in value)
    return cast(value)


def _eligible(t: Any, device: str) -> bool:
    """Autocast touches floating tensors of the region's device, float64 excepted."""
    return (
        t.is_floating_point()
        and t.dtype is not dtypes.float64
        and ("cuda" if t.is_cuda else "cpu") == device
    )


def _widest(name: str, low: dtypes.dtype, tensors: list) -> dtypes.dtype:
    """A ``PROMOTE`` op's dtype: float32 if any input is, else the region's dtype."""
    found = {t.dtype for t in tensors}
    if dtypes.float32 in found:
        return dtypes.float32
    if found - {low}:
        other = ", ".join(sorted(d.name for d in found - {low}))
        raise RuntimeError(
            f"{name}: under autocast to {low.name}, inputs of {other} cannot be promoted with "
            f"it\nhint: convert them to {low.name} or float32 first"
        )
    return low


def _cast(t: Any, *, device: str, dtype: dtypes.dtype, cache: bool) -> Any:
    if not isinstance(t, core._Tensor) or t.dtype is dtype or not _eligible(t, device):
        return t
    cacheable = (
        cache
        and _SETTINGS.cache_enabled
        and t.dtype is dtypes.float32
        and t.requires_grad
        and t.node is None
        and t._base is None
        and STATE.tracer is None
    )
    if not cacheable:
        return t.to(dtype)
    entry = _SETTINGS.cache.get(id(t))
    grad = STATE.grad_enabled
    if entry is not None:
        ref, version, grad_then, out = entry
        fresh = ref() is t and version == t._vc[0] and grad_then == grad and out.dtype is dtype
        if fresh and (out.node is None or out.node.inputs is not None):
            return out
    out = t.to(dtype)
    _SETTINGS.cache[id(t)] = (weakref.ref(t), t._vc[0], grad, out)
    return out
