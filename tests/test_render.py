"""``grayscott render`` and ``run --video``: PNG folders, GIFs and MP4s with the right frames,
colour scales, frame ranges, and a clear one-line error for every mistake."""

from __future__ import annotations

import subprocess
import sys

import h5py
import numpy as np
import pytest

import grayscott as gs
from grayscott.cli import main
from grayscott.errors import GrayScottError
from grayscott.views import colormap_lut, frame_to_index, parse_frames, render
from grayscott.views import rendering as render_mod

pytest.importorskip("matplotlib")
Image = pytest.importorskip("PIL.Image")
iio = pytest.importorskip("imageio.v2")
pytest.importorskip("imageio_ffmpeg")

NBIMAGE = 6


def _make_run(path, shape, nbimage=NBIMAGE):
    problem = gs.make_problem(shape)
    gs.run(problem, path, nbimage=nbimage, nbextrastep=8, backend="numpy", progress=False)
    return path


@pytest.fixture(scope="module")
def run_file(tmp_path_factory):
    """A 6-frame run on a 24 x 32 grid (school defaults)."""
    return _make_run(tmp_path_factory.mktemp("run") / "run.h5", (24, 32))


@pytest.fixture(scope="module")
def odd_file(tmp_path_factory):
    """A 5-frame run on an odd 23 x 31 grid."""
    return _make_run(tmp_path_factory.mktemp("odd") / "odd.h5", (23, 31), nbimage=5)


@pytest.fixture(scope="module")
def frames(run_file):
    with h5py.File(run_file, "r") as f:
        return f["matrix"][...]


def _pngs(folder):
    return sorted(p.name for p in folder.glob("*.png"))


def _indices(path):
    """Palette indices of a PNG frame written by render (a palette image)."""
    im = Image.open(path)
    assert im.mode == "P"
    return np.asarray(im)


def mp4_frames(path):
    with iio.get_reader(path) as reader:
        meta = reader.get_meta_data()
        images = [np.asarray(im) for im in reader]
    return images, meta


# ---------------------------------------------------------------- outputs


def test_png_folder_one_frame_per_file(run_file, frames, tmp_path):
    out = tmp_path / "new" / "pngs"  # created with its parents
    result = render(run_file, out, progress=False)
    assert (result.kind, result.frames, result.first, result.last) == ("folder", 6, 0, 5)
    assert _pngs(out) == [f"frame_{i:05d}.png" for i in range(NBIMAGE)]
    assert Image.open(out / "frame_00000.png").size == (32, 24)  # width x height
    # Global scale by default: the run's min and max, the same for every frame.
    assert (result.vmin, result.vmax) == (float(frames.min()), float(frames.max()))
    for i in range(NBIMAGE):
        expected = frame_to_index(frames[i], result.vmin, result.vmax)
        np.testing.assert_array_equal(_indices(out / f"frame_{i:05d}.png"), expected)
    # The palette is the colour map's.
    palette = np.array(Image.open(out / "frame_00003.png").getpalette()[:768]).reshape(256, 3)
    np.testing.assert_array_equal(palette, colormap_lut("inferno"))


def test_gif_frames_delay_and_loop(run_file, frames, tmp_path):
    out = tmp_path / "run.gif"
    result = render(run_file, out, fps=20, progress=False)
    assert result.kind == "gif" and result.frames == NBIMAGE
    assert not list(tmp_path.glob(".*partial*")), "the partial file is renamed"
    im = Image.open(out)
    assert im.n_frames == NBIMAGE and im.size == (32, 24)
    assert im.info["duration"] == 50 and im.info["loop"] == 0
    lut = colormap_lut("inferno")
    for i in range(NBIMAGE):
        im.seek(i)
        rgb = np.asarray(im.convert("RGB"))
        expected = lut[frame_to_index(frames[i], result.vmin, result.vmax)]
        np.testing.assert_array_equal(rgb, expected)  # palette images: exact colours


