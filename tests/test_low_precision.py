"""float16 and bfloat16 against torch 2.13 on CPU: accumulation in float32 with one rounding,
conversions, autograd, checkpoints, ember.jit, and bfloat16 without ml_dtypes."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import ember
from ember import nn

torch = pytest.importorskip("torch")
pytest.importorskip("ml_dtypes")

LOW = ["float16", "bfloat16"]
RNG = np.random.default_rng(0)
V = (RNG.standard_normal(4096) * 3).astype(np.float32)
M = RNG.standard_normal((64, 256)).astype(np.float32)
ULP = {"float16": 2.0**-10, "bfloat16": 2.0**-7}  # relative spacing of the low precision


def _both(fn, dtype: str, *arrays: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``fn(lib, *tensors)`` with ember and with torch, as float32 arrays (dtypes checked)."""
    t = fn(torch, *[torch.tensor(a).to(getattr(torch, dtype)) for a in arrays])
    e = fn(ember, *[ember.tensor(a).to(getattr(ember, dtype)) for a in arrays])
    assert e.dtype.name == str(t.dtype).removeprefix("torch.")
    return e.detach().float().numpy(), t.detach().float().numpy()


ONES = np.ones(10000, np.float32)
SMALL = np.full(10000, 0.01, np.float32)
EXACT = {  # ops whose result torch rounds once from float32: equal bit for bit
    "sum_ones": (lambda L, x: x.sum(), [ONES]),
    "sum_small": (lambda L, x: x.sum(), [SMALL]),
    "mean_small": (lambda L, x: x.mean(), [SMALL]),
    "sum_dim": (lambda L, x: x.sum(0), [M]),
    "var": (lambda L, x: x.var(), [V]),
    "norm": (lambda L, x: x.norm(), [V]),
    "cumsum": (lambda L, x: x.cumsum(0), [ONES]),
    "matmul": (lambda L, x: x @ L.ones(10000, 8, dtype=x.dtype), [SMALL[None]]),
    "sigmoid": (lambda L, x: L.sigmoid(x), [V]),
    "tanh": (lambda L, x: L.tanh(x), [V]),
    "div": (lambda L, x, y: x / y, [V, V + 10]),
    "pow": (lambda L, x: x.abs() ** 2.5, [V]),
    "rsqrt": (lambda L, x: L.rsqrt(x.abs()), [V]),
    # mul and div read a number (or a 0-d tensor) in float32, add and sub round it first
    "mul_number": (lambda L, x: x * 1.0039063, [np.ones(4, np.float32)]),
    "add_number": (lambda L, x: x + 0.0039063, [np.ones(4, np.float32)]),
    "mul_sub": (lambda L, x: x * 1.01 - 257, [np.linspace(1, 100, 2000, dtype=np.float32)]),
    "div_add": (lambda L, x: 3.3 + x / 1.01, [V]),
    "mul_0d": (lambda L, x: x * L.tensor(1.01, dtype=L.float64), [V]),
    "sub_0d": (lambda L, x: x - L.tensor(257.0), [V]),
    "softmax": (lambda L, x: L.softmax(x, -1), [M]),
    "layer_norm": (lambda L, x: L.nn.functional.layer_norm(x, (256,)), [M]),
    "std": (lambda L, x: x.std(0), [M]),
}


@pytest.mark.parametrize("dtype", LOW)
@pytest.mark.parametrize("name", list(EXACT))
def test_accumulates_in_float32_and_rounds_once(dtype: str, name: str) -> None:
    fn, arrays = EXACT[name]
    e, t = _both(fn, dtype, *arrays)
    if dtype == "float16" and name in ("matmul", "layer_norm"):  # float32 sums in another order
        np.testing.assert_allclose(e, t, rtol=ULP[dtype], atol=1e-6)
    else:
        np.testing.assert_array_equal(e, t)


