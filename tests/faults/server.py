"""Fault-injection runs of the CLI, at every write: run under ``LD_PRELOAD=shim.so``.

    LD_PRELOAD=/tmp/shim.so python tests/faults/server.py PATH WORKDIR [--json OUT]

PATH is one of :data:`PATHS`. The process imports grayscott, h5py and numpy once, then forks a
child per command (milliseconds, not a second of imports each); the child arms the shim
(:file:`shim.c`), runs ``grayscott.cli.main`` and exits as the ``grayscott`` command does (its
interpreter ends normally, so what h5py does at exit is seen too). First the uninterrupted
command counts its writes W; then, for every N in 1..W, the command is faulted at write N
(killed before it, or ENOSPC/EIO from it on, or SIGTERM then a kill inside the stop path), the
file is checked with plain h5py against the uninterrupted run, and the next ``resume`` (or the
command again, where the file holds nothing to resume) must end bit for bit equal to it, with
no temporary or lock file left beside it.

The result is one JSON object: per category the cases that failed (``unopenable``, ``wrong``:
a counted frame or member not equal to the uninterrupted run, or a status its data do not back;
``resume``: the recovery did not end bit for bit equal; ``segfault``; ``traceback``;
``message``: a failed write not said in one line with exit 2, or a disk-full message whose
frame count is not the file's; ``leftover``: temporary or lock files left after recovery).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import re
import shutil
import signal
import sys
import time
from pathlib import Path

# Children are forked from this process: numba's OpenMP layer refuses that, its own does not.
os.environ["NUMBA_THREADING_LAYER"] = "workqueue"

import h5py
import numpy as np

from grayscott import cli

KILL, ENOSPC, EIO = 1, 2, 3
GRID = ["-r", "12", "-c", "10", "-b", "numpy", "-q"]
RUN = ["run", *GRID, "-e", "4", "--checkpoint-every", "2"]
N_FRAMES, N_LONGER = 3, 5
#: ``--stop-within``: sub-blocks of one step; SIGTERM lands at step CUT_STEP, inside frame 1,
#: so the run saves the state of that step (a mid-frame checkpoint) and ``resume`` goes on.
CUT = ["--stop-within", "1e-6"]
CUT_STEP = 6
SWEEP = ["sweep", "-r", "8", "-c", "6", "-s", "6", "--feed", "0.02:0.03:2",
         "--kill", "0.06:0.062:2", "--batch", "1", "-b", "numba", "--threads", "1", "-q"]
CATEGORIES = ("unopenable", "wrong", "resume", "segfault", "traceback", "message", "leftover")
FAILED_WRITE = re.compile(r"after (\d+) (frames|members)")


def signal_at_step(step: int) -> None:
    """SIGTERM to this process once the simulation has done ``step`` steps (in a frame)."""
    from grayscott.simulation import Simulation

    advance = Simulation.advance

    def advance_then_signal(self: Simulation, nsteps: int) -> None:
        before = self.steps_done
        advance(self, nsteps)
        if before < step <= self.steps_done:
            os.kill(os.getpid(), signal.SIGTERM)

    Simulation.advance = advance_then_signal  # type: ignore[method-assign]


class Child:
    """One forked grayscott command: its exit code (or -signal), stdout, stderr. ``step``:
    SIGTERM once the simulation has done that many steps (-1: none)."""

    def __init__(self, argv: list[str], work: Path, mode: int = 0, at: int = -1,
                 term: int = -1, step: int = -1) -> None:
        out, err, count = work / "child.out", work / "child.err", work / "child.count"
        for p in (out, err):
            p.unlink(missing_ok=True)
        Path(f"{count}.0").unlink(missing_ok=True)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            os.environ["GSFAULT_COUNT_FILE"] = str(count)
            for fd, p in ((1, out), (2, err)):
                fd2 = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                os.dup2(fd2, fd)
                os.close(fd2)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            if step > 0:
                signal_at_step(step)
            ctypes.CDLL(None).gsfault_set(mode, at, term)
            os.chdir(work)
            # As the grayscott command ends: the interpreter exits normally, with its finalizers
            sys.exit(cli.main(argv))
        _, status = os.waitpid(pid, 0)
        self.rc = os.waitstatus_to_exitcode(status)
        self.stdout = out.read_text(errors="replace")
        self.stderr = err.read_text(errors="replace")
        try:
            self.writes = int(Path(f"{count}.0").read_text())
        except (OSError, ValueError):
            self.writes = -1

    @property
    def crashed(self) -> bool:
        return self.rc in (-signal.SIGSEGV, -signal.SIGABRT, -signal.SIGBUS, 139, 134)

    @property
    def traceback(self) -> bool:
        return "Traceback" in self.stderr or "Exception ignored" in self.stderr


class Spawned(Child):
    """One grayscott command on MPI ranks (``mpiexec -n 2``, oversubscribed), the shim armed
    in rank 0 only: whatever each rank writes, rank 0 is killed or refused at its write N."""

    def __init__(self, argv: list[str], work: Path, mode: int = 0, at: int = -1,
                 term: int = -1, step: int = -1) -> None:
        import subprocess

        count = work / "child.count"
        Path(f"{count}.0").unlink(missing_ok=True)
        env = {**os.environ, "GRAYSCOTT_MPI": "1", "GSFAULT": f"{mode} {at} {term}",
               "GSFAULT_RANK": "0", "GSFAULT_COUNT_FILE": str(count)}
        mpiexec = Path(sys.executable).parent / "mpiexec"
        try:
            proc = subprocess.run([str(mpiexec), "-n", "2", sys.executable, "-m", "grayscott",
                                   *argv], cwd=work, env=env, capture_output=True, text=True,
                                  timeout=120)
            self.rc, self.stdout, self.stderr = proc.returncode, proc.stdout, proc.stderr
        except subprocess.TimeoutExpired as exc:  # a hang is a failure of its own
            self.rc, self.stdout, self.stderr = -999, "", f"hang: {exc}"
        try:
            self.writes = int(Path(f"{count}.0").read_text())
        except (OSError, ValueError):
            self.writes = -1
        # mpiexec reports a rank killed on purpose; that is not the command's stderr
        if mode == KILL:
            self.stderr = "\n".join(x for x in self.stderr.splitlines()
                                    if "BAD TERMINATION" not in x and "KILLED BY SIGNAL: 9" not in x
                                    and not x.startswith(("=", "   ", "YOUR APPLICATION")))

    @property
    def crashed(self) -> bool:
        return self.rc in (-signal.SIGSEGV, -signal.SIGABRT, 139, 134) or "SIGNAL: 11" in \
            self.stderr or "Segmentation" in self.stderr or self.rc == -999


def read_run(path: Path) -> dict | None:
    """What plain h5py reads of a run's file (None: it cannot open or read it)."""
    try:
        with h5py.File(path, "r") as f:
            fw = int(f["frames_written"][()])
            return {"fw": fw, "nbimage": int(f.attrs["nbimage"]), "matrix": f["matrix"][:fw],
                    "step": f["step"][:fw], "time": f["time"][:fw],
                    "status": f["status"][()].rstrip(b"\0").decode(errors="replace"),
                    "final": int(f["final_state_saved"][()]),
                    "u_final": f["u_final"][...], "v_final": f["v_final"][...]}
    except Exception:  # any failure to open or read is what is counted
        return None


