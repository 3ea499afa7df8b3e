"""Shared test helpers: which backends can run here, and small problems to run them on."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

import numpy as np
import pytest

from grayscott import backends
from grayscott.physics import STENCILS, Parameters, make_problem

# numba-blocked's tuning cache: one per test session (subprocesses inherit it), never the
# user's, so no test depends on what an earlier run measured.
os.environ["GRAYSCOTT_CACHE_DIR"] = _CACHE = tempfile.mkdtemp(prefix="grayscott-cache-")
atexit.register(shutil.rmtree, _CACHE, True)

ALL_BACKENDS = backends.names()


def backend_param(name: str):
    """A pytest param for a backend, skipped with the registry's reason when it cannot run."""
    info = backends.info(name)
    return pytest.param(name, id=name, marks=pytest.mark.skipif(
        not info.available, reason=f"backend {name} {info.reason}"))


BACKEND_PARAMS = [backend_param(n) for n in ALL_BACKENDS]

#: Absolute tolerance against the float64 reference, rounded to the dtype at every step, after
#: a few steps of O(1) fields. float32: each step adds a few ulps (6e-8) of fresh rounding and
#: the stable explicit scheme does not amplify them, but backends may reassociate sums or fuse
#: multiply-adds differently, so ~1e-5 after ~10 steps; float64 keeps ~1e-13.
ATOL = {"float32": 1e-5, "float64": 1e-12}

#: Parameters with a visible reaction on small grids (the defaults grow slowly).
LIVELY = Parameters(Du=0.16, Dv=0.08, F=0.035, k=0.06, dt=0.9)


def small_problem(shape=(9, 11), stencil="school", border="school", dtype="float32",
                  params: Parameters | None = None):
    return make_problem(shape, params=params or LIVELY, stencil=stencil, border=border,
                        dtype=dtype)


def noisy_state(shape, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.2, 1.0, shape), rng.uniform(0.0, 0.6, shape)


#: An asymmetric custom stencil: a mirrored or transposed weighted sum would change the result.
CUSTOM = np.array([[0.1, 0.2, 0.05], [0.3, 0.0, 0.15], [0.0, 0.25, 0.1]])
ALL_STENCILS = [*STENCILS, CUSTOM]
STENCIL_IDS = [*STENCILS, "custom"]


@pytest.fixture(scope="module")
def numba():
    return pytest.importorskip("numba", reason="numba is not installed: "
                                               "pip install 'grayscott[numba]'")


def run_backend(name, problem, u, v, steps, **options):
    """The state after advancing backend ``name`` by each count in ``steps`` in turn."""
    b = backends.create(name, problem, **options)
    b.set_state(u, v)
    for n in steps:
        b.advance(n)
    return b.get_state()


def assert_bits_equal(ours, theirs) -> None:
    """Arrays (or sequences of arrays) equal bit for bit: a -0 for a +0 fails here."""
    if isinstance(ours, tuple | list):
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs, strict=True):
            assert_bits_equal(a, b)
        return
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    as_int = np.uint32 if ours.dtype == np.float32 else np.uint64
    diff = ours.view(as_int) != theirs.view(as_int)
    assert not diff.any(), (f"{diff.sum()} of {diff.size} values differ, first at "
                            f"{np.argwhere(diff)[0]}: {ours[diff][0]!r} vs {theirs[diff][0]!r}")
