"""The course's notebooks: every solution notebook runs top to bottom on a small grid (its closing
ladder on the school's grid, for a few steps) and leaves no file or folder where it ran; the
tutorials are exactly what ``notebooks/make_tutorials.py`` makes of the solutions; and every
exercise's check fails, with a message that says what it wanted, for the unfilled exercise and
for at least two wrong answers (``WRONG_ANSWERS`` in ``tests/notebook_wrong_answers.py``).

One kernel runs each notebook: at each exercise it first runs the tutorial's unfilled stub, then
every wrong answer, each followed by the check, then the solution and its check, and goes on.
The solution put back after the wrong answers redefines everything they defined, so the cells
after it see what they would see in a plain run of the solution."""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
from jupyter_client.manager import AsyncKernelManager  # noqa: E402  (nbclient brings it)
from traitlets import Float  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from notebook_wrong_answers import WRONG_ANSWERS  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
NAMES = ["1_Optimization", "2_Numpy", "3_Python_Implementation", "4_Numba_Implementation",
         "5_JAX", "6_JAX_Implementation", "7_Beyond", "8_Long_Runs", "9_Past_The_Wall"]
#: Modules a notebook needs beyond the base install and the video extra.
NEEDS = {"4_Numba_Implementation": "numba", "5_JAX": "jax", "6_JAX_Implementation": "jax",
         "7_Beyond": "jax", "8_Long_Runs": "numba", "9_Past_The_Wall": "numba"}
#: Notebooks without the closing ladder.
NO_LADDER = {"7_Beyond", "8_Long_Runs", "9_Past_The_Wall"}
#: Injected after each notebook's parameters cell, as papermill would: a small, short run.
#: The closing ladder always runs the school's 1080 x 1920; here for 2 rounds of 3 steps.
SMALL = ("NBROW, NBCOL = 64, 64\nNSTEPS = 320\nNBIMAGE, NBEXTRASTEP = 10, 32\nLADDER_STEPS = 3\n"
         "LADDER_ROUNDS = 2\nLADDER_FROM_STEP = 3\nLONG_STEPS = 600\nMPI_RANKS = 0")
CELL_TIMEOUT = 300
STUB = re.compile(r"^(?P<indent>[ \t]*)raise NotImplementedError\(.*\)$", re.M)


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


def _marks(name):
    if name in NEEDS and importlib.util.find_spec(NEEDS[name]) is None:
        return [pytest.mark.skip(reason=f"{name} needs {NEEDS[name]}")]
    return []


def fill(stub, wrong):
    """The tutorial's exercise cell `stub` with its NotImplementedError lines replaced, in order,
    by `wrong` (one string per block, or one string for a cell of one block)."""
    blocks = [wrong] if isinstance(wrong, str) else list(wrong)
    matches = list(STUB.finditer(stub))
    assert len(matches) == len(blocks), f"{len(matches)} block(s) to fill, {len(blocks)} given"
    out, at = [], 0
    for match, text in zip(matches, blocks, strict=True):
        out.append(stub[at:match.start()])
        out.append("\n".join(match["indent"] + line if line else line
                             for line in text.strip("\n").splitlines()))
        at = match.end()
    return "".join(out) + stub[at:]


def exercises(name):
    """(exercise cell id, id of its check) of a solution notebook, in order."""
    cells = _read("solutions", name).cells
    out = []
    for i, cell in enumerate(cells):
        if "solution" in _tags(cell):
            check = next(c for c in cells[i + 1:] if "check" in _tags(c))
            out.append((cell.id, check.id))
    return out


# ---------------------------------------------------------------- one kernel per notebook


@dataclass
class Trial:
    """How a filled exercise went: the cell that failed first (None: nothing failed)."""

    failed_at: str | None = None  # "exercise" or "check"
    ename: str = ""
    evalue: str = ""


@dataclass
class CourseRun:
    seconds: float = 0.0
    error: str | None = None  # the first error of the solution itself
    trials: dict = field(default_factory=dict)  # (exercise id, label) -> Trial
    cells: list = field(default_factory=list)  # the solution's cells, with their outputs
    left: list = field(default_factory=list)  # what the notebook left where it ran


