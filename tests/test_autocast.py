"""ember.autocast against torch.autocast on CPU: which dtype each op runs in, the values, the
gradients, nesting, the weight cache, the state functions and ember.jit."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import ember
from ember.ops.autocast import POLICIES

LOW = {"bfloat16": (ember.bfloat16, torch.bfloat16), "float16": (ember.float16, torch.float16)}


def _inputs(lib: Any, shapes: list, dtype: str, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    out = []
    for shape in shapes:
        if isinstance(shape, str):  # class indices
            out.append(lib.tensor(rng.integers(0, 3, size=int(shape)), dtype=lib.int64))
            continue
        a = rng.uniform(0.1, 1.0, size=shape).astype(np.float32)
        t = lib.tensor(a)
        out.append(t.to(getattr(lib, dtype)))
    return out


# name: (input shapes, fn(lib, *inputs)); every call is made with ember and with torch
CASES: dict[str, tuple[list, Callable]] = {
    "matmul": ([(3, 4), (4, 5)], lambda lib, a, b: lib.matmul(a, b)),
    "__matmul__": ([(3, 4), (4, 5)], lambda lib, a, b: a @ b),
    "mm": ([(3, 4), (4, 5)], lambda lib, a, b: lib.mm(a, b)),
    "bmm": ([(2, 3, 4), (2, 4, 5)], lambda lib, a, b: lib.bmm(a, b)),
    "mv": ([(3, 4), (4,)], lambda lib, a, b: lib.mv(a, b)),
    "dot": ([(4,), (4,)], lambda lib, a, b: lib.dot(a, b)),
    "addmm": ([(3, 5), (3, 4), (4, 5)], lambda lib, c, a, b: lib.addmm(c, a, b)),
    "addmv": ([(3,), (3, 4), (4,)], lambda lib, c, a, b: lib.addmv(c, a, b)),
    "addr": ([(3, 4), (3,), (4,)], lambda lib, c, a, b: lib.addr(c, a, b)),
    "baddbmm": ([(2, 3, 5), (2, 3, 4), (2, 4, 5)], lambda lib, c, a, b: lib.baddbmm(c, a, b)),
    "addbmm": ([(3, 5), (2, 3, 4), (2, 4, 5)], lambda lib, c, a, b: lib.addbmm(c, a, b)),
    "einsum": ([(3, 4), (4, 5)], lambda lib, a, b: lib.einsum("ij,jk->ik", a, b)),
    "linear": (
        [(3, 4), (5, 4), (5,)],
        lambda lib, x, w, b: lib.nn.functional.linear(x, w, b),
    ),
    "bilinear": (
        [(3, 4), (3, 2), (5, 4, 2), (5,)],
        lambda lib, a, b, w, c: lib.nn.functional.bilinear(a, b, w, c),
    ),
    "conv1d": (
        [(1, 2, 5), (3, 2, 2), (3,)],
        lambda lib, x, w, b: lib.nn.functional.conv1d(x, w, b),
    ),
    "conv2d": (
        [(1, 2, 5, 5), (3, 2, 2, 2), (3,)],
        lambda lib, x, w, b: lib.nn.functional.conv2d(x, w, b, padding=1),
    ),
    "conv_transpose2d": (
        [(1, 2, 4, 4), (2, 3, 2, 2)],
        lambda lib, x, w: lib.nn.functional.conv_transpose2d(x, w, stride=2),
    ),
    "scaled_dot_product_attention": (
        [(1, 2, 3, 4), (1, 2, 3, 4), (1, 2, 3, 4)],
        lambda lib, q, k, v: lib.nn.functional.scaled_dot_product_attention(q, k, v),
    ),
    "softmax": ([(3, 4)], lambda lib, x: lib.nn.functional.softmax(x, 1)),
    "log_softmax": ([(3, 4)], lambda lib, x: lib.nn.functional.log_softmax(x, 1)),
    "layer_norm": ([(3, 4)], lambda lib, x: lib.nn.functional.layer_norm(x, (4,))),
    "exp": ([(3,)], lambda lib, x: lib.exp(x)),
    "sum": ([(3,)], lambda lib, x: lib.sum(x)),
    "prod": ([(3,)], lambda lib, x: lib.prod(x)),
    "prod_dtype": ([(3,)], lambda lib, x: lib.prod(x, dtype=x.dtype)),
    "mse_loss": ([(3,), (3,)], lambda lib, a, b: lib.nn.functional.mse_loss(a, b)),
    "l1_loss": ([(3,), (3,)], lambda lib, a, b: lib.nn.functional.l1_loss(a, b)),
    "smooth_l1_loss": ([(3,), (3,)], lambda lib, a, b: lib.nn.functional.smooth_l1_loss(a, b)),
    "cross_entropy": (
        [(3, 4), "3"],
        lambda lib, x, t: lib.nn.functional.cross_entropy(x, t),
    ),
    "nll_loss": ([(3, 4), "3"], lambda lib, x, t: lib.nn.functional.nll_loss(x, t)),
    "binary_cross_entropy": (
        [(3,), (3,)],
        lambda lib, p, t: lib.nn.functional.binary_cross_entropy(p, t),
    ),
    "binary_cross_entropy_with_logits": (
        [(3,), (3,)],
        lambda lib, x, t: lib.nn.functional.binary_cross_entropy_with_logits(x, t),
    ),
    "kl_div": (
        [(3,), (3,)],
        lambda lib, a, b: lib.nn.functional.kl_div(a, b, reduction="batchmean"),
    ),
    "cosine_embedding_loss": (
        [(2, 3), (2, 3)],
        lambda lib, a, b: lib.nn.functional.cosine_embedding_loss(a, b, lib.ones(2)),
    ),
    "cosine_similarity": (
        [(2, 3), (2, 3)],
        lambda lib, a, b: lib.nn.functional.cosine_similarity(a, b),
    ),
    "avg_pool3d": ([(1, 1, 2, 2, 2)], lambda lib, x: lib.nn.functional.avg_pool3d(x, 2)),
    "cat": ([(2,), (2,)], lambda lib, a, b: lib.cat([a, b])),
    "stack": ([(2,), (2,)], lambda lib, a, b: lib.stack([a, b])),
    "index_copy": (
        [(3,), (1,)],
        lambda lib, a, b: a.index_copy(0, lib.tensor([1]), b),
    ),
    "relu": ([(3,)], lambda lib, x: lib.nn.functional.relu(x)),
    "add": ([(3,), (3,)], lambda lib, a, b: a + b),
}


def _run(lib: Any, case: str, dtypes: list[str], region: str) -> Any:
    shapes, fn = CASES[case]
    args = [_inputs(lib, [s], d, seed=i)[0] for i, (s, d) in enumerate(zip(shapes, dtypes))]
    with lib.autocast("cpu", dtype=getattr(lib, region)):
        return fn(lib, *args)


def _dtype_name(t: Any) -> str:
    return str(t.dtype).split(".")[-1]


# mixed float32/low precision inputs, only for the ops that autocast casts on CPU (the others
# take mixed dtypes as they do outside autocast)
_MIXED = [c for c in sorted(CASES) if c.replace("__", "").removesuffix("_dtype") in POLICIES["cpu"]]
_INPUTS = [(c, i) for c in sorted(CASES) for i in ("float32", "bfloat16")] + [
    (c, "mixed") for c in _MIXED
]


@pytest.mark.parametrize("region", ["bfloat16", "float16"])
@pytest.mark.parametrize(("case", "inputs"), _INPUTS)
def test_op_runs_in_torchs_dtype_with_its_values(case: str, inputs: str, region: str) -> None:
    n = len(CASES[case][0])
    dtypes = {
        "float32": ["float32"] * n,
        "bfloat16": [region] * n,
        "mixed": ["float32" if i % 2 else region for i in range(n)],
    }[inputs]
    try:
        expected = _run(torch, case, dtypes, region)
    except RuntimeError as exc:  # e.g. a kernel torch's CPU build lacks for that dtype
        pytest.skip(f"torch: {exc}")
    got = _run(ember, case, dtypes, region)
    assert _dtype_name(got) == _dtype_name(expected)
    low_inside = "16" in _dtype_name(got) or inputs != "float32" or case == "bilinear"
    tol = 2e-2 if low_inside else 1e-5  # (torch's bilinear multiplies in low precision)
    np.testing.assert_allclose(got.float().numpy(), expected.float().numpy(), rtol=tol, atol=tol)


def _ember_op(name: str) -> Any:
    for namespace in (ember.nn.functional, ember, ember.Tensor):
        if hasattr(namespace, name):
            return getattr(namespace, name)
    return None


# listed ops whose ember definitions live in modules of work still in progress elsewhere
_NOT_YET = {"prelu", "trace", "max_pool3d", "erfinv"}


@pytest.mark.parametrize("device", sorted(POLICIES))
def test_every_listed_op_that_ember_has_follows_the_policy(device: str) -> None:
    missing = [
        name
        for name in POLICIES[device]
        if name not in _NOT_YET
        and _ember_op(name) is not None
        and getattr(_ember_op(name), "autocast_name", None) != name
    ]
    assert not missing, f"listed for {device} but not decorated with autocast_op: {missing}"


class _Net:
    """The same small model for both libraries: conv -> relu -> linear -> softmax, and a loss."""

    def __init__(self, lib: Any) -> None:
        nn = lib.nn
        lib.manual_seed(0)
        self.lib = lib
        self.conv = nn.Conv2d(2, 3, 3, padding=1)
        self.fc = nn.Linear(3 * 4 * 4, 5)

    def load(self, other: _Net) -> None:
        for mine, theirs in ((self.conv, other.conv), (self.fc, other.fc)):
            mine.load_state_dict(
                {k: self.lib.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()}
            )

    def step(self, x: Any, target: Any) -> dict[str, Any]:
        F = self.lib.nn.functional
        out: dict[str, Any] = {}
        out["conv"] = self.conv(x)
        out["relu"] = F.relu(out["conv"])
        out["linear"] = self.fc(out["relu"].flatten(1))
        out["softmax"] = F.softmax(out["linear"], 1)
        out["loss"] = F.cross_entropy(out["linear"], target) + out["softmax"].sum() * 0.0
        return out

    def params(self) -> list[Any]:
        return [*self.conv.parameters(), *self.fc.parameters()]


def test_model_under_autocast_matches_torch() -> None:
    theirs, ours = _Net(torch), _Net(ember)
    ours.load(theirs)
    x = np.random.default_rng(1).standard_normal((4, 2, 4, 4)).astype(np.float32)
    target = np.array([0, 1, 2, 4])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        t_out = theirs.step(torch.tensor(x), torch.tensor(target))
    with ember.autocast("cpu", dtype=ember.bfloat16):
        e_out = ours.step(ember.tensor(x), ember.tensor(target))
    for name, expected in t_out.items():
        got = e_out[name]
        assert _dtype_name(got) == _dtype_name(expected), name
        np.testing.assert_allclose(
            got.detach().float().numpy(),
            expected.detach().float().numpy(),
            rtol=3e-2,
            atol=3e-2,
        )
    t_out["loss"].backward()
    e_out["loss"].backward()
    for p_t, p_e in zip(theirs.params(), ours.params()):
        assert p_e.grad is not None and p_e.grad.dtype == ember.float32
        np.testing.assert_allclose(p_e.grad.numpy(), p_t.grad.numpy(), rtol=5e-2, atol=5e-3)


def test_nested_regions_restore_what_they_found() -> None:
    a = ember.ones(2, 2)
    assert not ember.is_autocast_enabled("cpu")
    with ember.autocast("cpu"):
        assert ember.is_autocast_enabled("cpu") and (a @ a).dtype == ember.bfloat16
        with ember.autocast("cpu", dtype=ember.float16):
            assert ember.get_autocast_dtype("cpu") == ember.float16
            assert (a @ a).dtype == ember.float16
            with ember.autocast("cpu", enabled=False):
                assert not ember.is_autocast_enabled("cpu") and (a @ a).dtype == ember.float32
        assert (a @ a).dtype == ember.bfloat16
    assert not ember.is_autocast_enabled("cpu") and (a @ a).dtype == ember.float32
    assert ember.get_autocast_dtype("cpu") == ember.bfloat16
    assert ember.get_autocast_dtype("cuda") == ember.float16


def test_a_region_as_decorator() -> None:
    @ember.autocast("cpu")
    def f(a: ember.Tensor) -> ember.Tensor:
        return a @ a

    assert f(ember.ones(2, 2)).dtype == ember.bfloat16
    assert not ember.is_autocast_enabled("cpu")
    with pytest.raises(TypeError, match="requires a callable"):
        ember.autocast("cpu")(3)


def test_state_functions_act_like_torchs() -> None:
    a = ember.ones(2, 2)
    ember.set_autocast_enabled("cpu", True)
    try:
        assert (a @ a).dtype == ember.bfloat16
        ember.set_autocast_dtype("cpu", ember.float16)
        assert (a @ a).dtype == ember.float16
    finally:
        ember.set_autocast_enabled("cpu", False)
        ember.set_autocast_dtype("cpu", ember.bfloat16)
    assert (a @ a).dtype == ember.float32
    assert ember.autocast_increment_nesting() == 1
    assert ember.autocast_decrement_nesting() == 0
    assert ember.is_autocast_cache_enabled() == torch.is_autocast_cache_enabled()
    assert ember.amp.is_autocast_available("cpu") and not ember.amp.is_autocast_available("mps")
    with pytest.raises(RuntimeError, match="device type 'tpu' is not one of ember's"):
        ember.autocast("tpu")
    with pytest.raises(ValueError, match="device_type"):
        ember.autocast(1)  # type: ignore[arg-type]


def test_an_unsupported_dtype_warns_and_disables_like_torch() -> None:
    with pytest.warns(UserWarning) as theirs:
        torch.autocast("cpu", dtype=torch.float64)
    with pytest.warns(UserWarning) as ours:
        region = ember.autocast("cpu", dtype=ember.float64)
    assert str(ours[0].message).split("\n")[0] == str(theirs[0].message).split("\n")[0]
    with region:
        assert not ember.is_autocast_enabled("cpu")


def test_explicit_dtype_and_float64_inputs_are_left_alone() -> None:
    with ember.autocast("cpu"):
        assert ember.prod(ember.ones(3), dtype=ember.float64).dtype == ember.float64
        d = ember.ones(2, 2, dtype=ember.float64)
        assert (d @ d).dtype == ember.float64
        assert ember.cat([d, ember.ones(2, 2)]).dtype == ember.float64


def test_promote_refuses_two_low_precision_dtypes() -> None:
    with ember.autocast("cpu"), pytest.raises(RuntimeError, match="cannot be promoted"):
        ember.cat([ember.ones(2, dtype=ember.float16), ember.ones(2, dtype=ember.bfloat16)])


def test_weight_casts_are_cached_until_the_outermost_region_exits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    w = ember.ones(3, 3, requires_grad=True)
    x = ember.ones(2, 3)
    casts = []
    to = ember.Tensor.to

    def counting_to(self: ember.Tensor, *args: Any, **kwargs: Any) -> ember.Tensor:
        if self is w:
            casts.append(args)
        return to(self, *args, **kwargs)

    monkeypatch.setattr(ember.Tensor, "to", counting_to)
    linear = ember.nn.functional.linear
    with ember.autocast("cpu"):
        first = linear(x, w)
        with ember.autocast("cpu"):
            pass  # an inner exit keeps the cache
        second = linear(x, w)
        assert len(casts) == 1
        (first.sum() + second.sum()).backward()
        assert float(w.grad.sum()) == 2 * 2 * 9  # both uses reached the weight
        linear(x, w).sum().backward()  # that backward freed the cast's graph: cast again
        assert len(casts) == 2 and float(w.grad.sum()) == 3 * 2 * 9
        with ember.no_grad():
            w.mul_(2.0)  # a written weight is cast again
        assert float(linear(x, w).sum()) == 6 * 6 and len(casts) == 3
    with ember.autocast("cpu"):
        linear(x, w)  # the outermost exit emptied the cache
    assert len(casts) == 4
    with ember.autocast("cpu", cache_enabled=False):
        linear(x, w), linear(x, w)
    assert len(casts) == 6


def test_backward_inside_a_region_gives_gradients_in_the_inputs_dtypes() -> None:
    x = ember.randn(3, 4, requires_grad=True)
    w = ember.randn(4, 4, dtype=ember.float64, requires_grad=True)
    with ember.autocast("cpu"):
        y = (x @ x.T).float().sum() + (w @ w).sum()
        y.backward()
    assert x.grad.dtype == ember.float32 and w.grad.dtype == ember.float64


def test_jit_traces_the_casts_and_keys_its_cache_on_autocast() -> None:
    ember.manual_seed(0)
    model = ember.nn.Linear(4, 3)

    def forward(x: ember.Tensor) -> ember.Tensor:
        return ember.nn.functional.softmax(model(x), 1)

    compiled = ember.jit(forward)
    x = ember.randn(5, 4)
    with ember.no_grad():
        with ember.autocast("cpu"):
            eager = forward(x)
            traced, replayed = compiled(x), compiled(x)
        plain, plain_eager = compiled(x), forward(x)
    assert eager.dtype == traced.dtype == replayed.dtype == ember.bfloat16
    np.testing.assert_array_equal(replayed.float().numpy(), eager.float().numpy())
    assert plain.dtype == ember.float32
    np.testing.assert_allclose(plain.numpy(), plain_eager.numpy(), rtol=1e-6)


def test_a_disabled_region_changes_nothing_and_does_not_warn() -> None:
    a = ember.ones(2, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with ember.autocast("cpu", enabled=False):
            assert (a @ a).dtype == ember.float32
