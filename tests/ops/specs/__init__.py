"""The op database: one entry per public op, driving every table-driven op test.

Each family module defines ``SPECS: list[OpSpec]``. An OpSpec names the primitives it covers
(a meta-test checks that every registered primitive is covered), the ember and torch callables
and a list of samples. Sample arguments that are NumPy arrays become tensors of the dtype
under test; floating ones require grad unless listed in ``nograd``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Sample:
    """Arguments for one call: arrays become tensors, everything else passes through."""

    args: tuple
    kwargs: dict = field(default_factory=dict)
    nograd: tuple[int, ...] = ()  # positions of float arrays that must not require grad
    label: str = ""

    def __repr__(self) -> str:
        shapes = [a.shape if isinstance(a, np.ndarray) else a for a in self.args]
        return f"Sample({self.label or shapes}, {self.kwargs})"


@dataclass
class OpSpec:
    name: str
    ember_fn: Callable[..., Any]
    torch_fn: Callable[..., Any]
    samples: Callable[[np.random.Generator], list[Sample]]
    prims: tuple[str, ...] = ()
    grad: bool = True
    gradcheck: bool = True  # finite differences in float64 (off for discontinuous ops)
    second_order: bool = False
    dtypes: tuple[str, ...] = ("float32", "float64")
    atol32: float = 1e-5
    rtol32: float = 1e-4


def rand(
    rng: np.random.Generator,
    *shape: int,
    low: float = -2.0,
    high: float = 2.0,
) -> np.ndarray:
    """Uniform float64 samples (values away from the kinks of abs/relu with high probability)."""
    return rng.uniform(low, high, size=shape)


def positive(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.uniform(0.5, 2.0, size=shape)


def noncontiguous(a: np.ndarray) -> np.ndarray:
    """The same values in a transposed (non C-contiguous) layout."""
    if a.ndim >= 2:
        return np.asfortranarray(a)
    if a.ndim == 1:
        return np.repeat(a, 2)[::2]  # a strided view
    return a


def all_specs() -> list[OpSpec]:
    from tests.ops.specs import (
        elementwise,
        extra,
        fused,
        index,
        linalg,
        linalg_extra,
        movement,
        nn_functional,
        numeric,
        reduce,
        scatter_extra,
        shape_extra,
        special,
        stats,
        toplevel,
    )
    from tests.ops.specs.forms import forms_of

    modules = [
        elementwise,
        extra,
        reduce,
        movement,
        index,
        linalg,
        fused,
        nn_functional,
        toplevel,
        special,
        numeric,
        shape_extra,
        stats,
        linalg_extra,
        scatter_extra,
    ]
    try:
        from tests.ops.specs import conv  # noqa: F401

        modules.append(conv)
    except ImportError:
        pass
    specs = [s for m in modules for s in m.SPECS]
    specs += forms_of(specs)
    names = [s.name for s in specs]
    dupes = {n for n in names if names.count(n) > 1}
    assert not dupes, f"duplicate op spec names: {dupes}"
    return specs
