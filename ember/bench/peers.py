"""The peers ember is timed against in one run: PyTorch eager, ``torch.compile`` and JAX.

``--compare`` takes a comma list of ``PEERS``. PyTorch eager and ``torch.compile`` run the
PyTorch twin built from the single model definitions (``workloads.model_zoo(torch)``); JAX runs
``jax_workloads``, whose forwards take the ember model's own initial weights. The best peer of
a row is the fastest of those measured in the same run.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

__all__ = ["PEERS", "TORCH_PEERS", "parse_peers", "torch_compile_fn", "best_peer"]

PEERS = ("torch", "torch-compile", "jax")
TORCH_PEERS = ("torch", "torch-compile")  # the peers that need PyTorch


def parse_peers(text: str) -> tuple[str, ...]:
    """``--compare``'s comma list as peer names, in the order given, each once."""
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in PEERS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown peer {', '.join(map(repr, unknown)) or repr(text)}: "
            f"expected a comma list of {', '.join(PEERS)}"
        )
    return names


def torch_compile_fn(torch: Any) -> Callable[[Callable], Callable]:
    """``torch.compile`` in its default mode: what the torch-compile peer compiles each
    step (or forward, or decode step) with. Compilation happens on the first call, in the
    untimed warm-up."""
    return lambda fn: torch.compile(fn)


def best_peer(sides: dict[str, dict[str, Any]]) -> str | None:
    """The name of the fastest peer whose timing succeeded (None when none did)."""
    ok = {name: side["median_ms"] for name, side in sides.items() if side["status"] == "ok"}
    return min(ok, key=ok.get) if ok else None
