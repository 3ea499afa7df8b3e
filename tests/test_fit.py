"""Fitting (F, k) by gradient through the simulation: forward is the model, the fit recovers
known rates from a start some distance away."""

from __future__ import annotations

import time

import numpy as np
import pytest

import grayscott as gs

jax = pytest.importorskip("jax")
fit = pytest.importorskip("grayscott.sweep.fit")

#: The test's claim (also stated in fit_rates' docstring): from 0.005 away, both rates within
#: this of the truth.
TOLERANCE = 1e-3


def reference_v(F, k, shape, steps, initial="noise", seed=0):
    problem = gs.make_problem(shape, params=gs.Parameters(F=F, k=k))
    sim = gs.Simulation(problem, backend="numpy", initial=initial, seed=seed)
    sim.advance(steps)
    return sim.state[1]


def test_differentiable_simulation_is_the_model():
    shape, steps = (16, 16), 45
    u0, v0 = gs.make_initial("noise", shape, 1)
    expected = reference_v(0.035, 0.06, shape, steps, seed=1)
    for block in (10, 50):  # checkpointed blocks and a remainder, or no block at all
        v = fit.simulate(0.035, 0.06, u0, v0, steps, block=block)
        np.testing.assert_allclose(np.asarray(v), expected, atol=1e-5, rtol=0)


def test_losses_are_zero_on_the_target_and_positive_elsewhere():
    a = reference_v(0.035, 0.06, (16, 16), 100)
    b = reference_v(0.030, 0.06, (16, 16), 100)
    for kind in fit.LOSSES:
        assert float(fit.pattern_loss(a, a, kind)) == pytest.approx(0.0, abs=1e-12)
        assert float(fit.pattern_loss(b, a, kind)) > 1e-4
    with pytest.raises(gs.GrayScottError, match="unknown loss"):
        fit.pattern_loss(a, a, "l7")


@pytest.mark.slow
def test_fit_recovers_known_rates():
    F_true, k_true = 0.035, 0.060
    shape, steps = (48, 48), 400
    target = reference_v(F_true, k_true, shape, steps)
    t0 = time.perf_counter()
    result = fit.fit_rates(target, steps, F0=0.031, k0=0.057, initial="noise", seed=0,
                           iterations=30)
    seconds = time.perf_counter() - t0
    assert abs(result.F - F_true) < TOLERANCE and abs(result.k - k_true) < TOLERANCE, result
    history = result.history["loss"]
    assert history[-1] < 1e-2 * history[0]
    assert len(history) == result.iterations + 1
    print(f"fit: F {result.F:.5f} k {result.k:.5f} in {result.iterations} iterations, "
          f"{seconds:.1f} s (compile {result.compile_seconds:.1f} s)")


def test_fit_refuses_bad_input():
    target = np.zeros((8, 8), np.float32)
    with pytest.raises(gs.GrayScottError, match="steps"):
        fit.fit_rates(target, 0)
    with pytest.raises(gs.GrayScottError, match="F must be >= 0"):
        fit.fit_rates(target, 5, F0=-1.0)
    with pytest.raises(gs.GrayScottError, match="unknown loss"):
        fit.fit_rates(target, 5, loss="l7")
    u, v = gs.make_initial("school", (8, 9))  # not the target's shape
    with pytest.raises(gs.GrayScottError, match=r"state must have shape \(8, 8\)"):
        fit.fit_rates(target, 5, state=(u, v))
