"""grayscott diff: the h5diff of the school's layout."""

from __future__ import annotations

import json
import shutil

import h5py
import numpy as np
import pytest

import grayscott
from grayscott.cli import main
from grayscott.io.diff import diff_files
from grayscott.physics import make_problem

SHAPE = (24, 32)


def cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def make_run(path, nbimage=5, border="school", shape=SHAPE):
    grayscott.run(make_problem(shape, border=border), path, nbimage=nbimage, nbextrastep=8,
                  backend="numpy-school", progress=False)
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("diff")
    b = make_run(d / "b.h5")
    with h5py.File(b, "r+") as f:  # its own start: the two runs can fall in one second
        f.attrs["started"] = "2000-01-01T00:00:00+00:00"
    return {"a": make_run(d / "a.h5"), "b": b,
            "short": make_run(d / "short.h5", nbimage=3),
            "periodic": make_run(d / "periodic.h5", border="periodic"),
            "grid": make_run(d / "grid.h5", shape=(24, 30))}


def flip_bit(src, dst, frame, cell=(10, 11), bit=0):
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        m = f["matrix"]
        x = m[frame]
        x.view(np.uint32)[cell] ^= np.uint32(1 << bit)
        m[frame] = x
    return dst


def frames_file(path, frames, **attrs):
    with h5py.File(path, "w") as f:
        f["matrix"] = np.asarray(frames, dtype=np.float32)
        f.attrs.update(attrs)
    return path


def test_same_run_twice_is_bit_for_bit(runs, capsys):
    code, out, err = cli(capsys, "diff", str(runs["a"]), str(runs["b"]))
    assert code == 0, err
    assert "bit for bit identical (5 compared)" in out
    assert out.rstrip().endswith("equal: bit for bit")
    assert "other attributes that differ: " in out and "started" in out  # said, not counted
    assert "setting " not in out and err == ""  # no progress bar off a terminal


def test_one_changed_bit(runs, tmp_path, capsys):
    changed = flip_bit(runs["a"], tmp_path / "c.h5", frame=3)
    code, out, _ = cli(capsys, "diff", str(runs["a"]), str(changed))
    assert code == 1
    assert "1 of 5 differ, the first is frame 3" in out
    r = diff_files(runs["a"], changed)
    assert [f.frame for f in r.per_frame if not f.bit_for_bit] == [3]
    d = r.per_frame[3].max_abs
    with h5py.File(runs["a"]) as f:
        v = float(f["matrix"][3][10, 11])
    assert 0 < d <= abs(v) * 2**-23 * 1.01  # one bit of the mantissa's last place
    assert r.first() == 3 and not r.bit_for_bit and not r.equal
    # within a tolerance it is equal, but never bit for bit
    code, out, _ = cli(capsys, "diff", str(runs["a"]), str(changed), "--tol", "1e-6")
    assert code == 0 and "equal within --tol 1e-06 --rtol 0 (not bit for bit)" in out
    code, out, _ = cli(capsys, "diff", str(runs["a"]), str(changed), "--rtol", "1e-6", "-q")
    assert code == 0 and out.startswith("equal within") and out.count("\n") == 1


def test_json(runs, tmp_path, capsys):
    changed = flip_bit(runs["a"], tmp_path / "c.h5", frame=1, bit=20)
    code, out, _ = cli(capsys, "diff", str(runs["a"]), str(changed), "--json")
    assert code == 1
    doc = json.loads(out)
    assert doc["first_differing_frame"] == 1 and doc["bit_for_bit"] is False
    assert [f["bit_for_bit"] for f in doc["per_frame"]] == [True, False, True, True, True]
    assert doc["per_frame"][1]["max_abs"] > 0 and doc["frames"] == [5, 5]


def test_fewer_frames(runs, capsys):
    code, out, _ = cli(capsys, "diff", str(runs["a"]), str(runs["short"]))
    assert code == 1
    assert "frame counts differ: compared the first 3" in out
    assert "bit for bit identical (3 compared)" in out
    assert out.rstrip().endswith("different: 5 and 3 frames")


