"""Basic-slice gradients are summed lazily (``SliceGrads``): same values as PyTorch, no
full-size buffer per slice, and the dense path wherever a graph is recorded."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ember
from ember.ops import index

INDICES = [
    (slice(None), 0),
    (slice(None), 1),
    (slice(None), slice(1, 4)),  # overlaps the two above
    (Ellipsis, slice(None, None, 2)),
    (None, 2, slice(2, None)),
    (-1,),
]


def _both(arr: np.ndarray) -> tuple[ember.Tensor, torch.Tensor]:
    return ember.from_host(arr.copy()).requires_grad_(), torch.from_numpy(
        arr.copy()
    ).requires_grad_()


def _loss(x: object, dense_first: bool) -> object:
    """Slices of ``x`` (and, first or last, a dense use of it) combined into one scalar."""
    terms = [(x * x).sum()] if dense_first else []
    terms += [((x[i] * 1.5).tanh() * (k + 1)).sum() for k, i in enumerate(INDICES)]
    if not dense_first:
        terms.append((x.exp() / 7).sum())
    return sum(terms[1:], terms[0])


@pytest.mark.parametrize("dense_first", [True, False])
@pytest.mark.parametrize("leaf", [True, False])
def test_matches_torch(dense_first: bool, leaf: bool) -> None:
    arr = np.random.default_rng(0).standard_normal((3, 5, 4))
    (a, ta) = _both(arr)
    x, tx = (a, ta) if leaf else (a * 2, ta * 2)
    _loss(x, dense_first).backward()
    _loss(tx, dense_first).backward()
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_no_full_size_buffer_per_slice(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple] = []
    forward = index.IndexAdd.forward
    monkeypatch.setattr(
        index.IndexAdd, "forward", staticmethod(lambda *a, **k: calls.append(1) or forward(*a, **k))
    )
    x = ember.randn(2, 50, 3, requires_grad=True)
    h = ember.zeros(2, 3)
    for t in range(50):
        h = (x[:, t] + h).tanh()
    h.sum().backward()
    assert calls == []
    expected = x.grad.numpy().copy()
    x.grad = None
    with ember.autograd.detect_anomaly():  # anomaly mode checks each gradient: dense path
        h = ember.zeros(2, 3)
        for t in range(50):
            h = (x[:, t] + h).tanh()
        h.sum().backward()
    assert len(calls) == 50
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-6)


def test_second_order_and_accumulation() -> None:
    arr = np.random.default_rng(1).standard_normal((4, 6))
    a, ta = _both(arr)
    for lib, x in ((ember, a), (torch, ta)):
        y = sum(((x[:, t] ** 3) * (t + 1)).sum() for t in range(6))
        (g,) = lib.autograd.grad(y, x, create_graph=True)  # type: ignore[attr-defined]
        (g[1:3] ** 2).sum().backward()
        x[0].sum().backward()  # accumulates into the existing .grad
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-12)


def test_hooks_and_retained_grads_see_tensors() -> None:
    a, ta = _both(np.random.default_rng(2).standard_normal((3, 4)))
    seen: list[tuple] = []
    retained = []
    for lib, leaf in ((ember, a), (torch, ta)):
        x = leaf * 3
        x.retain_grad()
        x.register_hook(lambda g, lib=lib: seen.append((lib.__name__, type(g), tuple(g.shape))))
        ((x[0] * x[:, 1:].sum()).sum() + x[..., 2].sum()).backward()
        retained.append(x.grad.numpy())
    assert seen == [("ember", ember.Tensor, (3, 4)), ("torch", torch.Tensor, (3, 4))]
    np.testing.assert_allclose(retained[0], retained[1], rtol=1e-12)
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-12)
