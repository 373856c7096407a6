"""More of PyTorch's linear algebra: tensor contractions (tensordot, inner, vdot), the inverse
and pseudo-inverse, determinants, matrix powers and the matrix exponential, and the in-place
forms of the scaled matrix products (``addmm_`` …).

Two primitives do the factorising work, each with its backward in ember ops (so gradients of
gradients follow): ``Inverse`` and ``LogAbsDet``; ``PseudoInverse`` uses the pseudo-inverse's
own derivative (valid where the rank does not change). Everything else is composed of them and
of matrix products.
"""

from __future__ import annotations

import math
from collections import namedtuple
from typing import Any

import numpy as np

from ember.ops import core
from ember.ops.autocast import autocast_op
from ember.ops.core import Aval, Primitive, apply
from ember.ops.elementwise import _inplace_method, as_tensor_like, exp, where
from ember.ops.index import index_put
from ember.ops.linalg import _check_same_dtype, addbmm, addmm, addmv, addr, baddbmm, matmul
from ember.ops.movement import pad

__all__ = [
    "tensordot",
    "inner",
    "vdot",
    "inverse",
    "pinverse",
    "det",
    "slogdet",
    "logdet",
    "matrix_power",
    "matrix_exp",
    "cholesky_inverse",
    "cholesky_solve",
    "qr",
    "svd",
    "LinalgExtraMethods",
]

slogdet_result = namedtuple("slogdet", ["sign", "logabsdet"])
qr_result = namedtuple("qr", ["Q", "R"])
svd_result = namedtuple("svd", ["U", "S", "V"])


# -- contractions ---------------------------------------------------------------------------
def _contracted_dims(a: Any, b: Any, dims: Any) -> tuple[list[int], list[int]]:
    """``dims`` (a count of trailing/leading dims, or two lists) as two lists of dims."""
    if isinstance(dims, core._Tensor):
        dims = dims.tolist()
    if isinstance(dims, (int, np.integer)):
        n = int(dims)
        if n < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={n}")
        if n > a.ndim or n > b.ndim:
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got dims={n}")
        return list(range(a.ndim - n, a.ndim)), list(range(n))
    da, db = ([d] if isinstance(d, int) else list(d) for d in dims)
    if len(da) != len(db):
        raise RuntimeError("both dimension lists should have same length")
    return [core.normalize_dim(d, a.ndim, "tensordot") for d in da], [
        core.normalize_dim(d, b.ndim, "tensordot") for d in db
    ]


@autocast_op
def tensordot(a: Any, b: Any, dims: Any = 2) -> Any:
    """Sum of products over the dims ``dims`` of ``a`` paired with those of ``b``: the free
    dims of ``a`` then those of ``b``. ``dims`` is a count (the last of ``a`` with the first of
    ``b``) or two lists of dims."""
    da, db = _contracted_dims(a, b, dims)
    for i, j in zip(da, db):
        if a.shape[i] != b.shape[j]:
            raise RuntimeError(
                f"contracted dimensions need to match, but first has size {a.shape[i]} in dim "
                f"{i} and second has size {b.shape[j]} in dim {j}"
            )
    free_a = [d for d in range(a.ndim) if d not in da]
    free_b = [d for d in range(b.ndim) if d not in db]
    k = math.prod(a.shape[d] for d in da)
    left = a.permute(*free_a, *da).reshape(-1, k)
    right = b.permute(*db, *free_b).reshape(k, -1)
    shape = [a.shape[d] for d in free_a] + [b.shape[d] for d in free_b]
    return matmul(left, right).reshape(*shape)


def inner(input: Any, other: Any) -> Any:
    """Sum of products over the last dims of ``input`` and ``other`` (a product when either
    is a scalar)."""
    if input.ndim == 0 or other.ndim == 0:
        return input * other
    if input.shape[-1] != other.shape[-1]:
        raise RuntimeError(
            f"inner() the last dimension must match on both input tensors but got shapes "
            f"{list(input.shape)} and {list(other.shape)}"
        )
    return tensordot(input, other, ([-1], [-1]))


