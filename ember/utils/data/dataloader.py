"""``torch.utils.data.dataloader``: ember's DataLoader and batch collation."""

from __future__ import annotations

from ember.data.dataloader import DataLoader, default_collate

__all__ = ["DataLoader", "default_collate", "get_worker_info"]


def get_worker_info() -> None:
    """None: ember's DataLoader loads every batch in the calling process (``num_workers`` is
    accepted but starts no workers), which is what PyTorch returns outside a worker."""
    return None
