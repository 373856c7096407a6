"""ember: a PyTorch-compatible deep-learning framework on NumPy (and CuPy).

Flow: ``ember.tensor`` makes a Tensor → ops (``ember.ops.*``) go through ``apply`` and record
the autograd graph → ``loss.backward()`` runs the engine → ``ember.optim`` updates parameters.
Subpackages (``nn``, ``optim``, ``data``, ``jit`` …) load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from ember import autograd, dtypes
from ember.arrays import Device, cuda_available, device, get_default_device, set_default_device
from ember.autograd import (
    enable_grad,
    inference_mode,
    is_anomaly_check_nan_enabled,
    is_anomaly_enabled,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_anomaly_enabled,
    set_grad_enabled,
)
from ember.config import config
from ember.creation import *  # noqa: F403
from ember.creation import __all__ as _creation_all
from ember.dtypes import (
    bfloat16,
    bool_,
    double,
    finfo,
    float,
    float16,
    float32,
    float64,
    get_default_dtype,
    half,
    int,
    int8,
    int16,
    int32,
    int64,
    long,
    promote_types,
    result_type,
    set_default_dtype,
    short,
    uint8,
)
from ember.flags import *  # noqa: F403
from ember.flags import __all__ as _flags_all
from ember.layouts import layout, strided
from ember.ops.autocast import *  # noqa: F403
from ember.ops.autocast import __all__ as _autocast_all
from ember.ops.counting import *  # noqa: F403
from ember.ops.counting import __all__ as _counting_all
from ember.ops.elementwise import *  # noqa: F403
from ember.ops.elementwise import __all__ as _elementwise_all
from ember.ops.extra import *  # noqa: F403
from ember.ops.extra import __all__ as _extra_all
from ember.ops.index import *  # noqa: F403
from ember.ops.index import __all__ as _index_all
from ember.ops.linalg import *  # noqa: F403
from ember.ops.linalg import __all__ as _linalg_all
from ember.ops.linalg_extra import *  # noqa: F403
from ember.ops.linalg_extra import __all__ as _linalg_extra_all
from ember.ops.movement import *  # noqa: F403
from ember.ops.movement import __all__ as _movement_all
from ember.ops.numeric import *  # noqa: F403
from ember.ops.numeric import __all__ as _numeric_all
from ember.ops.predicates import *  # noqa: F403
from ember.ops.predicates import __all__ as _predicates_all
from ember.ops.reduce import *  # noqa: F403
from ember.ops.reduce import __all__ as _reduce_all
from ember.ops.scatter_extra import *  # noqa: F403
from ember.ops.scatter_extra import __all__ as _scatter_extra_all
from ember.ops.shape_extra import *  # noqa: F403
from ember.ops.shape_extra import __all__ as _shape_extra_all
from ember.ops.special import *  # noqa: F403
from ember.ops.special import __all__ as _special_all
from ember.ops.stats import *  # noqa: F403
from ember.ops.stats import __all__ as _stats_all
from ember.printing import set_printoptions
from ember.random import *  # noqa: F403
from ember.random import __all__ as _random_all
from ember.random_inplace import *  # noqa: F403
from ember.random_inplace import __all__ as _random_inplace_all
from ember.serialization import load, save
from ember.tensor import Size, Tensor, is_tensor
from ember.tensor_functions import *  # noqa: F403
from ember.tensor_functions import __all__ as _tensor_functions_all
from ember.tensor_info import *  # noqa: F403
from ember.tensor_info import __all__ as _tensor_info_all
from ember.threads import get_num_threads, set_num_threads
from ember.windows import *  # noqa: F403
from ember.windows import __all__ as _windows_all

bool = bool_  # noqa: A001 - PyTorch spells it ember.bool
dtype = dtypes.dtype
__version__ = "0.1.0"

_SUBPACKAGES = (
    "nn",
    "optim",
    "data",
    "jit",
    "models",
    "train",
    "diagnostics",
    "io",
    "utils",
    "metrics",
    "cli",
    "backends",
    "special",
    "cuda",
    "cpu",
    "amp",
    "accelerator",
    "distributed",
    "multiprocessing",
    "onnx",
)
_LAZY_ATTRIBUTES = {"compile": "ember.compiler", "autocast": "ember.amp"}


def __getattr__(name: str) -> Any:
    """Load subpackages (and ``compile``, ``autocast``) lazily so ``import ember`` stays fast."""
    if name in _SUBPACKAGES:
        return importlib.import_module(f"ember.{name}")
    if name in _LAZY_ATTRIBUTES:
        return getattr(importlib.import_module(_LAZY_ATTRIBUTES[name]), name)
    aliases = importlib.import_module("ember.nn.aliases")  # torch.conv2d and friends
    if name in aliases.__all__:
        return getattr(aliases, name)
    raise AttributeError(f"module 'ember' has no attribute {name!r}")


def _public(names: list[str]) -> list[str]:
    return [n for n in names if not n[0].isupper() or n in ("Generator",)]


__all__ = sorted(
    set(
        [
            "Tensor",
            "Size",
            "is_tensor",
            "autograd",
            "config",
            "dtypes",
            "no_grad",
            "enable_grad",
            "set_grad_enabled",
            "inference_mode",
            "is_grad_enabled",
            "device",
            "Device",
            "cuda",
            "bool",
            "dtype",
            "float",
            "float16",
            "float32",
            "float64",
            "bfloat16",
            "finfo",
            "double",
            "half",
            "int",
            "int8",
            "int16",
            "int32",
            "int64",
            "long",
            "short",
            "uint8",
            "get_default_dtype",
            "set_default_dtype",
            "promote_types",
            "result_type",
            "layout",
            "strided",
            "get_default_device",
            "set_default_device",
            "is_anomaly_enabled",
            "is_anomaly_check_nan_enabled",
            "set_anomaly_enabled",
            "is_inference_mode_enabled",
            "set_printoptions",
            "save",
            "load",
            *_SUBPACKAGES,
            *_LAZY_ATTRIBUTES,
        ]
        + _public(_creation_all)
        + _autocast_all
        + _public(_elementwise_all)
        + _public(_extra_all)
        + _public(_index_all)
        + _public(_linalg_all)
        + _public(_movement_all)
        + _public(_reduce_all)
        + _public(_random_all)
        + _public(_random_inplace_all)
        + _public(_special_all)
        + _public(_numeric_all)
        + _public(_predicates_all)
        + _public(_stats_all)
        + _public(_counting_all)
        + _public(_tensor_functions_all)
        + _public(_windows_all)
        + _public(_flags_all)
        + _public(_tensor_info_all)
        + _public(_shape_extra_all)
        + _public(_linalg_extra_all)
        + _public(_scatter_extra_all)
    )
)
