"""Malformed run files thrown at ``info``, ``render`` and ``resume``: every dataset and attribute
of the layout missing or corrupted (wrong type, shape, value), the file cut short or scribbled
on, a link loop: never a traceback, always exit 0, 2 or 3, and a refusal is one line.

In-process (``grayscott.cli.main``), each example in a fresh folder holding a copy of a small
run's file (killed halfway, so ``resume`` has work to do) with one or two damages.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from grayscott.cli import main

EXIT_CODES = {0, 2, 3}
DATASETS = ["matrix", "frame", "row", "col", "step", "time", "frames_written", "steps_done",
            "wall_seconds", "status", "final_state_saved", "u_final", "v_final",
            "checkpoint/u", "checkpoint/v", "checkpoint/index", "checkpoint", "resume_log"]
ATTRS = ["nbimage", "nbextrastep", "nbrow", "nbcol", "dt", "Du", "Dv", "F", "k", "stencil",
         "stencil_weights", "border", "dtype", "output_dtype", "backend", "steps_before",
         "layout_version", "checkpoint_every", "initial", "seed", "backend_subnormals", "map"]
#: What an attribute or dataset is replaced by.
VALUES = [None, "x", "", np.nan, -1, 0, 2**62, 1.5, [1, 2, 3], np.zeros((2, 2)),
          np.array([np.nan, 1.0]), b"\xff\xfe", -2**63, np.inf]
COMMANDS = [["info", "f.h5"], ["info", "f.h5", "--json"], ["render", "-q", "f.h5", "-o", "r.gif"],
            ["render", "-q", "f.h5", "-o", "frames"], ["resume", "-q", "f.h5"],
            ["resume", "-q", "f.h5", "-n", "6"], ["map", "f.h5", "-o", "m.png"]]


def _damage_dataset(f: h5py.File, name: str, value: object) -> None:
    if name in f:
        del f[name]
    if value is not None:
        f[name] = value


def _damage_attr(f: h5py.File, name: str, value: object) -> None:
    if name in f.attrs:
        del f.attrs[name]
    if value is not None:
        f.attrs[name] = value


def _damage_bytes(path: Path, how: str, where: float) -> None:
    size = path.stat().st_size
    at = int(size * where)
    if how == "truncate":
        os.truncate(path, at)
    else:  # scribble 512 bytes of 0xAB
        with open(path, "r+b") as fh:
            fh.seek(at)
            fh.write(b"\xab" * 512)


damage = st.one_of(
    st.tuples(st.just("dataset"), st.sampled_from(DATASETS), st.sampled_from(VALUES)),
    st.tuples(st.just("attr"), st.sampled_from(ATTRS), st.sampled_from(VALUES)),
    st.tuples(st.just("bytes"), st.sampled_from(["truncate", "scribble"]),
              st.floats(0, 0.99)),
    st.tuples(st.just("file"), st.sampled_from(["loop", "dir", "empty", "dangling"]),
              st.none()),
)


@pytest.fixture(scope="module")
def killed_run(tmp_path_factory) -> Path:
    """A run of 4 frames stopped after 2 (as a kill leaves it: status "running")."""
    path = tmp_path_factory.mktemp("fuzzfiles") / "f.h5"
    assert main(["run", "-q", "-r", "8", "-c", "6", "-n", "4", "-e", "2", "-b", "numpy",
                 "--checkpoint-every", "2", "-o", str(path)]) == 0
    with h5py.File(path, "r+") as f:  # back to how it was after two frames
        f["frames_written"][()] = 2
        f["status"][()] = b"running"
        f["final_state_saved"][()] = 0
    return path


@contextlib.contextmanager
def damaged(good: Path, damages: list[tuple]):
    old = os.getcwd()
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "f.h5"
        shutil.copy(good, path)
        for kind, name, value in damages:
            if kind == "file":
                path.unlink(missing_ok=True)
                if name == "loop":
                    os.symlink("f.h5", path)
                elif name == "dir":
                    path.mkdir()
                elif name == "empty":
                    path.write_bytes(b"")
                else:
                    os.symlink("gone.h5", path)
                break
            if kind == "bytes":
                _damage_bytes(path, name, value)
                continue
            try:
                with h5py.File(path, "r+") as f:
                    (_damage_dataset if kind == "dataset" else _damage_attr)(f, name, value)
            except (OSError, TypeError, ValueError, KeyError):
                pass  # h5py would not write it that way: the file stays as it is
        os.chdir(d)
        try:
            yield path
        finally:
            os.chdir(old)


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(damages=st.lists(damage, min_size=1, max_size=2), command=st.sampled_from(COMMANDS))
def test_a_damaged_file_is_one_line(damages, command, killed_run, capsys):
    with damaged(killed_run, damages):
        capsys.readouterr()
        code = main(command)  # any exception escaping main is a bug: the test fails on it
        out, err = capsys.readouterr()
    event(f"{command[0]} exit {code}")
    assert code in EXIT_CODES, (damages, command, code, err)
    assert "Traceback" not in err and "Traceback" not in out, (damages, command, err)
    errors = [line for line in err.splitlines() if line.startswith("grayscott: error:")]
    if code != 0:
        assert len(errors) == 1, (damages, command, err)
    else:
        assert not errors, (damages, command, err)


@pytest.mark.parametrize("name", DATASETS + ATTRS)
@pytest.mark.parametrize("command", [["info", "f.h5"], ["render", "-q", "f.h5", "-o", "r.gif"],
                                     ["resume", "-q", "f.h5"]])
def test_each_name_missing(name, command, killed_run, capsys):
    """Every name of the layout, missing, under each command: one line or a result."""
    kind = "dataset" if name in DATASETS else "attr"
    with damaged(killed_run, [(kind, name, None)]):
        capsys.readouterr()
        code = main(command)
        out, err = capsys.readouterr()
    assert code in EXIT_CODES and "Traceback" not in err, (name, command, code, err)
    if code:
        assert len(err.strip().splitlines()) == 1, (name, command, err)
