"""Op database: linalg family (matmul and friends, einsum)."""

from __future__ import annotations

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
]
