"""File formats: safetensors (read/write in plain NumPy).

Flow: ``save_file(dict_of_tensors, path, metadata)`` → one atomic file; ``load_file(path)`` →
dict of tensors. Never pickle.
"""

from __future__ import annotations

from ember.io.safetensors import load, load_file, load_metadata, save, save_file

__all__ = ["save", "load", "save_file", "load_file", "load_metadata"]
