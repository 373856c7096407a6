"""``ember.utils``: PyTorch's ``torch.utils`` paths (``ember.utils.data`` is ``ember.data``).

``ember.utils.tensorboard`` (``SummaryWriter``) needs the optional ``tensorboard`` package, so it
is imported only on request: ``from ember.utils.tensorboard import SummaryWriter``.
"""

from __future__ import annotations

from ember.utils import data, dlpack

__all__ = ["data", "dlpack"]
