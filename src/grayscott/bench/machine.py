"""What machine and software a measurement was taken on (the metadata of every report).

Everything here degrades to None rather than failing: a benchmark must run on any OS.
"""

from __future__ import annotations

import contextlib
import os
import platform
import re
import subprocess
from functools import cache
from pathlib import Path

from ..provenance import library_versions, now_utc

#: Environment variables that change how many threads a backend uses.
THREAD_ENV: tuple[str, ...] = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                               "OPENBLAS_NUM_THREADS", "XLA_FLAGS", "JAX_PLATFORMS",
                               "JAX_ENABLE_X64")


def _run(*cmd: str, cwd: Path | None = None) -> str | None:
    try:
        out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=5,
                             check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def _parse_size(text: str) -> int | None:
    m = re.fullmatch(r"\s*(\d+)\s*([KMG]?)i?B?\s*", text, re.IGNORECASE)
    if not m:
        return None
    return int(m.group(1)) * {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[m.group(2).upper()]


def _cpuinfo() -> list[dict[str, str]]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    blocks = []
    for block in text.strip().split("\n\n"):
        entry = {}
        for line in block.splitlines():
            key, _, value = line.partition(":")
            entry[key.strip()] = value.strip()
        blocks.append(entry)
    return blocks


@cache
def cpu_model() -> str:
    for entry in _cpuinfo():
        for key in ("model name", "Hardware", "cpu model"):
            if entry.get(key):
                return entry[key]
    if platform.system() == "Darwin":
        name = _run("sysctl", "-n", "machdep.cpu.brand_string")
        if name:
            return name
    return platform.processor() or platform.machine() or "unknown"


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask where the OS has one)."""
    with contextlib.suppress(AttributeError, OSError):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@cache
def physical_cores() -> int | None:
    cores = {(e.get("physical id"), e.get("core id")) for e in _cpuinfo() if "core id" in e}
    if cores:
        return len(cores)
    if platform.system() == "Darwin":
        n = _run("sysctl", "-n", "hw.physicalcpu")
        if n and n.isdigit():
            return int(n)
    return None


@cache
def last_level_cache_bytes() -> int | None:
    """Size of the largest cache one core sees (L3 on most CPUs), or None if unknown."""
    best: tuple[int, int] | None = None
    base = Path("/sys/devices/system/cpu/cpu0/cache")
    with contextlib.suppress(OSError):
        for index in base.glob("index*"):
            kind = (index / "type").read_text().strip()
            if kind == "Instruction":
                continue
            level = int((index / "level").read_text())
            size = _parse_size((index / "size").read_text())
            if size and (best is None or (level, size) > best):
                best = (level, size)
    if best:
        return best[1]
    if platform.system() == "Darwin":
        for key in ("hw.l3cachesize", "hw.l2cachesize"):
            n = _run("sysctl", "-n", key)
            if n and n.isdigit() and int(n) > 0:
                return int(n)
    return None


@cache
def cache_bytes(level: int) -> int | None:
    """Size of the level-``level`` data (or unified) cache of one core, from sysfs, or None.

    (Temporal blocking sizes its per-thread buffers to the L2 this gives.)"""
    base = Path("/sys/devices/system/cpu/cpu0/cache")
    with contextlib.suppress(OSError, ValueError):
        for index in sorted(base.glob("index*")):
            if (index / "type").read_text().strip() == "Instruction":
                continue
            if int((index / "level").read_text()) == level:
                return _parse_size((index / "size").read_text())
    return None


def busy_cpu_seconds() -> tuple[float, float]:
    """(CPU seconds the whole machine has been busy, from /proc/stat; CPU seconds of this
    process's waited-for children): their differences over a measurement give the CPU that
    other work took meanwhile (Linux)."""
    import resource

    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    busy = (sum(ticks[:8]) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")
    mine = resource.getrusage(resource.RUSAGE_CHILDREN)
    return busy, mine.ru_utime + mine.ru_stime


def memory_bytes() -> int | None:
    with contextlib.suppress(ValueError, OSError, AttributeError):
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return None


def available_memory_bytes() -> int | None:
    with contextlib.suppress(ValueError, OSError, AttributeError):
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    return None


@cache
def git_commit() -> dict[str, object] | None:
    """Commit of the source tree the package runs from (editable installs), else None."""
    pkg = Path(__file__).resolve().parents[1]  # .../grayscott
    top = _run("git", "rev-parse", "--show-toplevel", cwd=pkg)
    if not top or (Path(top) / "src" / "grayscott").resolve() != pkg:
        return None
    commit = _run("git", "rev-parse", "HEAD", cwd=pkg)
    if not commit:
        return None
    status = _run("git", "status", "--porcelain", "--untracked-files=no", cwd=pkg)
    return {"commit": commit, "dirty": bool(status)}


def package_version() -> str:
    from .. import __version__

    return __version__


def collect_metadata() -> dict[str, object]:
    """Machine, OS, Python and library versions, package version and commit, date."""
    git = git_commit()
    return {
        "date": now_utc(),
        "cpu_model": cpu_model(),
        "cores_logical": os.cpu_count(),
        "cores_usable": usable_cores(),
        "cores_physical": physical_cores(),
        "last_level_cache_bytes": last_level_cache_bytes(),
        "memory_bytes": memory_bytes(),
        "os": platform.platform(),
        "machine": platform.machine(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "libraries": library_versions(),
        "grayscott_version": package_version(),
        "git_commit": git["commit"] if git else None,
        "git_dirty": git["dirty"] if git else None,
        "thread_environment": {k: os.environ[k] for k in THREAD_ENV if k in os.environ},
    }
