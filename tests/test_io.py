"""The school's HDF5 layout, provenance, the xarray view, and files left by runs that stop."""

from __future__ import annotations

import errno
import re

import h5py
import numpy as np
import pytest

import grayscott
from conftest import LIVELY
from grayscott.errors import BlowUpError, DiskFullError, GrayScottError
from grayscott.io import layout, readers, runfile
from grayscott.physics import Parameters, make_initial, make_problem
from grayscott.physics import reference as ref

SHAPE = (24, 32)


def run_small(tmp_path, name="out.h5", **kw):
    problem = kw.pop("problem", None) or make_problem(SHAPE, params=LIVELY)
    kw.setdefault("nbimage", 3)
    kw.setdefault("nbextrastep", 4)
    kw.setdefault("backend", "numpy")
    kw.setdefault("progress", False)
    return grayscott.run(problem, tmp_path / name, **kw), problem


def test_school_layout(tmp_path):
    result, problem = run_small(tmp_path)
    assert result.completed and result.frames_written == 3 and result.steps_done == 12
    with h5py.File(result.path, "r") as f:
        m = f["matrix"]
        assert m.shape == (3, *SHAPE) and m.dtype == np.float32 and m.chunks == (1, *SHAPE)
        # frame i is V after (i + 1) * nbextrastep steps; the initial state is not a frame
        u, v = make_initial("school", SHAPE)
        for i in range(3):
            u, v = ref.run(u, v, problem, 4)
            np.testing.assert_allclose(m[i], v, atol=1e-5)
        np.testing.assert_allclose(f["u_final"][...], u, atol=1e-5)
        assert f["v_final"].dtype == np.float32
        assert f["step"][...].tolist() == [4, 8, 12]
        assert f["time"][...] == pytest.approx(np.array([4, 8, 12]) * LIVELY.dt)


def test_provenance_attributes(tmp_path):
    result, _ = run_small(tmp_path)
    with h5py.File(result.path, "r") as f:
        a = dict(f.attrs)
        progress = {k: f[k][()] for k in ("frames_written", "steps_done", "wall_seconds",
                                          "status", "final_state_saved")}
    for key in ("Du", "Dv", "F", "k", "dt", "nbimage", "nbextrastep", "nbrow", "nbcol",
                "stencil", "stencil_weights", "border", "initial", "backend", "dtype",
                "output_dtype", "grayscott_version", "numpy_version", "h5py_version",
                "hdf5_version", "python_version", "started", "compile_seconds",
                "checkpoint_every", "layout_version"):
        assert key in a, key
    assert a["Du"] == LIVELY.Du and a["backend"] == "numpy" and a["stencil"] == "school"
    assert list(a["stencil_weights"]) == [1, 1, 1, 1, -8, 1, 1, 1, 1]
    # what changes during a run is in datasets (attributes are written once)
    assert progress["status"] == b"completed" and progress["frames_written"] == 3
    assert progress["steps_done"] == 12 and progress["final_state_saved"] == 1
    assert progress["wall_seconds"] > 0


def test_float64_run_stores_float32_unless_asked(tmp_path):
    problem = make_problem(SHAPE, params=LIVELY, dtype="float64")
    r32, _ = run_small(tmp_path, "a.h5", problem=problem)
    r64, _ = run_small(tmp_path, "b.h5", problem=problem, output_dtype="float64")
    with h5py.File(r32.path) as f32, h5py.File(r64.path) as f64:
        assert f32["matrix"].dtype == np.float32 and f64["matrix"].dtype == np.float64
        assert f32["u_final"].dtype == np.float64  # the restart state keeps full precision
        np.testing.assert_allclose(f32["matrix"][...], f64["matrix"][...], atol=1e-7)


def test_xarray_view(tmp_path):
    xr = pytest.importorskip("xarray")
    pytest.importorskip("h5netcdf")
    result, _ = run_small(tmp_path)
    with xr.open_dataset(result.path, engine="h5netcdf") as ds:
        assert ds["matrix"].dims == ("frame", "row", "col")
        assert ds["u_final"].dims == ("row", "col")
        assert ds["step"].values.tolist() == [4, 8, 12]
        assert "step" in ds["matrix"].coords
        assert ds.attrs["backend"] == "numpy"
        assert float(ds["matrix"].isel(frame=-1).max()) > 0