def test_mp4_frames_fps_and_colours(run_file, frames, tmp_path):
    out = tmp_path / "run.mp4"
    result = render(run_file, out, fps=10, progress=False)
    assert result.kind == "mp4" and result.frames == NBIMAGE
    images, meta = mp4_frames(out)
    assert len(images) == NBIMAGE
    assert meta["fps"] == 10 and meta["size"] == (32, 24) and meta["codec"] == "h264"
    lut = colormap_lut("inferno")
    expected = lut[frame_to_index(frames[-1], result.vmin, result.vmax)].astype(float)
    assert np.abs(images[-1].astype(float) - expected).mean() < 8  # lossy, but close


def test_mp4_odd_grid_padded_to_even(odd_file, tmp_path):
    result = render(odd_file, tmp_path / "odd.mp4", progress=False)
    images, meta = mp4_frames(tmp_path / "odd.mp4")
    assert len(images) == 5 and meta["size"] == (32, 24) == (result.width, result.height)


def test_upscale(run_file, tmp_path):
    result = render(run_file, tmp_path / "big", upscale=3, frames="0", progress=False)
    assert (result.width, result.height) == (96, 72)
    big = _indices(tmp_path / "big" / "frame_00000.png")
    small = render(run_file, tmp_path / "small", frames="0", progress=False)
    assert small.frames == 1
    np.testing.assert_array_equal(big[::3, ::3], _indices(tmp_path / "small" / "frame_00000.png"))


# ---------------------------------------------------------------- scales and ranges


def test_frame_scale_stretches_every_frame(run_file, frames, tmp_path):
    result = render(run_file, tmp_path / "f", scale="frame", progress=False)
    assert result.vmin is None and result.vmax is None
    for i in range(NBIMAGE):
        idx = _indices(tmp_path / "f" / f"frame_{i:05d}.png")
        assert idx.min() == 0 and idx.max() == 255
        expected = frame_to_index(frames[i], frames[i].min(), frames[i].max())
        np.testing.assert_array_equal(idx, expected)


def test_global_scale_keeps_frames_comparable(run_file, frames, tmp_path):
    render(run_file, tmp_path / "g", progress=False)
    maxima = [_indices(tmp_path / "g" / f"frame_{i:05d}.png").max() for i in range(NBIMAGE)]
    brightest = int(np.argmax(frames.reshape(NBIMAGE, -1).max(axis=1)))
    assert maxima[brightest] == 255
    assert sum(m == 255 for m in maxima) < NBIMAGE  # not every frame stretched to the top


def test_fixed_scale(run_file, frames, tmp_path):
    result = render(run_file, tmp_path / "v", vmin=0.0, vmax=1.0, frames="-1", progress=False)
    assert (result.vmin, result.vmax) == (0.0, 1.0)
    np.testing.assert_array_equal(_indices(tmp_path / "v" / "frame_00005.png"),
                                  frame_to_index(frames[-1], 0.0, 1.0))
    half = render(run_file, tmp_path / "h", vmax=2.0, frames="0", progress=False)
    assert half.vmin == float(frames.min()) and half.vmax == 2.0  # the other end is scanned


@pytest.mark.parametrize(("spec", "names"), [
    ("2:5", [2, 3, 4]), ("::2", [0, 2, 4]), ("4:", [4, 5]), (":2", [0, 1]), ("-1", [5]),
    ("3", [3]), ("-3:-1", [3, 4]), (" 1:6:2 ", [1, 3, 5]),
])
def test_frame_ranges(run_file, tmp_path, spec, names):
    result = render(run_file, tmp_path / "r", frames=spec, progress=False)
    assert _pngs(tmp_path / "r") == [f"frame_{i:05d}.png" for i in names]
    assert (result.frames, result.first, result.last) == (len(names), names[0], names[-1])


