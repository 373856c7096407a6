"""``ember train`` on one rank, made deterministic across ranks: the mlp recipe's dropout is
off and the VAE samples z at the mean of q(z|x). The tests compare a run on N ranks with one
process, which dropout masks and reparameterisation noise (drawn per rank) would keep apart."""

from __future__ import annotations

import sys
from typing import Any

from ember.cli import main
from ember.models.vae import VAE
from ember.train.classifier import RECIPES


def noiseless(mu: Any, logvar: Any, generator: Any = None) -> Any:
    """The VAE's z without noise (its gradient still reaches log σ² through the KL term)."""
    return mu


def make_deterministic() -> None:
    RECIPES["mlp"].model_kwargs = {}
    VAE.reparameterize = staticmethod(noiseless)


if __name__ == "__main__":
    make_deterministic()
    sys.exit(main(sys.argv[1:]))
