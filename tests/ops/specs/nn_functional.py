"""Op database: ``nn.functional`` activations, losses and shape ops, called by their public names.

Each entry compares ``ember.nn.functional.<name>`` with ``torch.nn.functional.<name>`` (forward,
backward, float64 finite differences and the jit stage come from tests/ops/test_ops.py).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch.nn.functional as TF

import ember.nn.functional as EF
from tests.ops.specs import OpSpec, Sample, positive, rand


def spec(name: str, samples: Callable, **options: object) -> OpSpec:
    """An entry (``F_<name>``) comparing the functional ``name`` of both libraries."""
    return OpSpec(f"F_{name}", getattr(EF, name), getattr(TF, name), samples, **options)


def keyword_arrays(fn: Callable, n_positional: int, *names: str) -> Callable:
    """``fn`` taking the arrays after the first ``n_positional`` as the keywords ``names``
    (sample keywords are not turned into tensors, positional arrays are)."""

    def call(*args: object, **kwargs: object) -> object:
        extra = dict(zip(names, args[n_positional:]))
        return fn(*args[:n_positional], **extra, **kwargs)

    return call


def keyword_spec(name: str, suffix: str, samples: Callable, n: int, *names: str) -> OpSpec:
    """Like ``spec``, with trailing positional arrays passed as the keywords ``names``."""
    e, t = getattr(EF, name), getattr(TF, name)
    return OpSpec(
        f"F_{name}_{suffix}", keyword_arrays(e, n, *names), keyword_arrays(t, n, *names), samples
    )


def with_kwargs(*variants: dict, shape: tuple = (3, 4), low: float = -3.0, high: float = 3.0):
    """Samples of one random input per keyword set."""

    def samples(rng: np.random.Generator) -> list[Sample]:
        return [Sample((rand(rng, *shape, low=low, high=high),), kw) for kw in variants]

    return samples


def _binary(rng: np.random.Generator, *shape: int) -> tuple[np.ndarray, np.ndarray]:
    return rand(rng, *shape), rand(rng, *shape)


def _regression(*variants: dict):
    """(input, target) pairs under each keyword set."""

    def samples(rng: np.random.Generator) -> list[Sample]:
        return [Sample(_binary(rng, 3, 4), kw) for kw in variants]

    return samples


def _weighted_regression(rng: np.random.Generator) -> list[Sample]:
    """(input, target, elementwise weight) under each reduction."""
    return [
        Sample((*_binary(rng, 3, 4), positive(rng, 3, 4)), {"reduction": r})
        for r in ("mean", "sum", "none")
    ]


def _smooth_l1(rng: np.random.Generator) -> list[Sample]:
    return [
        Sample(_binary(rng, 3, 4)),
        Sample(_binary(rng, 5), {"beta": 0.5, "reduction": "sum"}),
        Sample(_binary(rng, 2, 3), {"beta": 0.0, "reduction": "none"}),
    ]


def _kl_div(rng: np.random.Generator) -> list[Sample]:
    logp = np.log(rng.dirichlet(np.ones(5), size=3))
    q = rng.dirichlet(np.ones(5), size=3)
    return [
        Sample((logp, q), {"reduction": "batchmean"}),
        Sample((logp, q), {"reduction": "sum"}),
        Sample((logp, np.log(q)), {"reduction": "none", "log_target": True}),
    ]


def _nll(rng: np.random.Generator) -> list[Sample]:
    logp = np.log(rng.dirichlet(np.ones(4), size=5))
    t = np.array([0, 3, 1, 2, 3])
    return [
        Sample((logp, t)),
        Sample((logp, t, positive(rng, 4)), {"ignore_index": 3}, nograd=(2,)),
        Sample((logp, t), {"reduction": "none"}),
        Sample((rand(rng, 2, 4, 3), np.array([[0, 1, 3], [2, 2, 0]])), {"reduction": "sum"}),
    ]


def _bce(rng: np.random.Generator) -> list[Sample]:
    p, t = rng.uniform(0.05, 0.95, (3, 4)), rng.uniform(0, 1, (3, 4))
    return [
        Sample((p, t)),
        Sample((p, t, positive(rng, 3, 4)), {"reduction": "sum"}, nograd=(2,)),
    ]


def _bce_logits(rng: np.random.Generator) -> list[Sample]:
    x, t = rand(rng, 3, 4), rng.uniform(0, 1, (3, 4))
    return [
        Sample((x, t)),
        Sample((x, t, positive(rng, 3, 4)), {"reduction": "sum"}, nograd=(2,)),
    ]


def _bce_pos_weight(rng: np.random.Generator) -> list[Sample]:
    x, t = rand(rng, 3, 4), rng.uniform(0, 1, (3, 4))
    # torch does not differentiate pos_weight
    return [Sample((x, t, positive(rng, 4)), {"reduction": r}, (2,)) for r in ("mean", "none")]


def _instance_norm(rng: np.random.Generator) -> list[Sample]:
    return [Sample((rand(rng, 2, 3, 5),)), Sample((rand(rng, 2, 3, 4),), {"eps": 0.1})]


def _instance_norm_affine(rng: np.random.Generator) -> list[Sample]:
    return [Sample((rand(rng, 2, 3, 4, 3), positive(rng, 3), rand(rng, 3)))]


def _pixel_shuffle(rng: np.random.Generator) -> list[Sample]:
    return [Sample((rand(rng, 1, 8, 2, 3), 2)), Sample((rand(rng, 9, 2, 2), 3))]


def _pixel_unshuffle(rng: np.random.Generator) -> list[Sample]:
    return [Sample((rand(rng, 1, 2, 4, 6), 2)), Sample((rand(rng, 1, 3, 3), 3))]


def _glu(rng: np.random.Generator) -> list[Sample]:
    return [Sample((rand(rng, 3, 4),)), Sample((rand(rng, 4, 3),), {"dim": 0})]


def _threshold(rng: np.random.Generator) -> list[Sample]:
    return [Sample((rand(rng, 3, 4), 0.5, -1.0)), Sample((rand(rng, 5), -0.2, 2.0))]


def _softmin(rng: np.random.Generator) -> list[Sample]:
    return [Sample((rand(rng, 3, 4),), {"dim": 1}), Sample((rand(rng, 2, 3, 2),), {"dim": 0})]


def _pm(rng: np.random.Generator, *shape: int) -> np.ndarray:
    """Targets of ±1."""
    return rng.choice([-1.0, 1.0], size=shape)


def _margin_ranking(rng: np.random.Generator) -> list[Sample]:
    a, b = _binary(rng, 6)
    return [
        Sample((a, b, _pm(rng, 6)), nograd=(2,)),
        Sample((a, b, _pm(rng, 6)), {"margin": 0.5, "reduction": "sum"}, (2,)),
    ]


def _hinge(rng: np.random.Generator) -> list[Sample]:
    t = np.array([[1.0, -1.0, 1.0], [-1.0, 0.5, 2.0]])
    return [
        Sample((rand(rng, 2, 3), t), nograd=(1,)),
        Sample((rand(rng, 2, 3), t), {"margin": 0.4, "reduction": "none"}, (1,)),
    ]


def _soft_margin(rng: np.random.Generator) -> list[Sample]:
    return [
        Sample((rand(rng, 3, 4), _pm(rng, 3, 4)), {"reduction": r}, (1,)) for r in ("mean", "none")
    ]


def _multilabel_soft(rng: np.random.Generator) -> list[Sample]:
    t = rng.integers(0, 2, (3, 4)).astype(float)
    return [
        Sample((rand(rng, 3, 4), t), nograd=(1,)),
        Sample((rand(rng, 3, 4), t, positive(rng, 4)), {"reduction": "none"}, (1, 2)),
        Sample((rand(rng, 4), t[0]), nograd=(1,)),
    ]


def _cosine_embedding(rng: np.random.Generator) -> list[Sample]:
    return [
        Sample((*_binary(rng, 4, 5), _pm(rng, 4)), nograd=(2,)),
        Sample((*_binary(rng, 4, 5), _pm(rng, 4)), {"margin": 0.2, "reduction": "none"}, (2,)),
    ]


def _triplet(rng: np.random.Generator) -> list[Sample]:
    return [
        Sample((rand(rng, 4, 3), rand(rng, 4, 3), rand(rng, 4, 3))),
        Sample((rand(rng, 4, 3), rand(rng, 4, 3), rand(rng, 4, 3)), {"margin": 2.0, "p": 1.0}),
        Sample((rand(rng, 5), rand(rng, 5), rand(rng, 5)), {"swap": True, "reduction": "none"}),
    ]


def _triplet_distance(rng: np.random.Generator) -> list[Sample]:
    return [
        Sample((rand(rng, 4, 3), rand(rng, 4, 3), rand(rng, 4, 3)), {"swap": True, "margin": 3.0}),
        Sample((rand(rng, 4, 3), rand(rng, 4, 3), rand(rng, 4, 3)), {"reduction": "sum"}),
    ]


def _multi_margin(rng: np.random.Generator) -> list[Sample]:
    t = np.array([0, 2, 3, 1, 2])
    return [
        Sample((rand(rng, 5, 4), t)),
        Sample((rand(rng, 5, 4), t, 2, 0.7, positive(rng, 4)), {"reduction": "none"}, (4,)),
        Sample((rand(rng, 4), np.array(2)), {"reduction": "sum"}),
    ]


def _multilabel_margin(rng: np.random.Generator) -> list[Sample]:
    t = np.array([[3, 0, -1, 1], [1, 2, 3, -1], [0, 0, 2, -1]])
    return [Sample((rand(rng, 3, 4), t)), Sample((rand(rng, 4), t[1]), {"reduction": "sum"})]


def _poisson(rng: np.random.Generator) -> list[Sample]:
    counts = rng.integers(0, 5, (3, 4)).astype(float)
    return [
        Sample((rand(rng, 3, 4), counts), nograd=(1,)),
        Sample((positive(rng, 3, 4), counts), {"log_input": False, "full": True}, (1,)),
        Sample((rand(rng, 3, 4), counts), {"full": True, "reduction": "none"}, (1,)),
    ]


def _gaussian(rng: np.random.Generator) -> list[Sample]:
    return [
        Sample((*_binary(rng, 3, 4), positive(rng, 3, 4))),
        Sample((*_binary(rng, 3, 4), positive(rng, 3, 1), True), {"reduction": "sum"}),
        Sample((*_binary(rng, 3, 4), positive(rng, 3)), {"reduction": "none", "eps": 0.7}),
        Sample((*_binary(rng, 3, 4), 0.5)),
    ]


def _shrink(rng: np.random.Generator) -> list[Sample]:
    return [Sample((rand(rng, 3, 4),)), Sample((rand(rng, 3, 4), 1.2))]


def _distance(rng: np.random.Generator) -> list[Sample]:
    return [
        Sample(_binary(rng, 4, 3)),
        Sample(_binary(rng, 4, 3), {"p": 1.0, "keepdim": True}),
        Sample((rand(rng, 2, 5), rand(rng, 5)), {"p": 3.0, "eps": 0.0}),
    ]


def _pdist(rng: np.random.Generator) -> list[Sample]:
    return [Sample((rand(rng, 4, 3),)), Sample((rand(rng, 5, 2), 1.0))]


def _rms_norm(rng: np.random.Generator) -> list[Sample]:
    return [
        Sample((rand(rng, 2, 3, 4), [4])),
        Sample((rand(rng, 2, 3, 4), (3, 4), positive(rng, 3, 4), 1e-3)),
    ]


def _lrn(rng: np.random.Generator) -> list[Sample]:
    return [
        Sample((rand(rng, 2, 5, 3), 3)),
        Sample((rand(rng, 1, 6, 2, 3), 4, 0.01, 0.5, 2.0)),
    ]


def _channel_shuffle(rng: np.random.Generator) -> list[Sample]:
    return [Sample((rand(rng, 2, 6, 3), 3)), Sample((rand(rng, 1, 4, 2, 2), 2))]


def _distinct(rng: np.random.Generator, *shape: int) -> np.ndarray:
    """Values spaced apart, so that max windows have no near-ties."""
    return rng.permutation(int(np.prod(shape))).reshape(shape) * 0.25 - 3.0


def _pool1d(rng: np.random.Generator) -> list[Sample]:
    return [
        Sample((_distinct(rng, 2, 3, 8), 2)),
        Sample((_distinct(rng, 1, 2, 9), 3, 2, 1), {"ceil_mode": True}),
    ]


def _pool2d(rng: np.random.Generator) -> list[Sample]:
    return [
        Sample((_distinct(rng, 1, 2, 6, 6), 2)),
        Sample((_distinct(rng, 2, 5, 7), (3, 2), 2, 1)),
    ]


def _pool3d(rng: np.random.Generator) -> list[Sample]:
    return [
        Sample((_distinct(rng, 1, 2, 4, 4, 4), 2)),
        Sample((_distinct(rng, 2, 5, 4, 3), (3, 2, 2), 2, 1), {"ceil_mode": True}),
    ]


def _lp1d(rng: np.random.Generator) -> list[Sample]:
    return [
        Sample((positive(rng, 2, 3, 8), 2.0, 3)),
        Sample((positive(rng, 1, 2, 9), 3.0, 2, 3, True)),
    ]


def _lp2d(rng: np.random.Generator) -> list[Sample]:
    return [
        Sample((positive(rng, 1, 2, 6, 6), 2.0, 2)),
        Sample((positive(rng, 2, 5, 7), 1.5, (3, 2), (2, 1))),
    ]


def _lp3d(rng: np.random.Generator) -> list[Sample]:
    return [
        Sample((positive(rng, 1, 2, 4, 4, 4), 2.0, 2)),
        Sample((positive(rng, 2, 5, 4, 3), 1.5, (3, 2, 2), (2, 1, 1), True)),
    ]


def _adaptive_max1d(rng: np.random.Generator) -> list[Sample]:
    return [
        Sample((_distinct(rng, 2, 3, 7), 3)),
        Sample((_distinct(rng, 3, 8), 5), {"return_indices": True}),
    ]


def _adaptive_max2d(rng: np.random.Generator) -> list[Sample]:
    return [
        Sample((_distinct(rng, 1, 2, 7, 6), (3, 4))),
        Sample((_distinct(rng, 2, 5, 5), (2, None)), {"return_indices": True}),
    ]


def _adaptive_max3d(rng: np.random.Generator) -> list[Sample]:
    return [
        Sample((_distinct(rng, 1, 2, 5, 4, 3), (2, 3, 2))),
        Sample((_distinct(rng, 2, 4, 3, 5), (3, None, 2)), {"return_indices": True}),
    ]


def _with_indices(samples: Callable) -> Callable:
    """The samples without ``return_indices`` (the _with_indices forms always return them)."""

    def strip(rng: np.random.Generator) -> list[Sample]:
        return [Sample(s.args, {}, s.nograd) for s in samples(rng)]

    return strip


def _unpool(pool: Callable, nd: int) -> Callable:
    """max_unpool of ``pool``'s output and indices (computed by torch: the same either way)."""
    import torch

    def samples(rng: np.random.Generator) -> list[Sample]:
        out = []
        for shape, k, stride, size in (
            ((2, 2) + (6,) * nd, 2, None, None),
            ((1, 2) + (6,) * nd, 3, 3, None),
            ((1, 2) + (7,) * nd, 2, 2, (1, 2) + (7,) * nd),
        ):
            x = torch.from_numpy(_distinct(rng, *shape))
            values, idx = pool(x, k, stride, return_indices=True)
            kw = {} if size is None else {"output_size": size}
            out.append(Sample((values.numpy(), idx.numpy(), k, stride), kw))
        return out

    return samples