def test_frame_range_in_a_video(run_file, tmp_path):
    render(run_file, tmp_path / "part.mp4", frames="1:4", progress=False)
    assert len(mp4_frames(tmp_path / "part.mp4")[0]) == 3
    render(run_file, tmp_path / "part.gif", frames="::5", progress=False)
    assert Image.open(tmp_path / "part.gif").n_frames == 2


def test_other_colour_map(run_file, tmp_path):
    render(run_file, tmp_path / "c", cmap="viridis_r", frames="0", progress=False)
    palette = Image.open(tmp_path / "c" / "frame_00000.png").getpalette()[:768]
    np.testing.assert_array_equal(np.array(palette).reshape(256, 3), colormap_lut("viridis_r"))


# ---------------------------------------------------------------- frames given in memory


def _folder_bytes(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.png"))}


def test_frames_in_memory_render_as_the_file_does(run_file, frames, tmp_path):
    """An array, a list and a generator of the file's frames give the file's PNGs, byte for
    byte (same scale, same names); a generator with the global scale is read once."""
    from_file = render(run_file, tmp_path / "file", progress=False)
    want = _folder_bytes(tmp_path / "file")
    consumed = []

    def generate():
        for x in frames:
            consumed.append(1)
            yield x

    for name, source in [("array", frames), ("list", list(frames)), ("gen", generate())]:
        result = render(source, tmp_path / name, progress=False)
        assert (result.frames, result.first, result.last) == (NBIMAGE, 0, NBIMAGE - 1)
        assert (result.vmin, result.vmax) == (from_file.vmin, from_file.vmax)
        assert _folder_bytes(tmp_path / name) == want, name
    assert len(consumed) == NBIMAGE  # gathered once, not iterated twice


def test_a_generator_is_streamed_when_the_scale_is_known(frames, tmp_path):
    """With vmin and vmax (or the per-frame scale) nothing is gathered: frame i is drawn
    before frame i + 1 is asked for, and a range without negative numbers is honoured."""
    drawn = []

    def generate():
        for i, x in enumerate(frames):
            assert len(drawn) >= (i - 1) // 2, "frames were gathered before drawing"
            yield x

    real = render_mod.frame_to_index

    def spy(x, *args, **kwargs):
        drawn.append(1)
        return real(x, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(render_mod, "frame_to_index", spy)
        result = render(generate(), tmp_path / "g.gif", vmin=0.0, vmax=0.5, frames="1::2",
                        progress=False)
    assert (result.frames, result.first, result.last) == (3, 1, 5) and len(drawn) == 3
    result = render(iter(frames), tmp_path / "f", scale="frame", frames="-2:", progress=False)
    assert _pngs(tmp_path / "f") == ["frame_00004.png", "frame_00005.png"]


def test_one_frame_and_bad_frames_given(frames, tmp_path):
    assert render(frames[2], tmp_path / "one", progress=False).frames == 1
    assert _pngs(tmp_path / "one") == ["frame_00000.png"]
    bad = [
        (frames[0][0], "shape"),  # 1-D
        ([frames[0], frames[1][:, :-1]], "frame 1 is float32 of shape"),
        (iter([frames[0], np.array([["a", "b"]])]), "frame 1"),
        ([], "no frame given"),
        (42, "render takes an HDF5 file, an array of frames or an iterable"),
    ]
    for n, (source, message) in enumerate(bad):
        with pytest.raises(GrayScottError, match=message):
            render(source, tmp_path / f"bad{n}.gif", vmin=0, vmax=1, progress=False)
        assert not (tmp_path / f"bad{n}.gif").exists()


def test_images_too_large_are_refused_before_drawing(frames, tmp_path):
    side = render_mod.MAX_IMAGE_SIDE
    with pytest.raises(GrayScottError, match=f"at most {side} pixels a side"):
        render(np.zeros((2, 3, side // 2 + 1)), tmp_path / "big.gif", upscale=2, progress=False)
    # an integer past 64 bits is still an integer (numpy's isfinite refuses it)
    with pytest.raises(GrayScottError, match=f"at most {side} pixels a side"):
        render(np.zeros((2, 3, 4)), tmp_path / "big.gif", upscale=2**64, progress=False)
    assert not list(tmp_path.iterdir())


def test_the_writers_share_one_interface(frames, tmp_path):
    """Each writer takes (path, lut, fps, count), write(index, image), and as a context manager
    closes on success and leaves nothing under the output's name on error."""
    from grayscott.views import WRITERS, FrameWriter

    lut = colormap_lut()
    image = frame_to_index(frames[-1], 0.0, 0.5)
    for kind, suffix in [("folder", ""), ("gif", ".gif"), ("mp4", ".mp4")]:
        cls = WRITERS[kind]
        assert issubclass(cls, FrameWriter) and render_mod.output_kind(f"x{suffix}") == kind
        with cls(tmp_path / f"ok{suffix}", lut, 10.0, 2) as w:
            w.write(0, image)
            w.write(1, image)
        assert (tmp_path / f"ok{suffix}").exists()
        with pytest.raises(KeyError), cls(tmp_path / f"no{suffix}", lut, 10.0, 2) as w:
            w.write(0, image)
            raise KeyError("boom")
        if kind != "folder":  # a folder keeps the complete PNGs written before the error
            assert not (tmp_path / f"no{suffix}").exists()
    assert not list(tmp_path.glob(".*partial*"))


def test_the_module_is_not_shadowed_by_the_function():
    import importlib

    import grayscott.views

    assert callable(grayscott.views.render)
    assert importlib.import_module("grayscott.views.rendering").render is grayscott.views.render
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("grayscott.views.render")


def test_parse_frames():
    assert parse_frames(None) == slice(None)
    assert parse_frames("2:7:2") == slice(2, 7, 2)
    assert parse_frames("-1") == slice(-1, None)
    assert parse_frames(slice(1, 3)) == slice(1, 3)
    assert parse_frames(":") == slice(None, None)
    for bad in ["", "a:b", "1:2:3:4", "1.5", "::0", "5:1:-1"]:
        with pytest.raises(GrayScottError):
            parse_frames(bad)


def test_frame_to_index_edges():
    x = np.array([[np.nan, -1.0, 0.0], [0.5, 1.0, 2.0]], dtype=np.float32)
    np.testing.assert_array_equal(frame_to_index(x, 0.0, 1.0), [[0, 0, 0], [128, 255, 255]])
    assert not frame_to_index(np.ones((2, 2)), 1.0, 1.0).any()  # constant frame: no division


# ---------------------------------------------------------------- files a run leaves


def test_incomplete_run_renders_the_frames_written(run_file, tmp_path):
    path = tmp_path / "killed.h5"
    path.write_bytes(run_file.read_bytes())
    with h5py.File(path, "a") as f:  # as a run killed hard after 3 frames leaves it
        f["status"][()] = b"running"
        f["frames_written"][()] = 3
    assert render(path, tmp_path / "k.gif", progress=False).frames == 3


def test_school_file_without_our_attributes(tmp_path):
    path = tmp_path / "school.h5"
    with h5py.File(path, "w") as f:  # what the school's programs write: one dataset
        f.create_dataset("matrix", data=np.random.default_rng(0).random((4, 10, 12)),
                         dtype="float32", chunks=(1, 10, 12))
    assert render(path, tmp_path / "s.gif", progress=False).frames == 4


def test_a_failed_render_leaves_no_video(run_file, tmp_path, monkeypatch):
    calls = []

    def failing(x, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("boom")
        return frame_to_index(x, *args, **kwargs)

    monkeypatch.setattr(render_mod, "frame_to_index", failing)
    for name in ["x.mp4", "x.gif"]:
        calls.clear()
        with pytest.raises(RuntimeError):
            render(run_file, tmp_path / name, progress=False)
        assert not (tmp_path / name).exists()
    assert list(tmp_path.iterdir()) == [], "no partial file is left behind"


# ---------------------------------------------------------------- errors, through the CLI


def _error(capsys, *args):
    rc = main(["render", *map(str, args)])
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("grayscott: error: "), err
    return err


def test_error_not_hdf5(capsys, tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    assert "not an HDF5 file" in _error(capsys, tmp_path / "notes.txt", "-o", tmp_path / "x.gif")


def test_error_missing_file(capsys, tmp_path):
    assert "no such file" in _error(capsys, tmp_path / "nope.h5", "-o", tmp_path / "x.gif")


def test_error_no_matrix(capsys, tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("temperature", data=np.zeros((2, 3, 3)))
    err = _error(capsys, path, "-o", tmp_path / "x.gif")
    assert "no 'matrix' dataset" in err and "temperature" in err


def test_error_matrix_not_frames(capsys, tmp_path):
    path = tmp_path / "flat.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("matrix", data=np.zeros((3, 3)))
    assert "(frames, rows, cols)" in _error(capsys, path, "-o", tmp_path / "x.gif")


def test_error_empty_frame_range(capsys, run_file, tmp_path):
    err = _error(capsys, run_file, "-o", tmp_path / "x.gif", "--frames", "10:")
    assert "selects no frame" in err and "6 frames" in err
    assert not (tmp_path / "x.gif").exists()


def test_error_bad_frame_range(capsys, run_file, tmp_path):
    assert "START:STOP" in _error(capsys, run_file, "-o", tmp_path / "x", "--frames", "a-b")


def test_error_unknown_colour_map(capsys, run_file, tmp_path):
    err = _error(capsys, run_file, "-o", tmp_path / "x.gif", "--cmap", "nonesuch")
    assert "unknown colour map 'nonesuch'" in err
    assert not (tmp_path / "x.gif").exists()


@pytest.mark.parametrize("name", ["out.gif", "out.mp4"])
def test_error_output_exists(capsys, run_file, tmp_path, name):
    out = tmp_path / name
    out.write_bytes(b"precious")
    assert "--overwrite" in _error(capsys, run_file, "-o", out)
    assert out.read_bytes() == b"precious"
    assert main(["render", str(run_file), "-o", str(out), "--overwrite", "-q"]) == 0
    assert out.stat().st_size > 8


def test_error_folder_not_empty_then_overwrite(capsys, run_file, tmp_path):
    out = tmp_path / "frames"
    render(run_file, out, progress=False)
    (out / "notes.txt").write_text("mine")
    assert "--overwrite" in _error(capsys, run_file, "-o", out)
    assert main(["render", str(run_file), "-o", str(out), "--overwrite", "--frames", "0:2",
                 "-q"]) == 0
    # Old frames are replaced, not mixed with the new ones; other files are left alone.
    assert _pngs(out) == ["frame_00000.png", "frame_00001.png"]
    assert (out / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize(("args", "message"), [
    (["-o", "{tmp}/x.avi"], "give a folder"),
    (["-o", "{tmp}/x.png"], "single image"),
    (["-o", "{tmp}/x.gif", "--fps", "60"], "at most 50"),
    (["-o", "{tmp}/x.gif", "--fps", "0"], "fps must be > 0"),
    (["-o", "{tmp}/x.gif", "--scale", "frame", "--vmin", "0"], "--scale frame"),
    (["-o", "{tmp}/x.gif", "--vmin", "1", "--vmax", "0.5"], "vmax must be above vmin"),
    (["-o", "{tmp}/missing/x.gif"], "does not exist"),
    (["-o", "{run}"], "is the input file"),
])
def test_error_bad_options(capsys, run_file, tmp_path, args, message):
    args = [a.format(tmp=tmp_path, run=run_file) for a in args]
    assert message in _error(capsys, run_file, *args)


def test_error_bad_scale_and_upscale_from_python(run_file, tmp_path):
    with pytest.raises(GrayScottError, match="unknown scale"):
        render(run_file, tmp_path / "x.gif", scale="log")
    with pytest.raises(GrayScottError, match="upscale"):
        render(run_file, tmp_path / "x.gif", upscale=0)


def test_error_missing_extra(capsys, run_file, tmp_path, monkeypatch):
    real = render_mod.importlib.util.find_spec
    monkeypatch.setattr(render_mod.importlib.util, "find_spec",
                        lambda name, *a: None if name == "imageio_ffmpeg" else real(name, *a))
    err = _error(capsys, run_file, "-o", tmp_path / "x.mp4")
    assert "imageio-ffmpeg" in err and "pip install 'grayscott[video]'" in err


def test_render_summary_line(capsys, run_file, tmp_path):
    assert main(["render", str(run_file), "-o", str(tmp_path / "a.mp4"), "--fps", "12"]) == 0
    out = capsys.readouterr().out
    assert "6 frames (0..5)" in out and "MP4" in out and "12 fps" in out and "inferno" in out


# ---------------------------------------------------------------- run --video


def test_run_with_video(capsys, tmp_path):
    h5, mp4 = tmp_path / "output.h5", tmp_path / "output.mp4"
    args = ["run", "-n", "5", "-e", "4", "-r", "24", "-c", "32", "-b", "numpy", "-o", str(h5),
            "--video", str(mp4)]
    assert main(args) == 0
    assert "-> MP4" in capsys.readouterr().out
    assert len(mp4_frames(mp4)[0]) == 5
    # A second run refuses, before running, to replace the video without --overwrite...
    h5.unlink()
    assert main(args) == 2
    assert "--overwrite" in capsys.readouterr().err and not h5.exists()
    # ... and replaces both with it.
    assert main([*args, "--overwrite", "-q"]) == 0
    assert capsys.readouterr().out == "" and h5.exists()


def test_run_with_video_folder_and_gif(tmp_path):
    base = ["run", "-n", "3", "-e", "4", "-r", "16", "-c", "16", "-b", "numpy", "-q"]
    assert main([*base, "-o", str(tmp_path / "a.h5"), "--video", str(tmp_path / "pngs")]) == 0
    assert len(_pngs(tmp_path / "pngs")) == 3
    assert main([*base, "-o", str(tmp_path / "b.h5"), "--video", str(tmp_path / "b.gif")]) == 0
    assert Image.open(tmp_path / "b.gif").n_frames == 3


def test_run_refuses_a_bad_video_name_before_running(capsys, tmp_path):
    rc = main(["run", "-n", "2", "-r", "16", "-c", "16", "-b", "numpy", "-o",
               str(tmp_path / "a.h5"), "--video", str(tmp_path / "a.avi")])
    assert rc == 2 and "give a folder" in capsys.readouterr().err
    assert not (tmp_path / "a.h5").exists()


def test_make_run_renders_a_video():
    from pathlib import Path

    makefile = (Path(__file__).resolve().parents[1] / "Makefile").read_text()
    recipe = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert "--video" in recipe
    # make run installs from the run lock, which `make lock` makes with the video extra
    assert "requirements/run.txt" in makefile.split(".run-installed:", 1)[1].split("\n\n", 1)[0]
    lock_recipe = makefile.split("\nlock:", 1)[1].split("\n\n", 1)[0]
    run_line = next(line for line in lock_recipe.splitlines() if "requirements/run.txt" in line)
    assert "--extra video" in run_line


def test_base_install_does_not_import_the_video_extra():
    code = ("import sys, grayscott, grayscott.cli, grayscott.views; "
            "bad = [m for m in ('matplotlib', 'PIL', 'imageio', 'imageio_ffmpeg') "
            "if m in sys.modules]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
