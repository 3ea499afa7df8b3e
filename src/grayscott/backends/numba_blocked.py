"""``numba-blocked``: temporal blocking, ``k`` time steps per pass over memory.

``numba-parallel`` reads u, v and writes u', v' once per step (16 bytes per cell in float32), so
memory bandwidth caps it. Here each thread owns a band of rows and sweeps it once per *pass* with
a wavefront over ``m <= k`` time levels:

* level 0 is the state in memory, level ``m`` is written to the second buffer pair, and each
  level in between lives in a ring of 3 padded rows per field (``RU``, ``RV``: a few hundred KiB
  per thread, sized to stay in the core's L2);
* at wavefront position ``s``, level ``t`` computes its row ``s - t + 1`` from level ``t - 1``'s
  rows ``r - 1, r, r + 1``: the newest of them was computed a moment before in the same position,
  the other two are still in the ring (a row is overwritten three rows later);
* a band owning output rows ``[a, b)`` computes level ``t`` on ``[a - (m - t), b + (m - t))``:
  the rows its neighbours also compute (the halo a pyramid needs), so bands never wait for each
  other within a pass; the redundant work is ``m (m - 1)`` rows per band and pass.

Every row of every level is computed by :func:`~.numba_kernels.row_lines` and
:func:`~.numba_kernels.edges_lines`, the very arithmetic of ``numba`` (same terms, same order, no
fastmath), from the same input values: the result is that of ``numba`` bit for bit, whatever
``k``, the bands, the threads, and however the steps fall into passes (``nsteps = q k + r``: q
passes of k and one of r). Border rules apply per level: the ghost rows of a fixed or school
border are constant (read from the state's own ghost rows), a periodic row wraps around (a band
computes rows beyond the grid as the wrapped ones, so no exchange is needed), ghost columns are
set on each ring row as it is computed, and the school's deficit correction is redone on edge
cells of every level exactly as ``numba`` does on each step.

``k`` is chosen in three ways, in this order: given (``blocking=``, the CLI's ``--blocking``);
measured (:func:`tune_blocking`: on grids of :data:`TUNE_MIN_CELLS` or more, each admissible k
is timed on the backend's own buffers, a strip of their rows when the fields exceed the
last-level cache (:func:`tune_rows`), the best kept in the tuning cache, so the measurement
happens once per machine, width, dtype and thread count); or the model (:func:`choose_blocking`,
from the grid width and the L2 size: small grids, ``tune=False``, ``GRAYSCOTT_AUTOTUNE=0``).
The bands are one per thread unless ``bands=`` says otherwise. :attr:`provenance` says which
were used and why.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from numba import njit, prange

from ..errors import GrayScottError
from ..physics import Problem
from . import numba_kernels as K
from . import tuning
from .base import Capabilities, Option, integer, one_of
from .fpmode import enter, leave
from .numba_parallel import NumbaParallelBackend

_OPTS = K._OPTS

#: Largest k chosen automatically: past it the kernel is compute-bound on the machines measured
#: (BENCHMARKS.md, the k sweep), so a larger k only adds redundant halo rows and ring size.
K_MAX = 8
#: Fraction of the L2 the rings of one thread may fill (the rest: the streamed rows in and out).
RING_L2_SHARE = 0.5
#: A band should be at least this many times taller than its halo rows (k - 1 on each side).
BAND_HALO_RATIO = 4
#: Assumed per-core L2 when the OS does not tell (bytes).
DEFAULT_L2 = 1 << 20
#: Largest k accepted from the user: far past the point where blocking stops paying (rings out
#: of cache, halos as tall as bands) and well before the rings would not fit in memory.
K_LIMIT = 256
#: Most memory all rings together may take (bytes): more means far too many bands or levels.
RINGS_LIMIT = 1 << 30
#: Grids smaller than this (cells) take the model's k: timing the candidates would cost more
#: than a better k saves, and their fields sit in cache anyway.
TUNE_MIN_CELLS = 1 << 20
#: The k the tuning may try (those whose rings fit the L2 and whose halo fits a band).
TUNE_KS = (1, 2, 3, 4, 6, 8, 12, 16)
#: The tuning times the whole grid, or, on a grid whose fields exceed this many times the
#: last-level cache, a strip of its rows that still does: the same regime (in cache or
#: streaming from memory), the same width (ring sizes), in bounded time.
TUNE_CACHE_FACTOR = 2
#: About this many steps per timed call of a candidate (whole passes of k), and rounds of
#: calls, candidates interleaved in each round; a candidate's figure is its best round.
TUNE_STEPS = 16
TUNE_ROUNDS = 2


# -- the compiled wavefront -------------------------------------------------------------------


@njit(**_OPTS)
def _level_row(X, R, t, x, nr, periodic, slot_off, wrap_off):  # pragma: no cover  (compiled)
    """Row ``x`` (padded index, may lie beyond the grid when periodic) of time level ``t``:
    the field X for level 0, else ring ``R[t - 1]``. Outside a non-periodic grid every level's
    ghost row is the constant one of X (filled by the ghost fill at the start of the pass)."""
    if t == 0:
        if periodic:
            return X[(x - 1 + wrap_off) % nr + 1]
        return X[x]
    if not periodic and (x == 0 or x == nr + 1):
        return X[x]
    return R[t - 1, (x + slot_off) % 3]


@njit(**_OPTS)
def _band(U, V, U2, V2, RU, RV, w, c, kind, border, ghost_u, ghost_v, top, bottom, left, right,
          a, b, m):  # pragma: no cover  (compiled)
    """Advance the output rows ``[a, b)`` by ``m`` steps: U2, V2 rows a..b-1 get level m."""
    nr = U.shape[0] - 2
    nc = U.shape[1] - 2
    periodic = border == K.PERIODIC
    slot_off = 3 * (m + 1)  # rows reach down to a - m >= 1 - m: keeps slot indices >= 0
    wrap_off = nr * (m // nr + 1)
    first = a - (m - 1)
    if not periodic and first < 1:
        first = 1
    for s in range(first, b + m - 1):
        for t in range(1, m + 1):
            r = s - t + 1  # level t's row at this wavefront position
            lo = a - (m - t)
            hi = b + (m - t)
            if not periodic:
                lo = max(lo, 1)
                hi = min(hi, nr + 1)
            if r < lo:
                break  # higher levels are further behind
            if r >= hi:
                continue
            um = _level_row(U, RU, t - 1, r - 1, nr, periodic, slot_off, wrap_off)
            u0 = _level_row(U, RU, t - 1, r, nr, periodic, slot_off, wrap_off)
            up = _level_row(U, RU, t - 1, r + 1, nr, periodic, slot_off, wrap_off)
            vm = _level_row(V, RV, t - 1, r - 1, nr, periodic, slot_off, wrap_off)
            v0 = _level_row(V, RV, t - 1, r, nr, periodic, slot_off, wrap_off)
            vp = _level_row(V, RV, t - 1, r + 1, nr, periodic, slot_off, wrap_off)
            if t == m:
                uo = U2[r]
                vo = V2[r]
            else:
                uo = RU[t - 1, (r + slot_off) % 3]
                vo = RV[t - 1, (r + slot_off) % 3]
            K.row_lines(um, u0, up, vm, v0, vp, uo, vo, w, c, kind)
            if not periodic:
                K.edges_lines(um, u0, up, vm, v0, vp, uo, vo, r, nr, w, c, top, bottom, left,
                              right)
            if t < m:  # the ghost columns the next level reads
                if periodic:
                    uo[0] = uo[nc]
                    uo[nc + 1] = uo[1]
                    vo[0] = vo[nc]
                    vo[nc + 1] = vo[1]
                else:
                    uo[0] = ghost_u
                    uo[nc + 1] = ghost_u
                    vo[0] = ghost_v
                    vo[nc + 1] = ghost_v


@njit(parallel=True, **_OPTS)
def _pass(U, V, U2, V2, RU, RV, w, c, kind, border, ghost_u, ghost_v, top, bottom, left, right,
          starts, m, mask):  # pragma: no cover  (compiled)
    for i in prange(starts.size - 1):  # static schedule: one band per thread when bands=threads
        old = enter(mask)  # the MXCSR mode is per thread: set in the one computing this band
        _band(U, V, U2, V2, RU[i], RV[i], w, c, kind, border, ghost_u, ghost_v, top, bottom,
              left, right, starts[i], starts[i + 1], m)
        leave(old, mask)


@njit(**_OPTS)
def advance_blocked(U, V, U2, V2, RU, RV, w, c, border, ghost_u, ghost_v, top, bottom, left,
                    right, starts, k, nsteps, mask=0):  # pragma: no cover  (compiled)
    """``nsteps`` steps in passes of ``k`` (the last one shorter); ``starts``: the bands' first
    rows and the end row. Returns 1 if the state ends in (U2, V2), as :func:`K.advance`.
    ``mask``: MXCSR bits set in each band's thread meanwhile (:mod:`.fpmode`)."""
    kind = K.row_kind(w, c)
    passes = 0
    done = 0
    while done < nsteps:
        m = min(k, nsteps - done)
        K.fill_ghosts(U, border, ghost_u)
        K.fill_ghosts(V, border, ghost_v)
        _pass(U, V, U2, V2, RU, RV, w, c, kind, border, ghost_u, ghost_v, top, bottom, left,
              right, starts, m, mask)
        U, U2 = U2, U
        V, V2 = V2, V
        done += m
        passes += 1
    return passes % 2


