"""``torch.nn.modules.linear``: Identity, Linear, Bilinear (the same classes as ``ember.nn``),
and NonDynamicallyQuantizableLinear, which torch keeps out of ``torch.nn`` too."""

from __future__ import annotations

from ember.nn.layers.linear import *  # noqa: F403
from ember.nn.layers.linear import (
    NonDynamicallyQuantizableLinear,  # noqa: F401
    __all__,  # noqa: F401
)
