"""``torch.utils.tensorboard`` for ember: ``SummaryWriter`` writes TensorBoard event files.

Events are built from the ``tensorboard`` package's own protobufs and written by its
``EventFileWriter`` rather than through tensorboardX: viewing the files needs ``tensorboard``
anyway (and the tests read them back with its reader), so one optional package does both, and
the files are exactly what TensorBoard's own writer produces. Install it with
``pip install 'ember[tensorboard]'``; ``import ember`` never imports it.
"""

from __future__ import annotations

try:
    import tensorboard  # noqa: F401
except ImportError as exc:  # the same exception type torch raises, so fallbacks keep working
    raise ImportError(
        "ember.utils.tensorboard needs the tensorboard package: "
        "pip install 'ember[tensorboard]' (or pip install tensorboard)"
    ) from exc

from ember.utils.tensorboard.writer import SummaryWriter

__all__ = ["SummaryWriter"]