# -- choosing k and the bands -----------------------------------------------------------------


def l2_bytes() -> int | None:
    """The L2 (data or unified) one core sees, from sysfs; None where unknown."""
    from ..bench.machine import cache_bytes

    return cache_bytes(2)


def ring_bytes(ncol: int, itemsize: int, k: int) -> int:
    """Bytes of one thread's rings: k - 1 levels x 3 rows x 2 fields of ncol + 2 values."""
    return max(k - 1, 0) * 3 * 2 * (ncol + 2) * itemsize


def choose_blocking(shape: tuple[int, int], itemsize: int, threads: int,
                    l2: int | None = None) -> dict[str, Any]:
    """k and the band count for this grid, and why (the model in BENCHMARKS.md).

    k: the largest k <= :data:`K_MAX` whose rings fit in :data:`RING_L2_SHARE` of the L2 and
    whose halo (k - 1 rows per side) stays under 1 / :data:`BAND_HALO_RATIO` of a band.
    Bands: one per thread (each thread streams its own contiguous rows), fewer on a grid too
    short to give every thread a band taller than its halo.
    """
    nr, nc = shape
    l2 = l2 or l2_bytes() or DEFAULT_L2
    bands = max(1, min(threads, nr))
    k = 1
    for cand in range(2, K_MAX + 1):
        if ring_bytes(nc, itemsize, cand) > RING_L2_SHARE * l2:
            break
        if BAND_HALO_RATIO * 2 * (cand - 1) > nr // bands:
            break
        k = cand
    return {"blocking": k, "bands": bands, "l2_bytes": l2,
            "ring_bytes_per_thread": ring_bytes(nc, itemsize, k)}


