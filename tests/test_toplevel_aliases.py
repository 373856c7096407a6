"""The top-level spellings torch gives some functionals and Tensor methods, compared with
torch: the random ones (dropout family, training rrelu) by their statistics and exact edge cases,
``numel``/``detach``/``range`` directly, and the errors. The deterministic ones are in the op
database (tests/ops/specs/toplevel.py)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import ember

DROPOUTS = ["dropout", "feature_dropout", "alpha_dropout", "feature_alpha_dropout"]


def _pair(shape: tuple, seed: int = 0) -> tuple[ember.Tensor, torch.Tensor]:
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return ember.tensor(x), torch.tensor(x)


@pytest.mark.parametrize("name", DROPOUTS)
def test_dropout_family_is_identity_when_not_training(name: str) -> None:
    e, t = _pair((4, 3, 5))
    out_e, out_t = getattr(ember, name)(e, 0.4, False), getattr(torch, name)(t, 0.4, False)
    np.testing.assert_array_equal(out_e.numpy(), out_t.numpy())


@pytest.mark.parametrize("name", DROPOUTS)
def test_dropout_family_drops_everything_at_p_one(name: str) -> None:
    e, t = _pair((4, 3, 5))
    out_e, out_t = getattr(ember, name)(e, 1.0, True), getattr(torch, name)(t, 1.0, True)
    np.testing.assert_array_equal(out_e.numpy(), out_t.numpy())


@pytest.mark.parametrize("name", ["dropout", "feature_dropout"])
def test_dropout_keeps_the_mean_and_drops_whole_channels(name: str) -> None:
    ember.manual_seed(0)
    ones_e, ones_t = ember.ones(200, 50, 8), torch.ones(200, 50, 8)
    out_e, out_t = getattr(ember, name)(ones_e, 0.3, True), getattr(torch, name)(ones_t, 0.3, True)
    for out in (out_e.numpy(), out_t.numpy()):
        assert set(np.unique(out)) <= {0.0, np.float32(1 / 0.7)}
        assert abs(out.mean() - 1.0) < 0.03  # 10000 channel draws at least: sd ~0.007
        if name == "feature_dropout":  # a channel is all kept or all dropped
            assert (out.min(-1) == out.max(-1)).all()


@pytest.mark.parametrize("name", ["alpha_dropout", "feature_alpha_dropout"])
def test_alpha_dropout_keeps_standard_normal_moments(name: str) -> None:
    ember.manual_seed(1)
    e, t = _pair((400, 50, 10), seed=1)
    for out in (getattr(ember, name)(e, 0.2, True), getattr(torch, name)(t, 0.2, True)):
        values = out.numpy()
        assert abs(values.mean()) < 0.05 and abs(values.std() - 1.0) < 0.05


def test_feature_dropout_needs_channels() -> None:
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        torch.feature_dropout(torch.ones(3), 0.5, True)
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        ember.feature_dropout(ember.ones(3), 0.5, True)


def test_rrelu_training_slopes_lie_in_range() -> None:
    e, t = _pair((1000,))
    for x, out in ((e, ember.rrelu(e, 0.1, 0.3, True)), (t, torch.rrelu(t, 0.1, 0.3, True))):
        x, y = x.numpy(), out.numpy()
        slopes = y[x < 0] / x[x < 0]
        assert slopes.min() >= 0.1 - 1e-6 and slopes.max() <= 0.3 + 1e-6
        assert slopes.std() > 0.03  # drawn per element, not one shared slope
        np.testing.assert_array_equal(y[x >= 0], x[x >= 0])


def test_numel_and_detach() -> None:
    e, t = _pair((2, 3, 4))
    assert ember.numel(e) == torch.numel(t) == 24
    e.requires_grad_(True)
    t.requires_grad_(True)
    de, dt = ember.detach(e), torch.detach(t)
    assert de.requires_grad is dt.requires_grad is False
    assert de.data_ptr() == e.data_ptr() and dt.data_ptr() == t.data_ptr()
    with pytest.raises(TypeError, match="must be Tensor, not list"):
        torch.numel([1, 2])
    with pytest.raises(TypeError, match="must be Tensor, not list"):
        ember.numel([1, 2])


@pytest.mark.parametrize(
    "args,kwargs",
    [((0, 5), {}), ((1, 0, -0.3), {}), ((0, 5, 2), {"dtype": "int64"}), ((-1.5, 2.25, 0.75), {})],
)
def test_range_includes_the_end_and_warns(args: tuple, kwargs: dict) -> None:
    dtype = kwargs.get("dtype")
    with pytest.warns(UserWarning, match="deprecated"):
        e = ember.range(*args, dtype=getattr(ember, dtype) if dtype else None)
    with pytest.warns(UserWarning, match="deprecated"):
        t = torch.range(*args, dtype=getattr(torch, dtype) if dtype else None)
    assert e.dtype.name == str(t.dtype).removeprefix("torch.")
    np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=1e-6)


@pytest.mark.parametrize("args,match", [((0, 1, 0), "nonzero"), ((0, 1, -1), "lower bound")])
def test_range_errors(args: tuple, match: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(RuntimeError, match=match):
            torch.range(*args)
        with pytest.raises(RuntimeError, match=match):
            ember.range(*args)


def test_fill_refuses_a_value_with_dims() -> None:
    with pytest.raises(RuntimeError, match="0-dimension"):
        torch.fill(torch.ones(3), torch.ones(2))
    with pytest.raises(RuntimeError, match="0-dimension"):
        ember.fill(ember.ones(3), ember.ones(2))


def test_top_level_reduction_is_the_enum() -> None:
    e, t = _pair((3, 4))
    target_e, target_t = _pair((3, 4), seed=1)
    for reduction in (0, 1, 2):
        np.testing.assert_allclose(
            ember.kl_div(e, target_e.exp(), reduction).numpy(),
            torch.kl_div(t, target_t.exp(), reduction).numpy(),
            rtol=1e-5,
            atol=1e-6,
        )
    with pytest.raises(ValueError, match="0 \\(none\\), 1 \\(mean\\) or 2 \\(sum\\)"):
        ember.kl_div(e, e, 3)


def test_embedding_takes_the_weight_first() -> None:
    w = np.arange(12.0).reshape(4, 3)
    idx = np.array([3, 0])
    e = ember.embedding(ember.tensor(w), ember.tensor(idx))
    t = torch.embedding(torch.tensor(w), torch.tensor(idx))
    np.testing.assert_array_equal(e.numpy(), t.numpy())