def test_naive_low_precision_accumulation_would_differ() -> None:
    """What the float32 accumulation fixes: NumPy adds ml_dtypes' bfloat16 in bfloat16."""
    ones = ember.ones(10000, dtype=ember.bfloat16)
    assert float(ones.numpy().sum()) == 256.0
    assert float(ones.sum()) == float(torch.ones(10000, dtype=torch.bfloat16).sum()) == 9984.0
    assert float(ember.ones(10000, dtype=ember.float16).cumsum(0)[-1]) == 10000.0


CLOSE = {  # composites: float32 inside, rounded once; at most one low precision step apart
    "gelu": (lambda L, x: L.nn.functional.gelu(x), [V]),
    "silu": (lambda L, x: L.nn.functional.silu(x), [V]),
    "log_softmax": (lambda L, x: L.log_softmax(x, -1), [M]),
    "logsumexp": (lambda L, x: L.logsumexp(x, 1), [M]),
    "linear": (lambda L, x, w: L.nn.functional.linear(x, w), [M, M]),
    "conv1d": (
        lambda L, x, w: L.nn.functional.conv1d(x.reshape(4, 16, 256), w.reshape(16, 16, 16)),
        [M, M[:16]],
    ),
    "exp": (lambda L, x: x.exp(), [V]),
}


@pytest.mark.parametrize("dtype", LOW)
@pytest.mark.parametrize("name", list(CLOSE))
def test_composites_within_one_step(dtype: str, name: str) -> None:
    fn, arrays = CLOSE[name]
    e, t = _both(fn, dtype, *arrays)
    np.testing.assert_allclose(e, t, rtol=ULP[dtype], atol=ULP[dtype] * 0.1)


def test_conversions() -> None:
    x = ember.tensor([1.0, 2.5, 1 / 3], dtype=ember.bfloat16)
    t = torch.tensor([1.0, 2.5, 1 / 3], dtype=torch.bfloat16)
    assert x.dtype is ember.bfloat16 and x.is_floating_point()
    assert x.tolist() == t.tolist()
    assert repr(x) == repr(t).replace("torch", "ember")
    assert ember.ones(2).bfloat16().dtype is ember.bfloat16
    assert ember.ones(2).half().dtype is ember.float16
    assert x.to(ember.float16).tolist() == t.to(torch.float16).tolist()
    assert x.to(dtype=ember.float32).dtype is ember.float32
    assert ember.tensor(x.numpy()).dtype is ember.bfloat16  # an ml_dtypes array comes back in
    assert x.numpy().dtype.name == "bfloat16"  # (torch refuses: see docs/dtypes.md)
    assert ember.dtypes.as_dtype("bfloat16") is ember.bfloat16
    assert ember.bfloat16 == "bfloat16" and ember.bfloat16 != ember.float32
    assert ember.bfloat16.itemsize == 2 and ember.bfloat16.is_floating_point
    for name in ("bfloat16", "float16", "float32", "float64"):
        e, tt = ember.finfo(getattr(ember, name)), torch.finfo(getattr(torch, name))
        for field in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution"):
            assert getattr(e, field) == getattr(tt, field), (name, field)
        assert e.dtype == tt.dtype
    assert ember.finfo().dtype == "float32"
    with pytest.raises(TypeError, match="finfo: expected a floating dtype, got ember.int32"):
        ember.finfo(ember.int32)


def test_module_to_dtype() -> None:
    m = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    m.to(ember.bfloat16)
    assert {p.dtype for p in m.parameters()} == {ember.bfloat16}
    assert m[1].num_batches_tracked.dtype is ember.int64  # integer buffers keep their dtype
    assert m(ember.ones(2, 3, dtype=ember.bfloat16)).dtype is ember.bfloat16
    assert nn.Linear(2, 2).half().weight.dtype is ember.float16
    assert nn.Linear(2, 2).bfloat16().weight.dtype is ember.bfloat16


