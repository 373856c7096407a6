"""Memory layouts: ember's tensors are all dense and strided (``ember.strided``), the one
layout torch's ``layout=`` arguments take here."""

from __future__ import annotations

from typing import Any

__all__ = ["layout", "strided", "check_layout"]


class layout:  # noqa: N801 - torch's name
    """A memory layout; ``ember.strided`` is the only one (no sparse or MKL-DNN tensors)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"ember.{self.name}"

    def __reduce__(self) -> str:
        return self.name  # pickles as the module attribute: one object per layout


strided = layout("strided")


def check_layout(op: str, value: Any) -> None:
    """Refuse a ``layout=`` other than ``ember.strided`` (None means the default, strided)."""
    if value is not None and value is not strided:
        raise RuntimeError(
            f"{op}: only the strided layout exists in ember (no sparse tensors), got {value!r}"
        )
