"""Classification metrics accumulated over batches: ``accuracy``, ``topK_accuracy`` and loss."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["accuracy", "topk_accuracy", "MetricTracker"]

_TOPK = re.compile(r"top(\d+)_accuracy$")


def _host(t: Any) -> np.ndarray:
    return np.asarray(t.detach().numpy() if hasattr(t, "detach") else t)


def topk_correct(output: Any, target: Any, k: int) -> int:
    """How many rows of ``output`` [N, C] have ``target`` among their ``k`` largest scores."""
    logits, labels = _host(output), _host(target).astype(np.int64)
    if logits.ndim != 2 or labels.shape != logits.shape[:1]:
        raise ValueError(
            f"accuracy: expected output [N, C] and target [N], got {logits.shape} and "
            f"{labels.shape}"
        )
    if k == 1:
        return int((logits.argmax(axis=1) == labels).sum())
    top = np.argpartition(-logits, min(k, logits.shape[1]) - 1, axis=1)[:, :k]
    return int((top == labels[:, None]).any(axis=1).sum())


def accuracy(output: Any, target: Any) -> float:
    """Fraction of rows whose arg-max equals the target."""
    return topk_correct(output, target, 1) / max(len(_host(target)), 1)


def topk_accuracy(output: Any, target: Any, k: int = 5) -> float:
    """Fraction of rows whose target is among the ``k`` highest scores."""
    return topk_correct(output, target, k) / max(len(_host(target)), 1)


class MetricTracker:
    """Running sums of loss and the named metrics over an epoch (sample-weighted)."""

    def __init__(self, names: Sequence[str]) -> None:
        self.ks = {}
        for name in names:
            if name == "accuracy":
                self.ks[name] = 1
            elif (m := _TOPK.match(name)) is not None:
                self.ks[name] = int(m.group(1))
            elif name != "loss":
                raise ValueError(
                    f"fit: unknown metric {name!r}: expected 'accuracy', 'topK_accuracy' or 'loss'"
                )
        self.reset()

    def reset(self) -> None:
        self.count, self.loss_sum = 0, 0.0
        self.correct = dict.fromkeys(self.ks, 0)

    def update(self, loss: float, output: Any, target: Any) -> None:
        n = int(target.shape[0]) if hasattr(target, "shape") and len(target.shape) else 1
        self.count += n
        self.loss_sum += loss * n
        for name, k in self.ks.items():
            self.correct[name] += topk_correct(output, target, k)

    def result(self, prefix: str = "") -> dict[str, float]:
        n = max(self.count, 1)
        out = {f"{prefix}loss": self.loss_sum / n}
        out.update({f"{prefix}{name}": c / n for name, c in self.correct.items()})
        return out