def band_starts(nrow: int, bands: int) -> np.ndarray:
    """First padded row of each band and the end row: as equal as rows allow."""
    edges = np.linspace(0, nrow, bands + 1).round().astype(np.int64)
    return edges + 1


def halo_work(k: int, band_rows: float) -> float:
    """Rows computed per row kept, for bands of ``band_rows`` rows and passes of k levels:
    level t also computes the k - t halo rows on each side (see the module docstring)."""
    return 1 + (k - 1) / band_rows


def tune_candidates(shape: tuple[int, int], itemsize: int, bands: int,
                    l2: int | None = None) -> list[int]:
    """The k worth timing on this grid: rings within the L2, halo within a quarter band."""
    nr, nc = shape
    l2 = l2 or l2_bytes() or DEFAULT_L2
    return [k for k in TUNE_KS if k == 1 or (
        ring_bytes(nc, itemsize, k) <= l2 and BAND_HALO_RATIO * 2 * (k - 1) <= nr // bands)]


def tune_key(problem: Problem, rows: int, threads: int, bands: int, kind: int, l2: int) -> str:
    """What a measurement depends on: machine, threads, bands, rows timed, width, dtype,
    loop, border."""
    from ..bench.machine import cpu_model

    return (f"numba-blocked|{cpu_model()}|threads={threads}|bands={bands}|rows={rows}|"
            f"cols={problem.nbcol}|{problem.dtype.name}|kind={kind}|{problem.border}|l2={l2}")


def tune_rows(shape: tuple[int, int], itemsize: int, llc: int | None) -> int:
    """Rows the tuning times: all of them, unless the fields (4 arrays) exceed
    :data:`TUNE_CACHE_FACTOR` x the last-level cache; then just enough to exceed it too."""
    nr, nc = shape
    if not llc:
        return nr
    per_row = 4 * (nc + 2) * itemsize
    return min(nr, max(1, -(-TUNE_CACHE_FACTOR * llc // per_row)))


def tune_blocking(key: str, candidates: list[int], band_rows: float,
                  measure: Callable[[list[int]], tuple[dict[int, float], float]],
                  ) -> dict[str, Any]:
    """The k that ran fastest on this machine for this grid: from the tuning cache under
    ``key`` when it holds every candidate, else ``measure(candidates)`` (rates and the rows per
    band they were timed with), cached. Rates are scaled to this grid's ``band_rows`` by
    :func:`halo_work` before comparing; ties go to the smaller k."""
    from ..provenance import now_utc

    entry = tuning.load(key)
    try:
        stored = {int(k): float(r) for k, r in entry["rates"].items()} if entry else {}
        timed_band = float(entry["band_rows"]) if entry else 0.0
    except (KeyError, TypeError, ValueError, AttributeError):  # a damaged entry: measure again
        stored, timed_band = {}, 0.0
    cached = bool(stored) and timed_band > 0 and set(candidates) <= set(stored)
    if not cached:
        stored, timed_band = measure(candidates)
        tuning.store(key, {"rates": {str(k): r for k, r in stored.items()},
                           "band_rows": timed_band, "measured": now_utc()})
    predicted = {k: stored[k] * halo_work(k, timed_band) / halo_work(k, band_rows)
                 for k in candidates}
    best = max(predicted, key=lambda k: (predicted[k], -k))
    return {"blocking": best, "cached": cached, "predicted_rates": predicted,
            "cache": str(tuning.cache_path())}


# -- the backend ------------------------------------------------------------------------------


class NumbaBlockedBackend(NumbaParallelBackend):
    name = "numba-blocked"
    # A pass reads k rows of halo, not the 1-cell ghost ring a halo exchange refreshes per step.
    capabilities = Capabilities(decomposable=False, releases_gil=True)
    options = {
        **NumbaParallelBackend.options,
        "blocking": Option("time steps per pass over memory, k (default: measured on first "
                           "use and cached, or from the grid width and the L2 size)",
                           integer(1, lambda: K_LIMIT)),
        "bands": Option("bands of rows swept in parallel (default: one per thread)",
                        integer(1)),
        "tune": Option("time the candidate k on this machine when k is not given (default: "
                       f"True on grids of {TUNE_MIN_CELLS:,} cells or more, unless "
                       "GRAYSCOTT_AUTOTUNE=0)", one_of(True, False)),
    }

    def _should_tune(self) -> bool:
        if "tune" in self.config:
            return self.config["tune"]
        return tuning.enabled() and self.problem.nbrow * self.problem.nbcol >= TUNE_MIN_CELLS

    def __init__(self, problem: Problem, **options: Any) -> None:
        super().__init__(problem, **options)
        auto = choose_blocking(problem.shape, problem.dtype.itemsize, self._threads)
        self.bands = min(self.config.get("bands", auto["bands"]), problem.nbrow)
        self._provenance = {
            "bands": self.bands,
            "blocking_chosen_by": "model", "blocking_model": auto["blocking"],
            "bands_chosen_by": "user" if "bands" in self.config else "model",
            "l2_bytes": auto["l2_bytes"],
        }
        if "blocking" in self.config:
            self.k = self.config["blocking"]
            self._provenance["blocking_chosen_by"] = "user"
        elif self._should_tune():
            tuned = self._tune(auto["l2_bytes"])
            self.k = tuned["blocking"]
            self._provenance.update(
                blocking_chosen_by="autotune (cached)" if tuned["cached"] else "autotune",
                # One string: provenance values become HDF5 attributes, which take no dicts.
                tune_mcells_per_k=", ".join(f"k={k}: {r / 1e6:.0f}"
                                            for k, r in tuned["predicted_rates"].items()),
                tune_cache=tuned["cache"])
        else:
            self.k = auto["blocking"]
        self._provenance.update(
            blocking=self.k,
            ring_bytes_per_thread=ring_bytes(problem.nbcol, problem.dtype.itemsize, self.k),
            **super().provenance)
        self.starts = band_starts(problem.nbrow, self.bands)
        ring = (self.bands, max(self.k - 1, 1), 3, problem.nbcol + 2)
        total = 2 * int(np.prod(ring)) * problem.dtype.itemsize
        if total > RINGS_LIMIT:
            raise GrayScottError(
                f"backend {self.name!r}: k={self.k} with {self.bands} bands needs "
                f"{total / 2**30:.1f} GiB of ring buffers (at most {RINGS_LIMIT / 2**30:g}); "
                "use a smaller --blocking or fewer bands")
        self.RU = np.zeros(ring, problem.dtype)
        self.RV = np.zeros(ring, problem.dtype)

    def _tune(self, l2: int) -> dict[str, Any]:
        """:func:`tune_blocking` for this grid, timing on this backend's own buffers (before
        any state is set: nothing to keep, no second copy of the fields)."""
        from ..bench.machine import last_level_cache_bytes

        p = self.problem
        rows = tune_rows(p.shape, p.dtype.itemsize, last_level_cache_bytes())
        bands = min(self.bands, rows)
        key = tune_key(p, rows, self._threads, bands, K.row_kind(self.w, self.c), l2)
        candidates = tune_candidates((rows, p.nbcol), p.dtype.itemsize, bands, l2)
        return tune_blocking(key, candidates, p.nbrow / self.bands,
                             lambda ks: self._measure(ks, rows, bands))

    def _measure(self, candidates: list[int], rows: int,
                 bands: int) -> tuple[dict[int, float], float]:
        """Best rate (cell-updates/s) of each k on the first ``rows`` rows, candidates
        interleaved over :data:`TUNE_ROUNDS` rounds, and the rows per band they ran with."""
        import numba

        numba.set_num_threads(self._threads)
        # A developed pattern's values (no zeros, no subnormals) in the padded first rows:
        # views of the fields, so the kernel runs on exactly the memory the run will use.
        fields = [x[:rows + 2] for x in (self.U, self.V, self.U2, self.V2)]
        rng = np.random.default_rng(0)
        for x, scale in zip(fields, (0.8, 0.5, 0.8, 0.5), strict=True):
            rng.random(dtype=x.dtype, out=x)
            x *= scale
        starts = band_starts(rows, bands)
        best = dict.fromkeys(candidates, 0.0)
        for _ in range(TUNE_ROUNDS + 1):  # the first round is untimed: compile, first touch
            for k in candidates:
                ring = (bands, max(k - 1, 1), 3, self.problem.nbcol + 2)
                RU, RV = np.zeros(ring, self.problem.dtype), np.zeros(ring, self.problem.dtype)
                steps = k * max(1, round(TUNE_STEPS / k))
                t0 = time.perf_counter()
                advance_blocked(*fields, RU, RV, self.w, self.c, self.border, self.ghost_u,
                                self.ghost_v, *self.strips, starts, k, steps, self.mask)
                elapsed = time.perf_counter() - t0
                best[k] = max(best[k], rows * self.problem.nbcol * steps / max(elapsed, 1e-9))
        for x in fields:
            x.fill(0)  # as a new backend's fields were
        return best, rows / bands

    @property
    def provenance(self) -> dict[str, Any]:
        """How the run was blocked: k, bands, who chose them, the L2 and ring sizes."""
        return dict(self._provenance)

    def describe(self) -> str:
        """One line for reports, e.g. ``k=8, 2 bands (autotuned, cached; model: k=6, 2 MiB
        L2)``, ``k=5, 3 bands (given)``."""
        p = self._provenance
        by = p["blocking_chosen_by"]
        l2 = f"{p['l2_bytes'] / 2**20:g} MiB L2"
        if "user" in (by, p["bands_chosen_by"]):
            how = "given"
        elif by == "model":
            how = f"model, {l2}"
        else:
            how = (f"autotuned{', cached' if 'cached' in by else ''}; "
                   f"model: k={p['blocking_model']}, {l2}")
        flush = ", subnormals flushed" if self.mask else ""
        return f"k={self.k}, {self.bands} band{'s' if self.bands > 1 else ''} ({how}){flush}"

    def _run(self, nsteps: int) -> None:
        import numba

        numba.set_num_threads(self._threads)
        swapped = advance_blocked(self.U, self.V, self.U2, self.V2, self.RU, self.RV, self.w,
                                  self.c, self.border, self.ghost_u, self.ghost_v, *self.strips,
                                  self.starts, self.k, nsteps, self.mask)
        if swapped:
            self.U, self.U2 = self.U2, self.U
            self.V, self.V2 = self.V2, self.V

