"""``view`` refuses, like PyTorch, a shape that the input's strides cannot address without a copy
(a silent copy would lose every write made through the "view")."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import ember


def _layouts() -> list[tuple[str, object]]:
    """(name, fn) pairs that build a strided tensor from a contiguous (2, 3, 4) one."""
    return [
        ("contiguous", lambda t: t),
        ("transpose01", lambda t: t.transpose(0, 1)),
        ("transpose12", lambda t: t.transpose(1, 2)),
        ("permute201", lambda t: t.permute(2, 0, 1)),
        ("slice_last", lambda t: t[:, :, 1:3]),
        ("slice_first", lambda t: t[1:]),
        ("step", lambda t: t[:, ::2]),
        ("expand", lambda t: t[:, :1].expand(2, 5, 4)),
        ("unsqueeze_t", lambda t: t.transpose(0, 2).unsqueeze(1)),
    ]


def _shapes(n: int) -> list[tuple[int, ...]]:
    """Every shape of ``n`` elements with up to three dims (plus a few with size-1 dims)."""
    divisors = [d for d in range(1, n + 1) if n % d == 0]
    out = {(n,), (1, n), (n, 1)}
    for a, b in itertools.product(divisors, divisors):
        if n % (a * b) == 0:
            out.add((a, n // a))
            out.add((a, b, n // (a * b)))
    return sorted(out)


@pytest.mark.parametrize(("name", "make"), _layouts(), ids=[n for n, _ in _layouts()])
def test_view_raises_exactly_where_torch_does(name: str, make) -> None:
    base = np.arange(24.0).reshape(2, 3, 4)
    t, e = make(torch.tensor(base)), make(ember.tensor(base))
    assert tuple(e.shape) == tuple(t.shape)
    for shape in _shapes(t.numel()):
        try:
            expected = t.view(shape)
        except RuntimeError as exc:
            assert "view size is not compatible" in str(exc)
            with pytest.raises(RuntimeError, match="Use .reshape"):
                e.view(shape)
            continue
        got = e.view(shape)
        np.testing.assert_array_equal(got.numpy(), expected.numpy(), err_msg=f"{name} {shape}")


def test_writes_through_a_view_reach_the_base() -> None:
    x = ember.zeros(3, 4)
    x.view(12)[5] = 1.0
    assert x[1, 1].item() == 1.0
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        x.t().view(12)
    assert x.t().reshape(12).shape == (12,)  # reshape copies instead
