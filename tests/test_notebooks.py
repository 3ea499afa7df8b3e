"""The school's six notebooks: every solution notebook runs top to bottom on a small grid, and the
tutorials are exactly what ``notebooks/make_tutorials.py`` makes of the solutions."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
NAMES = ["1_Optimization", "2_Numpy", "3_Python_Implementation", "4_Numba_Implementation",
         "5_JAX", "6_JAX_Implementation"]
#: Modules a notebook needs beyond the base install and the video extra.
NEEDS = {"4_Numba_Implementation": "numba", "5_JAX": "jax", "6_JAX_Implementation": "jax"}
#: Injected after each notebook's parameters cell, as papermill would: a small, short run.
SMALL = "NBROW, NBCOL = 64, 64\nNSTEPS = 320\nNBIMAGE, NBEXTRASTEP = 10, 32"
CELL_TIMEOUT = 300


def _generator():
    spec = importlib.util.spec_from_file_location("make_tutorials",
                                                  NOTEBOOKS / "make_tutorials.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_tutorials"] = module
    spec.loader.exec_module(module)
    return module


mt = _generator()


def _tags(cell):
    return cell.get("metadata", {}).get("tags", [])


def _read(kind, name):
    return nbformat.read(NOTEBOOKS / kind / f"{name}.ipynb", as_version=4)


def _param(name):
    marks = []
    if name in NEEDS and importlib.util.find_spec(NEEDS[name]) is None:
        marks.append(pytest.mark.skip(reason=f"{name} needs {NEEDS[name]}"))
    return pytest.param(name, id=name, marks=marks)


# ---------------------------------------------------------------- the solutions run


@pytest.fixture(scope="module")
def kernel_name(tmp_path_factory):
    """A kernel that runs this interpreter (a user-wide "python3" kernel could be another)."""
    name = "grayscott-tests"
    spec = tmp_path_factory.mktemp("jupyter") / "kernels" / name
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": name, "language": "python"}))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_PATH", str(spec.parent.parent))  # searched before any other place
        yield name


@pytest.mark.slow
@pytest.mark.parametrize("name", [_param(n) for n in NAMES])
def test_solution_notebook_runs(name, tmp_path, kernel_name):
    nb = _read("solutions", name)
    where = [i for i, c in enumerate(nb.cells) if "parameters" in _tags(c)]
    assert len(where) == 1, "one parameters cell"
    nb.cells.insert(where[0] + 1, nbformat.v4.new_code_cell(SMALL))
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name=kernel_name,
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any error
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "display_data" and "image/png" in o.get("data", {})]
    assert images, "the notebook ends with an image of the result"
    last_code = [c for c in nb.cells if c.cell_type == "code"][-1]
    assert any("image/png" in o.get("data", {}) for o in last_code.outputs)


# ---------------------------------------------------------------- one source of truth


def test_the_six_notebooks_exist():
    assert [p.stem for p in mt.solution_paths()] == NAMES
    assert sorted(p.stem for p in (NOTEBOOKS / "tutorial").glob("*.ipynb")) == NAMES


def test_tutorials_are_generated_from_the_solutions():
    expected = mt.expected_tutorials()
    for name, text in expected.items():
        actual = (NOTEBOOKS / "tutorial" / name).read_text(encoding="utf-8")
        assert actual == text, (f"tutorial/{name} is not what make_tutorials.py generates: run "
                                "`python notebooks/make_tutorials.py` (make tutorials)")
    assert mt.main(["--check"]) == 0


def test_notebooks_are_committed_without_outputs():
    assert mt.solutions_with_outputs() == []
    for name in NAMES:
        for cell in _read("tutorial", name).cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None


@pytest.mark.parametrize("name", NAMES)
def test_notebook_structure(name):
    solution, tutorial = _read("solutions", name), _read("tutorial", name)
    params = [c for c in solution.cells if "parameters" in _tags(c)]
    assert len(params) == 1
    assert "NBROW, NBCOL = " in params[0].source and "# NBROW, NBCOL = 1080, 1920" in \
        params[0].source, "one clearly marked cell switches to the school's grid"
    exercises = [c for c in tutorial.cells if "exercise" in _tags(c)]
    assert len(exercises) >= 2
    assert all("# TODO:" in c.source and "NotImplementedError" in c.source for c in exercises)
    assert not any("BEGIN SOLUTION" in c.source or "END SOLUTION" in c.source
                   for c in tutorial.cells), "no answer leaks into the tutorial"
    # Every exercise is followed by a check the learner can run, before the next exercise.
    tagged = [(c.id, t) for c in solution.cells for t in _tags(c) if t in ("solution", "check")]
    for (cell_id, tag), (_, after) in zip(tagged, [*tagged[1:], (None, None)], strict=True):
        assert tag == "check" or after == "check", f"exercise {cell_id} has no check after it"
    assert tutorial.cells[1].id == mt.BANNER_ID


# ---------------------------------------------------------------- the generator's rules


def _nb(*cells):
    nb = nbformat.v4.new_notebook()
    for i, (kind, source, tags) in enumerate(cells):
        cell = (nbformat.v4.new_code_cell(source) if kind == "code"
                else nbformat.v4.new_markdown_cell(source))
        cell.id = f"c{i}"
        if tags:
            cell.metadata["tags"] = tags
        nb.cells.append(cell)
    return nb


SOLUTION = """def f(x):
    \"\"\"Doc.\"\"\"
    y = 2
    ### BEGIN SOLUTION: return x times y
    z = x * y
    return z
    ### END SOLUTION
"""


def test_generator_replaces_blocks_keeps_the_rest():
    nb = _nb(("markdown", "# Title", []), ("code", SOLUTION, ["solution"]),
             ("code", "assert f(2) == 4", ["check"]), ("markdown", "The answer...",
                                                        ["solution-only"]))
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="x")]
    nb.cells[1].execution_count = 3
    tut = mt.make_tutorial(nb, "t.ipynb")
    assert [c.id for c in tut.cells] == ["c0", mt.BANNER_ID, "c1", "c2"]
    assert tut.cells[2].source == ('def f(x):\n    """Doc."""\n    y = 2\n'
                                   "    # TODO: return x times y\n"
                                   '    raise NotImplementedError("exercise: replace this line '
                                   'with your code")')
    assert tut.cells[2].metadata.tags == ["exercise"]
    assert tut.cells[2].outputs == [] and tut.cells[2].execution_count is None
    assert tut.cells[3].source == "assert f(2) == 4"
    assert nb.cells[1].source == SOLUTION, "the solution is not modified"
    assert mt.dumps(tut) == mt.dumps(mt.make_tutorial(nb, "t.ipynb")), "deterministic"


@pytest.mark.parametrize(("source", "tags", "message"), [
    ("x = 1", ["solution"], "no '### BEGIN SOLUTION' block"),
    ("### BEGIN SOLUTION\nx = 1", ["solution"], "without an END"),
    ("x = 1\n### END SOLUTION", ["solution"], "without a BEGIN"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", ["solution"], "nested"),
    ("### BEGIN SOLUTION\nx = 1\n### END SOLUTION", [], "not tagged 'solution'"),
])
def test_generator_refuses_broken_markers(source, tags, message):
    nb = _nb(("markdown", "# Title", []), ("code", source, tags))
    with pytest.raises(mt.NotebookError, match=message):
        mt.make_tutorial(nb, "t.ipynb")