def vdot(input: Any, other: Any) -> Any:
    """The dot product of two 1-D tensors (the first conjugated: real tensors, ``dot``)."""
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.ndim}D and {other.ndim}D tensors")
    if input.shape[0] != other.shape[0]:
        raise RuntimeError(
            f"inconsistent tensor size, expected tensor [{input.shape[0]}] and src "
            f"[{other.shape[0]}] to have the same number of elements, but got {input.shape[0]} "
            f"and {other.shape[0]} elements respectively"
        )
    if input.dtype is not other.dtype:
        raise RuntimeError(
            f"dot : expected both vectors to have same dtype, but found {input.dtype.name} "
            f"and {other.dtype.name}"
        )
    return (input * other).sum()


# -- inverses and determinants --------------------------------------------------------------
def _square(op: str, A: Any, floating: bool = True) -> None:
    """PyTorch's checks for ops on (batches of) square matrices."""
    if not isinstance(A, core._Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(A).__name__}")
    if A.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor A must have at least 2 dimensions.")
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(
            f"{op}: A must be batches of square matrices, but they are {A.shape[-2]} by "
            f"{A.shape[-1]} matrices"
        )
    if floating and not A.is_floating_point():
        raise RuntimeError(
            f"{op}: Expected a floating point or complex tensor as input. Got {A.dtype.name}"
        )


def _solved(xp: Any, fn: Any, *arrays: Any) -> Any:
    """``fn(*arrays)``, with a singular matrix reported as PyTorch reports it."""
    try:
        return fn(*arrays)
    except xp.linalg.LinAlgError:
        raise RuntimeError(
            "linalg.inv: The inversion could not be completed because the input matrix is singular."
        ) from None


class Inverse(Primitive):
    """The inverse of each square matrix; d(A⁻¹) = -A⁻¹ dA A⁻¹."""

    uses_out = True
    saved_inputs = staticmethod(lambda req: (False,))

    @staticmethod
    def infer(a: Aval) -> Aval:  # type: ignore[override]
        return a

    @staticmethod
    def forward(xp, a):
        return _solved(xp, xp.linalg.inv, a)

    @staticmethod
    def vjp(g, a, *, out):
        return (-(out.mT @ g @ out.mT),)


class _SlogdetPart(Primitive):
    """One of slogdet's two results, a value per matrix of the batch."""

    abstract = True

    @staticmethod
    def infer(a: Aval) -> Aval:  # type: ignore[override]
        return Aval(a.shape[:-2], a.dtype)


class LogAbsDet(_SlogdetPart):
    """log |det A| of each square matrix; its gradient is A⁻ᵀ."""

    @staticmethod
    def forward(xp, a):
        return xp.linalg.slogdet(a)[1].astype(a.dtype)

    @staticmethod
    def vjp(g, a, *, out):
        return (g.unsqueeze(-1).unsqueeze(-1) * inverse(a).mT,)


class DetSign(_SlogdetPart):
    """The sign of each determinant (-1, 0 or 1): piecewise constant, so no gradient flows,
    but the result joins the graph as PyTorch's does."""

    saved_inputs = staticmethod(lambda req: (False,))

    @staticmethod
    def forward(xp, a):
        return xp.linalg.slogdet(a)[0].astype(a.dtype)

    @staticmethod
    def vjp(g, a, *, out):
        return (None,)


class PseudoInverse(Primitive):
    """The Moore-Penrose pseudo-inverse, singular values under ``rcond`` times the largest
    taken as zero; the backward is the derivative at constant rank."""

    uses_out = True

    @staticmethod
    def infer(a: Aval, *, rcond: float) -> Aval:  # type: ignore[override]
        return Aval(a.shape[:-2] + (a.shape[-1], a.shape[-2]), a.dtype)

    @staticmethod
    def forward(xp, a, *, rcond):
        return xp.linalg.pinv(a, rcond).astype(a.dtype)

    @staticmethod
    def vjp(g, a, *, out, rcond):
        p = out
        left = _identity(a.shape[-2], a) - a @ p  # I - A P: projects off A's range
        right = _identity(a.shape[-1], a) - p @ a  # I - P A: projects off A's row space
        return (-(p.mT @ g @ p.mT) + left @ g.mT @ p @ p.mT + p.mT @ p @ g.mT @ right,)


