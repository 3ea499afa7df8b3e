"""Before a sweep runs: its rates parsed (:func:`parse_range`), its batched backend chosen, and
its members cut into pieces that fit in memory (:func:`plan_pieces`, :func:`file_piece`).

Pure planning: this module runs no kernel and writes no file; it may not import the batched
kernels, the sweep itself (:mod:`.core`) or io/.
"""

from __future__ import annotations

import importlib.util
import math

import numpy as np

from ..errors import GrayScottError
from ..physics.problem import check_int

#: Batched backends, in order of preference, and the module each needs.
BACKENDS: dict[str, str] = {"numba": "numba", "jax": "jax"}
#: How each shares the work (see :mod:`.numba_batch` and :mod:`.jax_batch`; same results).
STRATEGIES: dict[str, tuple[str, ...]] = {"numba": ("rows", "members", "blocked", "wide"),
                                          "jax": ("vmap", "map")}


def parse_range(spec: str, what: str = "range") -> np.ndarray:
    """``"A:B:N"`` -> N values from A to B inclusive (``numpy.linspace``); ``"A"`` -> [A].

    Rates must be finite and >= 0; N an integer >= 1. Errors are one line naming ``what``.
    """
    text = str(spec).strip()
    parts = text.split(":")
    if len(parts) not in (1, 3):
        raise GrayScottError(f"{what} {spec!r} must be A:B:N (N values from A to B) or one value")
    try:
        a = float(parts[0])
        b = float(parts[-1 if len(parts) == 1 else 1])
    except ValueError:
        raise GrayScottError(f"{what} {spec!r}: A and B must be numbers") from None
    n = 1
    if len(parts) == 3:
        try:
            n = int(parts[2])
        except ValueError:
            raise GrayScottError(f"{what} {spec!r}: N must be an integer >= 1") from None
        if n < 1:
            raise GrayScottError(f"{what} {spec!r}: N must be an integer >= 1")
    for x in (a, b):
        if not math.isfinite(x) or x < 0:
            raise GrayScottError(f"{what} {spec!r}: values must be finite and >= 0")
    if n == 1 and a != b:
        raise GrayScottError(f"{what} {spec!r}: one value (N = 1) needs A = B")
    return np.linspace(a, b, n)


def check_pairs(pairs: object) -> list[tuple[float, float]]:
    """(F, k) pairs as floats, or one line saying what is wrong: no pairs, a pair that is not
    two numbers. (The rates themselves are checked by :class:`~grayscott.physics.Parameters`.)"""
    if isinstance(pairs, str | bytes) or not hasattr(pairs, "__iter__"):
        raise GrayScottError(f"pairs must be a sequence of (F, k) pairs, got {pairs!r}"[:200])
    items = list(pairs)  # type: ignore[call-overload]
    if not items:
        raise GrayScottError("pairs is empty: give at least one (F, k) pair")
    out = []
    for i, pair in enumerate(items):
        try:
            if isinstance(pair, str | bytes):
                raise TypeError
            f, k = pair
            out.append((float(f), float(k)))
        except (TypeError, ValueError):
            raise GrayScottError(f"pair {i} of pairs, {pair!r}, must be two numbers (F, k)"[:200]
                                 ) from None
    return out


def default_backend() -> str:
    for name, module in BACKENDS.items():
        if importlib.util.find_spec(module) is not None:
            return name
    raise GrayScottError("sweep needs numba or jax: pip install 'grayscott[numba]'")


def check_backend(name: str | None) -> str:
    if name is None:
        return default_backend()
    if name not in BACKENDS:
        raise GrayScottError(f"sweep backend {name!r} is not batched; choose one of: "
                             f"{', '.join(BACKENDS)}")
    if importlib.util.find_spec(BACKENDS[name]) is None:
        raise GrayScottError(f"sweep backend {name!r} needs {BACKENDS[name]}: "
                             f"pip install 'grayscott[{name}]'")
    return name


def available_memory() -> int:
    """Bytes of memory available now, as runs check it (:func:`grayscott.resources.
    available_memory`: a cgroup limit counts); 4 GiB where it cannot be read."""
    from .. import resources

    avail = resources.available_memory()
    return 4 << 30 if avail is None else avail


#: numba_blocked's largest automatic k and its band-to-halo rule (k - 1 <= rows / 8 on one
#: band), which bound the rows of scratch a Numba member has while a call runs.
NUMBA_K_MAX, NUMBA_ROWS_PER_LEVEL = 8, 8


