"""Linear algebra: matrix products (with batch broadcasting) and einsum."""

from __future__ import annotations

import math
import string
from typing import Any

import numpy as np

from ember.ops import core
from ember.ops.autocast import autocast_op
from ember.ops.core import OPAQUE, Aval, Primitive, apply, broadcast_shapes, ufunc_writer

__all__ = [
    "matmul",
    "mm",
    "bmm",
    "mv",
    "dot",
    "outer",
    "ger",
    "einsum",
    "addmm",
    "addmv",
    "addr",
    "baddbmm",
    "addbmm",
    "kron",
    "LinalgMethods",
]


class MatMul(Primitive):
    """Matrix product of two ≥2-D tensors, broadcasting the batch dimensions."""

    kind = OPAQUE
    write = staticmethod(ufunc_writer("matmul"))  # BLAS (cuBLAS) into a planned buffer
    # products that overflow are silent in PyTorch; OpenBLAS's small-matrix kernels also set
    # the invalid flag now and then on finite inputs (a spurious "invalid value encountered
    # in matmul", seen once in a full test run)
    quiet = True

    @staticmethod
    def infer(a: Aval, b: Aval) -> Aval:  # type: ignore[override]
        if a.dtype is not b.dtype:
            raise TypeError(
                f"matmul: expected both operands to have the same dtype, got "
                f"{a.dtype.name} and {b.dtype.name}"
            )
        if a.shape[-1] != b.shape[-2]:
            raise ValueError(
                f"matmul: shapes {a.shape} and {b.shape} cannot be multiplied: "
                f"{a.shape[-1]} (last dim of the first) != {b.shape[-2]} (second-to-last dim "
                f"of the second)"
            )
        try:
            batch = broadcast_shapes("matmul", a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise ValueError(
                f"matmul: shapes {a.shape} and {b.shape} cannot be multiplied: batch dimensions "
                f"{a.shape[:-2]} and {b.shape[:-2]} do not broadcast"
            ) from None
        return Aval(batch + (a.shape[-2], b.shape[-1]), a.dtype)

    @staticmethod
    def forward(xp, a, b):
        rows = stack_rows(xp, a, b)
        if rows is not None:
            out = xp.empty((*a.shape[:-1], b.shape[-1]), dtype=xp.result_type(a, b))
            xp.matmul(rows, b, out=out.reshape(-1, b.shape[-1]))
            return out
        return xp.matmul(a, b)

    @staticmethod
    def vjp(g, a, b, *, out):
        return (lambda: g @ b.mT, lambda: _grad_of_second(g, a, b))

    saved_inputs = staticmethod(lambda req: (req[1], req[0]))


def stack_rows(xp: Any, a: Any, b: Any) -> Any:
    """``a``'s matrices as one (rows, K) view when ``b`` is one matrix and the rows of the
    stack ``a`` follow one another at one stride (nn.Linear on a sequence), else None: the
    product is then one BLAS call over all the rows instead of one per matrix, with the same
    dot products."""
    if a.ndim < 3 or b.ndim != 2:
        return None
    if a.flags.c_contiguous:
        return a.reshape(-1, a.shape[-1])
    if xp is not np:
        return None
    lead = [(n, st) for n, st in zip(a.shape[:-1], a.strides[:-1]) if n != 1]
    if any(st != st2 * n2 for (_, st), (n2, st2) in zip(lead, lead[1:])):
        return None  # flattening would copy
    step = lead[-1][1] if lead else a.strides[-2]
    shape = (math.prod(a.shape[:-1]), a.shape[-1])
    return np.lib.stride_tricks.as_strided(a, shape, (step, a.strides[-1]), writeable=False)


def _grad_of_second(g: Any, a: Any, b: Any) -> Any:
    """``a.mT @ g``, the gradient of a product's second operand ``b``. When ``b`` is one
    matrix and ``a`` a stack, it is one product over all the stack's rows (the sum over the
    stack happens inside it, not as a stack of products then a sum). When ``b`` is a
    transposed matrix (``x @ weight.mT``, nn.Linear) it is computed eagerly as
    ``(g.mT @ a).mT``: the same sums, delivered transposed, so that the weight's gradient
    arrives in the weight's row-major layout and storing it in ``.grad`` is a block copy
    instead of a transposing one (a third of the MLP's backward). A trace records the plain
    form, so compiled graphs are unchanged."""
    if b.ndim == 2 and a.ndim > 2:
        a, g = a.reshape(-1, a.shape[-1]), g.reshape(-1, g.shape[-1])
    data = b._data
    if (
        core.STATE.tracer is None
        and data.ndim == 2
        and a._data.ndim == 2
        and data.flags.f_contiguous
        and not data.flags.c_contiguous
    ):
        return (g.mT @ a).mT
    return a.mT @ g


def _check_same_dtype(op: str, *operands: Any) -> None:
    """Matrix products do not promote (PyTorch raises): a float32 model fed float64 data is
    almost always a mistake that promotion would hide, at double the cost."""
    names = {x.dtype.name for x in operands}
    if len(names) > 1:
        raise TypeError(
            f"{op}: expected all operands to have the same dtype, got "
            f"{' and '.join(x.dtype.name for x in operands)}\n"
            "hint: convert one of them first, e.g. x.to(weight.dtype)"
        )


@autocast_op
def matmul(a: Any, b: Any) -> Any:
    """Matrix product with NumPy/PyTorch semantics for 1-D and batched operands."""
    T = core._Tensor
    if not isinstance(a, T) or not isinstance(b, T):
        raise TypeError(f"matmul: expected Tensors, got {type(a).__name__} and {type(b).__name__}")
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(
            f"matmul: both arguments need at least 1 dimension, got shapes "
            f"{tuple(a.shape)} and {tuple(b.shape)}"
        )
    _check_same_dtype("matmul", a, b)
    if a.ndim == 1 and b.ndim == 1:
        _check_inner(a.shape[0], b.shape[0], a, b)
        return (a * b).sum()
    squeeze_a, squeeze_b = a.ndim == 1, b.ndim == 1
    a2 = a.unsqueeze(0) if squeeze_a else a
    b2 = b.unsqueeze(-1) if squeeze_b else b
    _check_inner(a2.shape[-1], b2.shape[-2], a, b)
    out = apply(MatMul, a2, b2)
    if squeeze_a:
        out = out.squeeze(-2)
    if squeeze_b:
        out = out.squeeze(-1)
    return out


def _check_inner(n: int, m: int, a: Any, b: Any) -> None:
    if n != m:
        raise ValueError(
            f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be "
            f"multiplied ({n} != {m})"
        )


@autocast_op
def mm(a: Any, b: Any) -> Any:
    """Product of two matrices (2-D only)."""
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(
            f"mm: expected 2-D tensors, got shapes {tuple(a.shape)} and {tuple(b.shape)}"
        )
    return matmul(a, b)


@autocast_op
def bmm(a: Any, b: Any) -> Any:
    """Batched product of [B, n, m] and [B, m, p] tensors."""
    if a.ndim != 3 or b.ndim != 3:
        raise ValueError(
            f"bmm: expected 3-D tensors, got shapes {tuple(a.shape)} and {tuple(b.shape)}"
        )
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"bmm: batch sizes differ: {a.shape[0]} vs {b.shape[0]}")
    return matmul(a, b)