def read_sweep(path: Path) -> dict | None:
    try:
        with h5py.File(path, "r") as f:
            done = f["done"][...]
            completed = f["completed"][()] if "completed" in f else f.attrs.get("completed", 0)
            return {"done": done, "v": f["v"][...], "written": int(f["members_written"][()]),
                    "status": f["status"][()].rstrip(b"\0").decode(errors="replace"),
                    "completed": int(completed)}
    except Exception:
        return None


def run_counted_ok(d: dict, refs: dict[int, dict]) -> bool:
    """Every counted frame equals the uninterrupted run's; the status is backed by the data:
    "completed" with every planned frame and the final state, a final state equal to the
    uninterrupted run's of as many frames."""
    fw, ref = d["fw"], refs[max(refs)]
    if fw > ref["fw"] or not all(np.array_equal(d[k], ref[k][:fw])
                                 for k in ("matrix", "step", "time")):
        return False
    if d["status"] == "completed" and (fw != d["nbimage"] or d["final"] != 1):
        return False
    same = refs.get(fw)
    if d["final"] == 1 and same is not None and not (
            np.array_equal(d["u_final"], same["u_final"])
            and np.array_equal(d["v_final"], same["v_final"])):
        return False
    return True


def run_equal(d: dict | None, refs: dict[int, dict]) -> bool:
    ref = refs[max(refs)]
    return (d is not None and d["fw"] == ref["fw"] and d["status"] == "completed"
            and d["final"] == 1 and run_counted_ok(d, refs))


def sweep_counted_ok(d: dict, ref: dict) -> bool:
    done = d["done"] == 1
    if int(done.sum()) != d["written"] and d["written"] > int(done.sum()):
        return False
    if not np.array_equal(d["v"][done], ref["v"][done]):
        return False
    return not (d["completed"] or d["status"] == "completed") or bool(done.all())