def test_existing_output_is_kept(tmp_path):
    path = tmp_path / "out.h5"
    path.write_bytes(b"precious")
    with pytest.raises(GrayScottError, match="--overwrite"):
        run_small(tmp_path)
    assert path.read_bytes() == b"precious"
    run_small(tmp_path, overwrite=True)
    assert h5py.is_hdf5(path)


def test_blow_up_keeps_frames_before(tmp_path):
    problem = make_problem((16, 16), params=Parameters(dt=40.0), allow_unstable=True)
    with pytest.raises(BlowUpError, match=r"frame (\d+)") as info:
        run_small(tmp_path, problem=problem, nbimage=50, nbextrastep=2, checkpoint_every=1)
    bad = int(re.search(r"frame (\d+)", str(info.value)).group(1))
    with h5py.File(tmp_path / "out.h5", "r") as f:
        # a stop changes no structure: matrix keeps its room, the counter says what holds data
        assert f["matrix"].shape[0] == 50 and bad == f["frames_written"][()]
        assert np.isfinite(f["matrix"][...]).all() and not f["matrix"][bad:].any()
        assert f["status"][()] == b"blew up"
        # no NaN state is kept as resumable: the final state is not saved, the checkpoint is
        # the last finite one
        assert f["final_state_saved"][()] == 0 and np.isnan(f["u_final"][...]).all()
        slot, frames, steps = f["checkpoint/index"][...]
        assert frames == bad and steps == 2 * bad
        assert np.isfinite(f["checkpoint/u"][slot]).all()


def test_disk_full_keeps_frames(tmp_path, monkeypatch):
    original = runfile.RunFile.write_frame

    def write_frame(self, i, v):
        if i == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        original(self, i, v)

    monkeypatch.setattr(runfile.RunFile, "write_frame", write_frame)
    with pytest.raises(DiskFullError, match="disk is full after 2 frames"):
        run_small(tmp_path, nbimage=5)
    with h5py.File(tmp_path / "out.h5", "r") as f:
        # a full disk changes no structure: matrix keeps its room, frames_written counts
        assert f["frames_written"][()] == 2 and f["status"][()] == b"disk full"
        assert readers.frames_available(f) == 2
        assert np.isfinite(f["matrix"][:2]).all() and f["matrix"][1].max() > 0


def test_other_write_errors_are_one_line(tmp_path, monkeypatch):
    # h5py raises RuntimeError (HDF5's multi-line trace) for some refused writes; the user
    # gets one GrayScottError line, and the frames before it stay.
    original = runfile.RunFile.write_frame

    def write_frame(self, i, v):
        if i == 1:
            raise RuntimeError("Can't write data (file write failed: errno = 5, "
                               "error message = 'Input/output error')\nHDF5 trace line 2")
        original(self, i, v)

    monkeypatch.setattr(runfile.RunFile, "write_frame", write_frame)
    with pytest.raises(GrayScottError, match="cannot write") as info:
        run_small(tmp_path, nbimage=4)
    assert "\n" not in str(info.value)
    with h5py.File(tmp_path / "out.h5", "r") as f:
        assert f["frames_written"][()] == 1


def test_not_enough_space_is_refused_before_writing(tmp_path, monkeypatch):
    class Usage:
        free = 1000

    monkeypatch.setattr(layout.shutil, "disk_usage", lambda p: Usage)
    with pytest.raises(GrayScottError, match="GB are free"):
        run_small(tmp_path)
    assert not (tmp_path / "out.h5").exists()


