"""``torch.special``: the special functions under their SciPy-style names, beside the ones
that also live at the top level (``ember.special.gammaln`` is ``ember.lgamma``)."""

from __future__ import annotations

import math
from typing import Any

from ember.ops.elementwise import erf, exp2, expm1, log1p, round, sigmoid
from ember.ops.extra import logit, sinc, xlogy
from ember.ops.reduce import log_softmax, logsumexp, softmax
from ember.ops.special import (
    digamma,
    erfc,
    erfinv,
    i0,
    i1,
    igamma,
    igammac,
    lgamma,
    mvlgamma,
    polygamma,
)

__all__ = [
    "digamma",
    "psi",
    "polygamma",
    "gammaln",
    "multigammaln",
    "erf",
    "erfc",
    "erfinv",
    "ndtr",
    "i0",
    "i1",
    "gammainc",
    "gammaincc",
    "expit",
    "exp2",
    "expm1",
    "log1p",
    "logit",
    "xlogy",
    "sinc",
    "round",
    "softmax",
    "log_softmax",
    "logsumexp",
]

psi = digamma
gammaln = lgamma
multigammaln = mvlgamma
gammainc = igamma
gammaincc = igammac
expit = sigmoid


def ndtr(input: Any) -> Any:
    """The standard normal distribution function: erfc(-input / sqrt(2)) / 2."""
    return erfc(input * (-1.0 / math.sqrt(2.0))) * 0.5
