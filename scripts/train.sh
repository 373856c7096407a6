#!/usr/bin/env bash
# Set up ember on a fresh Debian/Ubuntu machine and run the main job: `ember train MODEL`
# (default cnn) on the real Fashion-MNIST. Extra arguments go to `ember train`.
set -euo pipefail
cd "$(dirname "$0")/.."
model="${1:-cnn}"
shift || true

# --reinstall: also when the package is recorded as installed but its files are gone
if [ ! -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] && command -v apt-get >/dev/null; then
    as_root=""
    [ "$(id -u)" -eq 0 ] || as_root="sudo"
    $as_root apt-get update -qq || true
    $as_root apt-get install --reinstall -y -qq dataset-fashion-mnist || echo "Debian's dataset-fashion-mnist is not available here; ember will download the data"
fi

python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q '.[all]'  # not editable: the main job only runs ember
if [ ! -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
    .venv/bin/ember data fetch fashion-mnist
fi
exec .venv/bin/ember train "$model" "$@"
