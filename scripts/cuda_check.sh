#!/bin/bash
# CUDA check on a machine with an NVIDIA GPU and CuPy, from the repo root (Fashion-MNIST is
# not needed; set EMBER_DATA if it lives elsewhere):
#   (a) tests/backends on the GPU: test_cuda.py, the op database on cuda vs cpu, training steps,
#       and test_cuda_jit.py (the jit's generated CUDA kernels, compiled by NVRTC);
#   (b) ember bench on cuda, the compiled step (--jit) against torch.
# Logs and results land in $OUT.
export PYTHONPATH=${PYTHONPATH:-$PWD} PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/cuda_check_out}
mkdir -p "$OUT"
nvidia-smi -L
python3 -c "import cupy, torch, numpy; print('cupy', cupy.__version__, 'torch', torch.__version__, 'numpy', numpy.__version__)"
python3 -c "from ember.jit import nvrtc; print('nvrtc', nvrtc.version() if nvrtc.available() else 'missing: pip install ember[cuda-compile]')"

timeout 200 python3 -m pytest -q -p no:cacheprovider tests/backends -x --maxfail=20 \
  -W ignore::DeprecationWarning -rf --durations=10 > "$OUT/cuda_tests.log" 2>&1
echo "== cuda tests rc=$? (124 = timed out) =="
tail -60 "$OUT/cuda_tests.log"
echo "== failure summary =="
grep -E "^(FAILED|ERROR) " "$OUT/cuda_tests.log" | cut -c1-300 | head -40

timeout 150 python3 -c "import ember.bench as b, sys; sys.exit(b.main(['all','--device','cuda','--jit','--compare','torch','--steps','10','--warmup','3','--no-overhead','--no-memory','--json','$OUT/bench_cuda.json','--markdown','$OUT/bench_cuda.md']))" > "$OUT/bench_cuda.log" 2>&1
echo "== bench rc=$? (124 = timed out) =="
if [ -s "$OUT/bench_cuda.md" ]; then cat "$OUT/bench_cuda.md"; fi
tail -40 "$OUT/bench_cuda.log"
