#!/usr/bin/env bash
# The GPU rung, checked and measured in one go on a machine with an NVIDIA GPU (H100/H200):
#
#   bash scripts/gpu-check.sh [OUTDIR]          # from the repository root, ~5 minutes
#
# 1. what is there: the GPU, CuPy, JAX; `grayscott backends`;
# 2. the GPU tests: the cupy backend against numba bit for bit (every stencil x border x dtype),
#    its graphs and asynchronous frames, the kernel source on the host and through nvcc, and the
#    JAX backends on the GPU;
# 3. a sweep of the cupy kernel's launch shape (rows per thread, threads per block);
# 4. `grayscott bench` of cupy, jax and jax-3x3 at 1080x1920 and 8192x8192 (float32), which
#    measures the device's bandwidth in the same run (a device-to-device copy) and reports each
#    backend's fraction of that roofline;
# 5. an end-to-end `grayscott run` with a frame every 32 steps (HDF5 output) for each backend;
# 6. a summary against the targets (cupy >= 0.8 of the roofline in bench, run >= 0.6, jax-3x3
#    >= 0.5), written to OUTDIR/summary.md beside the JSON files, to paste into BENCHMARKS.md.
#
# It runs from the source tree (PYTHONPATH=src, nothing installed). Python packages: numpy, h5py,
# click, tqdm, numba, pytest, hypothesis, and for the GPU cupy (cupy-cuda12x or -cuda13x) and
# jax with its CUDA plugin. It installs what is missing with pip when it can (PIP_INSTALL=0: never);
# a machine without network needs them already there (they are in the lent machines' image).
# Sizes can be changed for a quick try: GRIDS="256x512" STEPS=64 RUN_FRAMES=20 SKIP_TESTS=1.
set -uo pipefail
out=${1:-gpu-check}
mkdir -p "$out"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
# JAX would take 75% of the GPU's memory at start; CuPy runs in the same processes.
export XLA_PYTHON_CLIENT_PREALLOCATE=false
PY=${PYTHON:-python3}
GRIDS=${GRIDS:-"1080x1920 8192x8192"}
STEPS=${STEPS:-320}
RUN_FRAMES=${RUN_FRAMES:-200}
BACKENDS=${BACKENDS:-cupy,jax,jax-3x3}
failed=()
step() { echo; echo "== $* ($(date -u +%H:%M:%S))"; }

step "machine"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,clocks.max.mem \
    --format=csv,noheader | tee "$out/gpu.txt" || echo "nvidia-smi: not found (no NVIDIA driver here)"
"$PY" --version
missing=$("$PY" - <<'PY'
import importlib.util as u
need = {"numpy": "numpy", "h5py": "h5py", "click": "click", "tqdm": "tqdm", "numba": "numba",
        "pytest": "pytest", "hypothesis": "hypothesis", "cupy": "cupy-cuda12x",
        "jax": "jax[cuda12]"}
print(" ".join(pkg for mod, pkg in need.items() if u.find_spec(mod) is None))
PY
)
if [ -n "$missing" ]; then
    echo "missing: $missing"
    if [ "${PIP_INSTALL:-1}" = 1 ]; then
        # shellcheck disable=SC2086
        "$PY" -m pip install -q $missing || echo "pip install failed: install them first"
    fi
fi
"$PY" - <<'PY'
for name in ("numpy", "numba", "cupy", "jax"):
    try:
        mod = __import__(name)
        print(f"{name} {mod.__version__}", end="")
        if name == "cupy":
            print(f", CUDA runtime {mod.cuda.runtime.runtimeGetVersion()}, "
                  f"{mod.cuda.runtime.getDeviceCount()} device(s)", end="")
        if name == "jax":
            print(f", devices {mod.devices()}", end="")
        print()
    except Exception as exc:
        print(f"{name}: {type(exc).__name__}: {exc}")
PY
"$PY" -m grayscott backends

