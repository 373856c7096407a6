"""Spectral normalisation (Miyato et al., 2018): a weight divided by its largest singular value.

Same layout as PyTorch's ``torch.nn.utils.spectral_norm``: the trainable tensor becomes
``<name>_orig``, the power-iteration vectors are the buffers ``<name>_u`` and ``<name>_v``,
and a forward pre-hook recomputes ``<name>`` before every call (one more power-iteration step
per call in training mode; the stored vectors in eval mode). A GAN discriminator built this
way is 1-Lipschitz per layer, which keeps its gradients bounded.
"""

from __future__ import annotations

from typing import Any

from ember import random
from ember.autograd import no_grad
from ember.nn.layers.conv import ConvTranspose1d, ConvTranspose2d
from ember.nn.module import Module
from ember.nn.parameter import Parameter
from ember.tensor import Tensor

__all__ = ["spectral_norm", "remove_spectral_norm", "SpectralNorm"]


def _normalize(x: Tensor, eps: float) -> Tensor:
    return x / x.norm().clamp(min=eps)


class SpectralNorm:
    """The forward pre-hook that sets ``module.<name> = <name>_orig / σ`` before each call."""

    def __init__(self, name: str, n_power_iterations: int, dim: int, eps: float) -> None:
        self.name, self.n_power_iterations, self.dim, self.eps = name, n_power_iterations, dim, eps

    def weight_matrix(self, weight: Tensor) -> Tensor:
        """The weight as a matrix [size(dim), rest] (``dim`` moved to the front)."""
        if self.dim != 0:
            order = (self.dim, *(d for d in range(weight.ndim) if d != self.dim))
            weight = weight.permute(*order)
        return weight.reshape(weight.shape[0], -1)

    def compute_weight(self, module: Module, do_power_iteration: bool) -> Tensor:
        weight = getattr(module, self.name + "_orig")
        u, v = getattr(module, self.name + "_u"), getattr(module, self.name + "_v")
        mat = self.weight_matrix(weight)
        if do_power_iteration:
            with no_grad():
                for _ in range(self.n_power_iterations):
                    v.copy_(_normalize(mat.mT @ u, self.eps))
                    u.copy_(_normalize(mat @ v, self.eps))
            if self.n_power_iterations > 0:  # σ must not see later in-place updates of u, v
                u, v = u.clone(), v.clone()
        sigma = (u * (mat @ v)).sum()
        return weight / sigma

    def __call__(self, module: Module, args: Any) -> None:
        object.__setattr__(module, self.name, self.compute_weight(module, module.training))


def spectral_norm(
    module: Module,
    name: str = "weight",
    n_power_iterations: int = 1,
    eps: float = 1e-12,
    dim: int | None = None,
) -> Module:
    """Reparameterise ``module.<name>`` as ``<name>_orig / σ(<name>_orig)``; returns ``module``.

    >>> from ember import nn
    >>> layer = spectral_norm(nn.Linear(20, 40))
    >>> sorted(name for name, _ in layer.named_buffers())
    ['weight_u', 'weight_v']
    """
    if n_power_iterations < 0:
        raise ValueError(
            f"spectral_norm: n_power_iterations must be non-negative: {n_power_iterations} vs >= 0"
        )
    for hook in module._forward_pre_hooks.values():
        if isinstance(hook, SpectralNorm) and hook.name == name:
            raise RuntimeError(f"spectral_norm: {name!r} already has spectral norm applied")
    weight = module._parameters.get(name)
    if weight is None:
        raise ValueError(f"spectral_norm: {type(module).__name__} has no parameter {name!r}")
    if dim is None:
        dim = 1 if isinstance(module, (ConvTranspose1d, ConvTranspose2d)) else 0
    fn = SpectralNorm(name, n_power_iterations, dim, eps)
    with no_grad():
        h, w = fn.weight_matrix(weight).shape
        u = _normalize(random.randn(h, dtype=weight.dtype, device=weight.device), eps)
        v = _normalize(random.randn(w, dtype=weight.dtype, device=weight.device), eps)
    del module._parameters[name]
    module.register_parameter(name + "_orig", weight)
    object.__setattr__(module, name, weight.detach())
    module.register_buffer(name + "_u", u)
    module.register_buffer(name + "_v", v)
    module.register_forward_pre_hook(fn)
    return module


def remove_spectral_norm(module: Module, name: str = "weight") -> Module:
    """Undo ``spectral_norm``: ``<name>`` becomes a plain parameter holding the current W/σ."""
    for key, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, SpectralNorm) and hook.name == name:
            with no_grad():
                weight = hook.compute_weight(module, do_power_iteration=False)
            del module._forward_pre_hooks[key]
            break
    else:
        raise ValueError(f"spectral_norm: {name!r} of {type(module).__name__} has no spectral norm")
    del module._parameters[name + "_orig"]
    del module._buffers[name + "_u"], module._buffers[name + "_v"]
    module.__dict__.pop(name, None)
    module.register_parameter(name, Parameter(weight))
    return module
