"""``ember train`` on one rank, with the mlp recipe's dropout off: the tests compare a run on
N ranks with one process, which dropout masks (drawn per rank) would keep apart."""

from __future__ import annotations

import sys

from ember.cli import main
from ember.train.classifier import RECIPES

if __name__ == "__main__":
    RECIPES["mlp"].model_kwargs = {}
    sys.exit(main(sys.argv[1:]))