class PatientKernelManager(AsyncKernelManager):
    """Waits for the kernel to exit by itself (its exit handlers remove the notebook's temporary
    folders) before killing it: 5 s, jupyter_client's default, is too short on a busy machine."""

    shutdown_wait_time = Float(120.0, config=True)


def _error(cell):
    for out in cell.outputs:
        if out.output_type == "error":
            return out.ename, out.evalue
    return None


def _run_course(name, where, kernel_name, tmp):
    """Run notebook `name` in folder `where`, its kernel's temporary files in `tmp`."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TMPDIR", str(tmp))  # the kernel's tempfile folder: seen, checked after
        # XLA's compilations of the ladder's JAX rungs, shared by the notebooks' kernels.
        mp.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp.parent / "jax-cache"))
        run = _run_in_kernel(name, where, kernel_name)
    run.left += sorted(f"{p.name} (in the temporary folder)" for p in tmp.iterdir())
    return run


def _run_in_kernel(name, where, kernel_name):
    solution, tutorial = _read("solutions", name), _read("tutorial", name)
    stubs = {c.id: c.source for c in tutorial.cells if "exercise" in _tags(c)}
    nb = copy.deepcopy(solution)
    at = [i for i, c in enumerate(nb.cells) if "parameters" in _tags(c)]
    assert len(at) == 1, "one parameters cell"
    nb.cells.insert(at[0] + 1, nbformat.v4.new_code_cell(SMALL))
    checks = {ex: chk for ex, chk in exercises(name)}
    by_id = {c.id: c for c in nb.cells}
    run = CourseRun()
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name=kernel_name,
                                     kernel_manager_class=PatientKernelManager,
                                     resources={"metadata": {"path": str(where)}})
    t0 = time.perf_counter()

    def execute(cell, index):
        try:
            client.execute_cell(cell, index)
        except nbclient.exceptions.CellExecutionError:
            pass
        return _error(cell)

    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            if cell.id in checks:
                trials = [("unfilled", stubs[cell.id])]
                trials += [(f"wrong-{k}", fill(stubs[cell.id], wrong))
                           for k, (wrong, _) in enumerate(WRONG_ANSWERS.get((name, cell.id), []))]
                # The cells between the exercise and its check (functions it needs) run too.
                until = [c.id for c in nb.cells].index(checks[cell.id])
                between = [c for c in nb.cells[index + 1:until] if c.cell_type == "code"]
                for label, source in trials:
                    steps = [("exercise", nbformat.v4.new_code_cell(source))]
                    steps += [("between", nbformat.v4.new_code_cell(c.source)) for c in between]
                    check = by_id[checks[cell.id]].source
                    steps.append(("check", nbformat.v4.new_code_cell(check)))
                    trial = Trial()
                    for kind, c in steps:
                        err = execute(c, index)
                        if err:
                            trial = Trial(kind, *err)
                            break
                    run.trials[(cell.id, label)] = trial
            err = execute(cell, index)
            if err and run.error is None:
                run.error = f"cell {cell.id}: {err[0]}: {err[1]}"
                break
    run.seconds = time.perf_counter() - t0
    run.cells = nb.cells
    run.left = sorted(p.name for p in where.iterdir())
    return run


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


@pytest.fixture(scope="module")
def course(kernel_name, tmp_path_factory):
    """course(name): the notebook's run (once per test module)."""
    runs = {}

    def get(name):
        if name not in runs:
            runs[name] = _run_course(name, tmp_path_factory.mktemp(name), kernel_name,
                                     tmp_path_factory.mktemp(f"{name}-tmp"))
        return runs[name]

    return get