def test_space_is_checked_where_a_symlinked_output_is_written(tmp_path, monkeypatch):
    """The run writes beside the file a link points to: that disk's room is what counts."""
    (tmp_path / "big").mkdir()
    (tmp_path / "small").mkdir()
    real = tmp_path / "big" / "real.h5"
    real.write_bytes(b"")
    (tmp_path / "small" / "link.h5").symlink_to(real)

    def usage(p):
        return type("U", (), {"free": 1000 if "small" in str(p) else 1 << 40})

    monkeypatch.setattr(layout.shutil, "disk_usage", usage)
    result, _ = run_small(tmp_path, name="small/link.h5", overwrite=True)
    assert result.path == real and result.frames_written == 3
    (tmp_path / "dangling.h5").symlink_to(tmp_path / "nodir" / "x.h5")
    with pytest.raises(GrayScottError, match="link into a missing folder"):
        run_small(tmp_path, name="dangling.h5")


@pytest.mark.parametrize("kw, match", [
    ({"nbimage": 0}, "nbimage"), ({"nbextrastep": 0}, "nbextrastep"),
    ({"nbimage": 2.5}, "nbimage"), ({"backend": "cobol"}, "unknown backend"),
    ({"output_dtype": "int8"}, "dtype"), ({"initial": "blob"}, "initial"),
])
def test_bad_run_arguments_create_no_file(tmp_path, kw, match):
    with pytest.raises(GrayScottError, match=match):
        run_small(tmp_path, **kw)
    assert not (tmp_path / "out.h5").exists()


def test_simulation_frames_in_memory():
    problem = make_problem(SHAPE, params=LIVELY)
    sim = grayscott.Simulation(problem, backend="numpy")
    frames = list(sim.frames(nbimage=2, nbextrastep=5))
    assert len(frames) == 2 and sim.steps_done == 10
    u, v = ref.run(*make_initial("school", SHAPE), problem, 10)
    np.testing.assert_allclose(frames[-1], v, atol=1e-5)


def test_simulation_refuses_nan_state_and_negative_steps():
    problem = make_problem(SHAPE, params=LIVELY)
    u, v = make_initial("school", SHAPE)
    u[3, 4] = np.nan
    with pytest.raises(GrayScottError, match="NaN or infinite"):
        grayscott.Simulation(problem, backend="numpy", state=(u, v))
    sim = grayscott.Simulation(problem, backend="numpy", steps_done=7)
    with pytest.raises(GrayScottError, match="nsteps"):
        sim.advance(-5)
    sim.advance(0)
    assert sim.steps_done == 7


def test_memory_check_refuses_with_numbers(tmp_path, monkeypatch):
    from grayscott import resources

    monkeypatch.setattr(resources, "available_memory", lambda: 10**6)
    with pytest.raises(GrayScottError, match=r"needs about .* GB of memory and 0.001 GB"):
        run_small(tmp_path)
    assert not (tmp_path / "out.h5").exists()
    # the estimate grows with the backend's fields and the grid
    small = resources.run_memory_bytes("numba", (100, 100), "float32")
    assert resources.run_memory_bytes("numpy-school", (100, 100), "float32") > small
    assert resources.run_memory_bytes("numba", (1000, 1000), "float32") > 50 * (
        small - resources.BASELINE_BYTES)
    # every backend is counted, not guessed as the largest (the default one included)
    assert set(grayscott.backends.names()) <= set(resources.BACKEND_FIELDS)


def test_progress_survives_in_datasets_while_running(tmp_path):
    """What a reader sees after each frame: counted frames, steps, the status."""
    seen = []

    def look(i, v):
        # a second reader, mid-run (in the writer's process HDF5 wants the same locking flag)
        with h5py.File(tmp_path / "out.h5", "r", locking=False) as f:
            seen.append((int(f["frames_written"][()]), int(f["steps_done"][()]),
                         f["status"][()]))

    run_small(tmp_path, nbimage=3, on_frame=look)
    assert seen == [(1, 4, b"running"), (2, 8, b"running"), (3, 12, b"running")]


def test_info_of_files_that_are_not_ours(tmp_path):
    (tmp_path / "plain.h5").write_bytes(b"nope")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = 1
    for name, match in (("plain.h5", "not an HDF5 file"), ("other.h5", "not a grayscott"),
                        ("missing.h5", "no such file")):
        with pytest.raises(GrayScottError, match=match):
            readers.read_info(tmp_path / name)