@autocast_op
def mv(a: Any, v: Any) -> Any:
    """Matrix-vector product."""
    if a.ndim != 2 or v.ndim != 1:
        raise ValueError(
            f"mv: expected a 2-D and a 1-D tensor, got shapes {tuple(a.shape)} and {tuple(v.shape)}"
        )
    return matmul(a, v)


@autocast_op
def dot(a: Any, b: Any) -> Any:
    """Inner product of two 1-D tensors."""
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(
            f"dot: expected 1-D tensors, got shapes {tuple(a.shape)} and {tuple(b.shape)}"
        )
    return matmul(a, b)


def outer(a: Any, b: Any) -> Any:
    """Outer product of two 1-D tensors."""
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(
            f"outer: expected 1-D tensors, got shapes {tuple(a.shape)} and {tuple(b.shape)}"
        )
    return a.unsqueeze(1) * b.unsqueeze(0)


class Einsum(Primitive):
    """Einstein summation; ``equation`` is explicit (``"ij,jk->ik"``), ellipses expanded."""

    kind = OPAQUE
    check_eagerly = True

    @staticmethod
    def infer(*ops: Aval, equation: str) -> Aval:  # type: ignore[override]
        ins, out = equation.split("->")
        specs = ins.split(",")
        bad = sorted({c for c in ins.replace(",", "") + out if not c.isalpha()})
        if bad:
            raise ValueError(f"einsum: subscripts must be letters, got {bad} in {equation!r}")
        if len(set(out)) != len(out) or not set(out) <= set(ins):
            raise ValueError(
                f"einsum: output subscripts {out!r} must be distinct letters that appear in the "
                f"inputs {ins!r}"
            )
        if len(specs) != len(ops):
            raise ValueError(
                f"einsum: equation {equation!r} names {len(specs)} operands, got {len(ops)}"
            )
        sizes: dict[str, int] = {}
        for spec, op in zip(specs, ops):
            if len(spec) != len(op.shape):
                raise ValueError(
                    f"einsum: operand subscripts {spec!r} do not match shape {op.shape}"
                )
            for c, n in zip(spec, op.shape):
                if sizes.setdefault(c, n) != n and n != 1 and sizes[c] != 1:
                    raise ValueError(
                        f"einsum: subscript {c!r} has size {n} in one operand and "
                        f"{sizes[c]} in another"
                    )
                sizes[c] = max(sizes[c], n)
        return Aval(tuple(sizes[c] for c in out), ops[0].dtype)

    @staticmethod
    def forward(xp, *ops, equation):
        return xp.einsum(equation, *ops, optimize=len(ops) > 2)

    @staticmethod
    def vjp(g, *ops, out, equation):
        ins, out_spec = equation.split("->")
        specs = ins.split(",")

        def grad(i: int) -> Any:
            others = [s for j, s in enumerate(specs) if j != i]
            target = specs[i]
            # letters of operand i summed away by the forward (absent elsewhere) broadcast back
            known = set(out_spec).union(*others) if others else set(out_spec)
            kept = "".join(c for c in dict.fromkeys(target) if c in known)
            eq = ",".join([out_spec] + others) + "->" + kept
            r = einsum(eq, g, *[o for j, o in enumerate(ops) if j != i])
            return _grad_to_operand(r, kept, target, ops[i])

        return tuple((lambda i=i: grad(i)) for i in range(len(ops)))