def _identity(n: int, like: Any) -> Any:
    return as_tensor_like(np.eye(n), like.dtype, like)


@autocast_op
def inverse(input: Any) -> Any:
    """The inverse of each square matrix of ``input``."""
    _square("linalg.inv", input)
    return apply(Inverse, input)


@autocast_op
def pinverse(input: Any, rcond: float = 1e-15) -> Any:
    """The pseudo-inverse of each matrix of ``input``; singular values below ``rcond`` times
    the largest are treated as zero."""
    if input.ndim < 2 or not input.is_floating_point():
        raise RuntimeError(
            f"linalg.pinv: expected a tensor with 2 or more dimensions of float or double "
            f"types, got {input.dtype.name} of shape {list(input.shape)}"
        )
    return apply(PseudoInverse, input, rcond=float(rcond))


def slogdet(input: Any) -> Any:
    """(sign, log |det|) of each square matrix: the determinant without overflow."""
    _square("linalg.slogdet", input)
    return slogdet_result(apply(DetSign, input), apply(LogAbsDet, input))


def det(input: Any) -> Any:
    """The determinant of each square matrix."""
    _square("linalg.det", input)
    sign, logabsdet = slogdet(input)
    return sign * exp(logabsdet)


def logdet(input: Any) -> Any:
    """log det of each square matrix: NaN where the determinant is negative, -inf where 0."""
    _square("logdet", input)
    sign, logabsdet = slogdet(input)
    return where(sign < 0, math.nan, logabsdet)


def matrix_power(input: Any, n: int) -> Any:
    """The ``n``-th power of each square matrix (by repeated squaring; the inverse's power
    for negative ``n``, the identity for 0)."""
    _square("linalg.matrix_power", input, floating=False)
    n = int(n)
    if n < 0:
        input, n = inverse(input), -n
    result = None
    square = input
    while n:
        if n & 1:
            result = square if result is None else result @ square
        n >>= 1
        if n:
            square = square @ square
    if result is None:  # the identity written over a copy: a zero gradient, as in PyTorch
        return index_put(input, (Ellipsis,), _identity(input.shape[-1], input))
    return result


_TAYLOR_TERMS = 18  # with the scaled norm at most 1/2 the remainder is below 1e-22


def matrix_exp(input: Any) -> Any:
    """The matrix exponential of each square matrix: a Taylor series of the matrix scaled by
    a power of two down to norm ≤ 1/2, squared back up. Made of matrix products only, so its
    gradient is the exact derivative of the computation (to any order)."""
    _square("linalg.matrix_exp", input)
    norm = float(input.abs().sum(-2).amax().item()) if input.numel() else 0.0  # the 1-norm
    squarings = max(0, math.ceil(math.log2(norm)) + 1) if norm > 0 else 0
    x = input / (2.0**squarings) if squarings else input
    eye = as_tensor_like(np.eye(input.shape[-1]), input.dtype, input)
    result = eye + x / _TAYLOR_TERMS
    for k in range(_TAYLOR_TERMS - 1, 0, -1):  # Horner: I + x/k (I + x/(k+1) (…))
        result = eye + (x @ result) / k
    for _ in range(squarings):
        result = result @ result
    return result


class CholeskyInverse(Primitive):
    """(L Lᵀ)⁻¹ from the lower triangle of ``factor`` (Uᵀ U from the upper one with
    ``upper``). The gradient is PyTorch's, -P (G + Gᵀ) P L (or -U P (G + Gᵀ) P) with the
    whole of ``factor`` as L: exact when the other triangle is zero, as in a real factor."""

    uses_out = True

    @staticmethod
    def infer(a: Aval, *, upper: bool) -> Aval:  # type: ignore[override]
        return a

    @staticmethod
    def forward(xp, a, *, upper):
        t = xp.triu(a) if upper else xp.tril(a)
        product = xp.swapaxes(t, -1, -2) @ t if upper else t @ xp.swapaxes(t, -1, -2)
        return _solved(xp, xp.linalg.inv, product)

    @staticmethod
    def vjp(g, a, *, out, upper):
        spread = out @ (g + g.mT) @ out
        return (-(a @ spread) if upper else -(spread @ a),)


