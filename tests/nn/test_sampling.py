"""affine_grid + grid_sample as a spatial transformer vs torch, the align_corners warning and
the errors for unsupported options."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember
import ember.nn.functional as F

R = np.random.default_rng(3)


@pytest.mark.parametrize("size", [(2, 3, 5, 4), (1, 2, 3, 4, 3)])
def test_spatial_transformer_gradients_reach_theta_like_torch(size: tuple) -> None:
    """Output and the gradients of input and theta through grid -> sample."""
    nd = len(size) - 2
    x, theta = (
        R.standard_normal(size),
        np.eye(nd, nd + 1) + 0.2 * R.standard_normal((size[0], nd, nd + 1)),
    )
    ex, et = (ember.tensor(a, requires_grad=True) for a in (x, theta))
    tx, tt = (torch.tensor(a, requires_grad=True) for a in (x, theta))
    e = F.grid_sample(ex, F.affine_grid(et, size, align_corners=False), align_corners=False)
    t = TF.grid_sample(tx, TF.affine_grid(tt, size, align_corners=False), align_corners=False)
    np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=1e-10, atol=1e-12)
    (e * e).sum().backward()
    (t * t).sum().backward()
    np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(et.grad.numpy(), tt.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_align_corners_none_warns_and_means_false_like_torch() -> None:
    theta = np.array([[[0.9, 0.1, 0.0], [-0.2, 1.1, 0.1]]])
    with pytest.warns(UserWarning, match="align_corners"):
        e = F.affine_grid(ember.tensor(theta), (1, 1, 3, 3))
    with pytest.warns(UserWarning, match="align_corners"):
        t = TF.affine_grid(torch.tensor(theta), (1, 1, 3, 3))
    np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=1e-12)
    x = R.standard_normal((1, 1, 3, 3))
    with pytest.warns(UserWarning, match="align_corners"):
        es = F.grid_sample(ember.tensor(x), e)
    with pytest.warns(UserWarning, match="align_corners"):
        ts = TF.grid_sample(torch.tensor(x), t)
    np.testing.assert_allclose(es.numpy(), ts.numpy(), rtol=1e-12)


def test_grid_sample_errors() -> None:
    x, grid = ember.ones(1, 1, 3, 3), ember.zeros(1, 2, 2, 2)
    with pytest.raises(ValueError, match="mode must be 'bilinear' or 'nearest'"):
        F.grid_sample(x, grid, mode="bicubic", align_corners=False)
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        F.grid_sample(x, grid, padding_mode="circular", align_corners=False)
    with pytest.raises(ValueError, match="same rank"):
        F.grid_sample(x, ember.zeros(1, 2, 2, 3), align_corners=False)
    with pytest.raises(ValueError, match="batch sizes differ"):
        F.grid_sample(x, ember.zeros(2, 2, 2, 2), align_corners=False)
    with pytest.raises(ValueError, match="theta must have shape"):
        F.affine_grid(ember.zeros(1, 3, 4), (1, 1, 2, 2), align_corners=False)
