"""Run one PyTorch program twice, with torch and with ember as ``torch``, and compare losses.

A program is a function ``program(torch, init, **extra) -> list[float]`` written once against
the framework module it is given. ``init(name, model)`` gives both runs the same initial
weights: the torch run records its model's freshly initialised state_dict as NumPy arrays, the
ember run loads those arrays. Everything random besides that is drawn from NumPy by the program.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import ember

Program = Callable[..., list[float]]


class SharedInit:
    """Records initial weights by model name on the first run and loads them on the second."""

    def __init__(self, store: dict[str, dict[str, np.ndarray]], lib: ModuleType) -> None:
        self._store = store
        self._lib = lib

    def __call__(self, name: str, model: Any) -> Any:
        if name not in self._store:
            state = model.state_dict()
            self._store[name] = {k: v.detach().numpy().copy() for k, v in state.items()}
        else:
            arrays = self._store[name]
            model.load_state_dict({k: self._lib.from_numpy(a.copy()) for k, a in arrays.items()})
        return model


def run_both(program: Program, **extra: Any) -> tuple[list[float], list[float]]:
    """The program's losses with torch, then with ember from torch's initial weights."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)  # torch's default initialisation, reproducible from run to run
    store: dict[str, dict[str, np.ndarray]] = {}
    expected = program(torch, SharedInit(store, torch), **extra)
    actual = program(ember, SharedInit(store, ember), **extra)
    return expected, actual


def assert_same_losses(program: Program, rtol: float = 1e-5, **extra: Any) -> None:
    """Both runs give the same number of losses and they agree to ``rtol``."""
    expected, actual = run_both(program, **extra)
    assert len(actual) == len(expected) >= 3, (len(actual), len(expected))
    assert all(np.isfinite(expected)) and len(set(expected)) > 1, expected  # it trains
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=0.0)
