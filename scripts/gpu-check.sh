#!/usr/bin/env bash
# GPU check of the JAX backends, for a machine with an NVIDIA GPU and JAX with CUDA installed.
# Runs from a source tree without installing the package:
#   bash scripts/gpu-check.sh [OUTDIR]
# It runs the JAX tests (the GPU ones included) on the GPU, then benchmarks both JAX backends at
# the school's size, and measures the device's memory bandwidth (a device-to-device copy) so the
# GPU roofline can be stated beside the CPU one that `grayscott bench` measures.
set -uo pipefail
out=${1:-gpu-check}
mkdir -p "$out"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import jax; print('jax', jax.__version__, jax.devices())"
python3 -m pytest -q -p no:cacheprovider tests/test_jax.py "tests/test_backends.py" -k "jax" \
    2>&1 | tail -5
python3 -m grayscott bench --backends jax,jax-3x3 --steps 320 --repeat 5 \
    --json "$out/bench-gpu.json" -q 2>&1 | tail -12
python3 - <<'PY'
import time
import jax
import jax.numpy as jnp

x = jnp.ones((512, 1024, 1024), jnp.float32)  # 2 GiB
copy = jax.jit(lambda a: a + 0)
copy(x).block_until_ready()
best = min((lambda t0: (copy(x).block_until_ready(), time.perf_counter() - t0)[1])(
    time.perf_counter()) for _ in range(10))
bw = 2 * x.nbytes / best
print(f"device copy bandwidth {bw / 1e9:.0f} GB/s -> one-pass roofline "
      f"{bw / 16 / 1e9:.1f} Gcell-updates/s in float32")
PY
