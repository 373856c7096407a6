"""Tensor.backward: accumulation, explicit gradients, freed graphs, graph shapes, deep chains."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ember


def _pair(values: list, dtype: str = "float64") -> tuple:
    e = ember.tensor(values, dtype=getattr(ember, dtype), requires_grad=True)
    t = torch.tensor(values, dtype=getattr(torch, dtype), requires_grad=True)
    return e, t


def test_grad_accumulates_over_two_backward_calls() -> None:
    e, t = _pair([1.0, -2.0, 3.0])
    for _ in range(2):
        (e * e).sum().backward()
        (t * t).sum().backward()
    np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy())
    e.grad = None
    (e * 3).sum().backward()
    assert e.grad.tolist() == [3.0, 3.0, 3.0]


def test_backward_with_explicit_gradient() -> None:
    e, t = _pair([[1.0, 2.0], [3.0, 4.0]])
    g = [[1.0, -1.0], [0.5, 2.0]]
    (e.exp() * 2).backward(gradient=ember.tensor(g, dtype=ember.float64))
    (t.exp() * 2).backward(gradient=torch.tensor(g, dtype=torch.float64))
    np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=1e-12)


def test_non_scalar_backward_needs_gradient() -> None:
    e, _ = _pair([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"grad can be implicitly created only for scalar"):
        (e * 2).backward()
    with pytest.raises(ValueError, match=r"gradient has shape \(3,\) but output 0 has shape"):
        (e * 2).backward(gradient=ember.ones(3, dtype=ember.float64))


def test_backward_on_tensor_without_grad() -> None:
    with pytest.raises(RuntimeError, match="does not require grad and does not have a grad_fn"):
        ember.ones(2).sum().backward()


def test_second_backward_through_freed_graph() -> None:
    e, _ = _pair([1.0, 2.0])
    y = (e * e).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"second time[\s\S]*retain_graph=True"):
        y.backward()


def test_retain_graph_allows_second_backward() -> None:
    e, t = _pair([1.0, 2.0])
    ye, yt = (e.sin() * e).sum(), (t.sin() * t).sum()
    ye.backward(retain_graph=True)
    ye.backward()
    yt.backward(retain_graph=True)
    yt.backward()
    np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=1e-12)


def test_intermediates_only_referenced_by_the_graph() -> None:
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in [(4, 3), (3, 5), (5, 2)]]
    es = [ember.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    ((es[0] @ es[1]).tanh() @ es[2]).sum().backward()
    ((ts[0] @ ts[1]).tanh() @ ts[2]).sum().backward()
    for e, t in zip(es, ts):
        np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=1e-10)


def test_deep_chain_has_no_recursion_limit() -> None:
    x = ember.tensor(1.0, dtype=ember.float64, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.backward()
    assert x.grad.item() == pytest.approx(1.0001**10_000, rel=1e-9)


def test_same_tensor_twice_and_diamond() -> None:
    e, t = _pair([0.5, -1.5])
    (e * e).sum().backward()
    (t * t).sum().backward()
    np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy())
    e2, t2 = _pair([0.5, -1.5])
    for x, out in [(e2, None), (t2, None)]:
        a = x.exp()
        b, c = a.sin(), a * 3  # diamond: two paths from a, joined again
        out = (b * c + a).sum()
        out.backward()
    np.testing.assert_allclose(e2.grad.numpy(), t2.grad.numpy(), rtol=1e-12)


def test_grads_of_two_leaves_never_alias() -> None:
    a = ember.ones(3, requires_grad=True)
    b = ember.ones(3, requires_grad=True)
    (a + b).sum().backward()
    assert not np.shares_memory(a.grad.numpy(), b.grad.numpy())
    a.grad.numpy()[0] = 5.0
    assert b.grad.tolist() == [1.0, 1.0, 1.0]
    c = ember.ones(1, requires_grad=True)
    (c.expand(4) * 1.0).sum().backward()  # grad through a broadcast must own its memory
    assert c.grad.numpy().flags.writeable and c.grad.tolist() == [4.0]


def test_backward_inputs_argument_limits_accumulation() -> None:
    a, b = ember.ones(2, requires_grad=True), ember.ones(2, requires_grad=True)
    (a * b * 2).sum().backward(inputs=[a])
    assert a.grad.tolist() == [2.0, 2.0] and b.grad is None


def test_detach_and_requires_grad_() -> None:
    e = ember.tensor([1.0, 2.0], requires_grad=True)
    y = e * 2
    d = y.detach()
    assert not d.requires_grad and d.is_leaf and d.grad_fn is None
    assert np.shares_memory(d.numpy(), y.detach().numpy())
    x = ember.ones(2)
    assert x.requires_grad_() is x and x.requires_grad
    with pytest.raises(RuntimeError, match="only Tensors of floating point dtype"):
        ember.ones(2, dtype=ember.int64).requires_grad_()
    with pytest.raises(RuntimeError, match="only change requires_grad flags of leaf variables"):
        (e * 2).requires_grad_(False)
    y = e * 3
    assert y.detach_() is y and not y.requires_grad and y.is_leaf


def test_no_graph_for_integer_outputs() -> None:
    e = ember.tensor([1.5, 2.5], requires_grad=True)
    assert not (e > 2).requires_grad
    assert not e.argmax().requires_grad


def test_backward_of_a_leaf_and_create_graph_grad() -> None:
    x = ember.tensor(2.0, requires_grad=True)
    x.backward()
    assert x.grad.item() == 1.0
    y = ember.tensor(3.0, requires_grad=True)
    (y**2).backward(create_graph=True)
    assert y.grad.item() == 6.0 and y.grad.requires_grad
    (gg,) = ember.autograd.grad(y.grad, y)
    assert gg.item() == 2.0


def test_inplace_with_grad_operand_makes_tensor_part_of_graph() -> None:
    a, b = ember.zeros(2), ember.ones(2, requires_grad=True)
    a.add_(b * 3)
    assert a.requires_grad and a.grad_fn is not None
    a.sum().backward()
    assert b.grad.tolist() == [3.0, 3.0]
    c, v = ember.zeros(3), ember.tensor(5.0, requires_grad=True)
    c[1] = v * 2
    (c * ember.tensor([1.0, 4.0, 1.0])).sum().backward()
    assert v.grad.item() == 8.0


def test_zero_size_backward() -> None:
    x = ember.zeros(0, 3, requires_grad=True)
    (x * 2).sum().backward()
    assert x.grad.shape == (0, 3)