def sweep_equal(d: dict | None, ref: dict) -> bool:
    return d is not None and bool((d["done"] == 1).all()) and d["completed"] == 1 \
        and np.array_equal(d["v"], ref["v"])


def leftovers(work: Path, name: str) -> list[str]:
    return [p.name for p in work.iterdir() if p.name.startswith(f".{name}")
            or (p.name.startswith(".") and "grayscott" in p.name)]


class Path_:
    """A path under test: how to make its starting file, its command, how to check it."""

    def __init__(self, name: str, work: Path) -> None:
        self.name, self.work = name, work
        self.kind = "sweep" if name.startswith("sweep") else "run"
        self.launch = Spawned if name.startswith("mpi") else Child
        self.mode = {"enospc": ENOSPC, "eio": EIO}.get(name.rsplit("-", 1)[-1], KILL)
        self.stop = name.endswith("stop")
        #: run-cut: the command is cut inside a frame by SIGTERM (--stop-within)
        self.cut = CUT_STEP if name == "run-cut" else -1
        self.out = work / "out.h5"
        base = name.split("-")[0] if not name.startswith("resume") else "-".join(
            name.split("-")[:2])
        base = "run" if base == "mpi" else base
        # mpi-numba: the numba stepper's halos 4 lines deep (12 rows on 2 ranks: 6 each)
        run = [x if x != "numpy" else "numba" for x in RUN] if name == "mpi-numba" else RUN
        self.base = base
        ref = work / "ref.h5"
        if self.kind == "sweep":
            self.cmd = [*SWEEP, "-o", "out.h5"]
            self.redo = [*SWEEP, "-o", "out.h5", "--overwrite"]
            Child([*SWEEP, "-o", "ref.h5"], work)
            self.ref = read_sweep(ref)
        else:
            self.ref = {}
            for n in (N_FRAMES, N_LONGER) if base == "resume-longer" else (N_FRAMES,):
                Child([*run, "-n", str(n), "-o", f"ref{n}.h5"], work)
                self.ref[n] = read_run(work / f"ref{n}.h5")
            self.resume = ["resume", "out.h5", "-q"] + (
                ["-n", str(N_LONGER)] if base == "resume-longer" else [])
            if base == "run":
                self.cmd = [*run, "-n", str(N_FRAMES), "-o", "out.h5",
                            *(CUT if self.cut > 0 else [])]
                self.redo = [*run, "-n", str(N_FRAMES), "-o", "out.h5", "--overwrite"]
            else:
                self.cmd = self.redo = self.resume
        if self.ref is None or (self.kind == "run" and any(r is None for r in self.ref.values())):
            raise SystemExit(f"{name}: the uninterrupted reference could not be read")
        self.start = work / "start.h5"
        if base == "resume-same":  # a run killed after its second frame's checkpoint
            count = Child([*run, "-n", str(N_FRAMES), "-o", "start.h5"], work).writes
            self.start.unlink()
            Child([*run, "-n", str(N_FRAMES), "-o", "start.h5"], work, KILL, count - 6)
        elif base == "resume-cut":  # a run cut inside frame 1 by SIGTERM (--stop-within)
            Child([*run, "-n", str(N_FRAMES), "-o", "start.h5", *CUT], work, step=CUT_STEP)
        elif base == "resume-longer":  # a completed run of N_FRAMES, extended
            Child([*run, "-n", str(N_FRAMES), "-o", "start.h5"], work)
        for p in work.iterdir():  # a killed start leaves its lock; not what is tested
            if p.name.startswith(".start.h5"):
                p.unlink()

    def reset(self) -> None:
        for p in list(self.work.iterdir()):
            if not p.name.startswith(("ref", "start.h5", "child.")):
                p.unlink() if p.is_file() else shutil.rmtree(p)
        if self.start.exists():
            shutil.copyfile(self.start, self.out)

    def read(self) -> dict | None:
        return (read_sweep if self.kind == "sweep" else read_run)(self.out)

    def counted_ok(self, d: dict) -> bool:
        return (sweep_counted_ok if self.kind == "sweep" else run_counted_ok)(d, self.ref)

    def equal(self, d: dict | None) -> bool:
        return (sweep_equal if self.kind == "sweep" else run_equal)(d, self.ref)


