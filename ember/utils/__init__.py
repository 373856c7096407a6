"""``ember.utils``: PyTorch's ``torch.utils`` paths (``ember.utils.data`` is ``ember.data``).

``ember.utils.tensorboard`` is not provided yet: importing it raises ImportError.
"""

from __future__ import annotations

from ember.utils import data

__all__ = ["data"]
