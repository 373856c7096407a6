"""``torch.utils.dlpack``'s paths: tensors to and from DLPack capsules, sharing memory.

A capsule is the C struct one framework hands another once; ``Tensor.__dlpack__`` and
``ember.from_dlpack`` exchange them directly, which is what new code should use.
"""

from __future__ import annotations

from typing import Any

from ember.creation import from_dlpack
from ember.tensor import Tensor

__all__ = ["to_dlpack", "from_dlpack"]


def to_dlpack(tensor: Tensor) -> Any:
    """A DLPack capsule of ``tensor``'s memory, for one ``from_dlpack`` of any framework."""
    return tensor.__dlpack__()
