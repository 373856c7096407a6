"""Functional losses vs PyTorch: forward and gradients in float64 and float32, options, errors."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import ember
from ember.nn import losses as L

torch = pytest.importorskip("torch")
TF = torch.nn.functional

RNG = np.random.default_rng(0)


def _probs(*shape: int) -> np.ndarray:
    e = np.exp(RNG.standard_normal(shape))
    return e / e.sum(axis=1 if len(shape) > 1 else 0, keepdims=True)


def _classes(n_classes: int, *shape: int, ignore: int | None = None) -> np.ndarray:
    t = RNG.integers(0, n_classes, shape)
    if ignore is not None:
        t.reshape(-1)[::3] = ignore
    return t


X2 = RNG.standard_normal((6, 5))
X4 = RNG.standard_normal((3, 4, 2, 3))
W5 = RNG.uniform(0.2, 2.0, 5)
W4 = RNG.uniform(0.2, 2.0, 4)
BIG = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4], [3.0, 1e4, -2.0]])
P = RNG.uniform(0.05, 0.95, (4, 3))
T01 = RNG.uniform(0, 1, (4, 3))

# (name, function name, positional arrays, keyword args, which positions get a gradient)
CASES: list[tuple[str, str, tuple, dict, tuple[int, ...]]] = []
for red in ("mean", "sum", "none"):
    a, b = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))
    CASES += [
        (f"mse-{red}", "mse_loss", (a, b), dict(reduction=red), (0, 1)),
        (f"l1-{red}", "l1_loss", (a, b), dict(reduction=red), (0, 1)),
        (f"smooth_l1-{red}", "smooth_l1_loss", (a, b), dict(reduction=red), (0, 1)),
        (f"huber-{red}", "huber_loss", (a, b), dict(reduction=red), (0, 1)),
        (f"ce-{red}", "cross_entropy", (X2, _classes(5, 6)), dict(reduction=red), (0,)),
        (f"ce-nd-{red}", "cross_entropy", (X4, _classes(4, 3, 2, 3)), dict(reduction=red), (0,)),
        (f"ce-probs-{red}", "cross_entropy", (X2, _probs(6, 5)), dict(reduction=red), (0, 1)),
        (f"nll-{red}", "nll_loss", (X2, _classes(5, 6, ignore=-100)), dict(reduction=red), (0,)),
        (f"bce-{red}", "binary_cross_entropy", (P, T01), dict(reduction=red), (0, 1)),
        (
            f"bcel-{red}",
            "binary_cross_entropy_with_logits",
            (X2, _probs(6, 5)),
            dict(reduction=red),
            (0, 1),
        ),
        (f"kl-{red}", "kl_div", (np.log(_probs(6, 5)), _probs(6, 5)), dict(reduction=red), (0, 1)),
    ]
CASES += [
    ("smooth_l1-beta0.5", "smooth_l1_loss", (X2, X2[::-1].copy()), dict(beta=0.5), (0, 1)),
    ("smooth_l1-beta0", "smooth_l1_loss", (X2, X2[::-1].copy()), dict(beta=0.0), (0, 1)),
    ("huber-delta0.3", "huber_loss", (X2, X2[::-1].copy()), dict(delta=0.3), (0, 1)),
    ("ce-unbatched", "cross_entropy", (X2[0], np.array(3)), {}, (0,)),
    ("ce-unbatched-probs", "cross_entropy", (X2[0], _probs(5)), {}, (0,)),
    ("ce-weight", "cross_entropy", (X2, _classes(5, 6)), dict(weight=W5), (0,)),
    (
        "ce-weight-sum",
        "cross_entropy",
        (X2, _classes(5, 6)),
        dict(weight=W5, reduction="sum"),
        (0,),
    ),
    ("ce-ignore", "cross_entropy", (X2, _classes(5, 6, ignore=-100)), {}, (0,)),
    ("ce-ignore2", "cross_entropy", (X2, _classes(5, 6)), dict(ignore_index=2), (0,)),
    (
        "ce-ignore-weight-nd",
        "cross_entropy",
        (X4, _classes(4, 3, 2, 3, ignore=-1)),
        dict(weight=W4, ignore_index=-1),
        (0,),
    ),
    ("ce-ls", "cross_entropy", (X2, _classes(5, 6)), dict(label_smoothing=0.2), (0,)),
    (
        "ce-ls-weight-ignore",
        "cross_entropy",
        (X2, _classes(5, 6, ignore=-100)),
        dict(weight=W5, label_smoothing=0.3),
        (0,),
    ),
    (
        "ce-ls-weight-ignore-none",
        "cross_entropy",
        (X4, _classes(4, 3, 2, 3, ignore=-100)),
        dict(weight=W4, label_smoothing=0.1, reduction="none"),
        (0,),
    ),
    ("ce-probs-weight", "cross_entropy", (X2, _probs(6, 5)), dict(weight=W5), (0, 1)),
    ("ce-probs-ls", "cross_entropy", (X2, _probs(6, 5)), dict(label_smoothing=0.25), (0, 1)),
    ("ce-probs-nd", "cross_entropy", (X4, _probs(3, 4, 2, 3)), dict(weight=W4), (0, 1)),
    ("ce-extreme", "cross_entropy", (BIG, np.array([1, 0, 2])), {}, (0,)),
    ("ce-extreme-ls", "cross_entropy", (BIG, np.array([1, 0, 2])), dict(label_smoothing=0.1), (0,)),
    ("nll-weight", "nll_loss", (X2, _classes(5, 6, ignore=-100)), dict(weight=W5), (0,)),
    ("nll-nd", "nll_loss", (X4, _classes(4, 3, 2, 3)), dict(weight=W4), (0,)),
    ("nll-ignore1", "nll_loss", (X2, _classes(5, 6)), dict(ignore_index=1), (0,)),
    ("bce-weight", "binary_cross_entropy", (P, T01), dict(weight=RNG.uniform(0, 2, 3)), (0, 1)),
    (
        "bcel-weight-pos",
        "binary_cross_entropy_with_logits",
        (X2, _probs(6, 5)),
        dict(weight=RNG.uniform(0, 2, (6, 5)), pos_weight=W5),
        (0, 1),
    ),
    (
        "bcel-extreme",
        "binary_cross_entropy_with_logits",
        (np.array([1e4, -1e4, 0.0, 50.0, -50.0, 0.0]), np.array([0.0, 1.0, 1.0, 0.0, 1.0, 0.0])),
        dict(pos_weight=np.array(3.0), reduction="none"),
        (0, 1),
    ),
    (
        "kl-batchmean",
        "kl_div",
        (np.log(_probs(6, 5)), _probs(6, 5)),
        dict(reduction="batchmean"),
        (0, 1),
    ),
    (
        "kl-log-target",
        "kl_div",
        (np.log(_probs(6, 5)), np.log(_probs(6, 5))),
        dict(reduction="batchmean", log_target=True),
        (0, 1),
    ),
    (
        "kl-log-target-none",
        "kl_div",
        (np.log(_probs(6, 5)), np.log(_probs(6, 5))),
        dict(reduction="none", log_target=True),
        (0, 1),
    ),
]


def _to(lib: str, value: Any, dtype: str, grad: bool) -> Any:
    if not isinstance(value, np.ndarray):
        return value
    arr = value.astype(dtype) if value.dtype.kind == "f" else value
    if lib == "torch":
        return torch.tensor(arr, requires_grad=grad)
    return ember.tensor(arr, requires_grad=grad)


def _run(lib: str, fn: str, args: tuple, kwargs: dict, grads: tuple, dtype: str) -> tuple:
    a = [_to(lib, v, dtype, i in grads) for i, v in enumerate(args)]
    kw = {k: _to(lib, v, dtype, False) for k, v in kwargs.items()}
    if lib == "torch":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # kl_div's 'mean' deprecation notice
            out = getattr(TF, fn)(*a, **kw)
    else:
        out = getattr(L, fn)(*a, **kw)
    up = np.random.default_rng(1).standard_normal(tuple(out.shape)).astype(dtype)
    out.backward(torch.tensor(up) if lib == "torch" else ember.tensor(up))
    value = out.detach().numpy()
    return value, [np.asarray(a[i].grad) if lib == "ember" else a[i].grad.numpy() for i in grads]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_loss_matches_torch(case: tuple, dtype: str) -> None:
    name, fn, args, kwargs, grads = case
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == "float64" else dict(rtol=2e-5, atol=2e-5)
    e_val, e_grads = _run("ember", fn, args, kwargs, grads, dtype)
    t_val, t_grads = _run("torch", fn, args, kwargs, grads, dtype)
    assert e_val.dtype == t_val.dtype, f"{name}: dtype {e_val.dtype} vs torch {t_val.dtype}"
    np.testing.assert_allclose(e_val, t_val, err_msg=f"{name}: forward", **tol)
    for i, eg, tg in zip(grads, e_grads, t_grads):
        np.testing.assert_allclose(eg, tg, err_msg=f"{name}: gradient of arg {i}", **tol)


def test_extreme_logits_are_finite() -> None:
    x = ember.tensor(BIG, requires_grad=True)
    loss = L.cross_entropy(x, ember.tensor([1, 0, 2]))
    loss.backward()
    assert np.isfinite(loss.item()) and np.isfinite(x.grad.numpy()).all()
    z = ember.tensor([1e4, -1e4], requires_grad=True)
    loss = L.binary_cross_entropy_with_logits(z, ember.tensor([0.0, 1.0]))
    loss.backward()
    np.testing.assert_allclose(loss.item(), 1e4)
    np.testing.assert_allclose(z.grad.numpy(), [0.5, -0.5])


def test_cross_entropy_is_nll_of_log_softmax() -> None:
    x = ember.tensor(X4, requires_grad=True)
    t = ember.tensor(_classes(4, 3, 2, 3, ignore=-100))
    w = ember.tensor(W4)
    ce = L.cross_entropy(x, t, weight=w)
    (gx_ce,) = ember.autograd.grad(ce, [x])
    logp = ember.nn.functional.log_softmax(x, 1)
    nll = L.nll_loss(logp, t, weight=w)
    (gx_nll,) = ember.autograd.grad(nll, [x])
    np.testing.assert_allclose(ce.item(), nll.item(), rtol=1e-12)
    np.testing.assert_allclose(gx_ce.numpy(), gx_nll.numpy(), rtol=1e-10, atol=1e-14)


def test_bce_clamps_log_like_torch() -> None:
    x, t = np.array([0.0, 1.0, 0.0, 1.0]), np.array([1.0, 0.0, 0.0, 1.0])
    e = L.binary_cross_entropy(ember.tensor(x), ember.tensor(t), reduction="none")
    tt = TF.binary_cross_entropy(torch.tensor(x), torch.tensor(t), reduction="none")
    np.testing.assert_array_equal(e.numpy(), tt.numpy())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bce_gradient_at_saturated_probabilities_matches_torch(dtype: str) -> None:
    """At p = 0 or 1 PyTorch's backward is (p - t) / max(p(1-p), 1e-12), finite, not NaN."""
    x = np.array([0.0, 1.0, 0.0, 1.0, 0.3, 1e-30])
    t = np.array([1.0, 0.0, 0.0, 1.0, 0.6, 0.5])
    w = np.array([0.5, 1.0, 2.0, 1.0, 1.5, 1.0])
    ex = ember.tensor(x, dtype=getattr(ember, dtype), requires_grad=True)
    et = ember.tensor(t, dtype=getattr(ember, dtype), requires_grad=True)
    tx = torch.tensor(x, dtype=getattr(torch, dtype), requires_grad=True)
    tt = torch.tensor(t, dtype=getattr(torch, dtype), requires_grad=True)
    ew, tw = ember.tensor(w, dtype=getattr(ember, dtype)), torch.tensor(w, dtype=tx.dtype)
    e = L.binary_cross_entropy(ex, et, weight=ew, reduction="sum")
    r = TF.binary_cross_entropy(tx, tt, weight=tw, reduction="sum")
    e.backward()
    r.backward()
    np.testing.assert_allclose(e.item(), r.item(), rtol=1e-6)
    np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), rtol=1e-6)
    np.testing.assert_allclose(et.grad.numpy(), tt.grad.numpy(), rtol=1e-6)
    em, tm = ember.nn.BCELoss(), torch.nn.BCELoss()
    ex.grad, tx.grad = None, None
    em(ex, et.detach()).backward()
    tm(tx, tt.detach()).backward()
    np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), rtol=1e-6)