@autocast_op
def cholesky_inverse(input: Any, upper: bool = False) -> Any:
    """The inverse of the matrix whose Cholesky factor is ``input`` (lower, or ``upper``)."""
    _square("cholesky_inverse", input)
    return apply(CholeskyInverse, input, upper=bool(upper))


@autocast_op
def cholesky_solve(input: Any, input2: Any, upper: bool = False) -> Any:
    """X with A X = ``input``, A given by its Cholesky factor ``input2`` (lower, or
    ``upper``); batch dimensions broadcast."""
    if input.ndim < 2:
        raise RuntimeError(
            f"cholesky_solve: Expected b to have at least 2 dimensions, but it has {input.ndim}"
        )
    _check_same_dtype("cholesky_solve", input, input2)
    a, b = tuple(input2.shape[-2:]), tuple(input.shape[-2:])
    if len(a) == 2 and a[0] == a[1] and a[1] != b[0]:  # (a non-square A: cholesky_inverse says so)
        raise RuntimeError(
            f"Incompatible matrix sizes for cholesky_solve: each A matrix is {a[0]} by {a[1]} "
            f"but each b matrix is {b[0]} by {b[1]}"
        )
    return cholesky_inverse(input2, upper) @ input


class QrQ(Primitive):
    """The orthonormal factor Q of A = QR (Householder, as LAPACK computes it; R is then
    Qᵀ A). The backward is Q's derivative, which depends only on A's first min(m, n)
    columns: with M = -gQᵀ Q, gA₁ = (gQ + Q (tril(M) + tril(M, -1)ᵀ)) R₁⁻ᵀ."""

    uses_out = True

    @staticmethod
    def infer(a: Aval, *, complete: bool) -> Aval:  # type: ignore[override]
        m, n = a.shape[-2:]
        return Aval(a.shape[:-2] + (m, m if complete else min(m, n)), a.dtype)

    @staticmethod
    def forward(xp, a, *, complete):
        return xp.linalg.qr(a, mode="complete" if complete else "reduced")[0]

    @staticmethod
    def vjp(g, a, *, out, complete):
        m, n = a.shape[-2:]
        if complete and m > n:
            raise RuntimeError(
                "The QR decomposition is not differentiable when mode='complete' and nrows > ncols."
            )
        k = min(m, n)
        q = out
        r1 = q.mT @ a[..., :, :k]
        lower = -(g.mT @ q)
        sym = lower.tril() + lower.tril(-1).mT
        grad = (g + q @ sym) @ inverse(r1).mT
        return (pad(grad, (0, n - k)) if n > k else grad,)


@autocast_op
def qr(input: Any, some: bool = True) -> Any:
    """(Q, R) with ``input`` = Q R, Q with orthonormal columns and R upper triangular; with
    ``some=False`` Q is square (the complete factorisation)."""
    if input.ndim < 2 or not input.is_floating_point():
        raise RuntimeError(
            f"linalg.qr: The input tensor A must have at least 2 dimensions and a floating "
            f"point dtype, got {input.dtype.name} of shape {list(input.shape)}"
        )
    q = apply(QrQ, input, complete=not some)
    r = (q.mT @ input).triu()
    return qr_result(q, r)


