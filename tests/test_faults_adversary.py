"""Faults on the calls the write-counting harness (tests/test_faults.py) does not count: an
``fsync`` of ``--fsync`` that fails, and the like. Each case runs the CLI in this process with
the call replaced, then checks the file with plain h5py and resumes it to the end."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from grayscott.cli import main

RUN = ["run", "-r", "12", "-c", "10", "-b", "numpy", "-q", "-e", "4", "--checkpoint-every", "2",
       "-n", "3"]


def _read(path: Path) -> dict:
    with h5py.File(path, "r") as f:
        fw = int(f["frames_written"][()])
        return {"fw": fw, "matrix": f["matrix"][:fw], "step": f["step"][:fw],
                "status": f["status"][()].rstrip(b"\0").decode(),
                "final": int(f["final_state_saved"][()]), "v_final": f["v_final"][...]}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[dict, int]:
    """The uninterrupted run, and how many times its --fsync run calls os.fsync."""
    path = tmp_path_factory.mktemp("ref") / "ref.h5"
    calls = []
    real = os.fsync
    mp = pytest.MonkeyPatch()
    mp.setattr(os, "fsync", lambda fd: (calls.append(fd), real(fd))[1])
    try:
        assert main([*RUN, "--fsync", "-o", str(path)]) == 0
    finally:
        mp.undo()
    return _read(path), len(calls)


def test_fsync_refused_at_every_call(reference, tmp_path, monkeypatch, capsys):
    """EIO from the N-th fsync on: one line, exit 2, the file opens, what it counts is the
    uninterrupted run's, "completed" only with the final state, and resume ends equal."""
    ref, total = reference
    assert total > 5
    real = os.fsync
    bad = []
    for n in range(1, total + 1):
        work = tmp_path / str(n)
        work.mkdir()
        out = work / "out.h5"
        calls = [0]

        def fsync(fd, n=n, calls=calls):
            calls[0] += 1
            if calls[0] >= n:
                raise OSError(errno.EIO, os.strerror(errno.EIO))
            return real(fd)

        monkeypatch.setattr(os, "fsync", fsync)
        code = main([*RUN, "--fsync", "-o", str(out)])
        monkeypatch.setattr(os, "fsync", real)
        err = capsys.readouterr().err.strip().splitlines()
        # a refused fsync of the folder after the last rename may pass: the file is whole
        whole = out.exists() and _read(out)["status"] == "completed"
        if not (code == 0 and whole) and (
                code != 2 or len(err) != 1 or not err[0].startswith("grayscott: error:")):
            bad.append(f"N={n}: exit {code}: {err}")
        if not out.exists():
            continue
        d = _read(out)
        if not np.array_equal(d["matrix"], ref["matrix"][:d["fw"]]):
            bad.append(f"N={n}: a counted frame differs")
        if d["status"] == "completed" and (d["final"] != 1 or d["fw"] != ref["fw"]):
            bad.append(f"N={n}: completed with final_state_saved={d['final']}")
        if main(["resume", str(out), "-q"]) != 0:
            bad.append(f"N={n}: resume failed: {capsys.readouterr().err.strip()}")
            continue
        d = _read(out)
        if not (d["status"] == "completed" and d["final"] == 1
                and np.array_equal(d["matrix"], ref["matrix"])
                and np.array_equal(d["v_final"], ref["v_final"])):
            bad.append(f"N={n}: resume did not end equal to the uninterrupted run")
    assert not bad, "\n".join(bad)


# -- the calls beside pwrite: a shim that fails them (or kills before them) from call N on ----

SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>
static long count, at = -1; static int kill_it; static char name[32];
__attribute__((constructor)) static void setup(void) {
    const char *s = getenv("GSADV");  /* "name N kill" */
    if (s) sscanf(s, "%31s %ld %d", name, &at, &kill_it);
}
static int fail(const char *f) {
    if (strcmp(f, name) != 0 || at <= 0) return 0;
    if (++count < at) return 0;
    if (kill_it == 2) { if (count == at) kill(getpid(), SIGINT); return 0; }  /* a Ctrl-C */
    if (kill_it) { kill(getpid(), SIGKILL); pause(); }
    errno = EIO; return 1;
}
#define REAL(f) ((__typeof__(&f))dlsym(RTLD_NEXT, #f))
int ftruncate(int fd, off_t n) { return fail("ftruncate") ? -1 : REAL(ftruncate)(fd, n); }
int ftruncate64(int fd, off_t n) { return fail("ftruncate") ? -1 : REAL(ftruncate64)(fd, n); }
int rename(const char *a, const char *b) { return fail("rename") ? -1 : REAL(rename)(a, b); }
int renameat(int d, const char *a, int e, const char *b) {
    return fail("rename") ? -1 : REAL(renameat)(d, a, e, b); }
int posix_fallocate(int fd, off_t o, off_t n) {
    return fail("fallocate") ? EIO : REAL(posix_fallocate)(fd, o, n); }
int posix_fallocate64(int fd, off_t o, off_t n) {
    return fail("fallocate") ? EIO : REAL(posix_fallocate64)(fd, o, n); }
ssize_t pwrite64(int fd, const void *b, size_t n, off_t o) {
    return fail("pwrite") ? -1 : REAL(pwrite64)(fd, b, n, o); }
