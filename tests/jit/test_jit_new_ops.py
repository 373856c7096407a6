"""The ops added for PyTorch parity (issue 15) trace and replay under ember.jit like eager."""

from __future__ import annotations

import numpy as np

import ember
import ember.nn as nn
import ember.nn.functional as F

F64 = ember.float64


def test_parity_ops_replay_like_eager_with_gradients() -> None:
    ember.manual_seed(0)
    model = nn.Sequential(
        nn.ReflectionPad2d(1),
        nn.Conv2d(2, 8, 3, dtype=F64),
        nn.InstanceNorm2d(8, affine=True, dtype=F64),
        nn.PixelShuffle(2),
        nn.ReplicationPad2d((1, 1, 0, 2)),
        nn.PixelUnshuffle(2),
    )

    def step(x: ember.Tensor, t: ember.Tensor) -> ember.Tensor:
        y = model(x)
        diag = ember.einsum("...ii->...i", y[:, :, :4, :4])
        p = diag.mean((0, 1)).sigmoid()
        loss = F.binary_cross_entropy(p, t) + y.softmax(1).flip(2, 3).sum() * 1e-3
        loss.backward()
        return loss

    jitted = ember.jit(step)
    for _ in range(3):
        x, t = ember.randn(2, 2, 5, 5, dtype=F64), ember.rand(4, dtype=F64)
        model.zero_grad()
        eager = step(x, t)
        grads = [p.grad.numpy().copy() for p in model.parameters()]
        model.zero_grad()
        got = jitted(x, t)
        np.testing.assert_allclose(got.item(), eager.item(), rtol=1e-12)
        for g, p in zip(grads, model.parameters()):
            np.testing.assert_allclose(p.grad.numpy(), g, rtol=1e-10, atol=1e-14)
    assert jitted.traces == 1
