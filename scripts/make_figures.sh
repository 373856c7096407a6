#!/usr/bin/env bash
# Regenerate the experiment figures and printed numbers used by docs/experiments/*.md.
#   scripts/make_figures.sh                      # all five (~6 min of CPU; longer on a busy machine)
#   scripts/make_figures.sh regularisation       # just the named ones
# Figures go to docs/experiments/figures/NAME.png, the printed output to
# docs/experiments/output/NAME.txt. One BLAS/OpenMP thread each unless the caller sets more:
# on a shared machine extra threads spin while they wait for a core.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1} OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
    names=(vanishing_gradients overfitting regularisation activations_losses eager_vs_graph)
fi
for name in "${names[@]}"; do
    echo "== $name"
    "$PYTHON" "examples/$name.py" --out "docs/experiments/figures/$name.png" \
        | tee "docs/experiments/output/$name.txt"
done
