"""Names shared by ember.distributed's API and its backends: reduction ops and errors."""

from __future__ import annotations

import enum

__all__ = ["ReduceOp", "DistError", "DistBackendError"]


class ReduceOp(enum.Enum):
    """How ``all_reduce``/``reduce``/``reduce_scatter`` combine the ranks' values."""

    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"
    BAND = "band"
    BOR = "bor"
    BXOR = "bxor"

    def __repr__(self) -> str:
        return f"<ReduceOp.{self.name}>"


class DistError(RuntimeError):
    """A failure of a distributed operation."""


class DistBackendError(DistError):
    """A collective failed in its backend: timed out, a peer died, or ranks disagreed."""
