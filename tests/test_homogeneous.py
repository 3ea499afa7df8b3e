"""Pearson's saddle-node and Hopf lines, checked against the ODE's own Jacobian."""

import numpy as np
import pytest

from grayscott.physics import homogeneous as H


def _residual(F, k, u, v):
    """The reaction terms at (u, v): zero at a steady state."""
    return -u * v * v + F * (1 - u), u * v * v - (F + k) * v


def test_states_are_steady_and_exist_only_above_the_saddle_node():
    for F, k in [(0.03, 0.055), (0.014, 0.054), (0.06, 0.062)]:
        states = H.uniform_states(F, k)
        assert len(states) == (3 if 4 * (F + k) ** 2 <= F else 1)
        for u, v in states:
            assert np.allclose(_residual(F, k, u, v), 0, atol=1e-14)
    assert H.uniform_states(0.01, 0.07) == [(1.0, 0.0)]  # right of the line: only (1, 0)


def test_saddle_node_line_is_where_the_two_states_meet():
    k, F = H.saddle_node_line(50)
    assert np.allclose(F, 4 * (F + k) ** 2)
    # the known top of the curve: k = 1/16 at F = 1/16
    assert k.max() == pytest.approx(1 / 16, abs=1e-4)
    for kk, ff in zip(k[5:-5], F[5:-5], strict=True):
        left, right = H.uniform_states(ff, kk * 0.98), H.uniform_states(ff, kk * 1.02)
        assert len(left) == 3 and len(right) == 1
        # on the line the Jacobian of the merged state is singular
        u = 0.5
        v = (ff + kk) / u
        assert abs(np.linalg.det(H.jacobian(u, v, ff, kk))) < 1e-12


def test_hopf_line_has_purely_imaginary_eigenvalues():
    k, F = H.hopf_line(300)
    assert len(k) > 100
    assert np.allclose((F + k) ** 2, F * np.sqrt(k))
    for kk, ff in zip(k[::20], F[::20], strict=True):
        u, v = H.uniform_states(ff, kk)[1]  # the larger-v state
        ev = np.linalg.eigvals(H.jacobian(u, v, ff, kk))
        assert np.abs(ev.real).max() < 1e-12
        assert np.abs(ev.imag).min() > 0
        # the real part changes sign across the line (stable above in F, unstable below)
        lo = np.linalg.eigvals(H.jacobian(*H.uniform_states(ff * 0.95, kk)[1], ff * 0.95, kk))
        hi = np.linalg.eigvals(H.jacobian(*H.uniform_states(ff * 1.05, kk)[1], ff * 1.05, kk))
        assert lo.real.max() > 0 > hi.real.max()
    # a known point of Pearson's figure: the line crosses k = 0.05 near F = 0.025
    assert np.interp(0.05, k, F) == pytest.approx(0.0253, abs=1e-3)


def test_lines_drawn_on_axes():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.set_xlim(0.03, 0.07)
    ax.set_ylim(0.0, 0.08)
    H.draw_lines(ax)
    assert [line.get_label() for line in ax.get_lines()] == ["saddle-node", "Hopf"]
    assert ax.get_xlim() == (0.03, 0.07)
    plt.close(fig)
