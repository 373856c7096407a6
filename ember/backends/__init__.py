"""``torch.backends`` for ember: the ``cuda``, ``cudnn`` and ``mps`` flag namespaces.

Scripts set these flags (``ember.backends.cudnn.benchmark = True``) and query them; ember's
kernels are NumPy/CuPy code that calls neither cuDNN nor TF32 matmuls, so setting a flag
changes nothing. The array backends themselves (NumPy, CuPy) live in ``ember.arrays``.
"""

from __future__ import annotations

from ember.backends import cuda, cudnn, mps

__all__ = ["cuda", "cudnn", "mps"]
