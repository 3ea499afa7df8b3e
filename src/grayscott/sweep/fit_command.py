"""``grayscott fit``: (F, k) of a pattern, from a run's file or a .npy array (attached in
``cli.py``). Exit 0 when the fit converged, 3 when it did not, 2 for bad input."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path
from typing import Any

import click
import numpy as np

from ..errors import GrayScottError
from ..physics import BORDERS, INITIAL_STATES, STENCILS

EXIT_NOT_CONVERGED = 3


def _choice(values: tuple[str, ...] | list[str]) -> click.Choice:
    return click.Choice(list(values), case_sensitive=False)


def parse_region(spec: str) -> tuple[tuple[float, float], tuple[float, float]]:
    """``"F0:F1,k0:k1"`` -> ((F0, F1), (k0, k1)); one line naming --region otherwise."""
    try:
        f, k = spec.split(",")
        (f0, f1), (k0, k1) = (tuple(float(x) for x in part.split(":")) for part in (f, k))
    except ValueError:
        raise GrayScottError(f"--region {spec!r} must be F0:F1,k0:k1 (four numbers)") from None
    from .fit import check_region

    return check_region(((f0, f1), (k0, k1)))


def read_target(path: str, frame: int | None) -> tuple[np.ndarray, dict[str, Any]]:
    """The target V and what its file says of the run that made it (``steps``, ``initial``,
    ``seed``, rates, stencil, border; empty for .npy). ``frame`` picks a frame of a run file
    (negative counts from the end; default the last written)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".npy":
        if frame is not None:
            raise GrayScottError("--frame is for a run's .h5 file; a .npy target is one array")
        try:
            return np.load(p, allow_pickle=False), {}
        except FileNotFoundError:
            raise GrayScottError(f"no such file: {path!r}") from None
        except (OSError, ValueError) as exc:
            raise GrayScottError(f"cannot read {path!r} as a .npy array: "
                                 f"{str(exc).splitlines()[0]}") from None
    if suffix not in (".h5", ".hdf5"):
        raise GrayScottError(f"TARGET {path!r} must be a run's .h5 file or a .npy array")
    from ..io.layout import DATASET
    from ..io.readers import frames_available, open_run

    with open_run(path) as f:
        n = frames_available(f)
        if n == 0:
            raise GrayScottError(f"{path!r} holds no frame yet")
        i = n - 1 if frame is None else frame
        if not -n <= i < n:
            raise GrayScottError(f"--frame {frame} is out of range: {path!r} holds {n} frame(s)")
        i %= n
        a = f.attrs
        meta = {"steps": (i + 1) * int(a["nbextrastep"]), "frame": i}  # SPEC: frame i
        for name in ("initial", "seed", "Du", "Dv", "dt", "stencil", "border"):
            if name in a:
                x = a[name]
                meta[name] = x.decode() if isinstance(x, bytes) else x
        return np.asarray(f[DATASET][i]), meta


@click.command("fit")
@click.argument("target", type=click.Path(dir_okay=False))
@click.option("-s", "--steps", type=click.IntRange(min=1), default=None,
              help="Steps of the run that made TARGET (default for a run file: those of its "
                   "frame; required for .npy).")
@click.option("--frame", type=int, default=None,
              help="Which frame of a run file is the target (default: the last written; "
                   "negative counts from the end).")
@click.option("-f", "--feedrate", type=float, default=None, help="Start F (optional).")
@click.option("-k", "--killrate", type=float, default=None, help="Start k (optional).")
@click.option("--strategy", type=_choice(["robust", "local"]), default="robust",
              show_default=True,
              help="robust: batched search over --region, then descents from the best points; "
                   "local: one descent from -f/-k.")
@click.option("--region", default="0.01:0.07,0.045:0.07", show_default=True,
              metavar="F0:F1,k0:k1", help="Where the robust search looks (increasing ranges).")
@click.option("--initial", type=_choice(INITIAL_STATES), default=None,
              help="Initial state of the run (default: the run file's, else school).")
@click.option("--seed", type=int, default=None, help="Seed of --initial noise (default: the "
              "run file's, else 0).")
