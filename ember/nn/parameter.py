"""Parameter: a Tensor that a Module registers as learnable state."""

from __future__ import annotations

from typing import Any

import numpy as np

from ember.tensor import Tensor

__all__ = ["Parameter", "Buffer"]


class Parameter(Tensor):
    """A tensor that is a module parameter: assigning it to a Module attribute registers it.

    It shares memory with ``data`` and requires grad by default.

    >>> import ember
    >>> ember.nn.Parameter(ember.ones(2)).requires_grad
    True
    """

    __slots__ = ()

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True) -> None:
        if data is None:
            from ember.creation import empty

            data = empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter: expected a Tensor as data, got {type(data).__name__}")
        self._data = data._data
        self._vc = data._vc
        self.grad = None
        self.requires_grad = False
        self.node = None
        self._base = None
        self._hooks = None
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__

    def __deepcopy__(self, memo: dict) -> Parameter:
        p = Parameter(Tensor._wrap(self._data.copy()), self.requires_grad)
        if self.grad is not None:
            p.grad = Tensor._wrap(self.grad._data.copy())
        memo[id(self)] = p
        return p

    def __reduce_ex__(self, protocol: Any) -> Any:
        return (_rebuild_parameter, (self.numpy(force=True), self.requires_grad))


class Buffer(Tensor):
    """Marks a tensor to be registered as a buffer when assigned to a Module attribute."""

    __slots__ = ("persistent",)

    def __init__(self, data: Tensor, *, persistent: bool = True) -> None:
        if not isinstance(data, Tensor):
            raise TypeError(f"Buffer: expected a Tensor as data, got {type(data).__name__}")
        self._data = data._data
        self._vc = data._vc
        self.grad = None
        self.requires_grad = data.requires_grad
        self.node = None
        self._base = None
        self._hooks = None
        self.persistent = persistent


def _rebuild_parameter(array: np.ndarray, requires_grad: bool) -> Parameter:
    return Parameter(Tensor._wrap(array), requires_grad)
