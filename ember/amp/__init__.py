"""``torch.amp`` for ember: ``autocast`` (a per-op precision policy, ``autocast_mode``) and
``GradScaler`` (loss scaling, ``grad_scaler``).

Flow: ``autocast`` sets the thread's settings in ``ember.ops.autocast``; the ops decorated
there read them and cast their inputs; ``GradScaler`` scales the loss computed that way.
"""

from ember.amp.autocast_mode import autocast, is_autocast_available
from ember.amp.grad_scaler import GradScaler

__all__ = ["GradScaler", "autocast", "is_autocast_available"]
