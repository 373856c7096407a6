"""How tensors print: PyTorch's layout (one number style and width per tensor, rows wrapped at
the line width, big tensors summarised by their edges) under options that
``set_printoptions`` changes."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ember import dtypes

__all__ = ["set_printoptions"]


@dataclass
class PrintOptions:
    precision: int = 4  # digits after the point (fixed and scientific styles)
    threshold: float = 1000  # more elements than this are summarised
    edgeitems: int = 3  # items kept at each end of a summarised dimension
    linewidth: int = 80  # characters per line before wrapping
    sci_mode: bool | None = None  # force (True) or forbid (False) scientific notation


OPTIONS = PrintOptions()
_PROFILES = {
    "default": dict(precision=4, threshold=1000, edgeitems=3, linewidth=80),
    "short": dict(precision=2, threshold=1000, edgeitems=2, linewidth=80),
    "full": dict(precision=4, threshold=math.inf, edgeitems=3, linewidth=80),
}
_INDENT = len("tensor(")


def set_printoptions(
    precision: int | None = None,
    threshold: float | None = None,
    edgeitems: int | None = None,
    linewidth: int | None = None,
    profile: str | None = None,
    sci_mode: bool | None = None,
) -> None:
    """Change how tensors print from now on: ``profile`` ("default", "short" or "full") first,
    then each option given; ``sci_mode`` is always set (None: chosen per tensor)."""
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(
                f"set_printoptions: profile must be one of {sorted(_PROFILES)}, got {profile!r}"
            )
        for name, value in _PROFILES[profile].items():
            setattr(OPTIONS, name, value)
    given = dict(precision=precision, threshold=threshold, edgeitems=edgeitems, linewidth=linewidth)
    for name, value in given.items():
        if value is not None:
            setattr(OPTIONS, name, value)
    OPTIONS.sci_mode = sci_mode


def _edges(arr: np.ndarray) -> np.ndarray:
    """The values printed for a summarised array: ``edgeitems`` at both ends of each dim."""
    edge = OPTIONS.edgeitems
    for axis in range(arr.ndim):
        if arr.shape[axis] > 2 * edge:
            idx = np.r_[0:edge, arr.shape[axis] - edge : arr.shape[axis]]
            arr = arr.take(idx, axis=axis)
    return arr


class _Formatter:
    """PyTorch's number formatting: one style and one right-aligned width for all elements."""

    def __init__(self, values: np.ndarray) -> None:
        self.floating = values.dtype in dtypes.FLOATING
        self.style = "plain"
        values = values.ravel()
        if not self.floating:
            texts = [str(v) for v in values.tolist()]
            self.width = max((len(t) for t in texts), default=1)
            return
        # only nonzero finite values set the style and width; 0, nan and inf just pad to it
        finite = values.astype(np.float64)
        finite = finite[np.isfinite(finite) & (finite != 0)]
        integral = bool(np.all(finite == np.ceil(finite)))
        self.style = "int"
        if finite.size:
            lo, hi = np.abs(finite).min(), np.abs(finite).max()
            wide = hi / lo > 1000.0 or hi > 1e8
            if integral:
                self.style = "sci" if wide else "int"
            else:
                self.style = "sci" if wide or lo < 1e-4 else "fixed"
        if finite.size and OPTIONS.sci_mode is not None:
            self.style = "sci" if OPTIONS.sci_mode else ("int" if integral else "fixed")
        self.width = 1
        self.width = max((len(self.format(v)) for v in finite.tolist()), default=1)

    def format(self, v: Any) -> str:
        if self.style == "sci":
            text = f"{v:.{OPTIONS.precision}e}"
        elif self.style == "fixed":
            text = f"{v:.{OPTIONS.precision}f}"
        elif self.floating:
            text = f"{v:.0f}" + ("" if np.isnan(v) or np.isinf(v) else ".")
        else:
            text = str(v)
        return text.rjust(self.width)


def format_array(arr: np.ndarray) -> str:
    """The nested-bracket body of a tensor's repr, wrapped at the line width like PyTorch's."""
    summarize = arr.size > OPTIONS.threshold
    edge = OPTIONS.edgeitems
    fmt = _Formatter(_edges(arr) if summarize else arr)
    per_line = max(int((OPTIONS.linewidth - _INDENT) // (fmt.width + 2)), 1)
    if arr.ndim == 0:
        return fmt.format(arr.item())

    def rows(a: np.ndarray, indent: int) -> str:
        n = a.shape[0]
        cut = summarize and n > 2 * edge
        keep = [*range(edge), None, *range(n - edge, n)] if cut else range(n)
        if a.ndim == 1:
            items = [" ..." if i is None else fmt.format(a[i].item()) for i in keep]
            lines = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
            return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
        parts = ["..." if i is None else rows(a[i], indent + 1) for i in keep]
        return "[" + ("," + "\n" * (a.ndim - 1) + " " * (indent + 1)).join(parts) + "]"

    return rows(arr, _INDENT)


def add_suffixes(text: str, suffixes: list[str]) -> str:
    """Append ``, suffix`` items, wrapping onto a new line past the line width (PyTorch's
    layout)."""
    last = len(text) - text.rfind("\n") - 1
    for suffix in suffixes:
        if last + len(suffix) + 2 > OPTIONS.linewidth:
            text += ",\n" + " " * _INDENT + suffix
            last = _INDENT + len(suffix)
        else:
            text += ", " + suffix
            last += len(suffix) + 2
    return text
