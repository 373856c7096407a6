#!/usr/bin/env python3
"""Regenerate the course's printed numbers and figures: every page's example, run once.

    .venv/bin/python scripts/build_course.py                     # all (~8 min of CPU)
    .venv/bin/python scripts/build_course.py overfitting         # the named ones
    .venv/bin/python scripts/build_course.py --fast --out /tmp/c # tiny sizes, elsewhere

``examples/NAME.py`` writes its figure to ``OUT/figures/NAME.png`` and what it prints goes to
``OUT/output/NAME.txt`` (OUT: docs/course), which the page ``docs/course/NAME.md`` shows. BLAS
and OpenMP get one thread each unless the caller sets more: on a shared machine, extra
threads spin while they wait for a core.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# the course's pages in reading order; each is backed by examples/NAME.py
COURSE = (
    "tensors",
    "perceptron",
    "forward_backward",
    "activations_losses",
    "overfitting",
    "regularisation",
    "vanishing_gradients",
    "eager_vs_graph",
)


def build(name: str, out: Path, fast: bool) -> str:
    """Run ``examples/NAME.py``; write its figure and its printed output under ``out``."""
    figure = out / "figures" / f"{name}.png"
    figure.parent.mkdir(parents=True, exist_ok=True)
    (out / "output").mkdir(parents=True, exist_ok=True)
    command = [sys.executable, str(ROOT / "examples" / f"{name}.py"), "--out", str(figure)]
    env = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", **os.environ}
    done = subprocess.run(
        command + ["--fast"] * fast, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"examples/{name}.py failed:\n{done.stdout}{done.stderr}")
    # the figure's path as the page sees it, whichever folder this was run from
    printed = done.stdout.replace(str(figure), f"figures/{name}.png")
    (out / "output" / f"{name}.txt").write_text(printed)
    return printed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"default: all of {', '.join(COURSE)}")
    parser.add_argument("--fast", action="store_true", help="tiny sizes (a smoke test)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "course", help="folder")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(COURSE))
    if unknown:
        parser.error(f"not a course page: {', '.join(unknown)}")
    for name in args.names or COURSE:
        print(f"== {name}", flush=True)
        print(build(name, args.out, args.fast), end="", flush=True)


if __name__ == "__main__":
    main()
