"""The convolutions' native kernels (``ember.jit.conv_kernels``): a compiled step with a
convolution and both its gradients, or a transposed convolution, runs them, and they agree with
eager ember and PyTorch on strides, dilations, padding (cropped output padding too), 1-, 2- and
3-D kernels, batches of several chunks, one or two threads, and gradients in either layout."""

from __future__ import annotations

import numpy as np
import pytest
import threadpoolctl
import torch

import ember
import ember.nn.functional as E
from ember.jit import blas, conv_kernels, native
from ember.ops.conv import Conv, ConvTranspose

pytestmark = [
    pytest.mark.skipif(native.compiler() is None, reason="needs a C compiler"),
    pytest.mark.skipif(blas.find() is None, reason="NumPy's BLAS has no CBLAS entry points"),
]

CASES = [
    ((48, 6, 13, 12), (5, 6, 3, 3), {}),  # stride 1: several chunks of the batch
    ((3, 4, 9, 11), (5, 4, 3, 2), {"stride": 2, "padding": 1}),
    ((2, 3, 9, 8), (4, 3, 2, 3), {"stride": (2, 1), "padding": (1, 2), "dilation": (1, 2)}),
    ((2, 3, 11), (4, 3, 3), {"stride": 3, "dilation": 2}),
    ((2, 2, 5, 6, 5), (3, 2, 2, 3, 2), {"stride": (1, 2, 1), "padding": 1}),
    # stride 1 and at least 8 channels each way: the direct kernel, forward and data gradient
    ((5, 8, 16, 15), (12, 8, 3, 3), {"padding": 1}),
    ((4, 9, 16, 15), (8, 9, 3, 2), {"padding": "same", "dilation": (2, 1)}),  # asymmetric pad
    ((3, 8, 18, 17), (8, 8, 5, 5), {}),
    ((1, 8, 16, 15), (16, 8, 3, 3), {"padding": 1}),  # one image: blocks of channels in parallel
]  # fmt: skip
DIRECT = {0: {"ConvWeight"}, **{k: {"Conv", "ConvTranspose", "ConvWeight"} for k in (5, 6, 7, 8)}}
CONVS = {3: (E.conv1d, torch.nn.functional.conv1d),
         4: (E.conv2d, torch.nn.functional.conv2d),
         5: (E.conv3d, torch.nn.functional.conv3d)}  # fmt: skip


def _direct_kinds(compiled) -> set[str]:
    """The primitives of the step that run ``ember.jit.direct_conv``'s kernel."""
    ex = compiled._last.executor
    return {
        n.prim.name
        for i, n in enumerate(ex.graph.nodes)
        if "direct_conv" in getattr(ex.convs.by_node.get(i), "__module__", "")
    }


def _native_kinds(compiled) -> set[str]:
    ex = compiled._last.executor
    return {n.prim.name for i, n in enumerate(ex.graph.nodes) if i in ex.convs.by_node}


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")  # PyTorch's note
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("xshape, wshape, kw", CASES)
def test_native_convolution_and_gradients_match_eager_and_torch(xshape, wshape, kw, dtype, threads):
    conv, torch_conv = CONVS[len(xshape)]
    rng = np.random.default_rng(len(xshape))
    x, w = rng.standard_normal(xshape).astype(dtype), rng.standard_normal(wshape).astype(dtype)

    def step(t, v):
        y = conv(t, v, **kw)
        return (y.detach(), *ember.autograd.grad([(y * y).sum()], [t, v]))

    t, v = ember.tensor(x, requires_grad=True), ember.tensor(w, requires_grad=True)
    eager = [a.detach().numpy() for a in step(t, v)]
    compiled = ember.jit(step)
    with threadpoolctl.threadpool_limits(threads, user_api="blas"):
        runs = [[a.detach().numpy() for a in compiled(t, v)] for _ in range(2)]
    assert _native_kinds(compiled) == {"Conv", "ConvWeight", "ConvTranspose"}
    assert _direct_kinds(compiled) == DIRECT.get(CASES.index((xshape, wshape, kw)), set())
    tol = 1e-5 if dtype == np.float32 else 1e-12
    tt, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    ty = torch_conv(tt, tw, **kw)
    (ty**2).sum().backward()
    for got, want in zip(eager, (ty.detach().numpy(), tt.grad.numpy(), tw.grad.numpy())):
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max())
    for run in runs:
        for got, want in zip(run, eager):
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max())


