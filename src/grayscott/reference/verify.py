"""``grayscott verify FILE``: is this run the school's reference, frame by frame?

The configuration is read from the file's attributes (:func:`~.manifest.config_of`) and looked
up among the shipped manifests. Frame ``i`` of a run whose first frame follows
``steps_before`` steps is frame ``i + steps_before / nbextrastep`` of the reference, so a
shorter run (``-n 20``) is checked against the first frames and a resumed piece against its
own.

Runs of IEEE backends (numpy-school, numba, numba-parallel, numba-blocked, cupy) must match
every digest: "bit for bit the reference". A differing frame is measured against the small
full reference where it holds that frame (the largest difference over the cells), else by its
statistics, which give a lower bound of that difference.

Backends that reorder operations or flush subnormal numbers (JAX, ``--flush-subnormals``, and
the ``numpy`` and ``python`` rungs: :data:`NOT_BIT_FOR_BIT`) give other bits by design; their
frames are compared within :data:`TOLERANCE`, on every cell where the full reference holds the
frame, else on the four statistics, and the report says so.
Rounding differences grow as the pattern evolves (the model amplifies them), so a long such
run can leave the tolerance while nothing is wrong: the report then names the frame.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ..errors import GrayScottError
from ..io.diff import compare_frame, open_frames, read_frame
from .manifest import STATS, Manifest, config_of, data_dir, digest, load_all, stats

#: Absolute tolerance on V for backends that are not bit for bit the IEEE reference. Measured
#: on the "small" reference (128x128): jax and jax-3x3 stay within 1e-5 of it for the 24
#: frames it holds in full and within 9e-4 over its 100 frames.
TOLERANCE = 1e-3
#: Backends whose arithmetic is not the school's expression evaluated in IEEE order, and why.
NOT_BIT_FOR_BIT = {
    "jax": "reorders operations and flushes subnormals",
    "jax-3x3": "reorders operations and flushes subnormals",
    "numpy": "evaluates the update in another order (buffers reused with out=)",
    "python": "computes each cell in double precision (Python floats)",
}


def tolerant_reason(attrs: Any) -> str | None:
    """Why the run cannot be bit for bit the IEEE reference, or None when it should be."""
    backend = _text(attrs.get("backend", ""))
    if backend in NOT_BIT_FOR_BIT:
        return f"{backend} {NOT_BIT_FOR_BIT[backend]}"
    if _text(attrs.get("backend_subnormals", "keep")) == "flush":
        return "the run flushed subnormals to zero (--flush-subnormals)"
    return None


def _text(x: Any) -> str:
    return x.decode("utf-8", "replace") if isinstance(x, bytes) else str(x)


@dataclass
class FrameCheck:
    frame: int  # in the file
    reference_frame: int
    bit_for_bit: bool
    difference: float = 0.0  # largest |file - reference|, or its lower bound from statistics
    exact_measure: bool = True  # measured on every cell (full reference), not from statistics
    within: bool = True


@dataclass
class Verification:
    path: str
    manifest: str
    frames: int  # in the file
    offset: int  # reference frame of the file's frame 0
    reference_frames: int
    tolerance: float | None  # None: bit for bit expected
    reason: str | None
    checks: list[FrameCheck] = field(default_factory=list)

    @property
    def differing(self) -> list[FrameCheck]:
        return [c for c in self.checks if not c.bit_for_bit]

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.within for c in self.checks)

    def report(self, folder: Path | None = None) -> str:
        return report(self, folder)

    def as_dict(self) -> dict[str, Any]:
        first = next((c for c in self.checks if not c.within), None)
        return {"path": self.path, "reference": self.manifest, "frames": self.frames,
                "compared": len(self.checks), "reference_first_frame": self.offset,
                "reference_frames": self.reference_frames, "tolerance": self.tolerance,
                "tolerance_reason": self.reason, "ok": self.ok,
                "bit_for_bit": self.ok and not self.differing,
                "frames_not_bit_for_bit": len(self.differing),
                "first_failing_frame": first.frame if first else None,
                "first_failing_difference": first.difference if first else None,
                "largest_difference": max((c.difference for c in self.checks), default=0.0)}


def describe(config: dict[str, Any]) -> str:
    """A configuration in a few words."""
    c = config
    return (f"{c.get('nbrow', '?')}x{c.get('nbcol', '?')} {c.get('dtype', '?')} (frames "
            f"{c.get('output_dtype', '?')}), stencil {c.get('stencil', '?')}, border "
            f"{c.get('border', '?')}, initial {c.get('initial', '?')}, {c.get('nbextrastep', '?')} "
            f"steps a frame, Du={c.get('Du', '?')} Dv={c.get('Dv', '?')} F={c.get('F', '?')} "
            f"k={c.get('k', '?')} dt={c.get('dt', '?')}")


def short(config: dict[str, Any]) -> str:
    """The settings that tell the references apart (:func:`describe` has all)."""
    c = {"nbrow": "?", "nbcol": "?", "dtype": "?", "stencil": "?", "border": "?", **config}
    rates = {k: c.get(k) for k in ("Du", "Dv", "F", "k", "dt", "nbextrastep", "initial")}
    default = {"Du": 0.1, "Dv": 0.05, "F": 0.014, "k": 0.054, "dt": 1.0, "nbextrastep": 32,
               "initial": "school"}
    other = ", ".join(f"{k}={v}" for k, v in rates.items() if v != default[k])
    return (f"{c['nbrow']}x{c['nbcol']} {c['dtype']} {c['stencil']} {c['border']}"
            + (f", {other}" if other else ""))


def _reference(f: h5py.File, m: h5py.Dataset, folder: Path | None) -> tuple[Manifest, int]:
    config = config_of(f.attrs, frame_dtype=m.dtype.name)
    manifests = load_all(folder)
    found = next((x for x in manifests if x.matches(config)), None)
    if found is None:
        names = ", ".join(f"{x.name} ({short(x.config)})" for x in manifests)
        raise GrayScottError(f"no reference for this configuration ({short(config)}); "
                             f"references: {names}")
    before = int(f.attrs.get("steps_before", 0))
    if before % found.config["nbextrastep"]:
        raise GrayScottError(f"the run starts after {before} steps, between two frames of the "
                             f"reference {found.name!r}")
    offset = before // found.config["nbextrastep"]
    if offset >= found.frames:
        raise GrayScottError(f"the run starts at frame {offset} of the reference "
                             f"{found.name!r}, which has {found.frames}")
    return found, offset


def _full_frames(manifest: Manifest, folder: Path | None) -> h5py.Dataset | None:
    if not manifest.full:
        return None
    path = (folder or data_dir()) / manifest.full
    return h5py.File(path, "r")["matrix"] if path.exists() else None


def verify_file(path: str | os.PathLike, tolerance: float | None = None,
                folder: Path | None = None, progress: bool = False) -> Verification:
    """Compare every frame of ``path`` that the reference covers with the reference."""
    from ..progress import progress_bar

    f, m, n = open_frames(path)
    with f:
        if n == 0:
            raise GrayScottError(f"{str(path)!r} holds no frame yet")
        manifest, offset = _reference(f, m, folder)
        reason = tolerant_reason(f.attrs)
        tol = tolerance if tolerance is not None else (TOLERANCE if reason else None)
        res = Verification(str(path), manifest.name, n, offset, manifest.frames, tol, reason)
        full = _full_frames(manifest, folder)
        count = min(n, manifest.frames - offset)
        buf = np.empty(m.shape[1:], m.dtype)
        bar = progress_bar(count, enabled=progress, desc="verify")
        try:
            for i in range(count):
                read_frame(m, i, buf, path)
                res.checks.append(_check(i, offset + i, buf, manifest, full, tol))
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
            if full is not None:
                full.file.close()
    return res


def _check(i: int, j: int, frame: np.ndarray, manifest: Manifest, full: h5py.Dataset | None,
           tol: float | None) -> FrameCheck:
    if digest(frame) == manifest.sha256[j]:
        return FrameCheck(i, j, True)
    if full is not None and j < full.shape[0]:
        _, d, _ = compare_frame(frame, full[j])
        diff, measured = float(d.max()), True
    else:  # max |a - b| >= |min a - min b|, |max a - max b|, |mean a - mean b|
        mine, ref = stats(frame), manifest.frame_stats(j)
        diff = max(abs(mine[k] - ref[k]) for k in STATS if k != "std")
        if tol is not None:  # the spread too must be within the tolerance
            diff = max(diff, abs(mine["std"] - ref["std"]))
        diff, measured = (diff if np.isfinite(diff) else float("inf")), False
    return FrameCheck(i, j, False, diff, measured, tol is not None and diff <= tol)


def _frames(n: int) -> str:
    return f"{n} frame{'s' if n != 1 else ''}"


def _span(first: int, count: int) -> str:
    return f"frame {first}" if count == 1 else f"frames {first}..{first + count - 1}"


def report(v: Verification, folder: Path | None = None) -> str:
    """What ``grayscott verify`` prints: the reference, the frames compared, the verdict."""
    m = next(x for x in load_all(folder) if x.name == v.manifest)
    checked = ", ".join(f"{k} ({n} frames)" for k, n in m.checked.items())
    lines = [f"{v.path}: reference {v.manifest!r}, {describe(m.config)}; made by {m.made_by}, "
             f"checked by {checked}"]
    n = len(v.checks)
    lines.append(f"  {_span(0, n)} of the file are {_span(v.offset, n)} of the reference "
                 f"({v.reference_frames} frames)")
    if v.frames > n:
        lines.append(f"  {_span(n, v.frames - n)} of the file lie beyond the reference: not "
                     "checked")
    if v.tolerance is not None:
        why = f"{v.reason}: " if v.reason else ""
        lines.append(f"  {why}compared within {v.tolerance:g} (absolute; on every cell where "
                     "the full reference holds the frame, else on min, max, mean and std)")
    bad = [c for c in v.checks if not c.within]
    if v.tolerance is None and not bad:
        lines.append(f"bit for bit the reference ({_frames(n)})")
        return "\n".join(lines)
    if not bad:
        exact = n - len(v.differing)
        largest = max(c.difference for c in v.checks)
        lines.append(f"within {v.tolerance:g} of the reference ({_frames(n)}; {exact} bit for "
                     f"bit; largest difference {largest:.3g})")
        return "\n".join(lines)
    first = bad[0]
    if first.exact_measure:
        how = f"by {first.difference:.3g} (largest difference over the cells)"
    elif first.difference > 0:
        how = f"by at least {first.difference:.3g} (from its statistics)"
    else:
        how = "in its bits; its statistics are equal"
    beyond = f"beyond {v.tolerance:g} " if v.tolerance is not None else ""
    lines.append(f"NOT the reference: frame {first.frame} (reference frame "
                 f"{first.reference_frame}) differs {beyond}{how}; {len(bad)} of {n} frames "
                 "differ" + (f" beyond {v.tolerance:g}" if v.tolerance is not None else ""))
    return "\n".join(lines)
