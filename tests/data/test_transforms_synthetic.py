from __future__ import annotations

import numpy as np
import pytest

import ember
from ember.data import synthetic
from ember.data.transforms import (
    Compose,
    Lambda,
    Normalize,
    RandomCrop,
    RandomHorizontalFlip,
    ToTensor,
)


def _images(b=6, h=5, w=5):
    return np.arange(b * h * w, dtype=np.uint8).reshape(b, h, w)


def test_to_tensor_and_normalize():
    x = ToTensor()(_images())
    assert isinstance(x, ember.Tensor) and x.shape == (6, 1, 5, 5) and x.dtype == ember.float32
    np.testing.assert_allclose(x.numpy(), _images()[:, None] / 255, rtol=1e-6)
    y = Compose([ToTensor(), Normalize((0.5,), (0.25,))])(_images())
    np.testing.assert_allclose(y.numpy(), (_images()[:, None] / 255 - 0.5) / 0.25, atol=1e-6)
    arr = Normalize([1.0, 2.0], [2.0, 4.0])(np.ones((1, 2, 1, 1), np.float32))
    assert isinstance(arr, np.ndarray) and arr.ravel().tolist() == [0.0, -0.25]
    with pytest.raises(ValueError, match="std evaluated to zero"):
        Normalize(0.0, 0.0)
    with pytest.raises(ValueError, match="expected \\[B, C, H, W\\] with C = 2"):
        Normalize([0, 0], [1, 1])(np.zeros((1, 3, 2, 2)))
    with pytest.raises(ValueError, match="ToTensor: expected a batch"):
        ToTensor()(np.zeros(3))
    assert Lambda(lambda t: t + 1)(1) == 2


def test_horizontal_flip_per_sample():
    x = _images()
    out = RandomHorizontalFlip(p=0.5, generator=ember.Generator().manual_seed(0))(x)
    flipped = [np.array_equal(o, i[:, ::-1]) for o, i in zip(out, x)]
    kept = [np.array_equal(o, i) for o, i in zip(out, x)]
    assert all(f or k for f, k in zip(flipped, kept)) and any(flipped) and any(kept)
    np.testing.assert_array_equal(RandomHorizontalFlip(p=1.0)(x), x[..., ::-1])
    t = RandomHorizontalFlip(p=0.0)(ember.tensor(x))
    assert isinstance(t, ember.Tensor) and np.array_equal(t.numpy(), x)


@pytest.mark.parametrize("channels", [False, True])
def test_random_crop_is_a_shifted_window(channels):
    x = _images(8, 6, 6)
    if channels:
        x = np.stack([x, x + 1], axis=1)
    out = RandomCrop(6, padding=2, generator=ember.Generator().manual_seed(1))(x)
    assert out.shape == x.shape
    padded = np.pad(x, [(0, 0)] * (x.ndim - 2) + [(2, 2), (2, 2)])
    for b in range(8):
        windows = [padded[b, ..., i : i + 6, j : j + 6] for i in range(5) for j in range(5)]
        assert any(np.array_equal(out[b], win) for win in windows)
    with pytest.raises(ValueError, match="larger than the padded image"):
        RandomCrop(9)(x)


@pytest.mark.parametrize(
    "make, n_in, n",
    [
        (synthetic.spirals, 2, 400),
        (synthetic.moons, 2, 400),
        (synthetic.circles, 2, 400),
        (synthetic.gaussian_mixture, 2, 300),
    ],
)
def test_classification_toys(make, n_in, n):
    ds = make(seed=3)
    x, y = ds.tensors
    assert x.shape == (n, n_in) and x.dtype == ember.float32 and y.dtype == ember.int64
    assert len(np.unique(y.numpy())) >= 2
    np.testing.assert_array_equal(make(seed=3).tensors[0].numpy(), x.numpy())
    assert not np.array_equal(make(seed=4).tensors[0].numpy(), x.numpy())


def test_regression_toys():
    x, y = synthetic.sine(n=500, noise=0.0).tensors
    np.testing.assert_allclose(y.numpy(), np.sin(x.numpy()), atol=1e-6)
    x, t = synthetic.swiss_roll(n=50, noise=0.0).tensors
    xs = x.numpy()
    np.testing.assert_allclose(xs[:, 0], t.numpy()[:, 0] * np.cos(t.numpy()[:, 0]), rtol=1e-4)
    radius = np.linalg.norm(synthetic.circles(noise=0.0).tensors[0].numpy(), axis=1)
    np.testing.assert_allclose(np.sort(np.unique(radius.round(5))), [0.5, 1.0])