@pytest.mark.parametrize("output_padding", [0, 1])
def test_native_conv_transpose_matches_torch(output_padding):
    """A transposed convolution's forward, output padding cropping nothing or one row."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4, 6, 5)).astype(np.float32)
    w = rng.standard_normal((4, 2, 3, 3)).astype(np.float32)
    kw = {"stride": 2, "padding": 1, "output_padding": output_padding}
    compiled = ember.jit(lambda t, v: E.conv_transpose2d(t, v, **kw))
    got = compiled(ember.tensor(x), ember.tensor(w)).numpy()
    assert _native_kinds(compiled) == {"ConvTranspose"}
    want = torch.nn.functional.conv_transpose2d(torch.tensor(x), torch.tensor(w), **kw).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())


def test_without_native_kernels_numpy_runs(monkeypatch):
    """With native kernels off, the NumPy kernel runs the same step."""
    monkeypatch.setattr(ember.config, "jit_native", False)
    rng = np.random.default_rng(1)
    x = ember.tensor(rng.standard_normal((2, 3, 7, 7)).astype(np.float32))
    w = ember.tensor(rng.standard_normal((3, 2, 3, 3)).astype(np.float32))
    compiled = ember.jit(lambda t, v: E.conv_transpose2d(t, v, stride=2))
    out = compiled(x, w)
    assert not compiled._last.executor.convs.by_node
    np.testing.assert_array_equal(out.numpy(), E.conv_transpose2d(x, w, stride=2).numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_eager_large_input_gradient_runs_native_and_matches_numpy_and_torch(dtype, monkeypatch):
    """Eager ``ConvTranspose`` takes the native kernel from ``_EAGER_MIN`` window elements; the
    NumPy kernel (flipped-kernel correlation) and PyTorch agree with it."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((16, 8, 34, 34)).astype(dtype)
    w = rng.standard_normal((16, 8, 3, 3)).astype(dtype)
    geom = {"size": (34, 34), "stride": (1, 1), "padding": ((0, 0), (0, 0)), "dilation": (1, 1)}
    assert conv_kernels.eager(ConvTranspose, [(16, 16, 32, 32), w.shape], dtype, geom) is not None

    def input_grad():
        t = ember.tensor(x, requires_grad=True)
        (E.conv2d(t, ember.tensor(w)) ** 2).sum().backward()
        return t.grad.numpy()

    native = input_grad()
    monkeypatch.setattr(conv_kernels, "eager", lambda *args: None)
    plain = input_grad()
    tt = torch.tensor(x, requires_grad=True)
    (torch.nn.functional.conv2d(tt, torch.tensor(w)) ** 2).sum().backward()
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for want in (plain, tt.grad.numpy()):
        np.testing.assert_allclose(native, want, rtol=tol, atol=tol * np.abs(want).max())


def test_eager_im2col_kernels_only_at_one_blas_thread():
    """Eager mode leaves a strided convolution to NumPy's one GEMM over the batch while
    OpenBLAS has several threads (its spinning pool would fight OpenMP's), and takes the native
    kernel at one thread; a direct kernel is taken at both."""
    geom = {"stride": (2, 2), "padding": ((1, 1), (1, 1)), "dilation": (1, 1)}
    shapes = [(64, 64, 14, 14), (128, 64, 4, 4)]
    direct = {"stride": (1, 1), "padding": ((1, 1), (1, 1)), "dilation": (1, 1)}
    direct_shapes = [(64, 32, 28, 28), (32, 32, 3, 3)]
    for threads, strided in ((1, True), (2, False)):
        with threadpoolctl.threadpool_limits(threads, user_api="blas"):
            assert (conv_kernels.eager(Conv, shapes, np.float32, geom) is not None) is strided
            assert conv_kernels.eager(Conv, direct_shapes, np.float32, direct) is not None
