"""CUDA backend (CuPy): results on the GPU equal the CPU's, forward and backward.

Skips cleanly without CuPy or without a GPU.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import ember

with warnings.catch_warnings():  # CuPy may warn at import (CUDA path, versions): not ours
    warnings.simplefilter("ignore")
    cupy = pytest.importorskip("cupy")
pytestmark = pytest.mark.skipif(not ember.cuda.is_available(), reason="no CUDA GPU")


def _pair(*shape: int, seed: int = 0) -> tuple[ember.Tensor, ember.Tensor]:
    """The same float64 values on CPU and GPU, both leaves requiring grad."""
    data = np.random.default_rng(seed).standard_normal(shape)
    cpu = ember.tensor(data, dtype=ember.float64, requires_grad=True)
    gpu = ember.tensor(data, dtype=ember.float64, device="cuda", requires_grad=True)
    return cpu, gpu


def test_move_to_cuda_and_back() -> None:
    x = ember.arange(6.0).reshape(2, 3)
    g = x.cuda()
    assert g.device.type == "cuda" and g.is_cuda and isinstance(g._data, cupy.ndarray)
    assert g.to("cpu").tolist() == x.tolist() and g.cpu().device.type == "cpu"
    assert g.dtype is ember.float32 and "device='cuda:0'" in repr(g)
    assert ember.zeros(2, device="cuda").device == ember.device("cuda")


@pytest.mark.parametrize(
    "fn",
    [
        lambda a, b: (a * b + a.exp()).sin(),
        lambda a, b: a @ b.mT,
        lambda a, b: (a - b).relu().sum(dim=1),
        lambda a, b: (a / (b.abs() + 1)).mean(),
    ],
    ids=["elementwise", "matmul", "reduce", "mean"],
)
def test_forward_and_backward_equal_cpu(fn) -> None:
    (a, ga), (b, gb) = _pair(3, 4, seed=1), _pair(3, 4, seed=2)
    out, gout = fn(a, b), fn(ga, gb)
    assert gout.device.type == "cuda"
    np.testing.assert_allclose(gout.detach().cpu().numpy(), out.detach().numpy(), rtol=1e-10)
    out.sum().backward()
    gout.sum().backward()
    for cpu, gpu in [(a, ga), (b, gb)]:
        assert gpu.grad.device.type == "cuda"
        np.testing.assert_allclose(gpu.grad.cpu().numpy(), cpu.grad.numpy(), rtol=1e-10)


def test_gradient_flows_back_across_devices() -> None:
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    (x.cuda() * 3).sum().backward()
    assert x.grad.device.type == "cpu" and x.grad.tolist() == [3.0, 3.0]


def test_dlpack_with_cupy_shares_memory() -> None:
    c = cupy.arange(3.0)
    t = ember.from_dlpack(c)
    c[0] = 7.0
    assert t.device.type == "cuda" and t.tolist() == [7.0, 1.0, 2.0]
