"""Regularisation tools beyond dropout (ember-only): GaussianNoise and ActivityRegularizer."""

from __future__ import annotations

from typing import Any

from ember import random
from ember.creation import zeros
from ember.nn.module import Module, RemovableHandle
from ember.tensor import Tensor

__all__ = ["GaussianNoise", "gaussian_noise", "ActivityRegularizer"]


def gaussian_noise(input: Tensor, std: float, training: bool = True) -> Tensor:
    """``input + N(0, std²)`` noise (from ember's default generator) when ``training``."""
    if std < 0:
        raise ValueError(f"gaussian_noise: std must be non-negative, got {std}")
    if not training or std == 0:
        return input
    return input + random.randn(*input.shape, dtype=input.dtype, device=input.device) * std


class GaussianNoise(Module):
    """Adds zero-mean Gaussian noise of ``std`` to its input in training; identity in eval.

    A cheap regulariser for small data sets (input or hidden-layer noise). Shape: unchanged.

    >>> import ember
    >>> ember.nn.GaussianNoise(0.1).eval()(ember.ones(2)).tolist()
    [1.0, 1.0]
    """

    def __init__(self, std: float) -> None:
        super().__init__()
        if std < 0:
            raise ValueError(f"GaussianNoise: std must be non-negative, got {std}")
        self.std = std

    def forward(self, input: Tensor) -> Tensor:
        return gaussian_noise(input, self.std, self.training)

    def extra_repr(self) -> str:
        return f"std={self.std}"


class ActivityRegularizer:
    """Penalises large activations of ``module``: adds ``l1·Σ|y| + l2·Σy²`` per forward.

    A forward hook on ``module`` records the term for every call made in training mode; the
    sums run over all elements of the output (each tensor of a tuple output) and are divided
    by the batch size (the first dim), so the penalty does not grow with the batch.

    Use it as::

        reg = ActivityRegularizer(model.encoder, l1=1e-4)
        loss = criterion(model(x), y) + reg.penalty()
        loss.backward()
        reg.reset()              # once per step, or the terms (and their graphs) pile up

    ``remove()`` detaches the hook. It is not a Module, so assigning it to a model attribute
    does not register anything.
    """

    def __init__(self, module: Module, l1: float = 0.0, l2: float = 0.0) -> None:
        if not isinstance(module, Module):
            raise TypeError(
                f"ActivityRegularizer: expected an ember.nn.Module, got {type(module).__name__}"
            )
        if l1 < 0 or l2 < 0:
            raise ValueError(
                f"ActivityRegularizer: l1 and l2 must be non-negative, got l1={l1}, l2={l2}"
            )
        self.module = module
        self.l1 = l1
        self.l2 = l2
        self._terms: list[Tensor] = []
        self._handle: RemovableHandle = module.register_forward_hook(self._record)

    def _term(self, y: Tensor) -> Tensor:
        term = zeros((), dtype=y.dtype, device=y.device)
        if self.l1:
            term = term + y.abs().sum() * self.l1
        if self.l2:
            term = term + (y * y).sum() * self.l2
        return term / (y.shape[0] if y.ndim else 1)

    def _record(self, module: Module, args: tuple, output: Any) -> None:
        if not module.training:
            return
        outputs = output if isinstance(output, (tuple, list)) else (output,)
        for y in outputs:
            if isinstance(y, Tensor) and y.is_floating_point():
                self._terms.append(self._term(y))

    def penalty(self) -> Tensor:
        """The sum of the terms recorded since the last ``reset()`` (a 0-d tensor)."""
        if not self._terms:
            return zeros(())
        total = self._terms[0]
        for term in self._terms[1:]:
            total = total + term
        return total

    def reset(self) -> None:
        """Forget the recorded terms (call once per optimisation step)."""
        self._terms.clear()

    def remove(self) -> None:
        """Unregister the hook and forget the recorded terms."""
        self._handle.remove()
        self.reset()

    def __repr__(self) -> str:
        return f"ActivityRegularizer({type(self.module).__name__}, l1={self.l1}, l2={self.l2})"
