#!/usr/bin/env python
"""Generate the tutorial notebooks from the solution notebooks: one source of truth.

    python notebooks/make_tutorials.py            # write notebooks/tutorial/*.ipynb
    python notebooks/make_tutorials.py --check    # exit 1 if a tutorial is stale or a
                                                  # solution holds outputs (the test suite)
    python notebooks/make_tutorials.py --clear-outputs   # strip outputs from the solutions
                                                          # (after working in Jupyter)

How a solution notebook marks its exercises:

* A code cell tagged ``solution`` holds one or more blocks

      ### BEGIN SOLUTION: what the learner should write (one line)
      ...the answer...
      ### END SOLUTION

  In the tutorial each block becomes, at the same indentation, ``# TODO: <the prompt>`` and
  ``raise NotImplementedError(...)``; the rest of the cell (a function's signature and
  docstring, setup lines) stays, and the cell is tagged ``exercise`` instead.
* A cell tagged ``solution-only`` (e.g. a discussion of the answer) is left out of the tutorial.
* A cell tagged ``check`` follows an exercise and tests the learner's answer; it is copied as is,
  and in the solutions it checks the solution itself.
* Everything else is copied unchanged. Outputs and execution counts are always dropped.

The output is a pure function of the solutions (cell ids are kept, the banner's is fixed,
JSON is written the way nbformat writes it), so ``--check`` can compare files byte for byte.
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
SOLUTIONS = HERE / "solutions"
TUTORIALS = HERE / "tutorial"

BEGIN = re.compile(r"^(?P<indent>[ \t]*)### BEGIN SOLUTION(?::\s*(?P<prompt>.*?))?\s*$")
END = re.compile(r"^[ \t]*### END SOLUTION\s*$")
BANNER_ID = "tutorial-banner"


class NotebookError(Exception):
    """A solution notebook that breaks the conventions above."""


def _tags(cell: dict) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def exercise_source(source: str, where: str) -> str:
    """The tutorial version of a solution cell's source: each solution block replaced."""
    out: list[str] = []
    lines = source.splitlines()
    i = 0
    blocks = 0
    while i < len(lines):
        m = BEGIN.match(lines[i])
        if END.match(lines[i]):
            raise NotebookError(f"{where}: '### END SOLUTION' without a BEGIN (line {i + 1})")
        if not m:
            out.append(lines[i])
            i += 1
            continue
        j = i + 1
        while j < len(lines) and not END.match(lines[j]):
            if BEGIN.match(lines[j]):
                raise NotebookError(f"{where}: nested '### BEGIN SOLUTION' (line {j + 1})")
            j += 1
        if j == len(lines):
            raise NotebookError(f"{where}: '### BEGIN SOLUTION' without an END (line {i + 1})")
        indent = m.group("indent")
        prompt = m.group("prompt") or "your code here"
        out.append(f"{indent}# TODO: {prompt}")
        out.append(f'{indent}raise NotImplementedError("exercise: replace this line with your '
                   'code")')
        blocks += 1
        i = j + 1
    if not blocks:
        raise NotebookError(f"{where}: tagged 'solution' but has no '### BEGIN SOLUTION' block")
    return "\n".join(out)


def _banner(name: str) -> dict:
    text = (
        f"> **Tutorial version.** The exercises are the cells marked `# TODO`: write your code "
        f"there, then run the check cell that follows. The answers are in "
        f"[`../solutions/{name}`](../solutions/{name}).\n"
        ">\n"
        "> This file is generated from the solution notebook by `notebooks/make_tutorials.py` "
        "(`make tutorials`); edit the solution, not this file."
    )
    cell = nbformat.v4.new_markdown_cell(text)
    cell["id"] = BANNER_ID
    return cell


def make_tutorial(solution: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """The tutorial notebook generated from one solution notebook."""
    nb = copy.deepcopy(solution)
    cells = []
    for k, cell in enumerate(nb.cells):
        where = f"{name}, cell {k} ({cell.get('id', '?')})"
        tags = _tags(cell)
        if "solution-only" in tags:
            continue
        has_marker = any(BEGIN.match(line) or END.match(line)
                         for line in cell.source.splitlines())
        if "solution" in tags:
            if cell.cell_type != "code":
                raise NotebookError(f"{where}: only code cells can be tagged 'solution'")
            cell.source = exercise_source(cell.source, where)
            cell.metadata["tags"] = [t if t != "solution" else "exercise" for t in tags]
        elif has_marker:
            raise NotebookError(f"{where}: has solution markers but is not tagged 'solution'")
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cells.append(cell)
    if not cells:
        raise NotebookError(f"{name}: no cells")
    # The banner goes right after the title cell.
    cells.insert(1, _banner(name))
    nb.cells = cells
    nbformat.validate(nb)
    return nb


def dumps(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb, version=4) + "\n"


def solution_paths() -> list[Path]:
    return sorted(SOLUTIONS.glob("*.ipynb"))


def expected_tutorials() -> dict[str, str]:
    """File name -> the exact text the tutorial must have, for every solution notebook."""
    out = {}
    for path in solution_paths():
        nb = nbformat.read(path, as_version=4)
        out[path.name] = dumps(make_tutorial(nb, path.name))
    return out


def solutions_with_outputs() -> list[str]:
    bad = []
    for path in solution_paths():
        nb = nbformat.read(path, as_version=4)
        if any(c.cell_type == "code" and (c.outputs or c.execution_count is not None)
               for c in nb.cells):
            bad.append(path.name)
    return bad


def clear_outputs(path: Path) -> bool:
    """Strip outputs and execution counts from a notebook in place; True if it changed."""
    text = path.read_text(encoding="utf-8")
    nb = nbformat.reads(text, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    new = dumps(nb)
    if new != text:
        path.write_text(new, encoding="utf-8")
        return True
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--check", action="store_true",
                       help="write nothing; exit 1 if a tutorial differs from what would be "
                            "generated, or a solution holds outputs")
    group.add_argument("--clear-outputs", action="store_true",
                       help="strip outputs from the solution notebooks, then generate")
    args = parser.parse_args(argv)
    if not solution_paths():
        print(f"no solution notebooks in {SOLUTIONS}", file=sys.stderr)
        return 1
    try:
        if args.clear_outputs:
            for path in solution_paths():
                if clear_outputs(path):
                    print(f"cleared outputs of {path.relative_to(HERE.parent)}")
        expected = expected_tutorials()
    except NotebookError as exc:
        print(f"make_tutorials: {exc}", file=sys.stderr)
        return 1
    present = {p.name for p in TUTORIALS.glob("*.ipynb")}
    if args.check:
        problems = [f"solutions/{n} holds outputs (run with --clear-outputs)"
                    for n in solutions_with_outputs()]
        for name, text in expected.items():
            path = TUTORIALS / name
            if not path.exists():
                problems.append(f"tutorial/{name} is missing")
            elif path.read_text(encoding="utf-8") != text:
                problems.append(f"tutorial/{name} differs from its solution's tutorial")
        problems += [f"tutorial/{n} has no solution notebook" for n in sorted(present)
                     if n not in expected]
        for p in problems:
            print(f"make_tutorials: {p}", file=sys.stderr)
        if problems:
            print("make_tutorials: run `python notebooks/make_tutorials.py` (make tutorials)",
                  file=sys.stderr)
        return 1 if problems else 0
    TUTORIALS.mkdir(exist_ok=True)
    for name, text in expected.items():
        path = TUTORIALS / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(HERE.parent)}")
    for name in sorted(present - set(expected)):
        (TUTORIALS / name).unlink()
        print(f"removed tutorial/{name} (no solution notebook)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