@click.option("-u", "--du", "Du", type=float, default=None, help="Diffusion rate of U.")
@click.option("-v", "--dv", "Dv", type=float, default=None, help="Diffusion rate of V.")
@click.option("-t", "--deltat", type=float, default=None, help="Time step dt.")
@click.option("--stencil", type=_choice(STENCILS), default=None)
@click.option("--border", type=_choice(BORDERS), default=None)
@click.option("--loss", type=_choice(["multiscale", "spectrum", "pixels"]),
              default="multiscale", show_default=True)
@click.option("--iterations", type=click.IntRange(min=0), default=30, show_default=True,
              help="Most descent steps from each start.")
@click.option("--loss-tol", type=float, default=1e-3, show_default=True,
              help="Converged only if the final loss (relative to the target's energy) is "
                   "at most this.")
@click.option("-b", "--backend", type=_choice(["numba", "jax"]), default=None,
              help="Batched backend of the search (default: numba if installed).")
def fit_cmd(target: str, steps: int | None, frame: int | None, feedrate: float | None,
            killrate: float | None, strategy: str, region: str, initial: str | None,
            seed: int | None, Du: float | None, Dv: float | None, deltat: float | None,
            stencil: str | None, border: str | None, loss: str, iterations: int,
            loss_tol: float, backend: str | None) -> int:
    """Find F and k of the run that made TARGET (a run's .h5 file or a .npy array of V).

    The run's initial state, steps, Du, Dv, dt, stencil and border must be known: a run file
    gives them (options override), for .npy give them. Prints F and k with their standard
    errors and whether the fit converged; exits 3 when it did not. See docs/fitting.md.
    """
    if importlib.util.find_spec("jax") is None:
        raise GrayScottError("grayscott fit needs JAX: pip install 'grayscott[jax]'")
    if (feedrate is None) != (killrate is None):
        raise GrayScottError("give both -f and -k (the start), or neither")
    v, meta = read_target(target, frame)
    steps = steps or meta.get("steps")
    if steps is None:
        raise GrayScottError("--steps is required for a .npy target (the steps that made it)")
    from ..physics import Parameters
    from .fit import FitNotConvergedWarning, check_target, fit_rates

    v = check_target(v)

    def pick(given: Any, name: str, default: Any) -> Any:
        return given if given is not None else meta.get(name, default)

    params = Parameters(Du=pick(Du, "Du", 0.1), Dv=pick(Dv, "Dv", 0.05),
                        dt=pick(deltat, "dt", 1.0))
    setup = dict(initial=pick(initial, "initial", "school"), seed=int(pick(seed, "seed", 0)),
                 stencil=pick(stencil, "stencil", "school"),
                 border=pick(border, "border", "school"))
    where = f"frame {meta['frame']} of " if "frame" in meta else ""
    click.echo(f"grayscott fit: {where}{target} ({v.shape[0]}x{v.shape[1]}), {steps} steps "
               f"from initial {setup['initial']} (seed {setup['seed']}), stencil "
               f"{setup['stencil']}, border {setup['border']}, strategy {strategy}")
    with warnings.catch_warnings():  # said below, as one line
        warnings.simplefilter("ignore", FitNotConvergedWarning)
        result = fit_rates(v, steps, feedrate, killrate, strategy=strategy,
                           region=parse_region(region), search_backend=backend, params=params,
                           loss=loss, iterations=iterations, loss_tol=loss_tol, **setup)
    click.echo(f"F = {result.F:.6f} ± {result.F_err:.1e}")
    click.echo(f"k = {result.k:.6f} ± {result.k_err:.1e}")
    click.echo(f"converged: {'yes' if result.converged else 'no'} ({result.reason}); loss "
               f"{result.loss:.3g}, |grad| {result.grad_norm:.3g}, {result.iterations} "
               f"iterations, {result.members} searched, {result.seconds:.1f} s")
    if not result.converged:
        click.echo("grayscott fit: error: the fit did not converge: these rates do not "
                   "reproduce the target", err=True)
        return EXIT_NOT_CONVERGED
    return 0
