"""The README is a door: at most 150 lines, and its shell commands work, in order, as a reader
types them on a fresh clone after `make run` (a copy of the tracked files, with `.venv` and the
demo's `output.h5`; nothing may fail on that file)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SH_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.M | re.S)
#: Lines that are not run here: the two make targets (the suite is one of them), installs
#: (the environment has every extra; no package registry is needed) and JupyterLab (a server).
NOT_RUN = re.compile(r"^(make |pip install|\.venv/bin/pip install|jupyter lab)")


def commands(text: str) -> list[str]:
    """The commands of the ``sh`` blocks, in order (continued lines joined)."""
    out = []
    for block in SH_BLOCK.findall(text):
        for line in block.replace("\\\n", " ").splitlines():
            if line.strip():
                out.append(line.strip())
    return out


def test_the_readme_is_a_door() -> None:
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 150


def test_commands_reads_the_sh_blocks_in_order() -> None:
    text = "a\n```sh\nmake run  # x\nfoo -a \\\n  -b\n```\n```python\nno\n```\n```sh\nbar\n```\n"
    assert commands(text) == ["make run  # x", "foo -a    -b", "bar"]


@pytest.mark.slow
def test_the_readme_commands_run_in_order(tmp_path: Path) -> None:
    run = [c for c in commands(README.read_text(encoding="utf-8")) if not NOT_RUN.match(c)]
    assert any(c.startswith(".venv/bin/grayscott sweep") for c in run), run
    # A fresh clone: the tracked files, and the environment `make run` made.
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                             check=True).stdout.decode().split("\0")
    for name in filter(None, tracked):
        if (ROOT / name).is_file():
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, tmp_path / name)
    (tmp_path / ".venv").symlink_to(sys.prefix, target_is_directory=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    env.pop("GRAYSCOTT_MPI", None)
    grayscott = str(tmp_path / ".venv" / "bin" / "grayscott")
    # What `make run` leaves: a run's file named output.h5 (small here).
    subprocess.run([grayscott, "run", "-r", "16", "-c", "16", "-n", "1", "-b", "numpy", "-q",
                    "-o", "output.h5"], cwd=tmp_path, env=env, check=True, timeout=300)
    for command in run:
        if "mpiexec" in command and not shutil.which("mpiexec", path=str(tmp_path / ".venv/bin")):
            continue  # the mpi extra is not installed here
        done = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{command}\n{done.stderr[-2000:]}"
