"""``torch.cpu``: here only its ``amp`` module (the deprecated CPU autocast spellings)."""

from ember.cpu import amp

__all__ = ["amp"]