"""


@pytest.fixture(scope="module")
def shim(tmp_path_factory) -> Path:
    gcc = shutil.which("gcc")
    if gcc is None or sys.platform != "linux":
        pytest.skip("needs gcc and Linux (an LD_PRELOAD shim)")
    d = tmp_path_factory.mktemp("advshim")
    (d / "shim.c").write_text(SHIM)
    p = subprocess.run([gcc, "-O2", "-shared", "-fPIC", "-o", str(d / "shim.so"),
                        str(d / "shim.c"), "-ldl"], capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip(f"the shim does not build: {p.stderr[:200]}")
    return d / "shim.so"


def _cli(args: list[str], cwd: Path, shim: Path | None = None, spec: str = "") -> tuple[int, str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    if shim is not None:
        env |= {"LD_PRELOAD": str(shim), "GSADV": spec}
    p = subprocess.run([sys.executable, "-m", "grayscott", *args], cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=300)
    return p.returncode, p.stderr


@pytest.fixture(scope="module")
def longer(tmp_path_factory) -> tuple[Path, dict]:
    """A completed 3-frame run (start.h5) and what the uninterrupted 5-frame run holds."""
    ref = tmp_path_factory.mktemp("longer")
    assert main([*RUN[:-1], "5", "-o", str(ref / "ref5.h5")]) == 0
    assert main([*RUN, "-o", str(ref / "start.h5")]) == 0
    return ref, _read(ref / "ref5.h5")


@pytest.mark.parametrize("call", ["ftruncate", "rename", "fallocate"])
@pytest.mark.parametrize("kill", [0, 1])
def test_resume_longer_refused_or_killed_beside_pwrite(call, kill, shim, longer, tmp_path):
    """``resume -n`` longer makes a new file beside and renames it: a refused (EIO) or killed
    truncate, rename or space reservation, at each of the first calls, is one line and exit 2
    (or a kill), leaves the old file whole, and a plain resume then ends equal to the longer
    uninterrupted run."""
    ref, want = longer
    bad = []
    for n in (1, 2, 3):
        work = tmp_path / str(n)
        work.mkdir()
        shutil.copyfile(ref / "start.h5", work / "out.h5")
        code, err = _cli(["resume", "out.h5", "-q", "-n", "5"], work, shim, f"{call} {n} {kill}")
        lines = err.strip().splitlines()
        if "Traceback" in err or (code not in (0, -9) and (
                code != 2 or len(lines) != 1 or not lines[0].startswith("grayscott: error:"))):
            bad.append(f"N={n}: exit {code}: {err.strip()[-300:]}")
        d = _read(work / "out.h5")
        if not np.array_equal(d["matrix"], want["matrix"][:d["fw"]]):
            bad.append(f"N={n}: a counted frame differs")
        code, err = _cli(["resume", "out.h5", "-q", "-n", "5"], work)
        d = _read(work / "out.h5")
        if code != 0 or not (d["status"] == "completed" and d["final"] == 1
                             and np.array_equal(d["matrix"], want["matrix"])):
            bad.append(f"N={n}: resume did not end equal: exit {code} {err.strip()[-200:]}")
        if [p.name for p in work.iterdir()] != ["out.h5"]:
            bad.append(f"N={n}: left {sorted(p.name for p in work.iterdir())}")
    assert not bad, "\n".join(bad)


# -- damaged files: one line, never a traceback ------------------------------------------

def _damage(path: Path, what: str) -> None:
    with h5py.File(path, "r+") as f:
        if what == "steps_before":
            f.attrs["steps_before"] = np.array([-1.5, np.nan])
            return
        f["status"][()] = b"interrupted"  # resumable: it starts from the checkpoint
        f["final_state_saved"][()] = 0
        if what.startswith("del "):
            del f[what[4:]]
        else:
            del f[what]
            f[what] = "garbage"


@pytest.mark.parametrize("what", ["del status", "del frames_written", "del u_final", "u_final",
                                  "v_final", "resume_log", "steps_before"])
def test_damaged_run_file_is_one_line(what, tmp_path, capsys):
    path = tmp_path / "run.h5"
    assert main([*RUN, "-o", str(path)]) == 0
    _damage(path, what)
    for cmd in (["info", str(path)], ["resume", str(path), "-q"]):
        capsys.readouterr()
        code = main(cmd)
        err = capsys.readouterr().err.strip().splitlines()
        assert code in (0, 2), (cmd, code, err)
        if code == 2:
            assert len(err) == 1 and err[0].startswith("grayscott: error:"), err


def test_ctrl_c_while_the_file_is_made(shim, tmp_path):
    """One SIGINT at a write while the run's file is made: the run stops (exit 130) or ends,
    no traceback (a KeyboardInterrupt raised inside h5py's cleanup is printed and dropped, so
    the run takes its signals before the file is made), the file (if any) opens."""
    bad = []
    for n in (3, 5, 7, 12, 20):
        work = tmp_path / str(n)
        work.mkdir()
        code, err = _cli([*RUN, "-o", "out.h5"], work, shim, f"pwrite {n} 2")
        if "Traceback" in err or "Exception ignored" in err or code not in (0, 130):
            bad.append(f"N={n}: exit {code}: {err.strip()[:300]}")
    assert not bad, "\n".join(bad)
