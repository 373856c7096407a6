"""What every example shares: its command line (``--fast``, ``--out``) and saving its figure."""

from __future__ import annotations

import argparse
from typing import Any


def parse_args(doc: str, figure: str, argv: list[str] | None) -> argparse.Namespace:
    """``--fast`` (tiny sizes, for CI) and ``--out`` (the figure's path, default ``figure``)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="tiny sizes for a smoke test")
    parser.add_argument("--out", default=figure, help="figure path")
    return parser.parse_args(argv)


def save_figure(fig: Any, path: str) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"wrote {path}")
