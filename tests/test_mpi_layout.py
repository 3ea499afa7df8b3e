"""The rank layout (``--layout``, the automatic choice) and how a launch is recognised."""

from __future__ import annotations

import itertools
import os
import subprocess
from pathlib import Path

import pytest

from grayscott.errors import GrayScottError
from grayscott.parallel.decomposition import choose_dims, fits, rank_halo_bytes
from grayscott.parallel.launcher import check_launcher, requested_layout
from test_mpi import GRAYSCOTT, _same, _serial, mpiexec, needs_mpi


def _layouts(size: int) -> list[tuple[int, int]]:
    return [(p, size // p) for p in range(1, size + 1) if size % p == 0]


@pytest.mark.parametrize(("size", "shape", "periodic"), [
    *itertools.product((2, 4, 6, 8, 12, 16), [(1080, 1920), (1920, 1080), (13, 17), (5, 40)],
                       (False, True))])
def test_the_automatic_layout_sends_the_fewest_halo_bytes_of_those_that_fit(
        size: int, shape: tuple[int, int], periodic: bool) -> None:
    fitting = [d for d in _layouts(size) if fits(shape, d)]
    if not fitting:
        with pytest.raises(GrayScottError, match="in any layout"):
            choose_dims(size, shape, periodic=periodic)
        return
    chosen = choose_dims(size, shape, periodic=periodic)
    assert chosen in fitting
    best = min(rank_halo_bytes(shape, d, periodic)[0] for d in fitting)
    assert rank_halo_bytes(shape, chosen, periodic)[0] == best


def test_the_automatic_layout_fits_the_grid() -> None:
    assert choose_dims(4, (5, 40)) == (1, 4)  # 2x2 would leave blocks 2 rows high
    assert choose_dims(4, (40, 5)) == (4, 1)
    assert choose_dims(8, (1080, 1920)) == (2, 4)  # MPI's own choice, 4x2, sends 40 % more
    with pytest.raises(GrayScottError, match="smaller than 3x3"):
        choose_dims(4, (5, 40), (2, 2))
    with pytest.raises(GrayScottError, match="is 9 ranks, the run has 4"):
        choose_dims(4, (90, 90), (3, 3))
    with pytest.raises(GrayScottError, match="does not fit 3 ranks"):
        choose_dims(3, (90, 90), (2, 0))
    assert choose_dims(6, (90, 90), (0, 3)) == (2, 3)


def test_halo_bytes_count_rows_columns_and_corners() -> None:
    # 2x2 of a 10x20 grid, no wrap: each block sends a row of 10, a column of 5, one corner
    assert rank_halo_bytes((10, 20), (2, 2)) == (2 * 4 * 16, 4 * 2 * 4 * 16)
    # alone along a periodic direction, the wrap is a copy: only the columns travel
    assert rank_halo_bytes((10, 20), (1, 2), periodic=True)[0] == 2 * 4 * (2 * 10 + 4)


def test_a_layout_of_several_ranks_without_mpi_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRAYSCOTT_MPI_DIMS", raising=False)
    assert requested_layout(None, mpi=False) == (None, "auto")
    assert requested_layout("1x1", mpi=False) == ((1, 1), "1x1")
    assert requested_layout("2x0", mpi=True) == ((2, 0), "2x0")
    with pytest.raises(GrayScottError, match="mpiexec -n 4"):
        requested_layout("2x2", mpi=False)
    monkeypatch.setenv("GRAYSCOTT_MPI_DIMS", "1x2")
    with pytest.raises(GrayScottError, match="unset GRAYSCOTT_MPI_DIMS"):
        requested_layout(None, mpi=False)
    assert requested_layout("auto", mpi=False) == (None, "auto")  # the option wins


def test_a_bad_layout_is_one_line(tmp_path: Path) -> None:
    proc = subprocess.run([*GRAYSCOTT, "run", "--layout", "2by2", "-o", str(tmp_path / "x.h5")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "grayscott: error: --layout must look like 2x3 (rank rows x rank columns, 0 to let the "
        "grid choose one) or auto, got '2by2'"]


SRUN = {"SLURM_JOB_ID": "7", "SLURM_STEP_ID": "0", "SLURM_STEP_NUM_TASKS": "4",
        "SLURM_PROCID": "2"}


def test_srun_without_a_pmi_is_refused() -> None:
    with pytest.raises(GrayScottError, match="srun started 4 copies without a PMI"):
        check_launcher(SRUN)
    check_launcher({**SRUN, "PMI_FD": "5", "PMI_RANK": "2"})  # --mpi=pmi2
    check_launcher({**SRUN, "PMIX_RANK": "2"})  # --mpi=pmix
    check_launcher({**SRUN, "SLURM_STEP_NUM_TASKS": "1"})  # one task: nothing to connect
    check_launcher({"SLURM_JOB_ID": "7", "SLURM_NTASKS": "4"})  # the batch script itself


def test_every_copy_srun_starts_without_a_pmi_says_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI", "GRAYSCOTT_MPI"))}
    procs = [subprocess.Popen([*GRAYSCOTT, "run", "-q", "-r", "8", "-c", "8", "-n", "1",
                               "-o", str(tmp_path / "x.h5")], stderr=subprocess.PIPE, text=True,
                              env={**env, **SRUN, "SLURM_PROCID": str(r)}) for r in range(2)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 2
        assert len(err.strip().splitlines()) == 1 and "without a PMI" in err
    assert not (tmp_path / "x.h5").exists()


@needs_mpi
def test_four_ranks_run_a_grid_only_one_layout_fits(tmp_path: Path) -> None:
    import h5py

    args = ["run", "-q", "-r", "5", "-c", "40", "-n", "3", "-e", "4", "--backend", "numpy"]
    _serial(*args, "-o", str(tmp_path / "one.h5"))
    proc = mpiexec(4, *GRAYSCOTT, *args, "-o", str(tmp_path / "many.h5"))
    assert proc.returncode == 0, proc.stderr
    _same(tmp_path / "one.h5", tmp_path / "many.h5")
    with h5py.File(tmp_path / "many.h5") as f:
        assert (f.attrs["mpi_dims"], f.attrs["mpi_layout"]) == ("1x4", "auto")
    proc = mpiexec(4, *GRAYSCOTT, *args, "--layout", "2x2", "-o", str(tmp_path / "bad.h5"))
    assert proc.returncode == 2
    assert "smaller than 3x3" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("periodic", [False, True])
def test_halo_bytes_by_classes_equal_every_block_summed(periodic: bool) -> None:
    from grayscott.parallel.decomposition import halo_cells

    for shape, dims in [((13, 17), (3, 4)), ((100, 7), (7, 1)), ((50, 61), (1, 5)),
                        ((37, 41), (4, 6)), ((9, 9), (1, 1)), ((64, 64), (2, 2))]:
        sizes = [2 * 4 * halo_cells(shape, dims, (i, j), periodic)
                 for i in range(dims[0]) for j in range(dims[1])]
        assert rank_halo_bytes(shape, dims, periodic) == (max(sizes), sum(sizes))


def test_the_model_s_constants_give_what_docs_scaling_says() -> None:
    from grayscott.parallel import model

    # the fixed cost equals the compute of a 45 x 45 block with the cluster's constants
    assert round(model.balance_side(model.CLUSTER)) == 45
    # the exchange exposed: 0.79 and 0.50 at 256 and 1024 ranks; with the fixed cost fitted
    # here (HERE's), 0.69 and 0.36
    slower = model.Machine(rate=200e6, overhead=model.HERE.overhead, bandwidth=10e9,
                           root_bandwidth=10e9)
    for m, want in ((model.CLUSTER, (0.79, 0.50)), (slower, (0.69, 0.36))):
        got = [round(x, 2) for _, _, x in model.strong((1080, 1920), [256, 1024], m)]
        assert got == list(want)
    # halos 4 lines deep: 0.86 and 0.70, 0.83 and 0.61; 0.42 at 4096 ranks
    for m, want in ((model.CLUSTER, (0.86, 0.70, 0.42)), (slower, (0.83, 0.61, 0.32))):
        got = [round(x, 2) for _, _, x in model.strong((1080, 1920), [256, 1024, 4096], m, 4)]
        assert got == list(want)
    # a rank's rate between two measured block sizes, in log(cells); flat past the ends
    m = model.Machine(rate=0, overhead=0, bandwidth=1, root_bandwidth=1,
                      rates=((1e4, 2e9), (1e6, 1e9)))
    assert (m.rate_at(1e3), m.rate_at(1e5), m.rate_at(1e7)) == (2e9, 1.5e9, 1e9)


# -- the halo's depth ------------------------------------------------------------------------

def _block(shape: tuple[int, int], dims: tuple[int, int], periodic: bool = False):
    from grayscott.parallel.decomposition import Block, split

    return Block(dims=dims, coords=(0, 0), rows=split(shape[0], dims[0])[0],
                 cols=split(shape[1], dims[1])[0], north=-1, south=-1, west=-1, east=-1,
                 periodic=periodic)


def test_the_halo_depth_is_the_default_or_the_thinnest_block_and_the_same_on_every_rank() -> None:
    from grayscott.parallel.decomposition import DEPTH, choose_depth

    assert choose_depth((1080, 1920), _block((1080, 1920), (2, 1)), True, None) == DEPTH
    assert choose_depth((1080, 1920), _block((1080, 1920), (2, 1)), False, None) == 1  # numpy
    # 13 rows on 4 ranks: blocks of 4, 3, 3, 3 rows; the depth is the thinnest, on every rank
    assert choose_depth((13, 40), _block((13, 40), (4, 1)), True, None) == 3
    # only the cut direction counts; a periodic direction is cut even with one rank along it
    assert choose_depth((100, 3), _block((100, 3), (2, 1)), True, None) == DEPTH
    assert choose_depth((100, 3), _block((100, 3), (2, 1), periodic=True), True, None) == 3
    assert choose_depth((13, 40), _block((13, 40), (4, 1)), True, 2) == 2


@pytest.mark.parametrize(("asked", "numba", "message"), [
    (0, True, "at least 1"), (-3, True, "at least 1"), (4, True, r"thinnest block \(3 lines"),
    (2, False, "needs the numba or numba-parallel backend")])
def test_a_halo_depth_that_cannot_work_is_refused(asked: int, numba: bool, message: str) -> None:
    from grayscott.parallel.decomposition import choose_depth

    with pytest.raises(GrayScottError, match=message):
        choose_depth((13, 40), _block((13, 40), (4, 1)), numba, asked)


@pytest.mark.parametrize(("args", "message"), [
    (["--halo-depth", "2"], "--halo-depth 2 is for MPI runs"),
    (["--halo-depth", "0"], "Invalid value for '--halo-depth'"),
    (["--halo-depth", "x"], "Invalid value for '--halo-depth'")])
def test_a_halo_depth_in_one_process_or_not_a_count_is_one_line(tmp_path: Path, args: list[str],
                                                                  message: str) -> None:
    for command in (["run", "-o", str(tmp_path / "x.h5")], ["resume", str(tmp_path / "x.h5")]):
        proc = subprocess.run([*GRAYSCOTT, *command, *args], capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], proc.stderr
    assert not (tmp_path / "x.h5").exists()


@needs_mpi
def test_runs_and_resumes_at_any_halo_depth_equal_one_process(tmp_path: Path) -> None:
    import h5py

    args = ["-r", "23", "-c", "17", "-e", "7", "--backend", "numba", "--border", "school"]
    _serial("run", "-q", *args, "-n", "4", "-o", str(tmp_path / "one.h5"))
    many = tmp_path / "many.h5"
    # 3 ranks as 3x1: blocks of 8, 8, 7 rows; 7 steps a frame cut into groups of 5 + 2
    proc = mpiexec(3, *GRAYSCOTT, "run", "-q", *args, "-n", "2", "--halo-depth", "5",
                   "-o", str(many))
    assert proc.returncode == 0, proc.stderr
    with h5py.File(many) as f:
        assert (f.attrs["mpi_dims"], int(f.attrs["mpi_halo_depth"])) == ("3x1", 5)
    proc = mpiexec(2, *GRAYSCOTT, "resume", "-q", "-n", "4", "--halo-depth", "3", str(many))
    assert proc.returncode == 0, proc.stderr
    _same(tmp_path / "one.h5", many)
    # the file's attributes tell the first run; the resume log, where each later one ran
    with h5py.File(many) as f:
        log = [x.decode() for x in f["resume_log"][...] if x]
    assert len(log) == 1 and "2 MPI ranks as 2x1, halos 3 lines deep, numba on each" in log[0]
