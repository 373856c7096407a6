"""Window functions for spectral analysis (Hann, Hamming, Blackman, Bartlett, Kaiser), as
torch defines them: a periodic window of length N is the symmetric one of length N + 1 without
its last value (what an N-point DFT wants)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ember import dtypes
from ember.creation import from_host
from ember.layouts import check_layout
from ember.tensor import Tensor

__all__ = ["hann_window", "hamming_window", "blackman_window", "bartlett_window", "kaiser_window"]


def _window(
    op: str,
    window_length: int,
    periodic: bool,
    symmetric: Callable[[np.ndarray, int], np.ndarray],
    dtype: Any,
    layout: Any,
    device: Any,
    requires_grad: bool,
) -> Tensor:
    """The window ``symmetric(n, N)`` for n = 0 … N-1 (computed in float64), periodic or not,
    as a tensor of a floating dtype (the default one unless given)."""
    d = dtypes.get_default_dtype() if dtype is None else dtypes.as_dtype(dtype)
    if not d.is_floating_point:
        raise RuntimeError(f"{op} expects floating point dtypes, got: {d.name}")
    check_layout(op, layout)
    if window_length < 0:
        raise RuntimeError(
            f"{op} requires non-negative window_length, got window_length={window_length}"
        )
    if window_length <= 1:
        values = np.ones(window_length)
    else:
        n = window_length + 1 if periodic else window_length
        values = symmetric(np.arange(n, dtype=np.float64), n)[:window_length]
    return from_host(values.astype(d.np), dtype=d, device=device, requires_grad=requires_grad)


def _cosine_sum(*coefficients: float) -> Callable[[np.ndarray, int], np.ndarray]:
    """sum_k (-1)^k a_k cos(2πkn / (N-1)): the generalised cosine windows."""

    def symmetric(n: np.ndarray, size: int) -> np.ndarray:
        phase = 2 * np.pi * n / (size - 1)
        return sum((-1) ** k * a * np.cos(k * phase) for k, a in enumerate(coefficients))

    return symmetric


def _fixed_window(
    op: str, symmetric: Callable[[np.ndarray, int], np.ndarray], what: str
) -> Callable[..., Tensor]:
    """The window function ``op`` (one without parameters of its own)."""

    def window(
        window_length: int,
        periodic: bool = True,
        *,
        dtype: Any = None,
        layout: Any = None,
        device: Any = None,
        requires_grad: bool = False,
    ) -> Tensor:
        return _window(op, window_length, periodic, symmetric, dtype, layout, device, requires_grad)

    window.__name__ = window.__qualname__ = op
    window.__doc__ = what
    return window


hann_window = _fixed_window(
    "hann_window",
    _cosine_sum(0.5, 0.5),
    "sin²(πn / (N-1)): a raised cosine reaching zero at both ends.",
)
blackman_window = _fixed_window(
    "blackman_window",
    _cosine_sum(0.42, 0.5, 0.08),
    "0.42 - 0.5 cos(2πn / (N-1)) + 0.08 cos(4πn / (N-1)).",
)
bartlett_window = _fixed_window(
    "bartlett_window",
    lambda n, size: 1 - np.abs(2 * n / (size - 1) - 1),
    "The triangle 1 - |2n / (N-1) - 1|.",
)


def hamming_window(
    window_length: int,
    periodic: bool = True,
    alpha: float = 0.54,
    beta: float = 0.46,
    *,
    dtype: Any = None,
    layout: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """alpha - beta cos(2πn / (N-1)) (a raised cosine that stops short of zero)."""
    return _window(
        "hamming_window",
        window_length,
        periodic,
        _cosine_sum(alpha, beta),
        dtype,
        layout,
        device,
        requires_grad,
    )


def kaiser_window(
    window_length: int,
    periodic: bool = True,
    beta: float = 12.0,
    *,
    dtype: Any = None,
    layout: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """I0(beta sqrt(1 - (2n / (N-1) - 1)²)) / I0(beta), I0 the modified Bessel function of
    order zero: larger ``beta`` gives a narrower window with lower side lobes."""
    if isinstance(beta, bool) or not isinstance(beta, (int, float, np.integer, np.floating)):
        raise TypeError(f"kaiser_window: beta must be a real number, got {type(beta).__name__}")

    def symmetric(n: np.ndarray, size: int) -> np.ndarray:
        ratio = 2 * n / (size - 1) - 1
        return np.i0(beta * np.sqrt(np.clip(1 - ratio * ratio, 0, None))) / np.i0(beta)

    return _window(
        "kaiser_window", window_length, periodic, symmetric, dtype, layout, device, requires_grad
    )