def test_all_ignored_mean_is_nan_like_torch() -> None:
    x, t = X2[:2], np.array([-100, -100])
    e = L.cross_entropy(ember.tensor(x), ember.tensor(t))
    tt = TF.cross_entropy(torch.tensor(x), torch.tensor(t))
    assert np.isnan(e.item()) and np.isnan(tt.item())


X_E, T_E = ember.tensor(X2), ember.tensor(_classes(5, 6))


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: L.cross_entropy(X_E, T_E.float()), TypeError, r"integer class indices: float32"),
        (lambda: L.nll_loss(X_E, T_E.double()), TypeError, r"float64 vs int64"),
        (lambda: L.cross_entropy(X_E, T_E[:4]), ValueError, r"target shape \(4,\).*\(6, 5\)"),
        (
            lambda: L.nll_loss(X_E, ember.tensor([0, 1, 7, 0, 0, 0])),
            IndexError,
            r"target 7 is out of bounds.*n_classes 5",
        ),
        (lambda: L.cross_entropy(X_E, ember.tensor([0, -3, 0, 0, 0, 0])), IndexError, r"-3"),
        (lambda: L.mse_loss(X_E, X_E[:1]), ValueError, r"\(1, 5\) doesn't match.*\(6, 5\)"),
        (lambda: L.l1_loss(X_E, X_E, reduction="avg"), ValueError, r"invalid reduction: 'avg'"),
        (lambda: L.mse_loss(X_E, X_E.numpy()), TypeError, r"target to be a Tensor"),
        (lambda: L.cross_entropy(X_E, T_E, weight=ember.ones(3)), ValueError, r"\(3,\) vs \(5,\)"),
        (lambda: L.cross_entropy(X_E, T_E, label_smoothing=1.5), ValueError, "label_smoothing"),
        (lambda: L.binary_cross_entropy(X_E, X_E), ValueError, "between 0 and 1"),
        (
            lambda: L.binary_cross_entropy(X_E.sigmoid(), (X_E > 0).long()),
            TypeError,
            "floating point target",
        ),
        (lambda: L.kl_div(X_E, X_E, reduction="batch"), ValueError, "batchmean"),
        (lambda: L.huber_loss(X_E, X_E, delta=0.0), ValueError, "delta must be positive"),
        (lambda: L.smooth_l1_loss(X_E, X_E, beta=-1.0), ValueError, "beta must be non-negative"),
    ],
)
def test_loss_errors(call: Any, exc: type, match: str) -> None:
    with pytest.raises(exc, match=match):
        call()


