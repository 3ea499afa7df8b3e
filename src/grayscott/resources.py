"""What a run needs before it starts: memory, checked against what the machine has now.

The disk side (frames, stored states, HDF5's overhead) is
:func:`grayscott.io.layout.estimated_bytes`.
"""

from __future__ import annotations

import os

import numpy as np

from .errors import GrayScottError

#: Field-sized arrays each backend holds while it steps (padded grids, of the run's dtype):
#: the state, its second buffer, scratch, and the temporaries a step makes (numpy-school's
#: slice expressions allocate about ten; JAX keeps the donated pair, its output and XLA's
#: fused temporaries). Unknown backends count as the largest.
BACKEND_FIELDS = {"python": 4, "numpy-school": 12, "numpy": 7, "numba": 4, "numba-parallel": 4,
                  "numba-blocked": 4,  # numba-parallel's; + rings: L2-sized unless --blocking
                  "jax": 6, "jax-3x3": 6,
                  "cupy": 2}  # its fields are on the GPU; the host holds 2 pinned frame buffers
#: The interpreter, NumPy, h5py and a backend's libraries, before any field (measured: about
#: 120 MB with numba, 250 MB with jax).
BASELINE_BYTES = 300 * 2**20


def _read_int(path: str) -> int | None:
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def available_memory() -> int | None:
    """Bytes a new allocation can get now: MemAvailable, capped by a cgroup limit (containers,
    batch jobs); None where neither can be read."""
    avail = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError):
        pass
    if avail is None:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            avail = None
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        limit, usage = _read_int(limit_file), _read_int(usage_file)
        if limit is not None and usage is not None and limit < 2**60:
            room = max(limit - usage, 0)
            avail = room if avail is None else min(avail, room)
            break
    return avail


def run_memory_bytes(backend: str, shape: tuple[int, int], dtype: np.dtype | str,
                     output_dtype: np.dtype | str = "float32") -> int:
    """Peak bytes of a run: the backend's fields, plus the larger of the start (the float64
    initial state and its conversion to the run's dtype) and a frame (a checkpoint's copy of
    (u, v), the frame's V and its conversion to the output dtype)."""
    nr, nc = shape
    item = np.dtype(dtype).itemsize
    cells = nr * nc
    fields = BACKEND_FIELDS.get(backend, max(BACKEND_FIELDS.values()))
    start = 2 * cells * 8 + 2 * cells * item
    frame = 3 * cells * item + cells * np.dtype(output_dtype).itemsize
    return fields * (nr + 2) * (nc + 2) * item + max(start, frame) + BASELINE_BYTES


def check_memory(backend: str, shape: tuple[int, int], dtype: np.dtype | str,
                 output_dtype: np.dtype | str = "float32") -> int:
    """Refuse, with the numbers, a run that would not fit in the memory available now."""
    need = run_memory_bytes(backend, shape, dtype, output_dtype)
    avail = available_memory()
    if avail is not None and need > avail:
        nr, nc = shape
        raise GrayScottError(
            f"a {nr}x{nc} {np.dtype(dtype).name} run on {backend} needs about "
            f"{need / 1e9:.3g} GB of memory and {avail / 1e9:.3g} GB are available; "
            "use a smaller grid (-r, -c)")
    return need