def _embedding_bag(rng: np.random.Generator) -> list[Sample]:
    """Bags as rows of 2-D input or cut at offsets (an empty bag included), each mode, with
    per-sample weights (sum only) and skipped padding entries."""
    flat = np.array([1, 2, 4, 5, 4, 3, 0])
    offsets = np.array([0, 2, 2, 5])
    out = []
    for mode in ("sum", "mean", "max"):
        out += [
            Sample((flat, rand(rng, 6, 3), offsets), {"mode": mode}),
            Sample((flat[:6].reshape(2, 3), rand(rng, 6, 3)), {"mode": mode, "padding_idx": -2}),
            Sample(
                (flat, rand(rng, 6, 3), np.append(offsets, 7)),
                {"mode": mode, "include_last_offset": True, "padding_idx": 4},
            ),
        ]
    return out


def _embedding_bag_weighted(rng: np.random.Generator) -> list[Sample]:
    return [
        Sample((np.array([1, 2, 4, 5, 4, 3]), rand(rng, 6, 3), np.array([0, 3]), rand(rng, 6)),
               {"mode": "sum"}),
        Sample((np.array([[1, 5], [4, 0], [2, 2]]), rand(rng, 6, 3), None, rand(rng, 3, 2)),
               {"mode": "sum", "padding_idx": 5}),
    ]  # fmt: skip


