"""The fast paths of binary ops (``_operands``: same-dtype tensors, a float tensor beside a
Python number) give exactly the operands that ``promote`` gives, for every primitive that
uses them (add, mul, div, pow…), and div and pow results keep PyTorch's dtypes."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
import torch

import ember
from ember.ops.elementwise import _FLOAT32_SCALARS, Add, Div, Mul, Pow, _operands, promote

DTYPES = ["float16", "float32", "float64", "int64", "int32", "bool"]


def _operand_cases() -> list[tuple[str, Any]]:
    cases: list[tuple[str, Any]] = [("number", 3), ("number", 2.5), ("number", True)]
    for name in DTYPES:
        cases.append((f"{name}[3]", np.array([1, 2, 3]).astype(name)))
        cases.append((f"{name}[]", np.array(2).astype(name)))
    return cases


CASES = _operand_cases()


def _make(value: Any) -> Any:
    return ember.tensor(value) if isinstance(value, np.ndarray) else value


@pytest.mark.parametrize("prim", [Add, Mul, Div, Pow], ids=lambda p: p.name)
@pytest.mark.parametrize(
    ("a", "b"), list(itertools.product(CASES, CASES)), ids=lambda c: c[0] if c else ""
)
def test_fast_paths_give_promotes_operands(prim: Any, a: tuple, b: tuple) -> None:
    x, y = _make(a[1]), _make(b[1])
    op = prim.name.lower()
    try:
        want = promote(op, x, y, float32_scalars=prim in _FLOAT32_SCALARS)
    except TypeError as exc:
        with pytest.raises(TypeError, match=str(exc)[:20]):
            _operands(prim, x, y, op)
        return
    got = _operands(prim, x, y, op)
    for g, w in zip(got, want):
        assert g.dtype is w.dtype
        np.testing.assert_array_equal(g.numpy(), w.numpy())


@pytest.mark.parametrize("fn", ["div", "pow"])
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("other", [3, 0.5, "same", "float64[]"])
def test_div_and_pow_with_scalars_match_torch(fn: str, dtype: str, other: Any) -> None:
    x = np.array([1.5, 2.0, 3.0], dtype)
    results = []
    for m in (ember, torch):
        t = m.tensor(x)
        o = {"same": m.tensor(x[::-1].copy()), "float64[]": m.tensor(0.75, dtype=m.float64)}
        y = o.get(other, other) if isinstance(other, str) else other
        results.append((getattr(m, fn)(t, y), getattr(m, fn)(y, t)))
    for got, want in zip(results[0], results[1]):
        assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1]
        np.testing.assert_allclose(
            got.numpy().astype(np.float64), want.numpy().astype(np.float64), rtol=1e-3
        )