def case(p: Path_, n: int, term: int, tally: dict[str, list]) -> None:
    """Fault the command at write ``n``, check the file, recover, check again."""
    p.reset()
    c = p.launch(p.cmd, p.work, p.mode, n, term, p.cut)
    where = f"N={n}"
    if c.crashed:
        tally["segfault"].append(f"{where}: rc {c.rc}")
    if c.traceback:
        tally["traceback"].append(f"{where}: {c.stderr.strip().splitlines()[-1][:200]}")
    lines = [x for x in c.stderr.splitlines() if x.strip()]
    d = p.read() if p.out.exists() else None
    # a refused write is said in one line with exit 2, unless it lost nothing (the close's
    # optional copy of the superblock's flag): then the command ends well and whole
    quiet_ok = c.rc == 0 and not lines and p.equal(d)
    if p.mode != KILL and not c.crashed and not quiet_ok and (
            c.rc != 2 or len(lines) != 1 or not lines[0].startswith("grayscott: error:")):
        tally["message"].append(f"{where}: rc {c.rc}: {' | '.join(lines)[:300]}")
    said = FAILED_WRITE.search(c.stderr)
    if said and d is not None:
        counted = d["fw"] if p.kind == "run" else d["written"]
        if int(said.group(1)) != counted:
            tally["message"].append(f"{where}: says {said.group(0)!r}, the file counts "
                                    f"{counted}")
    if p.out.exists():
        if d is None:
            tally["unopenable"].append(where)
        elif not p.counted_ok(d):
            tally["wrong"].append(f"{where}: {d.get('fw', d.get('written'))} counted, "
                                  f"status {d['status']!r}")
    # recovery: resume what is there, or the command again where nothing can be resumed
    r = p.launch(p.resume if p.kind == "run" and d is not None else p.redo, p.work)
    if r.crashed:
        tally["segfault"].append(f"{where} (recovery): rc {r.rc}")
    if r.traceback:
        tally["traceback"].append(f"{where} (recovery): {r.stderr.strip()[-200:]}")
    if r.rc != 0 or not p.equal(p.read() if p.out.exists() else None):
        tally["resume"].append(f"{where}: rc {r.rc}: {r.stderr.strip()[:200]}")
    left = leftovers(p.work, "out.h5")
    if left:
        tally["leftover"].append(f"{where}: {left}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("path", choices=PATHS)
    ap.add_argument("work", type=Path)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--every", type=int, default=1, help="every k-th write only")
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    from grayscott.physics import make_problem
    make_problem((12, 10))  # the stability bound, computed once here for every child
    if a.path.startswith("sweep"):  # compile the kernels once, here, for every child
        from grayscott.sweep import sweep
        sweep([0.02], [0.06], 2, (8, 6), backend="numba", batch=1, threads=1)
    p = Path_(a.path, a.work)
    p.reset()
    term = -1
    full = p.launch(p.cmd, p.work, step=p.cut)
    if full.rc != (128 + signal.SIGTERM if p.cut > 0 else 0):
        raise SystemExit(f"{a.path}: the uninterrupted command failed: {full.stderr}")
    cut = p.out if p.cut > 0 else p.start if p.base == "resume-cut" else None
    if cut is not None:  # the path under test: a state saved inside frame 1
        with h5py.File(cut, "r") as f:
            index = [int(x) for x in f["checkpoint/index"][1:]]
        if index != [1, CUT_STEP]:
            raise SystemExit(f"{a.path}: no checkpoint inside frame 1: {index}")
    writes = full.writes
    first = 1
    if p.stop:  # SIGTERM in the last frames; then a kill at every write of what follows
        # a signal the command takes (it then ends under control and reports its writes)
        for back in range(10, writes, 5):
            term = writes - back
            p.reset()
            stopped = p.launch(p.cmd, p.work, 0, -1, term)
            if stopped.writes > 0:
                break
        writes, first = stopped.writes, term + 1
    tally: dict[str, list] = {k: [] for k in CATEGORIES}
    tried = 0
    for n in range(first, writes + 1, a.every):
        case(p, n, term, tally)
        tried += 1
    import resource

    cpu = sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF,
              resource.RUSAGE_CHILDREN) for f in ("ru_utime", "ru_stime"))
    result = {"path": a.path, "writes": writes, "tried": tried,
              "seconds": round(time.perf_counter() - t0, 1), "cpu_seconds": round(cpu, 1),
              **{k: len(v) for k, v in tally.items()}, "details": tally}
    text = json.dumps(result, indent=1)
    if a.json:
        a.json.write_text(text)
    else:
        print(text)
    # the result is written: end here, as a command would
    sys.exit(0)


PATHS = ("run", "run-enospc", "run-eio", "run-stop", "run-cut", "resume-cut", "resume-same",
         "resume-same-enospc", "resume-same-eio", "resume-longer", "resume-longer-enospc",
         "resume-longer-eio", "resume-longer-stop", "sweep", "sweep-enospc", "sweep-eio", "mpi",
         "mpi-enospc", "mpi-stop", "mpi-numba")

if __name__ == "__main__":
    main()