def test_file_cut_short_on_disk(runs, tmp_path, capsys):
    cut = tmp_path / "cut.h5"
    data = runs["a"].read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    code, out, err = cli(capsys, "diff", str(runs["a"]), str(cut))
    assert code == 2 and out == ""
    assert err.startswith("grayscott: error: ") and err.count("\n") == 1
    assert "cut.h5" in err


def test_other_configuration(runs, capsys):
    code, out, _ = cli(capsys, "diff", str(runs["a"]), str(runs["periodic"]))
    assert code == 1
    assert "setting border: 'school' and 'periodic'" in out
    code, out, _ = cli(capsys, "diff", str(runs["a"]), str(runs["grid"]))
    assert code == 1
    assert "grids differ: no frame compared" in out and "setting nbcol: 32 and 30" in out


def test_nan(tmp_path, capsys):
    x = np.ones((2, 4, 4), np.float32)
    x[1, 2, 2] = np.nan
    a = frames_file(tmp_path / "a.h5", x)
    b = frames_file(tmp_path / "b.h5", x)
    # NaN == NaN in the same cell: the bytes are equal too
    assert cli(capsys, "diff", str(a), str(b))[0] == 0
    # another NaN (other payload) is equal in value, not bit for bit
    y = x.copy()
    y.view(np.uint32)[1, 2, 2] |= np.uint32(1)
    c = frames_file(tmp_path / "c.h5", y)
    assert np.isnan(y[1, 2, 2])
    code, out, _ = cli(capsys, "diff", str(a), str(c))
    assert code == 0 and "equal in value (not bit for bit)" in out
    # NaN in one file only: different by an infinite amount, whatever the tolerance
    z = x.copy()
    z[1, 2, 2] = 1.0
    d = frames_file(tmp_path / "d.h5", z)
    code, out, _ = cli(capsys, "diff", str(a), str(d), "--tol", "1e30")
    assert code == 1 and "(1 cells NaN in one file only)" in out and " inf " in out


def test_bad_files(runs, tmp_path, capsys):
    nomatrix = tmp_path / "nomatrix.h5"
    with h5py.File(nomatrix, "w") as f:
        f["other"] = np.zeros(3)
    text = tmp_path / "text.h5"
    text.write_text("not hdf5")
    cases = [(nomatrix, "holds no 'matrix' dataset"), (text, "is not an HDF5 file"),
             (tmp_path / "missing.h5", "no such file"), (tmp_path, "is a directory")]
    for path, message in cases:
        code, out, err = cli(capsys, "diff", str(runs["a"]), str(path))
        assert code == 2 and out == "", path
        assert message in err and err.count("\n") == 1, err
    code, _, err = cli(capsys, "diff", str(runs["a"]), str(runs["b"]), "--tol", "-1")
    assert code == 2 and err.count("\n") == 1


def test_reads_one_frame_at_a_time(runs, monkeypatch):
    """Bounded memory: every read is one frame, never the whole dataset."""
    reads = []
    real = h5py.Dataset.read_direct

    def spy(self, dest, source_sel=None, dest_sel=None):
        reads.append(dest.shape)
        return real(self, dest, source_sel, dest_sel)

    monkeypatch.setattr(h5py.Dataset, "read_direct", spy)
    getitem = h5py.Dataset.__getitem__

    def whole(self, key, **kw):
        assert self.name != "/matrix", "the frames are read only with read_direct"
        return getitem(self, key, **kw)

    monkeypatch.setattr(h5py.Dataset, "__getitem__", whole)
    assert diff_files(runs["a"], runs["b"]).bit_for_bit
    assert reads == [SHAPE] * 10


def test_other_dtype_compares_values(tmp_path, capsys):
    x = np.random.default_rng(1).random((3, 4, 5)).astype(np.float32)
    a = frames_file(tmp_path / "a.h5", x)
    with h5py.File(tmp_path / "b.h5", "w") as f:
        f["matrix"] = x.astype(np.float64)
    code, out, _ = cli(capsys, "diff", str(a), str(tmp_path / "b.h5"))
    assert code == 0 and "dtypes differ: float32 and float64" in out
    assert "3 of 3 differ in their bytes only" in out
    assert out.rstrip().endswith("equal in value (not bit for bit)")