@pytest.mark.parametrize("dtype", LOW)
def test_gradients_are_low_precision_like_torch(dtype: str) -> None:
    x0, w0 = M[:8, :16], M[8:12, :16]

    def loss(L, x, w):
        h = L.nn.functional.linear(x, w)
        return (L.tanh(h) * L.sigmoid(h)).sum() + L.softmax(h, -1).pow(2).mean()

    grads = {}
    for L in (ember, torch):
        d = getattr(L, dtype)
        x = L.tensor(x0).to(d).requires_grad_()
        w = L.tensor(w0).to(d).requires_grad_()
        loss(L, x, w).backward()
        assert x.grad.dtype == x.dtype and w.grad.dtype == w.dtype
        grads[L.__name__] = [g.float().numpy() for g in (x.grad, w.grad)]
    for e, t in zip(grads["ember"], grads["torch"]):
        np.testing.assert_allclose(e, t, rtol=4 * ULP[dtype], atol=4 * ULP[dtype])


def test_checkpoints_both_ways(tmp_path) -> None:
    values = [1.0, -2.5, 1 / 3, 3e38, 1e-40]
    torch.save({"w": torch.tensor(values, dtype=torch.bfloat16)}, tmp_path / "t.pt")
    w = ember.load(tmp_path / "t.pt")["w"]
    assert w.dtype is ember.bfloat16
    assert w.tolist() == torch.tensor(values, dtype=torch.bfloat16).tolist()
    m = nn.Linear(3, 2).bfloat16()
    ember.save(m.state_dict(), tmp_path / "e.pt")
    back = torch.load(tmp_path / "e.pt", weights_only=True)
    assert back["weight"].dtype == torch.bfloat16
    assert back["weight"].tolist() == m.weight.tolist()
    assert ember.load(tmp_path / "e.pt")["bias"].dtype is ember.bfloat16


@pytest.mark.parametrize("native", [False, True])
def test_jit_step_equals_eager(native: bool) -> None:
    """bf16 groups are not compiled to C (float32/float64 only): each op runs as in eager."""
    x = ember.tensor(M[:32, :8], dtype=ember.bfloat16)
    y = ember.tensor(RNG.integers(0, 4, 32))

    def setup():
        ember.manual_seed(0)
        m = nn.Sequential(nn.Linear(8, 16), nn.GELU(), nn.LayerNorm(16), nn.Linear(16, 4))
        m = m.bfloat16()
        opt = ember.optim.SGD(m.parameters(), lr=0.1)

        def step():
            opt.zero_grad()
            loss = nn.functional.cross_entropy(m(x), y)
            loss.backward()
            opt.step()
            return loss

        return m, step

    old = ember.config.jit_native
    ember.config.jit_native = native
    try:
        (m1, eager), (m2, step) = setup(), setup()
        jitted = ember.jit(step)
        for _ in range(3):
            eager()
            b = jitted()
            assert b.dtype is ember.bfloat16
            for p, q in zip(m1.parameters(), m2.parameters()):
                assert q.dtype is ember.bfloat16
                if native:  # LayerNorm's float32 inside is compiled: sums round differently
                    np.testing.assert_allclose(
                        q.detach().float().numpy(), p.detach().float().numpy(), atol=1e-3
                    )
                else:
                    np.testing.assert_array_equal(
                        q.detach().float().numpy(), p.detach().float().numpy()
                    )
    finally:
        ember.config.jit_native = old


def test_without_ml_dtypes_bfloat16_names_the_extra() -> None:
    code = textwrap.dedent(
        """
        import sys
        sys.modules["ml_dtypes"] = None  # import ml_dtypes now fails
        import ember
        assert repr(ember.bfloat16) == "ember.bfloat16" and ember.bfloat16 != ember.float32
        assert (ember.ones(2, dtype=ember.float16) + 1).dtype is ember.float16
        for make in (lambda: ember.ones(2, dtype=ember.bfloat16), lambda: ember.ones(2).bfloat16()):
            try:
                make()
            except ImportError as exc:
                assert "ember[bf16]" in str(exc), exc
            else:
                raise AssertionError("no ImportError")
        print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
