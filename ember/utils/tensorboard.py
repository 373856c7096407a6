"""``torch.utils.tensorboard`` is not provided by ember yet (it comes with its own issue).

Importing this module raises ImportError, so ``try: import …tensorboard`` fallbacks work.
"""

raise ImportError(
    "ember.utils.tensorboard is not available yet: ember has no SummaryWriter; log with "
    "ember.diagnostics, or import torch.utils.tensorboard from PyTorch itself"
)
