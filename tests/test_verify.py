"""grayscott verify, and the shipped reference manifests it reads."""

from __future__ import annotations

import json
import shutil

import h5py
import numpy as np
import pytest

from grayscott.cli import main
from grayscott.physics import make_problem
from grayscott.reference import load_all
from grayscott.reference.manifest import config_for, data_dir, digest

SMALL = ["-r", "128", "-c", "128"]


def cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def run(capsys, path, *args):
    code, _, err = cli(capsys, "run", *args, "-o", str(path), "-q")
    assert code == 0, err
    return path


def flip_bit(src, dst, frame, bit=20):
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        x = f["matrix"][frame]
        x.view(np.uint32)[60, 60] ^= np.uint32(1 << bit)
        f["matrix"][frame] = x
    return dst


@pytest.fixture(scope="module")
def manifests():
    return {m.name: m for m in load_all()}


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """26 frames of the small reference's configuration, by the school's NumPy."""
    path = tmp_path_factory.mktemp("verify") / "small.h5"
    assert main(["run", *SMALL, "-n", "26", "-b", "numpy-school", "-o", str(path), "-q"]) == 0
    return path


def test_manifests_are_whole_and_small(manifests):
    assert {"school", "periodic", "laplace5", "float64", "small"} <= set(manifests)
    for m in manifests.values():
        assert all(len(m.stats[k]) == m.frames for k in m.stats), m.name
        assert all(len(h) == 64 for h in m.sha256) and m.made_by
        assert len(set(m.sha256)) == m.frames  # every frame a new state
    school = manifests["school"]
    assert school.frames == 1000 and school.config == config_for(make_problem((1080, 1920)), 32)
    assert school.checked["numba-parallel"] == 1000  # the second IEEE backend, the whole run
    total = sum(p.stat().st_size for p in data_dir().iterdir())
    assert total < 3_000_000


def test_small_full_reference_is_the_manifest(manifests):
    m = manifests["small"]
    with h5py.File(data_dir() / m.full) as f:
        frames = f["matrix"][...]
    assert len(frames) == 24
    assert [digest(x) for x in frames] == m.sha256[:24]


def test_fresh_default_run_is_bit_for_bit(tmp_path, capsys):
    """The school's defaults, 3 frames: frames 0..2 of the default run's manifest."""
    path = run(capsys, tmp_path / "output.h5", "-n", "3")
    code, out, err = cli(capsys, "verify", str(path))
    assert code == 0, err
    assert "reference 'school'" in out
    assert "frames 0..2 of the file are frames 0..2 of the reference (1000 frames)" in out
    assert out.rstrip().endswith("bit for bit the reference (3 frames)")


@pytest.mark.slow
@pytest.mark.parametrize("name, args", [("periodic", ["-r", "512", "-c", "512", "--border",
                                                      "periodic"]),
                                        ("laplace5", ["--stencil", "laplace5"]),
                                        ("float64", ["--dtype", "float64"])])
def test_other_references_are_recognised(tmp_path, capsys, name, args):
    path = run(capsys, tmp_path / "o.h5", "-n", "2", *args)
    code, out, err = cli(capsys, "verify", str(path))
    assert code == 0, err
    assert f"reference {name!r}" in out and "bit for bit the reference (2 frames)" in out


def test_small_run_bit_for_bit(small_run, capsys):
    code, out, _ = cli(capsys, "verify", str(small_run))
    assert code == 0 and "bit for bit the reference (26 frames)" in out
    code, out, _ = cli(capsys, "verify", str(small_run), "--json")
    doc = json.loads(out)
    assert doc["bit_for_bit"] and doc["compared"] == 26 and doc["reference"] == "small"


def test_changed_bit_is_named(small_run, tmp_path, capsys):
    changed = flip_bit(small_run, tmp_path / "c.h5", frame=2)
    code, out, _ = cli(capsys, "verify", str(changed))
    assert code == 1
    last = out.rstrip().splitlines()[-1]
    assert last.startswith("NOT the reference: frame 2 (reference frame 2) differs by ")
    assert "(largest difference over the cells); 1 of 26 frames differ" in last
    with h5py.File(small_run) as f:
        a, b = f["matrix"][2][60, 60], h5py.File(changed)["matrix"][2][60, 60]
    assert f"{abs(float(a) - float(b)):.3g}" in last
    # beyond the frames held in full: measured from the statistics, a lower bound
    changed = flip_bit(small_run, tmp_path / "d.h5", frame=25)
    code, out, _ = cli(capsys, "verify", str(changed))
    assert code == 1
    assert "frame 25 (reference frame 25) differs by at least " in out
    assert "(from its statistics)" in out


def test_run_from_a_later_frame(tmp_path, capsys):
    """Frame i of a run that starts after 2 frames' steps is frame i + 2 of the reference."""
    with h5py.File(data_dir() / "small.h5") as f:
        frames, attrs = f["matrix"][2:], dict(f.attrs)
    path = tmp_path / "later.h5"
    with h5py.File(path, "w") as f:
        f["matrix"] = frames
        f.attrs.update(attrs)
        f.attrs["steps_before"] = 64
    code, out, _ = cli(capsys, "verify", str(path))
    assert code == 0
    assert "frames 0..21 of the file are frames 2..23 of the reference" in out


@pytest.mark.parametrize("args", [["-b", "jax-3x3"], ["-b", "numba", "--flush-subnormals"]])
def test_not_bit_for_bit_backends_within_tolerance(tmp_path, capsys, args):
    if args[1].startswith("jax"):
        pytest.importorskip("jax")
    else:
        pytest.importorskip("numba")
    path = run(capsys, tmp_path / "t.h5", *SMALL, "-n", "3", *args)
    code, out, _ = cli(capsys, "verify", str(path))
    assert code == 0
    assert "compared within 0.001 (absolute" in out
    assert ("flushes subnormals" in out) or ("--flush-subnormals" in out)
    assert "within 0.001 of the reference (3 frames;" in out
    code, out, _ = cli(capsys, "verify", str(path), "--tol", "0")
    assert code == 1 and "differs beyond 0 by " in out  # these bits are not the reference's


def test_other_configuration_refused(tmp_path, capsys):
    for args in (["-r", "64", "-c", "64"], [*SMALL, "--border", "periodic"]):
        path = run(capsys, tmp_path / "o.h5", *args, "-n", "1", "-b", "numpy-school",
                   "--overwrite")
        code, out, err = cli(capsys, "verify", str(path))
        assert code == 2 and out == ""
        assert err.startswith("grayscott: error: no reference for this configuration (")
        assert "references: " in err and err.count("\n") == 1


def test_bad_files(small_run, tmp_path, capsys):
    cut = tmp_path / "cut.h5"
    data = small_run.read_bytes()
    cut.write_bytes(data[: len(data) // 3])
    nomatrix = tmp_path / "nomatrix.h5"
    with h5py.File(nomatrix, "w") as f:
        f["x"] = np.zeros(2)
    for path in (cut, nomatrix, tmp_path / "missing.h5"):
        code, out, err = cli(capsys, "verify", str(path))
        assert code == 2 and out == "" and err.count("\n") == 1, err