step "GPU tests"
if [ "${SKIP_TESTS:-0}" = 1 ]; then echo "skipped (SKIP_TESTS=1)"; else
# All of test_cupy (the kernel source on the host and through nvcc too) and of test_jax, on
# the GPU (JAX's default device there).
timeout 300 "$PY" -m pytest -q -p no:cacheprovider -rs tests/test_cupy.py tests/test_jax.py \
    2>&1 | tee "$out/tests.log" | tail -25
[ "${PIPESTATUS[0]}" = 0 ] || failed+=("tests")
grep -q "SKIPPED.*test_cupy.py.*cupy" "$out/tests.log" && failed+=("cupy GPU tests skipped")
fi

step "cupy launch shapes (1080x1920 float32)"
"$PY" - <<'PY' 2>&1 | tee "$out/sweep.txt"
from grayscott import backends
from grayscott.physics import make_initial, make_problem

if not backends.info("cupy").available:
    raise SystemExit(f"cupy: {backends.info('cupy').reason}")
import cupy as cp

problem = make_problem((1080, 1920))
u, v = make_initial("school", problem.shape)
steps = 640
for rows in (1, 4, 8, 16):
    for block in (64, 128, 256):
        b = backends.create("cupy", problem, rows=rows, block=block)
        b.set_state(u, v)
        b.compile()
        b.advance(steps)  # warm-up
        start, stop = cp.cuda.Event(), cp.cuda.Event()
        best = float("inf")
        for _ in range(3):
            start.record(b.stream)
            b.advance(steps)
            stop.record(b.stream)
            stop.synchronize()
            best = min(best, cp.cuda.get_elapsed_time(start, stop) / 1e3)
        rate = problem.shape[0] * problem.shape[1] * steps / best
        print(f"rows {rows:2d} block {block:3d}: {rate / 1e9:6.1f} Gcell-updates/s")
PY

step "cupy against numba-parallel at 1080x1920, 320 steps, both dtypes: bit for bit?"
"$PY" - <<'PY' 2>&1 | tee "$out/bitwise.txt"
import numpy as np

from grayscott import backends
from grayscott.physics import make_initial, make_problem

if not backends.info("cupy").available:
    raise SystemExit(f"cupy: {backends.info('cupy').reason}")
for dtype in ("float32", "float64"):
    problem = make_problem((1080, 1920), dtype=dtype)
    u, v = make_initial("school", problem.shape)
    out = {}
    for name in ("numba-parallel", "cupy"):
        b = backends.create(name, problem)
        b.set_state(u, v)
        b.advance(320)
        out[name] = b.get_state()
    worst, differ = 0, 0
    for a, c in zip(out["numba-parallel"], out["cupy"]):
        ints = np.int32 if dtype == "float32" else np.int64
        ulps = np.abs(a.view(ints).astype(np.int64) - c.view(ints).astype(np.int64))
        worst, differ = max(worst, int(ulps.max())), differ + int((ulps > 0).sum())
    print(f"{dtype}: " + ("bit for bit equal" if differ == 0 else
                          f"{differ} values differ, by at most {worst} ulp"))
PY