class _SvdFactor(Primitive):
    """One singular-vector factor of A = U diag(S) Vᵀ (LAPACK's gesdd, as NumPy calls it).
    Its backward is that factor's part of the SVD derivative, with F_ij = 1/(s_j² - s_i²):
    U's is U (F∘(UᵀgU - gUᵀU)) S Vᵀ + (I - UUᵀ) gU S⁻¹ Vᵀ, V's the mirror image. Only the
    first min(m, n) columns of a complete factor have a derivative (PyTorch ignores the
    others' gradient too)."""

    abstract = True
    uses_out = True
    side = 0  # 0: U, 1: V

    @classmethod
    def infer(cls, a: Aval, *, complete: bool) -> Aval:  # type: ignore[override]
        m, n = a.shape[-2:]
        rows = (m, n)[cls.side]
        return Aval(a.shape[:-2] + (rows, rows if complete else min(m, n)), a.dtype)

    @classmethod
    def forward(cls, xp, a, *, complete):
        u, _, vh = xp.linalg.svd(a, full_matrices=complete)
        return u if cls.side == 0 else xp.swapaxes(vh, -1, -2)

    @classmethod
    def vjp(cls, g, a, *, out, complete):
        k = min(a.shape[-2:])
        u, v = _svd_vectors(a)
        s = (u.mT @ a @ v).diagonal(0, -2, -1)
        mine, other = (u, v) if cls.side == 0 else (v, u)
        g = g[..., :k]
        s2 = s * s
        gap = s2.unsqueeze(-2) - s2.unsqueeze(-1)  # s_j² - s_i² at (i, j)
        eye = _identity(k, a)
        f = where(eye > 0, 0.0, 1 / where(eye > 0, 1.0, gap))
        skew = f * (mine.mT @ g - g.mT @ mine)
        rows = mine.shape[-2]
        rest = (_identity(rows, a) - mine @ mine.mT) @ g / s.unsqueeze(-2)
        if cls.side == 0:
            return (u @ (skew * s.unsqueeze(-2)) @ v.mT + rest @ v.mT,)
        return (u @ (s.unsqueeze(-1) * skew) @ v.mT + u @ rest.mT,)


class SvdU(_SvdFactor):
    side = 0


class SvdV(_SvdFactor):
    side = 1


def _svd_vectors(a: Any) -> tuple[Any, Any]:
    """The reduced U and V of ``a``."""
    return apply(SvdU, a, complete=False), apply(SvdV, a, complete=False)


@autocast_op
def svd(input: Any, some: bool = True, compute_uv: bool = True) -> Any:
    """(U, S, V) with ``input`` = U diag(S) Vᵀ: V itself, not Vᵀ; U and V are square with
    ``some=False``; with ``compute_uv=False`` they are zero-filled (only S is computed).
    S = diag(Uᵀ A V), so its gradient, U diag(gS) Vᵀ, comes from autograd."""
    if input.ndim < 2:
        raise RuntimeError(
            f"linalg.svd: input should have at least 2 dimensions, but has {input.ndim} "
            f"dimensions instead"
        )
    if not input.is_floating_point():
        raise RuntimeError(
            f"linalg.svd: Expected a floating point or complex tensor as input. Got "
            f"{input.dtype.name}"
        )
    m, n = input.shape[-2:]
    u, v = _svd_vectors(input)
    s = (u.mT @ input @ v).diagonal(0, -2, -1)
    if not compute_uv:
        batch = tuple(input.shape[:-2])
        return svd_result(input.new_zeros(*batch, m, m), s, input.new_zeros(*batch, n, n))
    if not some:
        u = apply(SvdU, input, complete=True)
        v = apply(SvdV, input, complete=True)
    return svd_result(u, s, v)


class LinalgExtraMethods:
    """Tensor methods of this module."""

    __slots__ = ()
    inner = inner
    vdot = vdot
    inverse = inverse
    pinverse = pinverse
    det = det
    slogdet = slogdet
    logdet = logdet
    matrix_power = matrix_power
    matrix_exp = matrix_exp
    cholesky_inverse = cholesky_inverse
    cholesky_solve = cholesky_solve
    qr = qr
    svd = svd
    addmm_ = _inplace_method(addmm, "addmm_")
    addmv_ = _inplace_method(addmv, "addmv_")
    addr_ = _inplace_method(addr, "addr_")
    baddbmm_ = _inplace_method(baddbmm, "baddbmm_")
    addbmm_ = _inplace_method(addbmm, "addbmm_")
