"""``save_image`` / ``make_grid``: enough for programs that write sample grids."""

from __future__ import annotations

from typing import Any


def make_grid(
    tensor: Any, nrow: int = 8, padding: int = 2, normalize: bool = False, **_: Any
) -> Any:
    """Return the batch unchanged (the programs only pass it on to be saved)."""
    return tensor


def save_image(tensor: Any, fp: Any, nrow: int = 8, **_: Any) -> None:
    """Read the tensor's values back (as the real one does) and write nothing."""
    tensor.detach().cpu().numpy()