for grid in $GRIDS; do
    rows=${grid%x*}; cols=${grid#*x}
    step "bench $grid float32: $BACKENDS"
    timeout 240 "$PY" -m grayscott bench --backends "$BACKENDS" -r "$rows" -c "$cols" \
        --steps "$STEPS" --repeat 5 --json "$out/bench-$grid.json" -q \
        || failed+=("bench $grid")
done

step "end to end: grayscott run, a frame every 32 steps, 1080x1920 float32"
# As run by default (every frame flushed and the state checkpointed), and with frames only
# (--checkpoint-every 0: the backend then runs one block ahead of the frame being written).
for backend in ${BACKENDS//,/ }; do
    for mode in default frames-only; do
        extra=(); [ "$mode" = frames-only ] && extra=(--checkpoint-every 0)
        tag="$backend-$mode"
        timeout 180 "$PY" -m grayscott run --backend "$backend" -n "$RUN_FRAMES" -e 32 \
            "${extra[@]}" -o "/tmp/gpu-check-$tag.h5" --overwrite 2>"$out/run-$tag.err" \
            | tee "$out/run-$tag.txt"
        [ "${PIPESTATUS[0]}" = 0 ] || { failed+=("run $tag"); tail -3 "$out/run-$tag.err"; }
        rm -f "/tmp/gpu-check-$tag.h5"
    done
done

step "summary"
"$PY" - "$out" "$BACKENDS" <<'PY' | tee "$out/summary.md"
import glob, json, os, re, sys, time

out, names = sys.argv[1], sys.argv[2].split(",")
TARGET = {"cupy": 0.8, "jax-3x3": 0.5}
RUN_TARGET = {"cupy": 0.6}
roof_1080 = None
try:
    card = open(os.path.join(out, "gpu.txt")).read().strip() or "unknown"
except OSError:
    card = "unknown"
print(f"GPU: {card}; measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by "
      "scripts/gpu-check.sh\n")
print("| grid | backend | Gcell-updates/s | device roofline | fraction | target |")
print("| --- | --- | ---: | ---: | ---: | --- |")
for path in sorted(glob.glob(os.path.join(out, "bench-*.json"))):
    data = json.load(open(path))
    grid = "x".join(map(str, data["grid"]))
    roof = data.get("device_roofline_cell_steps_per_s")
    if grid == "1080x1920":
        roof_1080 = roof
    for r in data["results"]:
        frac = r.get("roofline_fraction")
        want = TARGET.get(r["backend"]) if grid == "1080x1920" else None
        verdict = "" if want is None or frac is None else (
            f">= {want}: {'met' if frac >= want else 'NOT met'}")
        print(f"| {grid} | {r['backend']} | {r['cell_steps_per_s'] / 1e9:.1f} | "
              f"{roof / 1e9 if roof else float('nan'):.1f} | "
              f"{'-' if frac is None else f'{frac:.2f}'} | {verdict} |")
    bw = data.get("device_bandwidth") or {}
    if bw:
        print(f"|  | device copy | {bw['bytes_per_s'] / 1e9:.0f} GB/s | | | {bw['kernel']} |")
print()
try:
    print("cupy vs numba-parallel (1080x1920, 320 steps): "
          + "; ".join(open(os.path.join(out, "bitwise.txt")).read().split("\n")).strip("; "))
    print()
except OSError:
    pass
print("| end to end (grayscott run, frame every 32 steps, 1080x1920) | Gcell-updates/s | "
      "fraction of the 1080x1920 roofline | target |")
print("| --- | ---: | ---: | --- |")
runs = [(f"{n} ({mode})", f"run-{n}-{mode}.txt", n) for n in names
        for mode in ("default", "frames-only")]
for label, path, name in runs:
    try:
        text = open(os.path.join(out, path)).read()
    except OSError:
        continue
    m = re.search(r"\(([\d.]+) Mcell-updates/s", text)
    if not m:
        print(f"| {label} | failed | | |")
        continue
    rate = float(m.group(1)) * 1e6
    frac = rate / roof_1080 if roof_1080 else None
    want = RUN_TARGET.get(name)
    verdict = "" if want is None or frac is None else (
        f">= {want}: {'met' if frac >= want else 'NOT met'}")
    print(f"| {label} | {rate / 1e9:.1f} | {'-' if frac is None else f'{frac:.2f}'} | "
          f"{verdict} |")
print()
print("A frame every 32 steps of 1080x1920 float32 is 8.3 MB: at a rate R the run writes "
      "R / 32 / 2.07e6 x 8.3 MB/s of frames (0.6 of a 190 Gcell/s roofline: ~14 GB/s), "
      "plus 16.6 MB per checkpoint.")
PY

if [ ${#failed[@]} -gt 0 ]; then
    echo "gpu-check: FAILED: ${failed[*]}"
    exit 1
fi
echo "gpu-check: all steps ran; results in $out/"
