"""Op database: the functionals torch also exposes at top level (``torch.conv2d``,
``torch.batch_norm``, ``torch.kl_div`` …), called with torch's top-level spellings (positional
flags, the integer reduction enum), plus ``rsub``, ``fill`` and ``Tensor.prelu``/``hardshrink``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

import ember
from tests.ops.specs import OpSpec, Sample, positive, rand


def spec(name: str, samples: Callable, **options: object) -> OpSpec:
    """An entry comparing ``ember.<name>`` with ``torch.<name>``."""
    return OpSpec(f"torch.{name}", getattr(ember, name), getattr(torch, name), samples, **options)


def method(name: str, samples: Callable, **options: object) -> OpSpec:
    """An entry comparing the Tensor method ``name`` of both libraries."""
    call = lambda x, *rest: getattr(x, name)(*rest)  # noqa: E731
    return OpSpec(f"Tensor.{name}", call, call, samples, **options)


def _one(*shape: int, args: tuple = (), **kw: object) -> Callable:
    return lambda rng: [Sample((rand(rng, *shape), *args), kw)]


def _pm(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.choice([-1.0, 1.0], size=shape)


def _conv(dims: int, transpose: bool = False) -> Callable:
    def samples(rng: np.random.Generator) -> list[Sample]:
        x = rand(rng, 2, 4, *([5] * dims))
        w = rand(rng, *((4, 3) if transpose else (3, 4)), *([2] * dims))
        strided = (2, 1, 1) if transpose else (2, 1, 2)  # stride, padding, output_padding/dilation
        return [Sample((x, w, rand(rng, 3))), Sample((x, w, None, *strided))]

    return samples


def _pool(dims: int) -> Callable:
    return lambda rng: [
        Sample((rand(rng, 2, 3, *([6] * dims)), 2)),
        Sample((rand(rng, 2, 3, *([7] * dims)), 3, 2, 1, 1, True)),
    ]


def _batch_norm(rng: np.random.Generator) -> list[Sample]:
    x, w, b = rand(rng, 4, 3, 2), positive(rng, 3), rand(rng, 3)
    mean, var = rand(rng, 3), positive(rng, 3)
    return [
        Sample((x, w, b, mean, var, False, 0.1, 1e-5, False), nograd=(3, 4)),
        Sample((x, None, None, None, None, True, 0.1, 1e-3, True)),
    ]


def _instance_norm(rng: np.random.Generator) -> list[Sample]:
    x, w, b = rand(rng, 2, 3, 5), positive(rng, 3), rand(rng, 3)
    return [Sample((x, w, b, None, None, True, 0.1, 1e-5, False))]


def _embedding(rng: np.random.Generator) -> list[Sample]:
    w, idx = rand(rng, 5, 3), np.array([[0, 4, 2], [2, 2, 1]])
    return [Sample((w, idx)), Sample((w, idx, 2)), Sample((w, idx, -1))]


def _embedding_bag(rng: np.random.Generator) -> list[Sample]:
    """Every mode, with the last offset included, padding, and weights per index; float64
    weights make torch fill offset2bag in sum mode too (its float32 kernel leaves it empty)."""
    w, idx, offsets = rand(rng, 5, 3), np.array([0, 4, 2, 2, 1, 3]), np.array([0, 2, 2])
    return [
        Sample((w, idx, offsets)),
        Sample((w, idx, offsets, False, 1)),
        Sample((w, idx, offsets, False, 2)),
        Sample((w, idx, np.array([0, 3, 6]), False, 1, False, None, True)),
        Sample((w, idx, offsets, False, 2, False, None, False, 2)),
        Sample((w, idx, offsets, False, 0, False, positive(rng, 6))),
    ]


def _kl_div(rng: np.random.Generator) -> list[Sample]:
    x, t = np.log(positive(rng, 3, 4)), positive(rng, 3, 4)
    return [
        Sample((x, t), nograd=(1,)),
        Sample((x, np.log(t), 2), {"log_target": True}, nograd=(1,)),
        Sample((x, t, 0), nograd=(1,)),
    ]


def _bce_logits(rng: np.random.Generator) -> list[Sample]:
    x, t = rand(rng, 3, 4), rng.uniform(0, 1, (3, 4))
    return [
        Sample((x, t), nograd=(1,)),
        Sample((x, t, positive(rng, 4), positive(rng, 4), 2), nograd=(1, 2, 3)),
        Sample((x, t, None, positive(rng, 4), 0), nograd=(1, 3)),
    ]


def _poisson_nll(rng: np.random.Generator) -> list[Sample]:
    x, t = rand(rng, 3, 4), positive(rng, 3, 4)
    return [
        Sample((x, t, True, False, 1e-8, 1), nograd=(1,)),
        Sample((positive(rng, 3, 4), t, False, True, 1e-6, 0), nograd=(1,)),
    ]


def _pairs_with_sign(margin: float) -> Callable:
    return lambda rng: [
        Sample((rand(rng, 5), rand(rng, 5), _pm(rng, 5)), nograd=(2,)),
        Sample((rand(rng, 5), rand(rng, 5), _pm(rng, 5), margin, 2), nograd=(2,)),
    ]


def _hinge(rng: np.random.Generator) -> list[Sample]:
    return [
        Sample((rand(rng, 5), _pm(rng, 5)), nograd=(1,)),
        Sample((rand(rng, 5), _pm(rng, 5), 0.5, 2), nograd=(1,)),
    ]


def _cosine_embedding(rng: np.random.Generator) -> list[Sample]:
    return [
        Sample((rand(rng, 4, 3), rand(rng, 4, 3), _pm(rng, 4)), nograd=(2,)),
        Sample((rand(rng, 4, 3), rand(rng, 4, 3), _pm(rng, 4), 0.2, 0), nograd=(2,)),
    ]


def _triplet(rng: np.random.Generator) -> list[Sample]:
    a, p, n = rand(rng, 4, 3), rand(rng, 4, 3), rand(rng, 4, 3)
    return [Sample((a, p, n)), Sample((a, p, n, 2.0, 1.0, 1e-6, True, 0))]


def _prelu(rng: np.random.Generator) -> list[Sample]:
    return [
        Sample((rand(rng, 2, 3, 4), positive(rng, 3))),
        Sample((rand(rng, 5), positive(rng, 1))),
    ]


def _rsub(rng: np.random.Generator) -> list[Sample]:
    return [
        Sample((rand(rng, 3, 4), rand(rng, 4))),
        Sample((rand(rng, 3, 4), rand(rng, 3, 4)), {"alpha": 2.5}),
        Sample((rand(rng, 3, 4), 1.5, 2)),
        Sample((rng.integers(-5, 5, (3,)), 7)),
    ]


def _fill(rng: np.random.Generator) -> list[Sample]:
    return [Sample((rand(rng, 3, 4), 1.5)), Sample((rand(rng, 3), np.array(0.25)))]


SPECS = [
    *(spec(f"conv{d}d", _conv(d)) for d in (1, 2, 3)),
    *(spec(f"conv_transpose{d}d", _conv(d, transpose=True)) for d in (1, 2, 3)),
    *(spec(f"max_pool{d}d", _pool(d), gradcheck=False) for d in (1, 2, 3)),
    spec("max_pool1d_with_indices", _pool(1), gradcheck=False),
    spec("avg_pool1d", lambda rng: [Sample((rand(rng, 2, 3, 7), 3, 2, 1, True, False))]),
    spec("adaptive_avg_pool1d", _one(2, 3, 7, args=(3,))),
    spec("adaptive_max_pool1d", _one(2, 3, 7, args=(3,)), gradcheck=False),
    spec("batch_norm", _batch_norm),
    spec("instance_norm", _instance_norm),
    spec("layer_norm", lambda rng: [Sample((rand(rng, 2, 3, 4), [3, 4], positive(rng, 3, 4)))]),
    spec(
        "group_norm", lambda rng: [Sample((rand(rng, 2, 4, 3), 2, positive(rng, 4), rand(rng, 4)))]
    ),
    spec("rms_norm", lambda rng: [Sample((rand(rng, 2, 3, 4), [4], positive(rng, 4), 1e-5))]),
    spec("embedding", _embedding, gradcheck=False),
    spec(
        "embedding_bag", _embedding_bag, gradcheck=False
    ),  # max: a kink at ties  # the padding row gets no gradient
    spec("bilinear", lambda rng: [Sample((rand(rng, 3, 2), rand(rng, 3, 4), rand(rng, 5, 2, 4)))]),
    spec("kl_div", _kl_div),
    spec("binary_cross_entropy_with_logits", _bce_logits),
    spec("poisson_nll_loss", _poisson_nll),
    spec("hinge_embedding_loss", _hinge),
    spec("margin_ranking_loss", _pairs_with_sign(0.3), gradcheck=False),
    spec("cosine_embedding_loss", _cosine_embedding),
    spec("triplet_margin_loss", _triplet),
    spec("cosine_similarity", lambda rng: [Sample((rand(rng, 3, 4), rand(rng, 3, 4), 0))]),
    spec("pairwise_distance", lambda rng: [Sample((rand(rng, 3, 4), rand(rng, 3, 4), 1.5))]),
    spec("celu", _one(3, 4, args=(0.5,))),  # torch scales by 1/alpha in float32
    spec("selu", _one(3, 4)),
    spec("rrelu", _one(3, 4, args=(0.1, 0.3))),
    spec("prelu", _prelu),
    spec("hardshrink", _one(3, 4, args=(0.8,))),
    spec("threshold", _one(3, 4, args=(0.5, -1.0))),
    spec("pixel_shuffle", _one(1, 8, 2, 3, args=(2,))),
    spec("pixel_unshuffle", _one(1, 2, 4, 6, args=(2,))),
    spec("channel_shuffle", _one(2, 6, 3, args=(3,))),
    spec("softmax", _one(3, 4, args=(1,))),
    spec("log_softmax", _one(3, 4, args=(0,))),
    spec("rsub", _rsub),
    spec("fill", _fill),
    method("prelu", _prelu),
    method("hardshrink", _one(3, 4, args=(0.3,))),
]
