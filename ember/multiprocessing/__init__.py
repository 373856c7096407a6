"""``torch.multiprocessing``: the standard library's ``multiprocessing`` (every name, the
same objects) with ember tensors made shareable between processes.

Flow: ``Tensor.share_memory_()`` / ``Module.share_memory()`` move memory into shared files
(``ember.arrays.shared``) → importing this package registers ``reductions.reduce_tensor``
with multiprocessing's pickler, so a shared tensor given to a ``Process`` or put on a
``Queue`` arrives mapped onto the same memory (Hogwild training: every process's optimizer
updates the one set of weights) and any other tensor arrives as a copy → ``spawn`` runs
``fn(i, *args)`` in ``nprocs`` processes and raises in the parent when one fails.
"""

from __future__ import annotations

import multiprocessing
from multiprocessing import *  # noqa: F403

from ember.multiprocessing.reductions import init_reductions
from ember.multiprocessing.spawn import *  # noqa: F403
from ember.multiprocessing.spawn import __all__ as _spawn_all

__all__ = [
    *multiprocessing.__all__,
    *_spawn_all,
    "get_sharing_strategy",
    "set_sharing_strategy",
    "get_all_sharing_strategies",
]

_STRATEGIES = frozenset({"file_system"})  # one shared file per tensor (ember.arrays.shared)


def get_all_sharing_strategies() -> set[str]:
    """The ways ember shares tensor memory between processes: ``file_system`` only."""
    return set(_STRATEGIES)


def get_sharing_strategy() -> str:
    return "file_system"


def set_sharing_strategy(new_strategy: str) -> None:
    """Accepts ``file_system``, the one strategy ember has (PyTorch's ``file_descriptor``
    passes descriptors over sockets; ember does not)."""
    if new_strategy not in _STRATEGIES:
        raise ValueError(
            f"set_sharing_strategy: {new_strategy!r} is not one of ember's sharing strategies: "
            f"{', '.join(sorted(_STRATEGIES))}"
        )


init_reductions()
