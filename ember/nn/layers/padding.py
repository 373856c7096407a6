"""Padding layers: Reflection/Replication/Zero/ConstantPad 1d/2d/3d (``F.pad`` as modules)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from ember.nn import functional as F
from ember.nn.module import Module
from ember.tensor import Tensor

__all__ = [
    "ReflectionPad1d",
    "ReflectionPad2d",
    "ReflectionPad3d",
    "ReplicationPad1d",
    "ReplicationPad2d",
    "ReplicationPad3d",
    "ZeroPad1d",
    "ZeroPad2d",
    "ZeroPad3d",
    "ConstantPad1d",
    "ConstantPad2d",
    "ConstantPad3d",
    "CircularPad1d",
    "CircularPad2d",
    "CircularPad3d",
]


class _PadNd(Module):
    """Pads the last ``_dims`` dims by ``padding`` = (left, right, top, bottom, front, back)."""

    _dims: ClassVar[int]
    _mode: ClassVar[str]
    value = 0.0  # the fill of the constant modes

    def __init__(self, padding: int | Sequence[int]) -> None:
        super().__init__()
        n = 2 * self._dims
        pads = (int(padding),) * n if isinstance(padding, int) else tuple(int(p) for p in padding)
        if len(pads) != n:
            raise ValueError(
                f"{type(self).__name__}: padding must be an int or {n} ints, got {padding!r}"
            )
        self.padding = pads

    def forward(self, input: Tensor) -> Tensor:
        # torch pads only (unbatched or batched) inputs of its rank in the non-constant modes
        if self._mode != "constant" and input.ndim not in (self._dims + 1, self._dims + 2):
            raise ValueError(
                f"{type(self).__name__}: expected a {self._dims + 1}D or {self._dims + 2}D "
                f"input, got shape {tuple(input.shape)}"
            )
        return F.pad(input, self.padding, self._mode, self.value)

    def extra_repr(self) -> str:
        return str(self.padding)


class _ReflectionPad(_PadNd):
    _mode = "reflect"


class _ReplicationPad(_PadNd):
    _mode = "replicate"


class _CircularPad(_PadNd):
    _mode = "circular"


class _ConstantPad(_PadNd):
    _mode = "constant"

    def __init__(self, padding: int | Sequence[int], value: float) -> None:
        super().__init__(padding)
        self.value = value

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class _ZeroPad(_ConstantPad):
    def __init__(self, padding: int | Sequence[int]) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return str(self.padding)


class ReflectionPad1d(_ReflectionPad):
    """Mirror-pads the last dim (the edge itself is not repeated)."""

    _dims = 1


class ReflectionPad2d(_ReflectionPad):
    """Mirror-pads the last 2 dims."""

    _dims = 2


class ReflectionPad3d(_ReflectionPad):
    """Mirror-pads the last 3 dims."""

    _dims = 3


class ReplicationPad1d(_ReplicationPad):
    """Pads the last dim by repeating the edge value."""

    _dims = 1


class ReplicationPad2d(_ReplicationPad):
    """Pads the last 2 dims by repeating the edge values."""

    _dims = 2


class ReplicationPad3d(_ReplicationPad):
    """Pads the last 3 dims by repeating the edge values."""

    _dims = 3


class ZeroPad1d(_ZeroPad):
    """Pads the last dim with zeros (negative widths crop)."""

    _dims = 1


class ZeroPad2d(_ZeroPad):
    """Pads the last 2 dims with zeros (negative widths crop)."""

    _dims = 2


class ZeroPad3d(_ZeroPad):
    """Pads the last 3 dims with zeros (negative widths crop)."""

    _dims = 3


class ConstantPad1d(_ConstantPad):
    """Pads the last dim with ``value``."""

    _dims = 1


class ConstantPad2d(_ConstantPad):
    """Pads the last 2 dims with ``value``."""

    _dims = 2


class ConstantPad3d(_ConstantPad):
    """Pads the last 3 dims with ``value``."""

    _dims = 3


class CircularPad1d(_CircularPad):
    """Pads the last dim by wrapping around: the left pad is taken from the right end."""

    _dims = 1


class CircularPad2d(_CircularPad):
    """Pads the last 2 dims by wrapping around (periodic boundary)."""

    _dims = 2


class CircularPad3d(_CircularPad):
    """Pads the last 3 dims by wrapping around (periodic boundary)."""

    _dims = 3
