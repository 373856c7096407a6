"""DLPack capsules as producers: NumPy and CuPy import only objects with ``__dlpack__``, while
``torch.utils.dlpack.to_dlpack`` (and ember's) hands out the bare capsule.

The capsule holds a C ``DLManagedTensor`` (or, named ``dltensor_versioned``, a
``DLManagedTensorVersioned``); its device sits after the data pointer of the ``DLTensor``,
which ctypes reads so the consumer knows where the memory lives.
"""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np

__all__ = ["CPU", "CUDA_DEVICES", "DEVICE_NAMES", "CapsuleProducer", "is_capsule", "writable"]

CPU = 1  # kDLCPU
CUDA_DEVICES = (2, 13)  # kDLCUDA, kDLCUDAManaged: CuPy's
DEVICE_NAMES = {1: "CPU", 2: "CUDA", 3: "CUDA host", 4: "OpenCL", 7: "Vulkan", 8: "Metal"}
DEVICE_NAMES |= {9: "VPI", 10: "ROCm", 11: "ROCm host", 13: "CUDA managed", 14: "oneAPI"}

# own prototypes: ctypes.pythonapi's shared function objects are left as they are
_pointer = ctypes.PYFUNCTYPE(ctypes.c_void_p, ctypes.py_object, ctypes.c_char_p)
_get_pointer = _pointer(("PyCapsule_GetPointer", ctypes.pythonapi))
_name = ctypes.PYFUNCTYPE(ctypes.c_char_p, ctypes.py_object)(
    ("PyCapsule_GetName", ctypes.pythonapi)
)
# the DLTensor's offset in each struct: versioned ones start with version, context, deleter, flags
_DLTENSOR_AT = {b"dltensor": 0, b"dltensor_versioned": 8 + 3 * ctypes.sizeof(ctypes.c_void_p)}


def is_capsule(obj: Any) -> bool:
    return type(obj).__name__ == "PyCapsule"


class CapsuleProducer:
    """A DLPack capsule behind ``__dlpack__`` / ``__dlpack_device__``. A capsule can be
    consumed once: the consumer renames it, and a second use is refused."""

    def __init__(self, capsule: Any) -> None:
        name = _name(capsule)
        if name not in _DLTENSOR_AT:
            raise ValueError(
                f"from_dlpack: the capsule is named {name!r}, not 'dltensor': a DLPack capsule "
                "can be imported only once (its consumer renames it)"
            )
        address = _get_pointer(capsule, name) + _DLTENSOR_AT[name]
        device = (ctypes.c_int32 * 2).from_address(address + ctypes.sizeof(ctypes.c_void_p))
        self.capsule, self.device = capsule, (int(device[0]), int(device[1]))

    def __dlpack__(self, **kwargs: Any) -> Any:
        """The capsule as it is (the consumer's stream and version requests do not apply)."""
        return self.capsule

    def __dlpack_device__(self) -> tuple[int, int]:
        return self.device


class _Writable:
    """A NumPy array's memory offered as writable, keeping the array (and so its owner)
    alive."""

    def __init__(self, arr: np.ndarray) -> None:
        self.base = arr
        self.__array_interface__ = {
            "shape": arr.shape,
            "typestr": arr.dtype.str,
            "descr": arr.dtype.descr,
            "strides": arr.strides,
            "data": (arr.ctypes.data, False),
            "version": 3,
        }


def writable(arr: np.ndarray) -> np.ndarray:
    """``arr`` writable: NumPy imports a pre-1.0 (unversioned) capsule read-only, since such a
    capsule cannot say whether it is, while its producers (``torch.utils.dlpack.to_dlpack``,
    ember's) hand out memory the consumer may write, as torch's ``from_dlpack`` does."""
    return arr if arr.flags.writeable else np.asarray(_Writable(arr))
