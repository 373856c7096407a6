"""A stand-in for ``torchvision`` used only by ``scripts/public_programs.py``.

torchvision is not installed here, and the real one would import the real torch. This shim is
written against the plain ``torch`` API, so it runs on whichever ``torch`` the harness set up
(PyTorch or ember aliased as torch). Datasets are small and synthetic, drawn from a fixed NumPy
seed, so both runs see the same images; model weights are also filled from NumPy.
"""

from torchvision import datasets, models, transforms, utils

__all__ = ["datasets", "models", "transforms", "utils"]
__version__ = "0.0-shim"