@pytest.mark.slow
@pytest.mark.parametrize("name", [pytest.param(n, marks=_marks(n)) for n in NAMES])
def test_solution_notebook_runs(name, course):
    run = course(name)
    assert run.error is None, run.error
    assert run.left == [], f"the notebook left {run.left} where it ran"
    code = [c for c in run.cells if c.cell_type == "code"]
    assert any("image/png" in o.get("data", {}) for c in code for o in c.outputs)
    assert any("image/png" in o.get("data", {}) for o in code[-1].outputs), \
        "the notebook ends with an image of the result"
    if name in NO_LADDER:
        return
    # The closing ladder: interleaved rounds, from two states, beside the school's table.
    ladder = [c for c in code if "ladder.show(" in c.source]
    assert len(ladder) == 1, "one closing ladder cell"
    text = "".join(o.get("text", "") for o in ladder[0].outputs if o.output_type == "stream")
    assert "numpy-school" in text and "AMD EPYC 7313" in text and "x1.0   NumPy" in text
    assert "initial state" in text and "after 3 steps" in text and "on this machine" in text
    assert any("image/png" in o.get("data", {}) for o in ladder[0].outputs), "the ladder chart"


def _trial_params():
    out = []
    for name in NAMES:
        if not (NOTEBOOKS / "solutions" / f"{name}.ipynb").exists():
            continue
        for cell_id, _ in exercises(name):
            for k, (_, message) in enumerate(WRONG_ANSWERS.get((name, cell_id), [])):
                out.append(pytest.param(name, cell_id, f"wrong-{k}", message,
                                        id=f"{name}-{cell_id}-{k}", marks=_marks(name)))
    return out


@pytest.mark.slow
@pytest.mark.parametrize(("name", "cell_id", "label", "message"), _trial_params())
def test_a_wrong_answer_fails_at_its_check(name, cell_id, label, message, course):
    trial = course(name).trials.get((cell_id, label))
    assert trial is not None, "the notebook stopped before this exercise"
    assert trial.failed_at == "check", \
        f"the wrong answer {label} must fail at its check, not {trial.failed_at}: " \
        f"{trial.ename}: {trial.evalue}"
    assert trial.ename == "AssertionError" and trial.evalue.strip(), "a message that says why"
    assert message in trial.evalue, f"the check said: {trial.evalue}"


@pytest.mark.slow
@pytest.mark.parametrize("name", [pytest.param(n, marks=_marks(n)) for n in NAMES])
def test_the_unfilled_tutorial_fails_at_its_checks(name, course):
    """Each unfilled exercise fails with NotImplementedError, at its cell (a top-level stub) or
    at its check (a function's body), and no other cell of the tutorial fails."""
    run = course(name)
    assert run.error is None, run.error
    for cell_id, _ in exercises(name):
        trial = run.trials[(cell_id, "unfilled")]
        assert trial.ename == "NotImplementedError" or (
            trial.ename == "AssertionError" and "raised NotImplementedError" in trial.evalue), \
            (cell_id, trial)
        assert trial.failed_at in ("exercise", "check"), (cell_id, trial)


def test_every_exercise_has_two_wrong_answers():
    for name in NAMES:
        for cell_id, _ in exercises(name):
            wrong = WRONG_ANSWERS.get((name, cell_id), [])
            assert len(wrong) >= 2, f"{name} {cell_id}: {len(wrong)} wrong answer(s)"
    known = {(n, c) for n in NAMES for c, _ in exercises(n)}
    assert set(WRONG_ANSWERS) <= known, set(WRONG_ANSWERS) - known


def test_the_wrong_answers_fill_a_tutorial_stub():
    for (name, cell_id), wrongs in WRONG_ANSWERS.items():
        stub = next(c for c in _read("tutorial", name).cells if c.id == cell_id).source
        for wrong, message in wrongs:
            filled = fill(stub, wrong)
            assert "NotImplementedError" not in filled and "BEGIN SOLUTION" not in filled
            assert message, "each wrong answer names what its check must say"


# ---------------------------------------------------------------- one source of truth


def test_the_notebooks_exist():
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


def test_no_check_compares_timings():
    """A check that compares two timings fails on a loaded machine: none may."""
    timing = re.compile(r"perf_counter|timeit|\bt_\w+\s*/|best\s*/|rate\s*/")
    for name in NAMES:
        for cell in _read("solutions", name).cells:
            if "check" not in _tags(cell):
                continue
            for line in cell.source.splitlines():
                if re.match(r"\s*(assert|expect)\b", line):
                    assert not timing.search(line), f"{name} {cell.id}: {line}"


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
