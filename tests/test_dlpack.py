"""DLPack both ways with NumPy, torch and CuPy: where the devices match nothing is copied, so
a write on one side shows on the other."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import ember
import ember.utils.dlpack

torch = pytest.importorskip("torch")

DTYPES = ["float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "bool"]


def _one(dtype: str) -> Any:
    return True if dtype == "bool" else 7


def test_numpy_and_ember_share_memory_both_ways() -> None:
    a = np.zeros(4, dtype=np.float32)
    e = ember.from_dlpack(a)
    a[1] = 5.0
    e[2] = 6.0
    assert e.tolist() == [0.0, 5.0, 6.0, 0.0] and a.tolist() == e.tolist()
    e = ember.arange(4.0)
    b = np.from_dlpack(e)
    b[0] = 9.0
    e.add_(1.0)
    assert e.tolist() == [10.0, 2.0, 3.0, 4.0] and b.tolist() == e.tolist()


@pytest.mark.parametrize("dtype", DTYPES)
def test_torch_and_ember_share_memory_both_ways(dtype: str) -> None:
    t = torch.zeros(2, 3, dtype=getattr(torch, dtype))
    e = ember.from_dlpack(t)
    assert e.dtype is getattr(ember, dtype) and e.shape == (2, 3)
    t[0, 1] = _one(dtype)
    assert e[0, 1].item() == _one(dtype)
    e[1, 2] = _one(dtype)
    assert t[1, 2].item() == _one(dtype)
    e = ember.zeros(3, dtype=getattr(ember, dtype))
    t = torch.from_dlpack(e)
    assert t.dtype == getattr(torch, dtype)
    e[0] = _one(dtype)
    t[2] = _one(dtype)
    assert t.tolist() == e.tolist() == [_one(dtype), 0, _one(dtype)]


def test_strided_views_cross_as_views() -> None:
    t = torch.arange(6.0).reshape(2, 3)
    e = ember.from_dlpack(t.t())
    assert e.shape == (3, 2) and e.tolist() == t.t().tolist()
    t[1, 0] = 60.0
    assert e[0, 1].item() == 60.0
    e = ember.arange(12.0).reshape(3, 4)
    t = torch.from_dlpack(e[:, 1::2])
    t[2, 1] = -1.0
    assert e[2, 3].item() == -1.0


def test_capsules_through_utils_dlpack() -> None:
    e = ember.arange(3.0)
    t = torch.utils.dlpack.from_dlpack(ember.utils.dlpack.to_dlpack(e))
    t[0] = 4.0
    assert e.tolist() == [4.0, 1.0, 2.0]
    t = torch.arange(3, dtype=torch.int64)
    capsule = torch.utils.dlpack.to_dlpack(t)
    e = ember.utils.dlpack.from_dlpack(capsule)
    e[1] = 8
    assert t.tolist() == [0, 8, 2]
    with pytest.raises(ValueError, match="imported only once"):
        ember.from_dlpack(capsule)


def test_a_tensor_that_requires_grad_is_exported_detached() -> None:
    w = ember.nn.Parameter(ember.ones(2))
    with pytest.raises(RuntimeError, match=r"requires grad(.|\n)*tensor\.detach\(\)"):
        torch.from_dlpack(w)
    t = torch.from_dlpack(w.detach())
    t[0] = 3.0
    assert w.tolist() == [3.0, 1.0]


def test_torch_parameters_load_into_a_module() -> None:
    theirs = torch.nn.Linear(3, 2)
    ours = ember.nn.Linear(3, 2)
    ours.load_state_dict(dict(theirs.named_parameters()))
    np.testing.assert_array_equal(ours.weight.detach().numpy(), theirs.weight.detach().numpy())


def test_memory_on_other_devices_is_refused_by_name() -> None:
    class OnVulkan:
        def __dlpack__(self, **kwargs: Any) -> Any:
            raise AssertionError("not reached")

        def __dlpack_device__(self) -> tuple[int, int]:
            return (7, 0)

    with pytest.raises(BufferError, match=r"device type 7 \(Vulkan\) is not supported"):
        ember.from_dlpack(OnVulkan())


def _cupy() -> Any:
    with warnings.catch_warnings():  # CuPy may warn at import (CUDA path, versions): not ours
        warnings.simplefilter("ignore")
        cupy = pytest.importorskip("cupy")
    if not ember.cuda.is_available():
        pytest.skip("no CUDA GPU")
    return cupy


@pytest.mark.cuda
def test_cupy_and_ember_share_gpu_memory_both_ways() -> None:
    cupy = _cupy()
    c = cupy.zeros(3, dtype=cupy.float32)
    e = ember.from_dlpack(c)
    c[0] = 2.0
    e[1] = 3.0
    assert e.device.type == "cuda" and e.tolist() == [2.0, 3.0, 0.0] == c.tolist()
    e = ember.zeros(3, device="cuda")
    c = cupy.from_dlpack(e)
    c[2] = 5.0
    assert e.tolist() == [0.0, 0.0, 5.0]
    e = ember.utils.dlpack.from_dlpack(c.toDlpack())
    e[0] = 1.0
    assert c.tolist() == [1.0, 0.0, 5.0]


@pytest.mark.cuda
def test_torch_cuda_and_ember_share_gpu_memory_both_ways() -> None:
    _cupy()
    if not torch.cuda.is_available():
        pytest.skip("torch without CUDA")
    t = torch.zeros(3, device="cuda")
    e = ember.from_dlpack(t)
    t[0] = 1.0
    assert e.device.type == "cuda" and e.tolist() == [1.0, 0.0, 0.0]
    t = torch.from_dlpack(e)
    e[2] = 4.0
    assert t.device.type == "cuda" and t.tolist() == [1.0, 0.0, 4.0]
