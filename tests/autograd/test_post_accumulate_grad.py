"""Leaves are finished as soon as their last gradient arrives (DistributedDataParallel starts
communicating them then), and post-accumulate-grad hooks see the accumulated ``.grad``."""

from __future__ import annotations

import pytest

import ember


def test_a_leaf_is_finished_before_the_layers_below_it_run_backward() -> None:
    events: list[str] = []
    w1 = ember.randn(4, 3, requires_grad=True)
    w2 = ember.randn(2, 4, requires_grad=True)
    h = (w1 @ ember.randn(3, 5)).tanh()
    h.register_hook(lambda g: events.append("h"))
    w1.register_post_accumulate_grad_hook(lambda p: events.append("w1"))
    w2.register_post_accumulate_grad_hook(lambda p: events.append("w2"))
    (w2 @ h).sum().backward()
    assert events == ["w2", "h", "w1"]


def test_the_hook_sees_the_accumulated_gradient_once_per_backward() -> None:
    w = ember.tensor([1.0, 2.0], requires_grad=True)
    seen: list[list[float]] = []
    w.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.tolist()))
    (w * w + 3 * w).sum().backward()  # two paths into w: one call, with their sum
    (2 * w).sum().backward()
    assert seen == [[5.0, 7.0], [7.0, 9.0]]


def test_autograd_grad_does_not_run_it() -> None:
    w = ember.tensor([1.0], requires_grad=True)
    seen: list[object] = []
    w.register_post_accumulate_grad_hook(seen.append)
    (g,) = ember.autograd.grad((w * 3).sum(), [w])
    assert g.tolist() == [3.0] and seen == [] and w.grad is None


def test_only_leaves_that_need_gradients_take_it() -> None:
    w = ember.ones(2, requires_grad=True)
    handle = w.register_post_accumulate_grad_hook(lambda p: (_ for _ in ()).throw(AssertionError))
    handle.remove()
    (w * 2).sum().backward()
    with pytest.raises(RuntimeError, match="non-leaf"):
        (w * 2).register_post_accumulate_grad_hook(print)
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        ember.ones(2).register_post_accumulate_grad_hook(print)
