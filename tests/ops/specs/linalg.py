"""Op database: linalg family (matmul and friends, einsum)."""

from __future__ import annotations

import numpy as np
import torch

import ember
from tests.ops.specs import OpSpec, Sample, rand


def _pairs(*shape_pairs: tuple) -> object:
    def make(rng):
        return [Sample((rand(rng, *a), rand(rng, *b))) for a, b in shape_pairs]

    return make


def _einsum_samples(rng):
    equations = [
        ("ij,jk->ik", (3, 4), (4, 2)),
        ("bij,bjk->bik", (2, 3, 4), (2, 4, 5)),
        ("i,j->ij", (3,), (4,)),
        ("ij->", (3, 4)),
        ("ij->ji", (3, 4)),
        ("ij,jk", (2, 3), (3, 4)),
        ("ba", (2, 3)),
        ("ij,jk,kl->il", (2, 3), (3, 4), (4, 2)),
        ("bi,bi->b", (3, 4), (3, 4)),
        ("ij,ij->ij", (2, 3), (1, 3)),
        ("i,i->", (0,), (0,)),
        ("...ij,...jk", (2, 1, 3, 4), (5, 4, 2)),  # ellipses broadcast
        ("b...i,i->b...", (2, 3, 4), (4,)),
        ("ba...", (2, 3, 4)),
        ("...", (2, 3)),
        ("ii->i", (3, 3)),  # repeated subscripts: a diagonal
        ("ii", (3, 3)),  # the trace
        ("iji->j", (3, 2, 3)),
        ("ii,ij->ij", (3, 3), (3, 2)),
        ("...ii->...i", (2, 3, 3)),
    ]
    return [Sample((eq, *[rand(rng, *s) for s in shapes]), label=eq) for eq, *shapes in equations]


def _same(name: str) -> tuple:
    return getattr(ember, name), getattr(torch, name)


def _scaled_samples(input_shape, *operand_shapes):
    """(input, operand, operand) samples with default, scaled and beta = 0 coefficients; the
    last keeps a NaN input that beta = 0 must ignore (without gradient through it)."""

    def make(rng):
        def args(shape):
            return (rand(rng, *shape), *(rand(rng, *s) for s in operand_shapes))

        nan_input = np.full(input_shape, np.nan)
        return [
            Sample(args(input_shape)),
            Sample(args(input_shape[-1:]), {"beta": 0.5, "alpha": -2.0}),
            Sample((nan_input, *args(input_shape)[1:]), {"beta": 0}, nograd=(0,)),
        ]

    return make


def _torch_kron(a, b):
    """torch.kron fails on some strided inputs (it calls view): give it contiguous ones."""
    return torch.kron(a.contiguous(), b.contiguous())


def _kron_samples(rng):
    return [
        Sample((rand(rng, 2, 3), rand(rng, 3, 2))),
        Sample((rand(rng, 3), rand(rng, 2, 2))),
        Sample((rand(rng, 2, 1, 2), rand(rng, 2))),
    ]


SPECS = [
    OpSpec(
        "matmul",
        *_same("matmul"),
        _pairs(
            ((3,), (3,)),
            ((3,), (3, 4)),
            ((3, 4), (4,)),
            ((3, 4), (4, 2)),
            ((2, 1, 3, 4), (5, 4, 2)),
            ((2, 3, 4), (4, 5)),
            ((4,), (2, 4, 3)),
            ((2, 3, 4), (4,)),
            ((2, 0), (0, 3)),
            ((0, 3), (3, 2)),
        ),
        prims=("MatMul", "Mul", "Sum"),
        second_order=True,
    ),
    OpSpec("mm", *_same("mm"), _pairs(((3, 4), (4, 2)), ((1, 5), (5, 1))), prims=("MatMul",)),
    OpSpec("bmm", *_same("bmm"), _pairs(((2, 3, 4), (2, 4, 5))), prims=("MatMul",)),
    OpSpec("mv", *_same("mv"), _pairs(((3, 4), (4,))), prims=("MatMul",)),
    OpSpec("dot", *_same("dot"), _pairs(((4,), (4,))), prims=("Mul", "Sum")),
    OpSpec("outer", *_same("outer"), _pairs(((3,), (4,)), ((0,), (2,))), prims=("Mul",)),
    OpSpec(
        "matmul_operator",
        lambda a, b: a @ b,
        lambda a, b: a @ b,
        _pairs(((2, 3), (3, 4))),
        prims=("MatMul",),
    ),
    OpSpec("einsum", *_same("einsum"), _einsum_samples, prims=("Einsum",), second_order=True),
    OpSpec("addmm", *_same("addmm"), _scaled_samples((3, 2), (3, 4), (4, 2))),
    OpSpec("addmv", *_same("addmv"), _scaled_samples((3,), (3, 4), (4,))),
    OpSpec("addr", *_same("addr"), _scaled_samples((3, 4), (3,), (4,))),
    OpSpec("baddbmm", *_same("baddbmm"), _scaled_samples((2, 3, 2), (2, 3, 4), (2, 4, 2))),
    OpSpec("addbmm", *_same("addbmm"), _scaled_samples((3, 2), (2, 3, 4), (2, 4, 2))),
    OpSpec("kron", ember.kron, _torch_kron, _kron_samples, second_order=True),
]
