#!/usr/bin/env bash
# Issue #18's accuracy check, for an idle machine: `ember train cnn` on 2 ranks
# (`ember run -n 2 -- ember train cnn --distributed`, one BLAS thread per rank) must reach the
# test accuracy of one process within 0.3 points. Both runs use the recipe's seed, epochs,
# global batch and learning rate; they differ by the split and by dropout's draws (rank 1 draws
# its own masks), so the accuracies differ by run-to-run noise, not by the split.
# Then `ember bench --distributed cnn mlp` measures the scaling that docs/distributed.md quotes.
# Usage: scripts/distributed_accuracy.sh [OUT_DIR] [extra `ember train` arguments…]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-runs/distributed-accuracy}"
shift || true
py="${PYTHON:-.venv/bin/python}"
mkdir -p "$out"

"$py" -m ember train cnn --out "$out/one" "$@"
"$py" -m ember run -n 2 -- "$py" -m ember train cnn --distributed --out "$out/two" "$@"

"$py" - "$out" <<'PY'
import json
import sys
from pathlib import Path

out = Path(sys.argv[1])
one, two = (json.loads((out / r / "summary.json").read_text())["test_accuracy"] for r in ("one", "two"))
gap = abs(two - one) * 100
print(f"test accuracy: 1 process {one:.2%}, 2 ranks {two:.2%}: {gap:.2f} points apart (limit 0.3)")
sys.exit(0 if gap <= 0.3 else 1)
PY

"$py" -m ember bench --distributed cnn mlp --json "$out/bench-distributed.json"