def _grad_to_operand(r: Any, kept: str, target: str, op: Any) -> Any:
    """A gradient over the ``kept`` letters as one for the operand with subscripts ``target``:
    size-1 (broadcast) dims summed, summed-away letters broadcast back, and repeated letters
    (a diagonal, ``"ii"``) placed on the diagonal with zeros elsewhere."""
    from ember.ops.elementwise import as_tensor_like

    size = {c: op.shape[k] for k, c in enumerate(target)}
    summed = tuple(k for k, c in enumerate(kept) if size[c] == 1 and r.shape[k] != 1)
    if summed:
        r = r.sum(summed, keepdim=True)
    unique = "".join(dict.fromkeys(target))
    if kept != unique:
        r = r.permute(*[kept.index(c) for c in unique if c in kept]) if kept else r
        r = r.reshape(*[size[c] if c in kept else 1 for c in unique])
        r = r.expand(*[size[c] for c in unique])
    if unique == target:
        return r
    free = iter(c for c in string.ascii_letters if c not in target)
    full, deltas = "", []
    for c in target:
        if c in full:
            fresh = next(free)
            deltas.append(c + fresh)
            full += fresh
        else:
            full += c
    eyes = [as_tensor_like(np.eye(size[d[0]]), op.dtype, op) for d in deltas]
    return einsum(",".join([unique, *deltas]) + "->" + full, r, *eyes)


def _expand_ellipses(eq: str, operands: tuple) -> str:
    """``eq`` with every ``...`` replaced by letters for the dims it stands for (right-aligned
    across operands, so that they broadcast) and an explicit output."""
    ins, arrow, out = eq.partition("->")
    specs = ins.split(",")
    if len(specs) != len(operands):
        return eq  # Einsum.infer reports the mismatch
    spans = [
        op.ndim - len(s.replace("...", "")) if "..." in s else 0 for s, op in zip(specs, operands)
    ]
    n = max(spans, default=0)
    free = [c for c in string.ascii_letters if c not in eq][:n]
    ell = "".join(free)
    specs = [s.replace("...", ell[n - k :]) for s, k in zip(specs, spans)]
    if arrow:
        out = out.replace("...", ell)
    else:
        joined = "".join(specs)
        out = ell + "".join(sorted(c for c in set(joined) if joined.count(c) == 1 and c not in ell))
    return ",".join(specs) + "->" + out


