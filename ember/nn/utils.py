"""Parameter utilities: flattening to a vector, gradient clipping and max-norm constraints."""

from __future__ import annotations

from collections.abc import Iterable

from ember.autograd import no_grad
from ember.nn.clip_grad import clip_grad_norm_, clip_grad_value_
from ember.nn.module import Module
from ember.nn.spectral_norm import spectral_norm as spectral_norm  # re-exported
from ember.ops.elementwise import where
from ember.ops.movement import cat
from ember.tensor import Tensor

__all__ = [
    "parameters_to_vector",
    "vector_to_parameters",
    "clip_grad_norm_",
    "clip_grad_value_",
    "max_norm_",
    "MaxNorm",
]


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and concatenated into one 1-D tensor."""
    flat = [p.reshape(-1) for p in parameters]
    if not flat:
        raise ValueError("parameters_to_vector: expected at least one parameter")
    return cat(flat)


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of the 1-D ``vec`` into ``parameters`` (in place)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: expected vec to be a Tensor, got {type(vec)}")
    if vec.ndim != 1:
        raise ValueError(f"vector_to_parameters: expected a 1-D vec, got shape {tuple(vec.shape)}")
    params = list(parameters)
    total = sum(p.numel() for p in params)
    if total != vec.numel():
        raise ValueError(
            f"vector_to_parameters: vec has {vec.numel()} elements but the parameters hold "
            f"{total}: {vec.numel()} vs {total}"
        )
    offset = 0
    with no_grad():
        for p in params:
            n = p.numel()
            p.copy_(vec[offset : offset + n].reshape(*p.shape))
            offset += n


def max_norm_(weight: Tensor, max_norm: float, dim: int = 0, norm_type: float = 2.0) -> Tensor:
    """Rescale, in place, each slice ``weight.select(dim, i)`` whose norm exceeds ``max_norm``.

    With the default ``dim=0`` a Linear/Conv weight has every output unit's incoming weights
    constrained (the max-norm regulariser of Srivastava et al., 2014).
    """
    if max_norm <= 0:
        raise ValueError(f"max_norm_: max_norm must be positive, got {max_norm}")
    if weight.ndim == 0:
        raise ValueError("max_norm_: expected a tensor with at least 1 dimension, got a 0-d one")
    dim = dim % weight.ndim
    others = tuple(d for d in range(weight.ndim) if d != dim)
    with no_grad():
        norms = weight.norm(norm_type, others, keepdim=True) if others else weight.abs()
        scale = where(norms > max_norm, max_norm / norms.clamp(min=1e-12), 1.0)
        weight.mul_(scale)
    return weight


class MaxNorm:
    """A max-norm constraint: call ``apply()`` after every ``optimizer.step()``.

    Given a Module it constrains every parameter named ``weight`` with at least 2 dims (the
    Linear/Conv weights, not biases or norm scales); given an iterable it constrains those
    tensors. Each slice along ``dim`` is rescaled to norm ≤ ``max_value``::

        constraint = MaxNorm(model, max_value=3.0)
        loss.backward(); optimizer.step(); constraint.apply()
    """

    def __init__(
        self, module_or_params: Module | Iterable[Tensor], max_value: float, dim: int = 0
    ) -> None:
        if max_value <= 0:
            raise ValueError(f"MaxNorm: max_value must be positive, got {max_value}")
        if isinstance(module_or_params, Module):
            self.params = [
                p
                for name, p in module_or_params.named_parameters()
                if name.rpartition(".")[2] == "weight" and p.ndim >= 2
            ]
        else:
            self.params = list(module_or_params)
        self.max_value = max_value
        self.dim = dim

    def apply(self) -> None:
        """Enforce the constraint on every constrained tensor (in place)."""
        for p in self.params:
            max_norm_(p, self.max_value, self.dim)

    def __repr__(self) -> str:
        return f"MaxNorm(max_value={self.max_value}, dim={self.dim}, tensors={len(self.params)})"