def _affine_grid(rng: np.random.Generator) -> list[Sample]:
    return [
        Sample((rand(rng, 2, 2, 3), (2, 1, 3, 4)), {"align_corners": True}),
        Sample((rand(rng, 1, 2, 3), (1, 2, 1, 5)), {"align_corners": False}),
        Sample((rand(rng, 2, 3, 4), (2, 1, 2, 3, 2)), {"align_corners": False}),
    ]


def _grid_sample(rng: np.random.Generator) -> list[Sample]:
    """Every padding mode, both corner conventions, 2-D and 5-D (trilinear) input; the grid
    reaches past [-1, 1] so that padding matters. Nearest gives the grid no gradient."""
    out = []
    for padding, align in (("zeros", False), ("border", True), ("reflection", False)):
        for mode in ("bilinear", "nearest"):
            kw = {"mode": mode, "padding_mode": padding, "align_corners": align}
            nograd = (1,) if mode == "nearest" else ()
            out.append(
                Sample(
                    (rand(rng, 2, 2, 3, 4), rand(rng, 2, 3, 2, 2, low=-1.5, high=1.5)), kw, nograd
                )
            )
    out.append(
        Sample(
            (rand(rng, 1, 2, 2, 3, 3), rand(rng, 1, 2, 2, 1, 3, low=-1.3, high=1.3)),
            {"padding_mode": "reflection", "align_corners": True},
        )
    )
    return out