@autocast_op
def einsum(equation: str, *operands: Any) -> Any:
    """Einstein summation, e.g. ``einsum("bij,bjk->bik", a, b)``, with ``...`` and repeated
    subscripts (``"ii->i"``, a diagonal) like PyTorch."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    eq = equation.replace(" ", "")
    if "..." in eq:
        eq = _expand_ellipses(eq, operands)
    elif "->" not in eq:
        letters = eq.replace(",", "")
        eq += "->" + "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    _check_same_dtype("einsum", *operands)
    return apply(Einsum, *operands, equation=eq)


ger = outer


def _scaled_sum(op: str, input: Any, product: Any, beta: Any, alpha: Any) -> Any:
    """beta * input + alpha * product, with ``input`` broadcast to the product's shape; with
    beta = 0 the input is ignored (its NaNs do not propagate), as in BLAS."""
    if not isinstance(input, core._Tensor):
        raise TypeError(f"{op}: expected input to be a Tensor, got {type(input).__name__}")
    _check_same_dtype(op, input, product)
    if broadcast_shapes(tuple(input.shape), tuple(product.shape)) != tuple(product.shape):
        raise ValueError(
            f"{op}: input of shape {tuple(input.shape)} does not broadcast to the product's "
            f"shape {tuple(product.shape)}"
        )
    out = product if alpha == 1 else product * alpha
    if beta == 0:
        return out
    return out + (input if beta == 1 else input * beta)


@autocast_op
def addmm(input: Any, mat1: Any, mat2: Any, *, beta: Any = 1, alpha: Any = 1) -> Any:
    """beta * input + alpha * (mat1 @ mat2)."""
    return _scaled_sum("addmm", input, mm(mat1, mat2), beta, alpha)


@autocast_op
def addmv(input: Any, mat: Any, vec: Any, *, beta: Any = 1, alpha: Any = 1) -> Any:
    """beta * input + alpha * (mat @ vec)."""
    return _scaled_sum("addmv", input, mv(mat, vec), beta, alpha)


@autocast_op
def addr(input: Any, vec1: Any, vec2: Any, *, beta: Any = 1, alpha: Any = 1) -> Any:
    """beta * input + alpha * outer(vec1, vec2)."""
    return _scaled_sum("addr", input, outer(vec1, vec2), beta, alpha)


@autocast_op
def baddbmm(input: Any, batch1: Any, batch2: Any, *, beta: Any = 1, alpha: Any = 1) -> Any:
    """beta * input + alpha * (batch1 @ batch2), batch by batch."""
    return _scaled_sum("baddbmm", input, bmm(batch1, batch2), beta, alpha)


@autocast_op
def addbmm(input: Any, batch1: Any, batch2: Any, *, beta: Any = 1, alpha: Any = 1) -> Any:
    """beta * input + alpha * the sum over the batch of batch1[i] @ batch2[i]."""
    return _scaled_sum("addbmm", input, bmm(batch1, batch2).sum(0), beta, alpha)


def kron(input: Any, other: Any) -> Any:
    """Kronecker product: every element of ``input`` times a block ``other``."""
    nd = max(input.ndim, other.ndim)
    a = input.reshape(*(1,) * (nd - input.ndim), *input.shape)
    b = other.reshape(*(1,) * (nd - other.ndim), *other.shape)
    # interleave the dims (a0, 1, a1, 1, ...) and (1, b0, 1, b1, ...) so the product tiles
    wide = a.reshape(*(s for d in a.shape for s in (d, 1))) * b.reshape(
        *(s for d in b.shape for s in (1, d))
    )
    return wide.reshape(*(m * n for m, n in zip(a.shape, b.shape)))


class LinalgMethods:
    """Tensor methods of the linear-algebra family."""

    __slots__ = ()
    __matmul__ = matmul

    def __rmatmul__(self, other: Any) -> Any:
        return matmul(other, self)

    matmul = matmul
    mm = mm
    bmm = bmm
    mv = mv
    dot = dot
    outer = ger = outer
    addmm = addmm
    addmv = addmv
    addr = addr
    baddbmm = baddbmm
    addbmm = addbmm
    kron = kron
