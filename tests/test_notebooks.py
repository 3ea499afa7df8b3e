"""The school's six notebooks: every solution notebook runs top to bottom on a small grid (its
closing ladder on the school's grid, for a few steps) and leaves no file where it ran, the tutorials
are exactly what ``notebooks/make_tutorials.py`` makes of the solutions, and a tutorial check fails
for a plausible wrong answer."""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
NAMES = ["1_Optimization", "2_Numpy", "3_Python_Implementation", "4_Numba_Implementation",
         "5_JAX", "6_JAX_Implementation", "7_Beyond"]
#: Modules a notebook needs beyond the base install and the video extra.
NEEDS = {"4_Numba_Implementation": "numba", "5_JAX": "jax", "6_JAX_Implementation": "jax",
         "7_Beyond": "jax"}
#: Notebooks past the school's six (issue 11): no closing ladder.
BEYOND = {"7_Beyond"}
#: Injected after each notebook's parameters cell, as papermill would: a small, short run.
#: The closing ladder always runs the school's 1080 x 1920; here for 3 steps per timing.
SMALL = "NBROW, NBCOL = 64, 64\nNSTEPS = 320\nNBIMAGE, NBEXTRASTEP = 10, 32\nLADDER_STEPS = 3"
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
    assert list(tmp_path.iterdir()) == [], "the notebook left files where it ran"
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "display_data" and "image/png" in o.get("data", {})]
    assert images, "the notebook ends with an image of the result"
    last_code = [c for c in nb.cells if c.cell_type == "code"][-1]
    assert any("image/png" in o.get("data", {}) for o in last_code.outputs)
    if name in BEYOND:
        return
    # The closing ladder: numpy-school measured as the baseline, shown beside the school's table.
    ladder = [c for c in nb.cells if c.cell_type == "code" and "show_ladder(rates)" in c.source]
    assert len(ladder) == 1, "one closing ladder cell"
    text = "".join(o.get("text", "") for o in ladder[0].outputs if o.output_type == "stream")
    assert "numpy-school" in text and "AMD EPYC 7313" in text and "x1.0   NumPy" in text
    assert any("image/png" in o.get("data", {}) for o in ladder[0].outputs), "the ladder chart"


# ---------------------------------------------------------------- checks that can fail

#: (notebook, exercise cell id, a plausible wrong answer put in place of the stub's `raise`,
#: what the check must say). The wrong answers compute the right values the wrong way, or
#: nearly the right value, so only a check that looks at the approach catches them.
WRONG_ANSWERS = [
    ("1_Optimization", "nb1-09",
     "best = 1000 * min(timeit.repeat(lambda: naive_step(u, v), number=1, repeat=3))  # in ms",
     "times the check's own timing"),
    ("1_Optimization", "nb1-23", "naive_rows(u, v, u2, v2, range(nr))  # no threads at all",
     "no two calls of naive_rows ran at the same time"),
    ("2_Numpy", "nb2-16",
     "inside = np.zeros((nbrow, nbcol), dtype=bool)\n"
     "for i in range(nbrow):\n"
     "    for j in range(nbcol):\n"
     "        inside[i, j] = (i - nbrow / 2) ** 2 + (j - nbcol / 2) ** 2 < radius**2",
     "must not loop in Python"),
    ("4_Numba_Implementation", "nb4-11", "step_prange = step_loop  # still one thread",
     "parallel option"),
    ("5_JAX", "nb5-35",
     "return jnp.stack([advance(u0, v0, NSTEPS, F, k)[1] for F, k in zip(Fs, ks, strict=True)])",
     "one vectorised loop"),
    ("6_JAX_Implementation", "nb6-11",
     "w = np.ones((3, 3), np.float32)\nw[1, 1] = 0\nreturn correlate3x3(X, jnp.asarray(w))",
     "neighbours_3x3 multiplies"),
]
STUB = re.compile(r"^(?P<indent>[ \t]*)raise NotImplementedError\(.*\)$", re.M)


def _with_wrong_answer(name, cell_id, wrong):
    """The solution notebook up to the check after `cell_id`, whose exercise is the tutorial's
    stub filled with `wrong`; returns (notebook, id of the check cell)."""
    solution, tutorial = _read("solutions", name), _read("tutorial", name)
    stub = next(c for c in tutorial.cells if c.id == cell_id).source
    (match,) = STUB.finditer(stub)
    filled = "\n".join(match["indent"] + line for line in wrong.splitlines())
    ids = [c.id for c in solution.cells]
    at = ids.index(cell_id)
    check = next(c for c in solution.cells[at + 1:] if "check" in _tags(c))
    nb = copy.deepcopy(solution)
    nb.cells = nb.cells[:ids.index(check.id) + 1]
    nb.cells[at].source = stub[:match.start()] + filled + stub[match.end():]
    return nb, check.id


@pytest.mark.slow
@pytest.mark.parametrize(("name", "cell_id", "wrong", "message"),
                         [pytest.param(*w, id=f"{w[0]}-{w[1]}",
                                       marks=_param(w[0]).marks) for w in WRONG_ANSWERS])
def test_a_wrong_answer_fails_its_check(name, cell_id, wrong, message, tmp_path, kernel_name):
    nb, check_id = _with_wrong_answer(name, cell_id, wrong)
    where = [i for i, c in enumerate(nb.cells) if "parameters" in _tags(c)]
    nb.cells.insert(where[0] + 1, nbformat.v4.new_code_cell(SMALL))
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name=kernel_name,
                                     resources={"metadata": {"path": str(tmp_path)}})
    with pytest.raises(nbclient.exceptions.CellExecutionError) as failure:
        client.execute()
    failed = [c.id for c in nb.cells if c.cell_type == "code"
              and any(o.output_type == "error" for o in c.outputs)]
    assert failed == [check_id], "the wrong answer must pass everything up to its check"
    assert failure.value.ename == "AssertionError" and message in str(failure.value)


def test_the_wrong_answers_fill_a_tutorial_stub():
    for name, cell_id, wrong, _ in WRONG_ANSWERS:
        nb, check_id = _with_wrong_answer(name, cell_id, wrong)
        filled = next(c for c in nb.cells if c.id == cell_id)
        assert "NotImplementedError" not in filled.source and wrong.splitlines()[0] in \
            filled.source
        assert "BEGIN SOLUTION" not in filled.source and nb.cells[-1].id == check_id


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
