"""Random argument lists thrown at the commands: never a traceback, always an exit code of the
documented set (0, 2 for a user mistake, 3 for a blow-up), and a mistake is one line.

In-process (``grayscott.cli.main``), in a fresh folder per example, on grids and step counts
small enough that an accepted run ends in milliseconds: the "large" values offered are ones no
machine can hold (10**10 rows, 2**63 steps), which must be refused before any work.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from grayscott.cli import main

EXIT_CODES = {0, 2, 3}
BAD_INTS = ["0", "-1", "x", "1.5", "", "nan", str(2**63), str(2**64)]
#: Sizes and frame counts so large that the memory or disk check must refuse them.
HUGE = [str(10**10), str(10**15)]
BAD_FLOATS = ["-1", "0", "nan", "inf", "-inf", "1e400", "x", ""]
BACKENDS = ["numpy", "numpy-school", "python", "numba", "numba-parallel", "cobol", ""]
FILES = ["out.h5", "out.h5", "out.h5", "good.h5", "good.h5", "good.h5", "", "/dev/full",
         "a" * 300 + ".h5", "nodir/x.h5", ".", "/", "notes.txt", "x\x00y.h5", "sub", "-"]


def _mix(good: list[str], bad: list[str]) -> st.SearchStrategy[str]:
    """A good value four times in five: most lists then have one or two mistakes, and some
    none, so accepted commands run too."""
    return st.one_of(*[st.sampled_from(good)] * 4, st.sampled_from(bad))


def _options(pool: dict[str, st.SearchStrategy[str] | None]) -> st.SearchStrategy[list[str]]:
    """A few options from ``pool`` (None: a flag), in any order."""
    def build(names: list[str], data: st.DataObject) -> list[str]:
        out: list[str] = []
        for name in names:
            value = pool[name]
            out += [name] if value is None else [name, data.draw(value)]
        return out

    return st.builds(build, st.lists(st.sampled_from(sorted(pool)), max_size=4, unique=True),
                     st.data())


SIZE = _mix(["3", "5", "8", "16"], BAD_INTS + HUGE)
RUN_OPTIONS = {
    "-n": _mix(["1", "2", "3"], BAD_INTS + HUGE), "-e": _mix(["1", "2", "5"], BAD_INTS),
    "-t": _mix(["0.9", "1"], [*BAD_FLOATS, "40"]), "-k": _mix(["0.06"], BAD_FLOATS),
    "-f": _mix(["0.035"], BAD_FLOATS), "-u": _mix(["0.16"], BAD_FLOATS),
    "--seed": _mix(["0", "7"], BAD_INTS), "--dtype": _mix(["float32", "float64"], ["f16", ""]),
    "--output-dtype": _mix(["float32", "float64"], ["int8"]),
    "--stencil": _mix(["school", "laplace9"], ["x"]),
    "--border": _mix(["school", "periodic", "fixed"], ["mirror"]),
    "--initial": _mix(["school", "noise"], ["blob"]), "--threads": _mix(["1", "2"], BAD_INTS),
    "--checkpoint-every": _mix(["0", "1", "3"], BAD_INTS),
    "--flush-every": _mix(["0", "1", "2"], BAD_INTS),
    "--video": _mix(["v.gif", "frames"], ["v.xyz", "/", "nodir/v.gif", "good.h5"]),
    "--overwrite": None, "--allow-unstable": None,
    # one process: a layout of one rank runs, more is refused; any halo depth is refused
    "--layout": _mix(["1x1", "auto"], ["2x2", "0x0", "x", ""]),
    "--halo-depth": _mix(["1", "4"], BAD_INTS),
}
RESUME_OPTIONS = {
    "-n": _mix(["1", "3", "5"], BAD_INTS + HUGE), "-b": st.sampled_from(BACKENDS),
    "--threads": _mix(["1", "2"], BAD_INTS), "--checkpoint-every": _mix(["0", "2"], BAD_INTS),
    "--video": _mix(["v.gif"], ["v.xyz", "/"]), "--overwrite": None,
    "--layout": _mix(["1x1"], ["2x1", "x"]), "--halo-depth": _mix(["2"], BAD_INTS),
}
RENDER_OPTIONS = {
    "--upscale": _mix(["1", "3"], [*BAD_INTS, "100000"]), "--fps": _mix(["10"], BAD_FLOATS),
    "--frames": _mix(["0:2", "-1", "::2"], ["::0", "x", "5:1", "1:2:3:4", ""]),
    "--cmap": _mix(["gray", "viridis_r"], ["nope", ""]),
    "--scale": _mix(["global", "frame"], ["x"]), "--vmin": _mix(["0"], BAD_FLOATS),
    "--vmax": _mix(["1"], BAD_FLOATS), "--overwrite": None,
}
BENCH_OPTIONS = {
    "--plot": _mix(["p.png", "p.svg"], ["p.xyz", "p", "/", "nodir/p.png"]),
    "--json": _mix(["b.json"], ["/", "nodir/b.json", "."]),
    "--markdown": _mix(["b.md"], ["/", "nodir/b.md"]),
    "--repeat": _mix(["1"], ["0", "-1", "x", ""]), "--warmup": _mix(["0"], ["-1", "x"]),
}
PROFILE_OPTIONS = {
    "--threads": _mix(["1"], BAD_INTS), "--top": _mix(["3"], BAD_INTS),
    "--sort": _mix(["tottime"], ["x"]), "--json": _mix(["p.json"], ["/", "nodir/p.json"]),
}


@st.composite
def argv(draw: st.DrawFn) -> list[str]:
    command = draw(st.sampled_from(["run", "run", "resume", "info", "render", "bench",
                                    "profile"]))
    file = draw(st.sampled_from(FILES))
    if command == "run":
        return ["run", "-q", "-r", draw(SIZE), "-c", draw(SIZE), "-n", "2", "-e", "3",
                "-b", draw(st.sampled_from(BACKENDS)), "-o", file, *draw(_options(RUN_OPTIONS))]
    if command == "resume":
        return ["resume", "-q", file, *draw(_options(RESUME_OPTIONS))]
    if command == "info":
        return ["info", file, *draw(st.sampled_from([[], ["--json"]]))]
    if command == "render":
        out = draw(st.sampled_from(["r.gif", "frames", "r.xyz", "/dev/full", "good.h5", ""]))
        return ["render", "-q", file, "-o", out, *draw(_options(RENDER_OPTIONS))]
    grid = ["-r", draw(SIZE), "-c", draw(SIZE),
            "-s", draw(_mix(["1", "2"], [*BAD_INTS, str(2**31)]))]
    if command == "bench":
        return ["bench", "-q", *grid, "--warmup", "0", "--repeat", "1", "--bandwidth-mib", "1",
                "-b", draw(st.sampled_from(["numpy", "numpy,numba", "cobol", "numpy,", ","])),
                *draw(_options(BENCH_OPTIONS))]
    return ["profile", *grid, "-b", draw(st.sampled_from(BACKENDS)),
            *draw(_options(PROFILE_OPTIONS))]


@pytest.fixture(scope="module")
def good_run(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("fuzz") / "good.h5"
    assert main(["run", "-q", "-r", "8", "-c", "8", "-n", "3", "-e", "2", "-b", "numpy",
                 "-o", str(path)]) == 0
    return path


@contextlib.contextmanager
def fresh_folder(good: Path):
    """A new folder as the working directory, holding a run's file and a plain text file."""
    old = os.getcwd()
    with tempfile.TemporaryDirectory() as d:
        shutil.copy(good, Path(d) / "good.h5")
        (Path(d) / "notes.txt").write_text("not HDF5")
        (Path(d) / "sub").mkdir()
        os.chdir(d)
        try:
            yield Path(d)
        finally:
            os.chdir(old)


@settings(max_examples=200, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(args=argv())
def test_no_traceback_and_a_documented_exit_code(args, good_run, capsys):
    with fresh_folder(good_run):
        capsys.readouterr()
        code = main(args)  # any exception escaping main is a bug: the test fails on it
        out, err = capsys.readouterr()
    event(f"{args[0]} exit {code}")  # pytest --hypothesis-show-statistics lists them
    assert code in EXIT_CODES, (args, code, err)
    assert "Traceback" not in err and "Traceback" not in out, (args, err)
    errors = [line for line in err.splitlines() if line.startswith("grayscott: error:")]
    if code != 0:
        assert len(errors) == 1, (args, err)
        assert err.strip().splitlines()[-1] == errors[0], (args, err)
    else:
        assert not errors, (args, err)