# -- loss modules ---------------------------------------------------------------------------
MODULE_CASES = [
    ("MSELoss", {}, (X2, X2[::-1].copy())),
    ("L1Loss", dict(reduction="sum"), (X2, X2[::-1].copy())),
    ("SmoothL1Loss", dict(beta=0.4, reduction="none"), (X2, X2[::-1].copy())),
    ("HuberLoss", dict(delta=0.7), (X2, X2[::-1].copy())),
    (
        "CrossEntropyLoss",
        dict(weight=W5, ignore_index=1, label_smoothing=0.1),
        (X2, _classes(5, 6)),
    ),
    ("CrossEntropyLoss", {}, (X4, _probs(3, 4, 2, 3))),
    ("NLLLoss", dict(weight=W5, ignore_index=-100, reduction="sum"), (X2, _classes(5, 6))),
    ("BCELoss", dict(weight=RNG.uniform(0, 2, 3)), (P, T01)),
    ("BCEWithLogitsLoss", dict(pos_weight=W5, reduction="none"), (X2, _probs(6, 5))),
    ("KLDivLoss", dict(reduction="batchmean", log_target=True), (X2, np.log(_probs(6, 5)))),
]


@pytest.mark.parametrize("case", MODULE_CASES, ids=[c[0] for c in MODULE_CASES])
def test_loss_module_matches_torch(case: tuple) -> None:
    from ember.nn.layers import loss as modules

    name, kwargs, (x, t) = case
    ours = getattr(modules, name)(
        **{k: _to("ember", v, "float64", False) for k, v in kwargs.items()}
    )
    ref = getattr(torch.nn, name)(
        **{k: _to("torch", v, "float64", False) for k, v in kwargs.items()}
    )
    ex, tx = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    e_out, t_out = (
        ours(ex, _to("ember", t, "float64", False)),
        ref(tx, _to("torch", t, "float64", False)),
    )
    np.testing.assert_allclose(e_out.detach().numpy(), t_out.detach().numpy(), rtol=1e-10)
    e_out.sum().backward()
    t_out.sum().backward()
    np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-14)
    assert sorted(ours.state_dict()) == sorted(ref.state_dict()), "buffers differ from torch's"


def test_loss_module_errors() -> None:
    from ember.nn.layers.loss import CrossEntropyLoss, KLDivLoss, MSELoss

    with pytest.raises(ValueError, match="MSELoss: invalid reduction: 'batchmean'"):
        MSELoss(reduction="batchmean")
    assert KLDivLoss(reduction="batchmean").reduction == "batchmean"
    with pytest.raises(TypeError):
        MSELoss("sum")  # positional reduction: PyTorch's slot is the deprecated size_average
    with pytest.raises(TypeError, match="integer class indices"):
        CrossEntropyLoss()(X_E, T_E.float())
