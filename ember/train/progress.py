"""Progress output: a tqdm bar on a terminal, one plain line per epoch otherwise."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = ["progress_bar", "format_logs"]


def _use_tqdm() -> bool:
    try:
        import tqdm  # noqa: F401
    except ImportError:
        return False
    return sys.stdout.isatty()


def progress_bar(iterable: Iterable[Any], enabled: bool, desc: str, total: int | None) -> Any:
    """``iterable`` wrapped in tqdm when ``enabled`` and stdout is a terminal."""
    if enabled and _use_tqdm():
        from tqdm import tqdm

        return tqdm(iterable, desc=desc, total=total, leave=False, dynamic_ncols=True)
    return _Plain(iterable)


class _Plain:
    """The same interface as a tqdm bar, printing nothing."""

    def __init__(self, iterable: Iterable[Any]) -> None:
        self.iterable = iterable

    def __iter__(self) -> Iterator[Any]:
        return iter(self.iterable)

    def set_postfix(self, **kwargs: Any) -> None:
        pass

    def close(self) -> None:
        pass


def format_logs(epoch: int, epochs: int, logs: dict[str, float]) -> str:
    """``epoch 3/10  loss 0.4123  accuracy 0.8571  val_loss …  time 12.3s``."""
    parts = [f"epoch {epoch}/{epochs}"]
    for key, value in logs.items():
        if key == "epoch":
            continue
        parts.append(f"{key} {value:.1f}s" if key == "time" else f"{key} {value:.4f}")
    return "  ".join(parts)