def scratch_rows(nrow: int) -> int:
    """Rows of ``nbcol + 2`` values one member's Numba call may hold beside its fields: the
    wavefront's rings (k - 1 levels x 3 rows x 2 fields) and, side by side, the Laplacians and
    the rates per column of the row in hand (4 rows)."""
    return 6 * max(1, min(NUMBA_K_MAX - 1, nrow // NUMBA_ROWS_PER_LEVEL)) + 4


def member_bytes(shape: tuple[int, int], itemsize: int, backend: str) -> int:
    """Memory one member needs while it runs: 4 padded fields (two states) with Numba, and the
    larger of the V handed back and the scratch of a call (:func:`scratch_rows`; freed before
    V is copied out); JAX keeps the donated pair, its output and fused temporaries: counted as
    6, and the V handed back."""
    nr, nc = shape
    fields = 4 if backend == "numba" else 6
    beside = nr * nc
    if backend == "numba":
        beside = max(beside, scratch_rows(nr) * (nc + 2))
    return (fields * (nr + 2) * (nc + 2) + beside) * itemsize


def _keep_in_memory(nbytes: int, budget: int, members: int = 0, per_member: int = 0) -> int:
    """The budget left for the pieces once a result of ``nbytes`` is kept in memory. Refused
    with the numbers: how many members of this grid would fit, beside their running pieces."""
    if nbytes >= budget:
        hint = ""
        if members and per_member:
            fits = budget // (nbytes // members + per_member)
            hint = (f"; at most {fits} members of this grid fit, so sweep fewer members (now "
                    f"{members}) or a smaller grid" if fits else
                    f"; not one member of this grid fits "
                    f"({(nbytes // members + per_member) / 1e9:.2f} GB with its run), so use a "
                    "smaller grid")
        raise GrayScottError(f"the result needs {nbytes / 1e9:.2f} GB and only "
                             f"{budget / 1e9:.2f} GB may be used{hint}; or write it to a file "
                             "(output=...)")
    return budget - nbytes


#: Without ``batch``, a Numba sweep written to a file runs in up to this many pieces, of at
#: least ``MIN_FILE_PIECE`` members (the kernel shares a piece's members among threads): a kill
#: loses at most the piece in progress and a signal waits for that piece only. Measured free on
#: 2 cores: 64 members of 64 x 64 and 256 x 256 in 1, 4 or 8 pieces within 1 % (best of 3).
#: JAX keeps its one big batch (vmap on a GPU wants it; not measured here).
FILE_PIECES = 16
MIN_FILE_PIECE = 8


def file_piece(members: int) -> int:
    """The largest piece of a Numba sweep written to a file when ``batch`` is not given."""
    return max(MIN_FILE_PIECE, math.ceil(members / FILE_PIECES))


def plan_pieces(members: int, per_member: int, budget: int, batch: int | None) -> int:
    """Members per piece: all of them if they fit in ``budget`` bytes (and ``batch`` allows)."""
    fit = budget // per_member
    if fit < 1:  # fewer members cannot help: only a smaller grid (the cells scale the bytes)
        raise GrayScottError(f"one member needs {per_member / 1e9:.2f} GB and only "
                             f"{budget / 1e9:.2f} GB may be used; use a smaller grid (at most "
                             f"about {budget / per_member:.0%} of its cells)")
    size = min(members, fit)
    if batch is not None:
        size = min(size, check_int("batch", batch))
    return size


def frame_schedule(steps: int, frames: int) -> np.ndarray:
    """Steps behind each kept frame: every ``steps / frames`` steps, the last at ``steps``
    (``frames`` 0: only the final V). One-line errors."""
    frames = check_int("frames", frames, minimum=0)
    steps = check_int("steps", steps, minimum=0)
    if steps > 2**63 - 1:  # as run refuses: steps are stored as int64
        raise GrayScottError(f"steps must be below 2**63 (the file stores int64), got {steps}")
    if frames == 0:
        return np.array([steps], np.int64)
    if steps % frames or steps < frames:
        raise GrayScottError(f"--frames {frames} must divide --steps {steps} (a frame every "
                             "steps / frames steps)")
    return np.arange(1, frames + 1, dtype=np.int64) * (steps // frames)
