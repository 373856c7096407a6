"""Lazy layers: Linear, Conv*, ConvTranspose*, BatchNorm* and InstanceNorm* whose input size
(in_features, in_channels or num_features) is read from the first input.

The first call builds the full layer with that size (PyTorch's initialisation included), moves
its parameters and buffers into this module and turns it into that class, keeping the hooks
and training flag. Until then the module holds no parameters, so build optimizers after a
first (dry-run) call, as PyTorch advises; unlike PyTorch's placeholders they are not listed
and not in ``state_dict``, and ``.to(dtype)`` before that call does not change the dtype the
layer is built with (pass ``dtype=``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from ember.nn.layers.conv import (
    Conv1d,
    Conv2d,
    Conv3d,
    ConvTranspose1d,
    ConvTranspose2d,
    ConvTranspose3d,
)
from ember.nn.layers.linear import Linear
from ember.nn.layers.normalization import (
    BatchNorm1d,
    BatchNorm2d,
    BatchNorm3d,
    InstanceNorm1d,
    InstanceNorm2d,
    InstanceNorm3d,
)
from ember.nn.module import Module
from ember.tensor import Tensor

__all__ = [
    "LazyLinear",
    "LazyConv1d",
    "LazyConv2d",
    "LazyConv3d",
    "LazyConvTranspose1d",
    "LazyConvTranspose2d",
    "LazyConvTranspose3d",
    "LazyBatchNorm1d",
    "LazyBatchNorm2d",
    "LazyBatchNorm3d",
    "LazyInstanceNorm1d",
    "LazyInstanceNorm2d",
    "LazyInstanceNorm3d",
]

_KEPT = ("training", "_forward_pre_hooks", "_forward_hooks")  # this module's own state


class _LazyModule(Module):
    """Records the constructor arguments; the first call materialises ``cls_to_become``."""

    cls_to_become: ClassVar[type[Module]]
    _unbatched_ndim: ClassVar[int | None] = None  # rank at which dim 0 is the channel dim

    def __init__(self, **kwargs: Any) -> None:
        super().__init__()
        self._lazy_kwargs = kwargs
        self._lazy_hook = self.register_forward_pre_hook(_materialize)

    def has_uninitialized_params(self) -> bool:
        """True until the first call has built the parameters."""
        return True

    def _input_size(self, input: Tensor) -> int:
        """The channel count of ``input``: dim 1, or dim 0 of an unbatched input."""
        return input.shape[0] if input.ndim == self._unbatched_ndim else input.shape[1]

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self._lazy_kwargs.items())


def _materialize(module: _LazyModule, args: tuple) -> None:
    if not args or not isinstance(args[0], Tensor):
        raise TypeError(f"{type(module).__name__}: the first argument must be a Tensor")
    full = module.cls_to_become(module._input_size(args[0]), **module._lazy_kwargs)
    module._lazy_hook.remove()
    state = module.__dict__
    for key in [k for k in state if k not in _KEPT]:
        del state[key]
    state.update({k: v for k, v in full.__dict__.items() if k not in _KEPT})
    module.__class__ = module.cls_to_become
    module.train(state["training"])


class LazyLinear(_LazyModule):
    """``Linear`` with ``in_features`` taken from the last dim of the first input."""

    cls_to_become = Linear

    def __init__(
        self, out_features: int, bias: bool = True, device: Any = None, dtype: Any = None
    ) -> None:
        super().__init__(out_features=out_features, bias=bias, device=device, dtype=dtype)

    def _input_size(self, input: Tensor) -> int:
        return input.shape[-1]


class _LazyConv(_LazyModule):
    def __init__(
        self,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            out_channels=out_channels, kernel_size=kernel_size, stride=stride, padding=padding,
            dilation=dilation, groups=groups, bias=bias, padding_mode=padding_mode,
            device=device, dtype=dtype,
        )  # fmt: skip


class _LazyConvTranspose(_LazyModule):
    def __init__(
        self,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        output_padding: Any = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: Any = 1,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            out_channels=out_channels, kernel_size=kernel_size, stride=stride, padding=padding,
            output_padding=output_padding, groups=groups, bias=bias, dilation=dilation,
            padding_mode=padding_mode, device=device, dtype=dtype,
        )  # fmt: skip


class _LazyBatchNorm(_LazyModule):
    """Lazy BatchNorm and InstanceNorm (both default to affine and running statistics)."""

    def __init__(
        self,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__(
            eps=eps, momentum=momentum, affine=affine, track_running_stats=track_running_stats,
            device=device, dtype=dtype, bias=bias,
        )  # fmt: skip


class LazyConv1d(_LazyConv):
    """``Conv1d`` with ``in_channels`` taken from the first input."""

    cls_to_become = Conv1d
    _unbatched_ndim = 2


class LazyConv2d(_LazyConv):
    """``Conv2d`` with ``in_channels`` taken from the first input."""

    cls_to_become = Conv2d
    _unbatched_ndim = 3


class LazyConv3d(_LazyConv):
    """``Conv3d`` with ``in_channels`` taken from the first input."""

    cls_to_become = Conv3d
    _unbatched_ndim = 4


class LazyConvTranspose1d(_LazyConvTranspose):
    """``ConvTranspose1d`` with ``in_channels`` taken from the first input."""

    cls_to_become = ConvTranspose1d
    _unbatched_ndim = 2


class LazyConvTranspose2d(_LazyConvTranspose):
    """``ConvTranspose2d`` with ``in_channels`` taken from the first input."""

    cls_to_become = ConvTranspose2d
    _unbatched_ndim = 3


class LazyConvTranspose3d(_LazyConvTranspose):
    """``ConvTranspose3d`` with ``in_channels`` taken from the first input."""

    cls_to_become = ConvTranspose3d
    _unbatched_ndim = 4


class LazyBatchNorm1d(_LazyBatchNorm):
    """``BatchNorm1d`` with ``num_features`` taken from dim 1 of the first input."""

    cls_to_become = BatchNorm1d


class LazyBatchNorm2d(_LazyBatchNorm):
    """``BatchNorm2d`` with ``num_features`` taken from dim 1 of the first input."""

    cls_to_become = BatchNorm2d


class LazyBatchNorm3d(_LazyBatchNorm):
    """``BatchNorm3d`` with ``num_features`` taken from dim 1 of the first input."""

    cls_to_become = BatchNorm3d


class LazyInstanceNorm1d(_LazyBatchNorm):
    """``InstanceNorm1d`` with ``num_features`` taken from the first input."""

    cls_to_become = InstanceNorm1d
    _unbatched_ndim = 2


class LazyInstanceNorm2d(_LazyBatchNorm):
    """``InstanceNorm2d`` with ``num_features`` taken from the first input."""

    cls_to_become = InstanceNorm2d
    _unbatched_ndim = 3


class LazyInstanceNorm3d(_LazyBatchNorm):
    """``InstanceNorm3d`` with ``num_features`` taken from the first input."""

    cls_to_become = InstanceNorm3d
    _unbatched_ndim = 4
