"""MPI: N ranks give the one-process result bit for bit, and a failure never hangs.

Each test is one ``mpiexec`` launch (oversubscribed on small machines) that loops over many
configurations in-process (tests/mpi_cases.py), with a timeout so a hang fails instead of
blocking the suite.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from grayscott.errors import GrayScottError
from grayscott.parallel.decomposition import blocks, parse_dims, split

HERE = Path(__file__).parent
CASES = HERE / "mpi_cases.py"


def _mpiexec() -> str | None:
    here = Path(sys.executable).parent / "mpiexec"
    return str(here) if here.exists() else shutil.which("mpiexec")


needs_mpi = pytest.mark.skipif(
    importlib.util.find_spec("mpi4py") is None or _mpiexec() is None,
    reason="needs mpi4py and mpiexec: pip install 'grayscott[mpi]'")


def mpiexec(n: int, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "GRAYSCOTT_MPI": "1"}
    return subprocess.run([_mpiexec(), "-n", str(n), *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


# -- the decomposition's arithmetic (no MPI needed) ------------------------------------------

def test_split_is_nearly_even_and_covers_everything() -> None:
    for n in (3, 7, 13, 64, 97):
        for parts in (1, 2, 3, 4, 5):
            pieces = split(n, parts)
            sizes = [b - a for a, b in pieces]
            assert pieces[0][0] == 0 and pieces[-1][1] == n
            assert all(pieces[i][1] == pieces[i + 1][0] for i in range(parts - 1))
            assert max(sizes) - min(sizes) <= 1


def test_blocks_tile_the_grid_once() -> None:
    seen = np.zeros((13, 17), int)
    for rows, cols in blocks((13, 17), (3, 4)):
        seen[rows, cols] += 1
    assert (seen == 1).all()


def test_decomposable_list_is_what_the_backends_declare() -> None:
    # The MPI layer keeps its own list so that refusing a backend imports nothing (JAX takes
    # seconds); it must say what the backends' Capabilities say.
    from grayscott import backends
    from grayscott.parallel.distributed import DECOMPOSABLE

    declared = {n for n in backends.available() if backends.capabilities(n).decomposable}
    assert declared == set(DECOMPOSABLE)


def test_parse_dims() -> None:
    assert parse_dims("2x3") == (2, 3)
    assert parse_dims("0X4") == (0, 4)
    assert parse_dims(None) is None
    for bad in ("2", "2x", "axb", "-1x2", "1x2x3"):
        with pytest.raises(GrayScottError, match="--layout"):
            parse_dims(bad)


def test_mpi_placement_overrides_only_what_the_one_process_placement_has() -> None:
    """run/resume are one implementation (runs) with a placement; an MPI override whose name
    matched nothing would be silently ignored and the run would use a one-process answer."""
    from grayscott.parallel.placement import Placement
    from grayscott.parallel.run import MPIPlacement

    own = {n for n in vars(MPIPlacement) if not n.startswith("__")}
    assert own, "MPIPlacement overrides nothing"
    assert own <= set(dir(Placement)), own - set(dir(Placement))


def test_one_process_run_imports_no_mpi4py(tmp_path: Path) -> None:
    code = ("import sys\nfrom grayscott import runs\nfrom grayscott.physics import make_problem\n"
            f"runs.run(make_problem((16, 16)), {str(tmp_path / 'o.h5')!r}, nbimage=2, "
            "nbextrastep=2, backend='numpy', progress=False)\n"
            "assert 'mpi4py' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_launched_without_mpi4py_is_one_line(tmp_path: Path) -> None:
    """srun or a site's mpiexec in an environment without mpi4py: one line and exit 2."""
    code = ("import sys\nsys.modules['mpi4py'] = None\nsys.argv = ['grayscott', 'info', 'x.h5']\n"
            "from grayscott.cli import entry\nentry()")
    env = {**os.environ, "GRAYSCOTT_MPI": "1"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env=env, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "needs mpi4py" in lines[0], proc.stderr


# -- N ranks against one process -------------------------------------------------------------

@needs_mpi
@pytest.mark.parametrize(("ranks", "args"), [
    # every backend x stencil x border x dtype; odd grid, uneven blocks
    (1, ["--full-dims", "1x1"]),
    (2, ["--full-dims", "2x1,1x2"]),
    (3, ["--dims", "3x1,1x3"]),
    (4, ["--full-dims", "2x2", "--dims", "4x1,1x4"]),
    (9, ["--dims", "3x3", "--depths", "1,2,auto"]),  # a rank with all eight neighbours
    # halos deeper than a line: 9 steps a call, so groups of 2+2+2+2+1, 3+3+3, 5+4
    (2, ["--dims", "2x1,1x2", "--depths", "1,2,3,5,6"]),
    (4, ["--dims", "2x2", "--depths", "1,2,3"]),
])
def test_ranks_equal_one_process_bit_for_bit(ranks: int, args: list[str]) -> None:
    proc = mpiexec(ranks, sys.executable, str(CASES), "--shape", "13x17", *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "MISMATCH" not in proc.stdout
    assert f"on {ranks} ranks" in proc.stdout


@needs_mpi
@pytest.mark.parametrize("which", ["1", "0", "all"])
def test_a_failing_rank_ends_every_rank(which: str) -> None:
    proc = mpiexec(3, sys.executable, str(CASES), "--fail", which, timeout=60)
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if "grayscott: error:" in ln]
    # one line, from the failing rank (rank 0 speaks for all when all fail)
    assert len(lines) == 1, proc.stderr
    assert f"injected fault on rank {0 if which == 'all' else which}" in lines[0]


# -- the command line under mpiexec ----------------------------------------------------------

GRAYSCOTT = [sys.executable, "-m", "grayscott"]


def _serial(*args: str) -> None:
    subprocess.run([*GRAYSCOTT, *args], check=True, capture_output=True, timeout=120)


def _same(a: Path, b: Path, names: tuple[str, ...] = ("matrix", "u_final", "v_final", "step")
          ) -> None:
    import h5py

    with h5py.File(a) as fa, h5py.File(b) as fb:
        for name in names:
            assert fa[name].shape == fb[name].shape, name
            assert fa[name][...].tobytes() == fb[name][...].tobytes(), name


@needs_mpi
@pytest.mark.parametrize(("ranks", "extra"), [
    (4, ["--backend", "numba"]),
    (2, []),  # no --backend: the default must be one that decomposes, not numba-blocked
    (3, ["--backend", "numpy-school", "--border", "periodic", "--stencil", "laplace9",
         "--dtype", "float64", "--initial", "noise"]),
])
def test_run_under_mpiexec_writes_the_one_process_matrix(tmp_path: Path, ranks: int,
                                                        extra: list[str]) -> None:
    if "numba" in extra and importlib.util.find_spec("numba") is None:
        pytest.skip("needs numba")
    args = ["run", "-q", "-r", "64", "-c", "96", "-n", "4", "-e", "32", *extra]
    _serial(*args, "-o", str(tmp_path / "one.h5"))
    proc = mpiexec(ranks, *GRAYSCOTT, *args, "-o", str(tmp_path / "many.h5"))
    assert proc.returncode == 0, proc.stderr
    _same(tmp_path / "one.h5", tmp_path / "many.h5")
    import h5py

    with h5py.File(tmp_path / "many.h5") as f:
        assert int(f.attrs["mpi_ranks"]) == ranks


@needs_mpi
def test_resume_on_another_number_of_ranks(tmp_path: Path) -> None:
    args = ["-q", "-r", "40", "-c", "52", "-e", "16", "--backend", "numpy", "--border", "fixed"]
    part = tmp_path / "part.h5"
    proc = mpiexec(2, *GRAYSCOTT, "run", *args, "-n", "2", "-o", str(part))
    assert proc.returncode == 0, proc.stderr
    proc = mpiexec(3, *GRAYSCOTT, "resume", "-q", "-n", "5", str(part))
    assert proc.returncode == 0, proc.stderr
    _serial("run", *args, "-n", "5", "-o", str(tmp_path / "whole.h5"))
    _same(part, tmp_path / "whole.h5")


@needs_mpi
@pytest.mark.parametrize("signame", ["SIGTERM", "SIGINT"])
def test_a_signal_stops_every_rank_after_the_same_frame(tmp_path: Path, signame: str) -> None:
    import signal
    import time

    import h5py

    signum = getattr(signal, signame)
    out = tmp_path / "s.h5"
    # enough frames to outlast the test; the file's room is reserved up front, so keep it small
    args = ["-q", "-r", "48", "-c", "48", "-e", "200", "--backend", "numpy"]
    env = {**os.environ, "GRAYSCOTT_MPI": "1"}
    proc = subprocess.Popen([_mpiexec(), "-n", "2", *GRAYSCOTT, "run", *args, "-n", "5000",
                             "-o", str(out)], env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not out.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    proc.send_signal(signum)  # mpiexec forwards it to every rank
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, err
    assert err.count(f"stopped by {signame}") == 1, err  # rank 0 speaks for all
    with h5py.File(out) as f:
        written = int(f["frames_written"][()])
        assert 0 < written < 5000
        assert f["matrix"].shape[0] == 5000  # a stop changes no structure
    # the state saved is that frame's on every rank: one process continues it bit for bit
    _serial("resume", "-q", "-n", str(written + 2), str(out))
    _serial("run", *args, "-n", str(written + 2), "-o", str(tmp_path / "ref.h5"))
    _same(out, tmp_path / "ref.h5")


@needs_mpi
@pytest.mark.parametrize(("extra", "code", "message"), [
    (["--backend", "jax"], 2, "cannot run decomposed"),
    (["-o", "/nonexistent-dir/x.h5"], 2, "does not exist"),
    (["-t", "60", "--allow-unstable"], 3, "blew up"),
])
def test_errors_under_mpiexec_are_one_line(tmp_path: Path, extra: list[str], code: int,
                                           message: str) -> None:
    proc = mpiexec(2, *GRAYSCOTT, "run", "-q", "-r", "32", "-c", "32", "-n", "3", "-e", "10",
                   "--backend", "numpy", "-o", str(tmp_path / "x.h5"), *extra, timeout=60)
    assert proc.returncode == code, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and message in lines[0], proc.stderr


@needs_mpi
def test_bench_under_mpiexec_reports_halo_and_gather(tmp_path: Path) -> None:
    import json

    out = tmp_path / "b.json"
    proc = mpiexec(2, *GRAYSCOTT, "bench", "-b", "numpy", "-r", "48", "-c", "40", "-s", "5",
                   "--repeat", "1", "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    (row,) = json.loads(out.read_text())
    assert row["ranks"] == 2 and row["dims"] == [2, 1]
    assert row["halo_bytes"] == 2 * 4 * 40  # one neighbour: U and V, one row of 40 float32
    assert 0 < row["halo_s"] <= row["step_s"] and row["gather_s"] > 0


@needs_mpi
def test_bench_under_mpiexec_takes_the_layout_asked_for(tmp_path: Path) -> None:
    import json

    out = tmp_path / "b.json"
    env = {**os.environ, "GRAYSCOTT_MPI": "1", "GRAYSCOTT_MPI_DIMS": "1x2"}
    proc = subprocess.run([_mpiexec(), "-n", "2", *GRAYSCOTT, "bench", "-b", "numpy", "-r", "8",
                           "-c", "40", "-s", "2", "--repeat", "1", "--json", str(out)],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    (row,) = json.loads(out.read_text())
    assert row["dims"] == [1, 2]


@needs_mpi
def test_a_scaling_launch_that_runs_too_long_is_one_error() -> None:
    from grayscott.parallel.bench import launch

    with pytest.raises(GrayScottError, match="took over"):
        launch(1, ["--backend", "numpy", "--rows", "64", "--cols", "64"], timeout=0.01)


@needs_mpi
def test_other_commands_run_on_rank_zero_alone(tmp_path: Path) -> None:
    out = tmp_path / "x.h5"
    _serial("run", "-q", "-r", "16", "-c", "16", "-n", "1", "-e", "2", "--backend", "numpy",
            "-o", str(out))
    proc = mpiexec(3, *GRAYSCOTT, "info", str(out), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("16x16") == 1, proc.stdout
    proc = mpiexec(3, *GRAYSCOTT, "info", str(tmp_path / "missing.h5"), timeout=60)
    assert proc.returncode == 2 and proc.stderr.count("error") == 1, proc.stderr


@needs_mpi
def test_kill_9_of_mpiexec_leaves_a_resumable_file(tmp_path: Path) -> None:
    import signal
    import time

    out = tmp_path / "k.h5"
    args = ["-q", "-r", "40", "-c", "40", "-e", "200", "--backend", "numpy"]
    env = {**os.environ, "GRAYSCOTT_MPI": "1"}
    proc = subprocess.Popen([_mpiexec(), "-n", "2", *GRAYSCOTT, "run", *args, "-n", "5000",
                             "-o", str(out)], env=env, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not out.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    # the ranks go with their launcher; the file is whole up to its last flushed frame
    import h5py

    with h5py.File(out) as f:
        total = int(f["frames_written"][()]) + 3
    _serial("resume", "-q", "-n", str(total), str(out))
    _serial("run", *args, "-n", str(total), "-o", str(tmp_path / "ref.h5"))
    _same(out, tmp_path / "ref.h5")


def test_agree_seconds_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from grayscott.parallel import collective

    monkeypatch.delenv("GRAYSCOTT_MPI_AGREE_SECONDS", raising=False)
    assert collective.agree_seconds() == collective.AGREE_SECONDS
    monkeypatch.setenv("GRAYSCOTT_MPI_AGREE_SECONDS", "0.5")
    assert collective.agree_seconds() == 0.5
    for bad in ("abc", "0", "-1", "inf", "nan", ""):
        monkeypatch.setenv("GRAYSCOTT_MPI_AGREE_SECONDS", bad)
        with pytest.raises(GrayScottError, match="GRAYSCOTT_MPI_AGREE_SECONDS"):
            collective.agree_seconds()


@needs_mpi
def test_a_bad_agree_seconds_is_one_line_on_every_rank(tmp_path: Path) -> None:
    env = {**os.environ, "GRAYSCOTT_MPI": "1", "GRAYSCOTT_MPI_AGREE_SECONDS": "soon"}
    proc = subprocess.run([_mpiexec(), "-n", "2", *GRAYSCOTT, "run", "-q", "-r", "8", "-c", "8",
                           "-n", "1", "-e", "1", "-o", str(tmp_path / "x.h5")],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "grayscott: error: GRAYSCOTT_MPI_AGREE_SECONDS must be a number of seconds > 0, "
        "got 'soon'"], proc.stderr
    assert not (tmp_path / "x.h5").exists()
