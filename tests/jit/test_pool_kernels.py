"""Max pooling's native C kernels (``ember.jit.pool_kernels``): a compiled step with max
pooling runs them, and they agree exactly with eager ember (and PyTorch) on values, indices
and gradients, NaN and -inf windows, overlapping windows, and inputs whose planes are
contiguous but whose batch and channel dims are swapped (a convolution's output layout)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ember
import ember.nn.functional as E
from ember.jit import native
from ember.jit.pool_kernels import _values_only

pytestmark = pytest.mark.skipif(native.compiler() is None, reason="needs a C compiler")

CASES = [
    ((3, 4, 9, 11), {"kernel_size": 3, "stride": 2, "padding": 1}),
    ((2, 3, 8, 8), {"kernel_size": 2}),
    ((2, 3, 7, 7), {"kernel_size": 3, "stride": 1, "padding": 1}),  # windows overlap
    ((2, 3, 9), {"kernel_size": 3, "stride": 2, "dilation": 2, "ceil_mode": True}),
    ((1, 2, 5, 6, 7), {"kernel_size": (2, 3, 2), "stride": (1, 2, 2), "padding": 1,
                       "dilation": (2, 1, 1), "ceil_mode": True}),
]  # fmt: skip
POOLS = {3: (E.max_pool1d, torch.nn.functional.max_pool1d),
         4: (E.max_pool2d, torch.nn.functional.max_pool2d),
         5: (E.max_pool3d, torch.nn.functional.max_pool3d)}  # fmt: skip


def _input(shape: tuple, dtype: type, swapped: bool) -> np.ndarray:
    """Random values with a NaN and a run of -inf; (C, N, ...) memory when ``swapped``."""
    x = np.random.default_rng(len(shape)).standard_normal(shape).astype(dtype)
    x.flat[5], x.flat[9] = np.nan, np.nan
    x.flat[11:20] = -np.inf
    return np.ascontiguousarray(x.swapaxes(0, 1)).swapaxes(0, 1) if swapped else x


@pytest.mark.parametrize("swapped", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, kw", CASES)
def test_native_max_pool_matches_eager_and_torch(shape, kw, dtype, swapped):
    pool, torch_pool = POOLS[len(shape)]
    x = _input(shape, dtype, swapped)

    def step(t):
        y, i = pool(t, return_indices=True, **kw)
        (g,) = ember.autograd.grad([(y * y).sum()], [t])
        return y.detach(), i, g

    t = ember.tensor(x, requires_grad=True)
    eager = step(t)
    compiled = ember.jit(step)
    runs = [compiled(t) for _ in range(2)]
    kinds = {n.prim.name for i, n in enumerate(compiled._last.executor.graph.nodes)
             if i in compiled._last.executor.pools.by_node}  # fmt: skip
    assert kinds == {"MaxPoolIndices", "MaxPoolGather", "MaxPoolScatter"}
    for y, i, g in runs:  # overlapping windows' gradients add in another order: within an ulp
        np.testing.assert_array_equal(y.numpy(), eager[0].numpy())
        np.testing.assert_array_equal(i.numpy(), eager[1].numpy())
        np.testing.assert_allclose(g.numpy(), eager[2].numpy(), rtol=1e-6)
    tt = torch.tensor(x, requires_grad=True)
    ty, ti = torch_pool(tt, return_indices=True, **kw)
    (ty * ty).sum().backward()
    np.testing.assert_array_equal(eager[0].numpy(), ty.detach().numpy())
    np.testing.assert_array_equal(eager[1].numpy(), ti.numpy())
    np.testing.assert_allclose(eager[2].numpy(), tt.grad.numpy(), rtol=1e-6)


def test_without_native_kernels_numpy_runs(monkeypatch):
    """With native kernels off, the NumPy kernels run the same step."""
    monkeypatch.setattr(ember.config, "jit_native", False)
    x = ember.tensor(_input((2, 3, 8, 8), np.float32, False))
    compiled = ember.jit(lambda t: E.max_pool2d(t, 2))
    out = compiled(x)
    assert not compiled._last.executor.pools.by_node
    np.testing.assert_array_equal(out.numpy(), E.max_pool2d(x, 2).numpy())


@pytest.mark.parametrize("swapped", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, kw", CASES)
def test_inference_pooling_writes_the_maxima_alone(shape, kw, dtype, swapped):
    """Where nothing reads the indices but the gather (no gradient, no return_indices), one
    kernel writes each window's maximum: the same values, -0.0, NaN and -inf included."""
    pool, _ = POOLS[len(shape)]
    x = _input(shape, dtype, swapped)
    x.flat[0], x.flat[1] = -0.0, 0.0  # a tie of zeros: the first one is the maximum
    t = ember.tensor(x)
    compiled = ember.jit(lambda u: pool(u, **kw) * 1.0)
    with ember.no_grad():
        runs = [compiled(t) for _ in range(2)]
        eager = pool(t, **kw)
    graph, pools = compiled._last.executor.graph, compiled._last.executor.pools.by_node
    gathers = [i for i, n in enumerate(graph.nodes) if n.prim.name == "MaxPoolGather"]
    assert gathers and set(_values_only(graph)) == set(gathers) <= set(pools)
    for y in runs:
        np.testing.assert_array_equal(y.numpy(), eager.numpy())
        assert np.array_equal(np.signbit(y.numpy()), np.signbit(eager.numpy()))
