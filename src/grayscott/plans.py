"""What a run or a resume checks and plans before it starts: the step count, the seed and the
backend's name, and the resume plan (:class:`ResumePlan`, :func:`plan_resume`) read from a run's
file (its settings rebuilt as a :class:`~grayscott.physics.Problem` by
:func:`problem_from_attrs`).

It reads files through :mod:`grayscott.io.readers` only and writes nothing; it may not import
the time loop, the observers, mpi4py or a backend module (backends are named and checked
through :mod:`grayscott.backends`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import backends
from .errors import GrayScottError
from .io.readers import open_run
from .physics import Parameters, Problem, make_problem
from .physics.problem import check_int

#: Frames between two checkpoints. A checkpoint (fetch U and V, write both) costs about a tenth
#: of a 32-step block of the school's grid on 2 cores (BENCHMARKS.md, "Crash safety"); every
#: 10 frames it is about 1 %, and a resume recomputes at most 9 frames. Frames themselves are
#: flushed every frame whatever this says.
DEFAULT_CHECKPOINT_EVERY = 10
#: Steps and seeds are stored as int64.
INT64_MAX = 2**63 - 1


def check_steps(steps_before: int, nbimage: int, nbextrastep: int) -> None:
    """Refuse a run whose step count would not fit the file's int64 ``step`` coordinate."""
    last = steps_before + nbimage * nbextrastep
    if last > INT64_MAX:
        raise GrayScottError(f"{nbimage} frames x {nbextrastep} steps is {last:.3g} steps, more "
                             f"than the file can count (2**63 - 1); use fewer (-n, -e)")


def check_seed(seed: object) -> int:
    seed = check_int("seed", seed, 0)
    if seed > INT64_MAX:
        raise GrayScottError(f"seed must be below 2**63, got {seed}")
    return seed


def _check_backend(backend: str | None) -> str:
    name = backend or backends.default_backend()
    backends.info(name).load()  # unknown or unavailable backend: refuse now
    return name



def problem_from_attrs(attrs: Any) -> Problem:
    """The Problem a run's file was written for (its attributes)."""
    from .physics import get_stencil

    params = Parameters(**{k: float(attrs[k]) for k in ("Du", "Dv", "F", "k", "dt")})
    name = attrs["stencil"]
    name = name.decode() if isinstance(name, bytes) else str(name)
    try:
        stencil = get_stencil(name)
    except GrayScottError:
        stencil = get_stencil(np.asarray(attrs["stencil_weights"], float).reshape(3, 3))
    border = attrs["border"]
    dtype = attrs["dtype"]
    shape = (int(attrs["nbrow"]), int(attrs["nbcol"]))
    spec = attrs.get("map")
    rate_map = None
    if spec is not None:  # F per row and k per column, rebuilt exactly from the four ends
        from .physics import parse_map

        rate_map = parse_map(spec.decode() if isinstance(spec, bytes) else str(spec), shape)
    return make_problem(shape, params=params,
                        stencil=stencil, border=border.decode() if isinstance(border, bytes)
                        else str(border), dtype=dtype.decode() if isinstance(dtype, bytes)
                        else str(dtype), allow_unstable=True, rate_map=rate_map)


@dataclass
class ResumePlan:
    """What :func:`resume` found in a file and will do."""

    path: Path
    problem: Problem
    backend: str
    nbimage: int  # frames in all once resumed
    nbextrastep: int
    first_frame: int  # the checkpoint's frames: computing starts there
    steps: int  # the checkpoint's steps
    frames_written: int
    status: str
    output_dtype: np.dtype
    checkpoint_every: int
    threads: int | None
    wall_before: float
    #: Backend options the run was made with and the backend takes (``subnormals``).
    options: dict[str, Any] = field(default_factory=dict)
    #: Steps of frame ``first_frame`` behind the checkpoint: one saved in the middle of a
    #: frame (``--stop-within``); 0 for one saved after a frame.
    lead: int = 0


def plan_resume(path: str | Path, nbimage: int | None = None, backend: str | None = None,
                threads: int | None = None, checkpoint_every: int | None = None) -> ResumePlan:
    """Read ``path`` and check that it can be resumed as asked (one-line errors if not)."""
    from .io.layout import RESUMABLE_LAYOUT
    from .io.readers import _number, _value, checkpoint_index

    path = Path(path)
    with open_run(path) as f:
        a = dict(f.attrs)
        version = _number(a.get("layout_version", 1))
        if version is None or version < RESUMABLE_LAYOUT or "checkpoint" not in f:
            raise GrayScottError(f"{str(path)!r} was written by a grayscott without checkpoints; "
                                 "it cannot be resumed")
        index = checkpoint_index(f)
        frames_written = int(_value(f, "frames_written", 0))
        status = str(_value(f, "status", ""))
        wall_before = float(_value(f, "wall_seconds", 0.0))
        out_dtype = f["matrix"].dtype
    if index is None:
        raise GrayScottError(f"{str(path)!r} holds no checkpoint; it cannot be resumed")
    _, ck_frames, ck_steps = index
    try:
        return _plan(path, a, nbimage, backend, threads, checkpoint_every, ck_frames, ck_steps,
                     frames_written, status, wall_before, np.dtype(out_dtype))
    except (KeyError, ValueError, TypeError) as exc:  # a damaged file's settings
        raise GrayScottError(f"{str(path)!r} is a damaged grayscott run file: its settings "
                             f"cannot be read ({exc})") from None


def _plan(path: Path, a: dict[str, Any], nbimage: int | None, backend: str | None,
          threads: int | None, checkpoint_every: int | None, ck_frames: int, ck_steps: int,
          frames_written: int, status: str, wall_before: float,
          out_dtype: np.dtype) -> ResumePlan:
    problem = problem_from_attrs(a)
    nbextrastep = int(a["nbextrastep"])
    planned = int(a["nbimage"])
    total = planned if nbimage is None else check_int("nbimage", nbimage)
    # A checkpoint is the state after its frames, or on the way to the next one (a frame cut
    # at a step by --stop-within): never behind its frames, never past the next frame.
    lead = ck_steps - (int(a.get("steps_before", 0)) + ck_frames * nbextrastep)
    if ck_frames > frames_written or not 0 <= lead <= nbextrastep:
        raise GrayScottError(f"{str(path)!r} is a damaged grayscott run file: its checkpoint "
                             "does not match its frames")
    if total < frames_written:
        raise GrayScottError(f"{str(path)!r} already has {frames_written} frames; --nbimage "
                             f"must be at least that (it is the number of frames in all)")
    check_steps(int(a.get("steps_before", 0)), total, nbextrastep)
    stored = a.get("backend", "numpy")
    stored = stored.decode() if isinstance(stored, bytes) else str(stored)
    name = _check_backend(backend or stored)
    every = (int(a.get("checkpoint_every", DEFAULT_CHECKPOINT_EVERY)) if checkpoint_every is None
             else check_int("checkpoint_every", checkpoint_every, 0))
    return ResumePlan(path, problem, name, total, nbextrastep, ck_frames, ck_steps,
                      frames_written, status, out_dtype, every, threads, wall_before,
                      _resumed_options(a, name), lead)


def _resumed_options(attrs: dict[str, Any], name: str) -> dict[str, Any]:
    """The options of the run in ``attrs`` that change its arithmetic, for ``name`` if it
    takes them: a run that flushed subnormals goes on flushing (the same bits as unstopped)."""
    sub = attrs.get("backend_subnormals")
    if sub is None or "subnormals" not in backends.info(name).load().options:
        return {}
    return {"subnormals": sub.decode() if isinstance(sub, bytes) else str(sub)}
