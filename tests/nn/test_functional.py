"""nn.functional vs torch: softmax stability, attention, interpolation, dropout, misc."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember
import ember.nn.functional as F
from tests.nn.helpers import close

R = np.random.default_rng(0)


def pair(a: np.ndarray, grad: bool = True) -> tuple[ember.Tensor, torch.Tensor]:
    return ember.tensor(a, requires_grad=grad), torch.tensor(a, requires_grad=grad)


def check(fe: object, ft: object, *arrays: np.ndarray, dtype: str = "float64") -> None:
    """Forward and input gradients of fe(*tensors) vs ft(*tensors)."""
    e_in = [ember.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    t_in = [torch.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    eo, to = fe(*e_in), ft(*t_in)
    close(eo, to, dtype, "forward")
    cot = R.standard_normal(tuple(to.shape))
    (eo * ember.tensor(cot.astype(dtype))).sum().backward()
    (to * torch.tensor(cot.astype(dtype))).sum().backward()
    for i, (e, t) in enumerate(zip(e_in, t_in)):
        close(e.grad, t.grad, dtype, f"grad {i}")


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_softmax_stable_for_huge_logits(fn: str) -> None:
    logits = np.array([[1e4, -1e4, 0.0, 1e4 - 1.0], [-1e4, -1e4 + 2.0, -1e4, -1e4]])
    check(lambda t: getattr(F, fn)(t, dim=-1), lambda t: getattr(TF, fn)(t, dim=-1), logits)
    out = getattr(F, fn)(ember.tensor(logits, dtype=ember.float32), dim=1)
    assert np.isfinite(out.numpy()).all()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_softmax_dims_and_dtype(dtype: str) -> None:
    a = R.standard_normal((2, 3, 4))
    for dim in (0, 1, -1):
        check(lambda t: F.softmax(t, dim), lambda t: TF.softmax(t, dim), a, dtype=dtype)
        check(lambda t: F.log_softmax(t, dim), lambda t: TF.log_softmax(t, dim), a, dtype=dtype)
    out = F.softmax(ember.tensor(a, dtype=ember.float32), dim=1, dtype=ember.float64)
    assert out.dtype is ember.float64
    with pytest.raises(ValueError, match="dim must be given"):
        F.softmax(ember.ones(2, 2))


def test_activation_functions_extremes_stay_finite() -> None:
    big = ember.tensor([-1e4, -50.0, 0.5, 50.0, 1e4], requires_grad=True)
    for fn in (F.softplus, F.elu, F.selu, F.celu, F.mish, F.logsigmoid, F.silu, F.gelu):
        out = fn(big)
        out.sum().backward()
        assert np.isfinite(out.detach().numpy()).all(), fn.__name__
        assert np.isfinite(big.grad.numpy()).all(), fn.__name__
        big.grad = None


def test_inplace_activation() -> None:
    a = ember.tensor([-1.0, 2.0])
    assert F.relu(a, inplace=True) is a and a.tolist() == [0.0, 2.0]
    leaf = ember.tensor([-1.0, 2.0], requires_grad=True)
    y = leaf * 1.0
    F.leaky_relu(y, 0.5, inplace=True)
    y.sum().backward()
    assert leaf.grad.tolist() == [0.5, 1.0]


@pytest.mark.parametrize("mask_kind", ["none", "causal", "bool", "float"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_scaled_dot_product_attention(mask_kind: str, dtype: str) -> None:
    q, k, v = (
        R.standard_normal((2, 3, 4, 5)),
        R.standard_normal((2, 3, 6, 5)),
        R.standard_normal((2, 3, 6, 7)),
    )
    kwargs: dict = {}
    if mask_kind == "causal":
        kwargs = {"is_causal": True}
    mask = R.random((4, 6)) > 0.3
    mask[:, 0] = True  # no fully-masked rows
    if mask_kind == "bool":
        kwargs = {"attn_mask": mask}
    if mask_kind == "float":
        kwargs = {"attn_mask": R.standard_normal((3, 4, 6))}

    def ember_fn(*t: ember.Tensor) -> ember.Tensor:
        kw = {
            k_: ember.tensor(val.astype(dtype) if val.dtype.kind == "f" else val)
            if isinstance(val, np.ndarray)
            else val
            for k_, val in kwargs.items()
        }
        return F.scaled_dot_product_attention(*t, scale=0.3, **kw)

    def torch_fn(*t: torch.Tensor) -> torch.Tensor:
        kw = {
            k_: torch.tensor(val.astype(dtype) if val.dtype.kind == "f" else val)
            if isinstance(val, np.ndarray)
            else val
            for k_, val in kwargs.items()
        }
        return TF.scaled_dot_product_attention(*t, scale=0.3, **kw)

    check(ember_fn, torch_fn, q, k, v, dtype=dtype)
    check(F.scaled_dot_product_attention, TF.scaled_dot_product_attention, q, k, v)
    with pytest.raises(ValueError, match="should not be set when is_causal=True"):
        F.scaled_dot_product_attention(
            *(ember.tensor(a) for a in (q, k, v)), attn_mask=ember.tensor(mask), is_causal=True
        )


INTERP = [
    ({"scale_factor": 2}, (1, 2, 3, 4)),
    ({"scale_factor": 0.5}, (1, 2, 6, 5)),
    ({"size": (5, 3)}, (2, 1, 3, 4)),
    ({"scale_factor": (1.5, 2.5), "mode": "bilinear"}, (1, 2, 4, 3)),
    ({"scale_factor": 2, "mode": "bilinear", "align_corners": True}, (1, 2, 3, 3)),
    ({"size": (1, 4), "mode": "bilinear", "align_corners": True}, (1, 1, 3, 3)),
    ({"size": 7, "mode": "linear"}, (2, 3, 4)),
    ({"scale_factor": 1.7, "mode": "nearest", "recompute_scale_factor": True}, (1, 1, 5)),
]


@pytest.mark.parametrize(("kwargs", "shape"), INTERP, ids=[str(k) for k, _ in INTERP])
def test_interpolate(kwargs: dict, shape: tuple) -> None:
    a = R.standard_normal(shape)
    check(lambda t: F.interpolate(t, **kwargs), lambda t: TF.interpolate(t, **kwargs), a)


def test_interpolate_errors() -> None:
    x = ember.ones(1, 1, 2, 2)
    with pytest.raises(ValueError, match="align_corners option can only be set"):
        F.interpolate(x, scale_factor=2, align_corners=True)
    with pytest.raises(ValueError, match="exactly one of size or scale_factor"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="mode 'bilinear' expects a 4-D"):
        F.interpolate(ember.ones(1, 1, 2), scale_factor=2, mode="bilinear")


def test_dropout_scaling_eval_and_reproducibility() -> None:
    x = ember.ones(200, 100)
    ember.manual_seed(3)
    y = F.dropout(x, 0.3)
    kept = y.numpy() != 0
    assert abs(kept.mean() - 0.7) < 0.02
    np.testing.assert_allclose(y.numpy()[kept], 1 / 0.7, rtol=1e-6)
    ember.manual_seed(3)
    np.testing.assert_array_equal(F.dropout(x, 0.3).numpy(), y.numpy())
    assert F.dropout(x, 0.3, training=False) is x
    assert not F.dropout(x, 1.0).numpy().any()
    with pytest.raises(
        ValueError, match="dropout probability has to be between 0 and 1, but got -0.1"
    ):
        F.dropout(x, -0.1)
    leaf = ember.ones(50, requires_grad=True)
    out = F.dropout(leaf, 0.5)
    out.sum().backward()
    np.testing.assert_array_equal(leaf.grad.numpy(), out.detach().numpy())
    drop = ember.nn.Dropout(0.5)
    assert drop.eval()(x) is x


def test_channel_dropout_zeroes_whole_channels() -> None:
    y = F.dropout2d(ember.ones(8, 16, 3, 3), 0.5).numpy()
    per_channel = y.reshape(8, 16, -1)
    assert ((per_channel == 0).all(-1) | (per_channel == 2).all(-1)).all()
    assert 0 < (per_channel == 0).all(-1).mean() < 1
    y1 = F.dropout1d(ember.ones(4, 16, 5), 0.5).numpy()
    assert ((y1 == 0).all(-1) | (y1 == 2).all(-1)).all()
    with pytest.raises(ValueError, match="feature dropout requires at least 2 dimensions"):
        F.dropout2d(ember.ones(3), 0.5)


def _constant_dims(y: np.ndarray) -> list[int]:
    """The dims along which a dropout mask of ones (times 2 or 0) never changes."""
    return [d for d in range(y.ndim) if (y == y.take([0], axis=d)).all()]


@pytest.mark.parametrize("ndim", [2, 3, 4, 5])
def test_dropout2d_on_other_ranks_warns_and_drops_like_torch(ndim: int) -> None:
    """torch 2.13 warns for non-4-D input and masks per (dim 0, dim 1) entry; ember raised."""
    shape = (6,) * ndim
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        t = torch.nn.Dropout2d(0.5)(torch.ones(shape)).numpy()
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        e = ember.nn.Dropout2d(0.5)(ember.ones(*shape)).numpy()
        ember.nn.Dropout2d(0.5).eval()(ember.ones(*shape))  # warns in eval mode too
    assert [str(w.message) for w in ours] == [str(w.message) for w in theirs] * 2
    assert all(w.category is UserWarning for w in ours)
    assert _constant_dims(e) == _constant_dims(t) == list(range(2, ndim))


def test_normalize_cosine_similarity_pad_one_hot() -> None:
    a, b = R.standard_normal((3, 4)), R.standard_normal((3, 4))
    check(F.normalize, TF.normalize, a)
    check(lambda t: F.normalize(t, p=1.0, dim=0), lambda t: TF.normalize(t, p=1.0, dim=0), a)
    check(F.cosine_similarity, TF.cosine_similarity, a, b)
    check(
        lambda s, t: F.cosine_similarity(s, t, dim=0),
        lambda s, t: TF.cosine_similarity(s, t, dim=0),
        a,
        b,
    )
    check(
        lambda t: F.pad(t, (1, 2), mode="reflect"), lambda t: TF.pad(t, (1, 2), mode="reflect"), a
    )
    idx = np.array([[0, 3], [2, 1]])
    assert F.one_hot(ember.tensor(idx), 5).tolist() == TF.one_hot(torch.tensor(idx), 5).tolist()
    assert F.one_hot(ember.tensor(idx)).dtype is ember.int64
    assert F.one_hot(ember.tensor(idx)).shape == (2, 2, 4)
    with pytest.raises(ValueError, match="must be non-negative"):
        F.one_hot(ember.tensor([-1, 0]))
    with pytest.raises(ValueError, match="smaller than num_classes: 3 vs 3"):
        F.one_hot(ember.tensor([3]), 3)
    with pytest.raises(TypeError, match="expected an integer index tensor"):
        F.one_hot(ember.tensor([1.0]))


def test_functional_norms_and_embedding_vs_torch() -> None:
    a = R.standard_normal((4, 3, 5))
    rm, rv = R.standard_normal(3), R.uniform(0.5, 2, 3)
    w, b = R.standard_normal(3), R.standard_normal(3)
    check(
        lambda t, ww, bb: F.batch_norm(t, ember.tensor(rm), ember.tensor(rv), ww, bb),
        lambda t, ww, bb: TF.batch_norm(t, torch.tensor(rm), torch.tensor(rv), ww, bb),
        a, w, b,
    )  # fmt: skip
    check(
        lambda t: F.batch_norm(t, None, None, training=True),
        lambda t: TF.batch_norm(t, None, None, training=True),
        a,
    )
    check(
        lambda t: F.layer_norm(t, (3, 5), eps=1e-3), lambda t: TF.layer_norm(t, (3, 5), eps=1e-3), a
    )
    check(lambda t: F.group_norm(t, 3), lambda t: TF.group_norm(t, 3), a)
    weight = R.standard_normal((6, 2))
    idx = np.array([[0, 5], [5, 2]])
    check(
        lambda wt: F.embedding(ember.tensor(idx), wt, padding_idx=5),
        lambda wt: TF.embedding(torch.tensor(idx), wt, padding_idx=5),
        weight,
    )
    with pytest.raises(TypeError, match="integer index tensor"):
        F.embedding(ember.ones(2), ember.ones(3, 2))
    x1, x2, wb = (
        R.standard_normal((2, 3, 4)),
        R.standard_normal((2, 3, 5)),
        R.standard_normal((6, 4, 5)),
    )
    check(F.bilinear, TF.bilinear, x1, x2, wb)
    check(F.prelu, TF.prelu, R.standard_normal((2, 3, 4)), np.array([0.1, 0.2, -0.3]))
    check(F.linear, TF.linear, R.standard_normal((2, 4)), R.standard_normal((3, 4)))


def test_conv_and_loss_reexports() -> None:
    for name in ("conv1d", "conv2d", "conv_transpose2d", "max_pool2d", "avg_pool1d",
                 "adaptive_avg_pool2d", "unfold", "fold", "cross_entropy", "mse_loss",
                 "binary_cross_entropy_with_logits", "kl_div", "pad"):  # fmt: skip
        assert callable(getattr(F, name)) and name in F.__all__
    check(
        lambda t, w: F.conv2d(t, w, padding=1),
        lambda t, w: TF.conv2d(t, w, padding=1),
        R.standard_normal((1, 2, 4, 4)), R.standard_normal((3, 2, 3, 3)),
    )  # fmt: skip