_WEIGHTED = ("l1_loss", "mse_loss", "huber_loss")

SPECS = [
    # activations
    spec("gelu", with_kwargs({}, {"approximate": "tanh"})),
    spec("elu", with_kwargs({}, {"alpha": 0.5})),
    spec("celu", with_kwargs({}, {"alpha": 2.0})),
    spec("selu", with_kwargs({})),
    spec("leaky_relu", with_kwargs({}, {"negative_slope": 0.2})),
    spec("hardtanh", with_kwargs({}, {"min_val": -0.5, "max_val": 1.5})),
    spec("relu6", with_kwargs({}, low=-3.0, high=9.0)),
    # float32 only: torch's float64 gradient uses a float32 1/6 (ember's is exact)
    spec("hardsigmoid", with_kwargs({}, low=-5.0, high=5.0), dtypes=("float32",)),
    spec("hardswish", with_kwargs({}, low=-5.0, high=5.0)),
    spec("silu", with_kwargs({})),
    spec("mish", with_kwargs({})),
    spec("softplus", with_kwargs({}, {"beta": 2.0, "threshold": 3.0})),
    spec("softsign", with_kwargs({})),
    spec("logsigmoid", with_kwargs({})),
    spec("sigmoid", with_kwargs({})),
    spec("tanh", with_kwargs({})),
    spec("glu", _glu),
    spec("threshold", _threshold),
    spec("softmin", _softmin),
    # losses
    spec("l1_loss", _regression({}, {"reduction": "sum"}, {"reduction": "none"})),
    spec("mse_loss", _regression({"reduction": "none"})),
    spec("huber_loss", _regression({}, {"delta": 0.7, "reduction": "sum"})),
    *(keyword_spec(n, "weight", _weighted_regression, 2, "weight") for n in _WEIGHTED),
    spec("smooth_l1_loss", _smooth_l1),
    spec("kl_div", _kl_div),
    spec("nll_loss", _nll),
    spec("binary_cross_entropy", _bce),
    spec("binary_cross_entropy_with_logits", _bce_logits),
    keyword_spec(
        "binary_cross_entropy_with_logits", "pos_weight", _bce_pos_weight, 2, "pos_weight"
    ),
    spec("margin_ranking_loss", _margin_ranking),
    spec("hinge_embedding_loss", _hinge),
    spec("soft_margin_loss", _soft_margin),
    spec("multilabel_soft_margin_loss", _multilabel_soft),
    spec("cosine_embedding_loss", _cosine_embedding),
    spec("triplet_margin_loss", _triplet),
    spec("triplet_margin_with_distance_loss", _triplet_distance),
    spec("multi_margin_loss", _multi_margin),
    spec("multilabel_margin_loss", _multilabel_margin),
    spec("poisson_nll_loss", _poisson),
    keyword_spec("gaussian_nll_loss", "var", _gaussian, 2, "var"),
    # more activations
    spec("hardshrink", _shrink),
    spec("softshrink", _shrink),
    spec("tanhshrink", with_kwargs({})),
    spec("rrelu", with_kwargs({}, {"lower": 0.05, "upper": 0.5})),
    # distances, normalisation and shape
    spec("pairwise_distance", _distance),
    spec("pdist", _pdist),
    spec("rms_norm", _rms_norm),
    spec("local_response_norm", _lrn),
    spec("channel_shuffle", _channel_shuffle, grad=False),  # torch's has no autograd formula
    spec("native_channel_shuffle", _channel_shuffle, grad=False),
    # pooling
    spec("max_pool1d_with_indices", _pool1d),
    spec("max_pool2d_with_indices", _pool2d),
    spec("max_pool3d_with_indices", _pool3d),
    spec("lp_pool1d", _lp1d),
    spec("lp_pool2d", _lp2d),
    spec("lp_pool3d", _lp3d),
    spec("adaptive_max_pool1d", _adaptive_max1d),
    spec("adaptive_max_pool2d", _adaptive_max2d),
    spec("adaptive_max_pool3d", _adaptive_max3d),
    spec("adaptive_max_pool1d_with_indices", _with_indices(_adaptive_max1d)),
    spec("adaptive_max_pool2d_with_indices", _with_indices(_adaptive_max2d)),
    spec("adaptive_max_pool3d_with_indices", _with_indices(_adaptive_max3d)),
    spec("max_unpool1d", _unpool(TF.max_pool1d, 1)),
    spec("max_unpool2d", _unpool(TF.max_pool2d, 2)),
    spec("max_unpool3d", _unpool(TF.max_pool3d, 3)),
    spec("embedding_bag", _embedding_bag),
    keyword_spec("embedding_bag", "weighted", _embedding_bag_weighted, 3, "per_sample_weights"),
    spec("affine_grid", _affine_grid),
    spec("grid_sample", _grid_sample),
    # normalisation and shape
    spec("instance_norm", _instance_norm),
    keyword_spec("instance_norm", "affine", _instance_norm_affine, 1, "weight", "bias"),
    spec("pixel_shuffle", _pixel_shuffle),
    spec("pixel_unshuffle", _pixel_unshuffle),
]
