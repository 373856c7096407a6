"""Random draws into an existing tensor (``uniform_``, ``normal_``, ``bernoulli_`` …), the
``bernoulli``/``multinomial`` methods, and ``binomial``/``poisson``, all from ember's
generators (the default one unless ``generator`` is given), with torch's argument checks.
``install()`` adds the Tensor methods when ember loads.

An in-place draw counts as an in-place op for autograd, as torch's does: refused on a leaf that
requires grad, and no gradient flows through the drawn values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ember import dtypes
from ember.creation import zeros
from ember.ops import core
from ember.ops.elementwise import where
from ember.random import Generator, bernoulli, multinomial, sample
from ember.tensor import Tensor

__all__ = ["binomial", "poisson"]

Draw = Callable[[np.random.Generator, tuple[int, ...]], np.ndarray]


def _fill(self: Tensor, op: str, draw: Draw, generator: Generator | None) -> Tensor:
    """Write ``draw(rng, shape)`` (float64 or int64 values) into ``self``."""
    shape, d = tuple(self.shape), self.dtype
    values = sample(
        lambda rng: draw(rng, shape).astype(d.np), generator=generator, dtype=d, device=self.device
    )
    return _write(self, values, op)


def _write(self: Tensor, values: Tensor, op: str) -> Tensor:
    """``values`` written into ``self`` as the in-place op ``op``: the graph then sends a zero
    gradient to what ``self`` held (``where`` with an all-false mask keeps the node)."""

    def replace(x: Tensor) -> Tensor:
        if not x.requires_grad:
            return values
        return where(zeros(*shape, dtype=dtypes.bool_, device=x.device), x, values)

    shape = tuple(self.shape)
    return core.inplace(self, replace, op)


def _floating(self: Tensor, op: str, distribution: str | None = None) -> None:
    """Continuous draws need a floating tensor."""
    if self.dtype.is_floating_point:
        return
    if distribution is None:
        raise NotImplementedError(f"\"{op}\" not implemented for '{self.dtype.name}'")
    raise RuntimeError(
        f"{distribution} distribution is a continuous probability distribution. dtype must be "
        f"a floating point but you specified {self.dtype.name}"
    )


def _uniform_(
    self: Tensor, from_: float = 0.0, to: float = 1.0, *, generator: Generator | None = None
) -> Tensor:
    """Fill with values drawn uniformly from [from, to)."""
    _floating(self, "uniform_")
    if from_ > to:
        raise RuntimeError(
            f"uniform_ expects to return a [from, to) range, but found from={from_} > to={to}"
        )
    return _fill(self, "uniform_", lambda rng, s: rng.uniform(from_, to, s), generator)


def _normal_(
    self: Tensor, mean: float = 0.0, std: float = 1.0, *, generator: Generator | None = None
) -> Tensor:
    """Fill with normal draws of ``mean`` and ``std``."""
    _floating(self, "normal_")
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    return _fill(self, "normal_", lambda rng, s: rng.normal(mean, std, s), generator)


def _log_normal_(
    self: Tensor, mean: float = 1.0, std: float = 2.0, *, generator: Generator | None = None
) -> Tensor:
    """Fill with exp of normal draws of ``mean`` and ``std``."""
    _floating(self, "log_normal_")
    if not std > 0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std}")
    return _fill(self, "log_normal_", lambda rng, s: rng.lognormal(mean, std, s), generator)


def _exponential_(
    self: Tensor, lambd: float = 1.0, *, generator: Generator | None = None
) -> Tensor:
    """Fill with exponential draws of rate ``lambd`` (mean 1 / lambd)."""
    _floating(self, "exponential_", "Exponential")
    if not lambd > 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
    return _fill(self, "exponential_", lambda rng, s: rng.exponential(1.0 / lambd, s), generator)


def _cauchy_(
    self: Tensor, median: float = 0.0, sigma: float = 1.0, *, generator: Generator | None = None
) -> Tensor:
    """Fill with Cauchy draws centred on ``median`` with scale ``sigma``."""
    _floating(self, "cauchy_", "Cauchy")
    if not sigma > 0:
        raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={sigma}")
    return _fill(self, "cauchy_", lambda rng, s: median + sigma * rng.standard_cauchy(s), generator)


def _geometric_(self: Tensor, p: float, *, generator: Generator | None = None) -> Tensor:
    """Fill with the number of Bernoulli(p) trials up to and including the first success."""
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p}")
    return _fill(self, "geometric_", lambda rng, s: rng.geometric(p, s), generator)


def _bernoulli_(self: Tensor, p: Any = 0.5, *, generator: Generator | None = None) -> Tensor:
    """Fill with 1 with probability ``p`` (a number or a tensor broadcast to this shape),
    else 0."""
    return _write(self, bernoulli(self, p, generator=generator), "bernoulli_")


def _random_(
    self: Tensor, from_: int = 0, to: int | None = None, *, generator: Generator | None = None
) -> Tensor:
    """Fill with integers drawn uniformly from [from, to); ``random_(to)`` means [0, to) and
    ``random_()`` every integer the dtype holds exactly (up to 2**24 for float32)."""
    for value in (from_, to):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise TypeError(
                f"random_: expected integer bounds (from, to), got {type(value).__name__}"
            )
    if to is None and from_ != 0:  # random_(to)
        from_, to = 0, from_
    if to is None:
        to = _largest(self.dtype) + 1
    if from_ >= to:
        raise RuntimeError(
            f"random_ expects 'from' to be less than 'to', but got from={from_} >= to={to}"
        )
    return _fill(
        self, "random_", lambda rng, s: rng.integers(from_, to, s, dtype=np.int64), generator
    )


def _largest(d: dtypes.dtype) -> int:
    """The largest integer ``random_()`` draws for dtype ``d``: every integer below it is
    exactly representable."""
    if d is dtypes.bool_:
        return 1
    if d.is_floating_point:
        return 2 ** (np.finfo(d.np).nmant + 1)
    return int(np.iinfo(d.np).max)


def _float_tensor(op: str, name: str, t: Any) -> None:
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}(): argument '{name}' must be Tensor, not {type(t).__name__}")
    if not t.is_floating_point():
        raise ValueError(
            f"{op} only supports floating-point dtypes for {name}, got: {t.dtype.name}"
        )


def binomial(count: Tensor, prob: Tensor, generator: Generator | None = None) -> Tensor:
    """Successes in ``count`` Bernoulli(``prob``) trials, elementwise (broadcast), in count's
    floating dtype."""
    _float_tensor("binomial", "count", count)
    _float_tensor("binomial", "prob", prob)
    n, p = count.detach().cpu().numpy(), prob.detach().cpu().numpy()
    if not np.all((p >= 0) & (p <= 1)) or not np.all(n >= 0):
        raise ValueError("binomial: expected counts >= 0 and probabilities in [0, 1]")
    shape = np.broadcast_shapes(n.shape, p.shape)
    return sample(
        lambda rng: rng.binomial(np.round(n).astype(np.int64), p, shape).astype(count.dtype.np),
        generator=generator,
        dtype=count.dtype,
        device=count.device,
    )


def poisson(input: Tensor, generator: Generator | None = None) -> Tensor:
    """A Poisson draw for each rate in ``input`` (non-negative), in its dtype."""
    _float_tensor("poisson", "input", input)
    rates = input.detach().cpu().numpy()
    if not np.all(rates >= 0):
        raise RuntimeError("invalid Poisson rate, expected rate to be non-negative")
    return sample(
        lambda rng: rng.poisson(rates).astype(input.dtype.np),
        generator=generator,
        dtype=input.dtype,
        device=input.device,
    )


def install() -> None:
    """Add the Tensor methods of this module (torch spells the bounds ``from``, a Python
    keyword: ember's take them by position or as ``from_``)."""
    methods = {
        "uniform_": _uniform_,
        "normal_": _normal_,
        "log_normal_": _log_normal_,
        "exponential_": _exponential_,
        "cauchy_": _cauchy_,
        "geometric_": _geometric_,
        "bernoulli_": _bernoulli_,
        "bernoulli": bernoulli,
        "random_": _random_,
        "multinomial": multinomial,
    }
    for name, method in methods.items():
        setattr(Tensor, name, method)


install()
