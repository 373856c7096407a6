"""Convolutions split the batch into chunks: results must not depend on where it is split."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import ember
from ember.ops import conv

CASES = [
    ("conv2d", (5, 3, 6, 6), (4, 3, 3, 3), {"padding": 1}),
    ("conv2d", (5, 2, 7, 6), (3, 2, 3, 2), {"stride": 2, "padding": (1, 0), "dilation": (1, 2)}),
    ("conv_transpose2d", (5, 3, 4, 4), (3, 2, 3, 3), {"stride": 2, "output_padding": 1}),
    ("conv_transpose2d", (5, 3, 5, 5), (3, 2, 3, 3), {"padding": 1}),
]


@pytest.mark.parametrize("images", [1, 2])
@pytest.mark.parametrize("op,x_shape,w_shape,kw", CASES)
def test_chunked_conv_matches_torch(monkeypatch, images, op, x_shape, w_shape, kw) -> None:
    """Chunks of one image, and of two (so the last chunk is smaller), in float64."""
    monkeypatch.setattr(conv, "_chunk_size", lambda xp, n, per_image, itemsize: images)
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    ex, ew = (ember.tensor(a, requires_grad=True) for a in (x, w))
    tx, tw = (torch.tensor(a, requires_grad=True) for a in (x, w))
    eout, tout = getattr(ember.nn.functional, op)(ex, ew, **kw), getattr(F, op)(tx, tw, **kw)
    np.testing.assert_allclose(eout.detach().numpy(), tout.detach().numpy(), rtol=1e-10)
    g = rng.standard_normal(tuple(tout.shape))
    (eout * ember.tensor(g)).sum().backward()
    (tout * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ew.grad.numpy(), tw.grad.numpy(), rtol=1e-10, atol=1e-12)
