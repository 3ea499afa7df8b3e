"""The notebooks' checks: each one says what it wanted, and looks at the approach.

An exercise's numbers can be right for the wrong reason: a Python loop hidden in ``np.vectorize``
gives the broadcast answer, the package's own ``reference`` gives any step, a median can equal a
mean. So the check cells use these tools:

* :func:`expect` and :func:`attempt`: a failed check is an ``AssertionError`` that says what
  was wanted; an exception raised by the learner's code becomes one that names the call.
* :func:`package_references` and :func:`run_watched`: the learner's function must not reach the
  package's solution, read in its code (the names it loads, the functions of the notebook it
  calls) and watched while it runs (calls into ``grayscott``'s source files).
* :func:`expect_no_python_loop`: the Python lines a function runs must not grow with the grid
  (a loop, a comprehension, ``map``, ``np.vectorize``: any per-row or per-cell Python work).
* :func:`swapped`: a stand-in for one of the notebook's names, recording its calls.
* :func:`primitives`, :func:`loops`: what a JAX program (jaxpr) does.
* :func:`parallel_loops_over_rows`: the loops Numba made parallel, and whether each one runs
  over the rows (``prange(1)`` around a serial kernel makes a parallel loop of one iteration).
"""

from __future__ import annotations

import contextlib
import dis
import os
import sys
import threading
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PACKAGE_DIR = Path(__file__).resolve().parents[1]
COURSE_DIR = Path(__file__).resolve().parent
_LOADS = {"LOAD_GLOBAL", "LOAD_NAME", "LOAD_DEREF", "LOAD_CLASSDEREF", "LOAD_FROM_DICT_OR_GLOBALS",
          "LOAD_FROM_DICT_OR_DEREF", "IMPORT_NAME"}
#: The package's plain data, which the notebooks hand to exercises (rates, grid, stencil).
_DATA = {"Parameters", "Problem", "Stencil", "Preset"}


def expect(condition: object, message: str) -> None:
    """Fail the check with `message` (what was wanted) unless `condition` holds."""
    if not condition:
        raise AssertionError(message)


def attempt(what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """fn(*args, **kwargs); an exception other than a failed check becomes a failed check that
    says which call raised what (the learner's traceback stays chained below it)."""
    try:
        return fn(*args, **kwargs)
    except AssertionError:
        raise
    except Exception as exc:  # the learner's code may raise anything
        raise AssertionError(f"{what} raised {type(exc).__name__}: {exc}") from exc


def unwrap(fn: Any) -> Any:
    """The Python function behind a Numba dispatcher, a jitted or a decorated function."""
    for _ in range(10):
        inner = getattr(fn, "py_func", None) or getattr(fn, "__wrapped__", None)
        if inner is None:
            break
        fn = inner
    return fn


def _in_roots(name: str, roots: tuple[str, ...]) -> bool:
    return any(name == root or name.startswith(f"{root}.") for root in roots)


def _package_name(obj: Any, roots: tuple[str, ...] = ("grayscott",)) -> str | None:
    """The package module `obj` comes from, if it is a module, class or function of grayscott
    (the course's own tools excepted), or of another of `roots`."""
    if isinstance(obj, types.ModuleType):
        name = obj.__name__
    elif isinstance(obj, type) or callable(obj):
        name = getattr(obj, "__module__", None)
    elif type(obj).__name__ in _DATA:
        return None  # the rates or the problem, handed to the exercise: data, not a solution
    else:
        name = type(obj).__module__  # a Simulation or a backend made beforehand runs the steps
    if not isinstance(name, str) or name.startswith("grayscott.course"):
        return None
    return name if _in_roots(name, roots) else None


def _codes(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _codes(const)


def package_references(fn: Any, allowed: tuple[str, ...] = (),
                       roots: tuple[str, ...] = ("grayscott",)) -> list[str]:
    """The names `fn` loads (itself, its nested functions and the notebook's functions it calls)
    that are the package's modules, classes or functions, other than `allowed` (or those of
    other packages: `roots`, such as ``("scipy",)``)."""
    found: list[str] = []
    seen: set[types.CodeType] = set()

    def visit(f: Any) -> None:
        f = unwrap(f)
        code = getattr(f, "__code__", None)
        if not isinstance(code, types.CodeType) or code in seen:
            return
        seen.add(code)
        space = _namespace(f, code)
        module = space.get("__name__")
        for c in _codes(code):
            # importlib.import_module("grayscott..."), __import__, sys.modules["grayscott..."]
            found.extend(f"{const!r}" for const in c.co_consts
                         if isinstance(const, str) and _in_roots(const, roots))
            for ins in dis.get_instructions(c):
                if ins.opname not in _LOADS or not isinstance(ins.argval, str):
                    continue
                name = ins.argval
                if ins.opname == "IMPORT_NAME":
                    if _in_roots(name, roots):
                        found.append(f"import {name}")
                    continue
                if name in allowed or name not in space:
                    continue
                value = space[name]
                if _package_name(value, roots) is not None:
                    found.append(name)
                elif getattr(unwrap(value), "__module__", None) == module:
                    visit(value)  # a function of the notebook: what does it use?

    visit(fn)
    return sorted(set(found))


def _namespace(f: Any, code: types.CodeType) -> dict[str, Any]:
    """The names `f`'s code can load: its globals, and its closure's cells (empty ones left
    out)."""
    space = dict(getattr(f, "__globals__", {}))
    for name, cell in zip(code.co_freevars, f.__closure__ or (), strict=False):
        with contextlib.suppress(ValueError):  # an empty cell
            space[name] = cell.cell_contents
    return space


def compiled_functions(fn: Any) -> list[str]:
    """The Numba-compiled functions `fn` calls (itself, or the notebook's functions it calls)."""
    found: list[str] = []
    seen: set[types.CodeType] = set()

    def visit(name: str, f: Any) -> None:
        if hasattr(f, "py_func") and hasattr(f, "targetoptions"):  # a Numba dispatcher
            found.append(name)
        f = unwrap(f)
        code = getattr(f, "__code__", None)
        if not isinstance(code, types.CodeType) or code in seen:
            return
        seen.add(code)
        space = _namespace(f, code)
        for c in _codes(code):
            for ins in dis.get_instructions(c):
                if ins.opname in _LOADS and isinstance(ins.argval, str) and ins.argval in space:
                    value = space[ins.argval]
                    if getattr(unwrap(value), "__module__", None) == space.get("__name__"):
                        visit(ins.argval, value)

    visit(getattr(fn, "__name__", "it"), fn)
    return sorted(set(found))


@dataclass
class Watch:
    """What ran while a function was watched."""

    lines: int = 0  # Python lines run, in every frame
    package_calls: list[str] = field(default_factory=list)  # grayscott functions entered
    numba: bool = False  # Numba compiled something: a loop that then runs outside Python


def _in_package(filename: str) -> bool:
    try:
        path = Path(filename).resolve()
    except (OSError, ValueError):
        return False
    return path.is_relative_to(PACKAGE_DIR) and not path.is_relative_to(COURSE_DIR)


def run_watched(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, Watch]:
    """fn(*args, **kwargs) under a trace function: (its result, what ran)."""
    watch = Watch()
    files: dict[str, bool] = {}

    def local(frame: types.FrameType, event: str, arg: Any) -> Any:
        if event == "line":
            watch.lines += 1
        return local

    def on_call(frame: types.FrameType, event: str, arg: Any) -> Any:
        name = frame.f_code.co_filename
        if name not in files:
            files[name] = _in_package(name)
            watch.numba = watch.numba or f"{os.sep}numba{os.sep}" in name
        if files[name]:
            watch.package_calls.append(f"{frame.f_globals.get('__name__')}."
                                       f"{frame.f_code.co_name}")
            return None  # what the package does inside is not the learner's work
        return local

    before, before_threads = sys.gettrace(), threading.gettrace()
    threading.settrace(on_call)  # a loop handed to a thread pool is watched too
    sys.settrace(on_call)
    try:
        result = fn(*args, **kwargs)
    finally:
        sys.settrace(before)
        threading.settrace(before_threads)
    return result, watch


def expect_own_work(name: str, fn: Any, allowed: tuple[str, ...] = ()) -> None:
    """`fn`'s code must not load the package's modules or functions (its solution)."""
    refs = package_references(fn, allowed)
    expect(not refs, f"{name} uses the package ({', '.join(refs)}): the exercise is to write "
                     "it yourself, with NumPy/JAX/Numba and the notebook's own functions")


def expect_not_using(name: str, fn: Any, roots: tuple[str, ...], instead: str) -> None:
    """`fn`'s code must not load the modules or functions of the libraries `roots` (a library
    call that does the exercise's work, such as scipy.ndimage.convolve for the slices)."""
    refs = package_references(fn, roots=roots)
    expect(not refs, f"{name} uses {', '.join(refs)}: {instead}")


def expect_no_package_calls(name: str, watch: Watch) -> None:
    calls = sorted(set(watch.package_calls))
    expect(not calls, f"{name} called the package's code while it ran ({', '.join(calls[:3])}):"
                      " the exercise is to write it yourself")


def expect_no_python_loop(name: str, fn: Callable[..., Any], small: tuple, big: tuple,
                          slack: int = 60) -> Any:
    """Run fn(*small) (twice: the first may import) and fn(*big) watched: the Python lines they
    run must be about the same (a grid `big` has more rows and cells than `small`), and nothing
    compiled by Numba may run; returns fn(*big)."""
    compiled = compiled_functions(fn)
    # A first call may import or compile (one-time work that would hide the growth): not counted.
    _, first = run_watched(fn, *small)
    _, few = run_watched(fn, *small)
    result, many = run_watched(fn, *big)
    if first.numba or few.numba or many.numba:
        compiled = compiled or ["a function"]
    expect(not compiled, f"{name} runs {', '.join(compiled)} compiled by Numba: its loop runs "
                         "outside Python, but it is still a loop over the cells. Write it with "
                         "whole-array operations.")
    expect_no_package_calls(name, few)
    expect(many.lines - few.lines <= slack,
           f"{name} ran {many.lines} Python lines for {big} and {few.lines} for {small}: its "
           "Python work grows with the grid, so a Python loop does the work (for, while, a "
           "comprehension, map, np.vectorize...). Write it with whole-array operations.")
    return result


@contextlib.contextmanager
def swapped(namespace: dict, name: str, record: Callable[..., None] | None = None
            ) -> Iterator[list]:
    """Within the block, `namespace[name]` is a stand-in that appends each call's
    (args, kwargs) to the list yielded, calls `record(*args, **kwargs)` if given, then the
    original; the original is put back afterwards."""
    original = namespace[name]
    calls: list = []

    def stand_in(*args: Any, **kwargs: Any) -> Any:
        calls.append((args, kwargs))
        if record is not None:
            record(*args, **kwargs)
        return original(*args, **kwargs)

    namespace[name] = stand_in
    try:
        yield calls
    finally:
        namespace[name] = original


# ---------------------------------------------------------------- JAX programs


def _subjaxprs(eqn: Any) -> Iterator[Any]:
    for param in eqn.params.values():
        for sub in param if isinstance(param, tuple | list) else [param]:
            inner = getattr(sub, "jaxpr", sub)  # a closed jaxpr holds a jaxpr
            if hasattr(inner, "eqns"):
                yield inner


def primitives(jaxpr: Any) -> list[tuple[str, dict]]:
    """Every operation of a jaxpr, nested programs included: (name, params)."""
    jaxpr = getattr(jaxpr, "jaxpr", jaxpr)
    out = []
    for eqn in jaxpr.eqns:
        out.append((eqn.primitive.name, dict(eqn.params)))
        for inner in _subjaxprs(eqn):
            out += primitives(inner)
    return out


def loops(jaxpr: Any) -> list[tuple[str, dict]]:
    """The loops (while, scan) of a jaxpr, nested ones included."""
    return [(n, p) for n, p in primitives(jaxpr) if n in ("while", "scan")]


# ---------------------------------------------------------------- Numba's parallel loops


def _over_rows(func_ir: Any, var: Any, depth: int = 0) -> bool:
    """Whether the IR variable `var` is computed from an array's ``shape[0]`` (the rows)."""
    from numba.core import ir
    from numba.core.ir_utils import get_definition, guard

    if depth > 40 or not isinstance(var, ir.Var):
        return False
    d = guard(get_definition, func_ir, var)
    if isinstance(d, ir.Var):
        return _over_rows(func_ir, d, depth + 1)
    if not isinstance(d, ir.Expr):
        return False
    if d.op in ("binop", "inplace_binop"):
        return _over_rows(func_ir, d.lhs, depth + 1) or _over_rows(func_ir, d.rhs, depth + 1)
    if d.op in ("cast", "unary"):
        return _over_rows(func_ir, d.value, depth + 1)
    if d.op in ("static_getitem", "getitem"):
        index = d.index if d.op == "static_getitem" else guard(get_definition, func_ir, d.index)
        index = getattr(index, "value", index)
        base = guard(get_definition, func_ir, d.value)
        if isinstance(base, ir.Expr) and base.op == "getattr" and base.attr == "shape":
            return index == 0
        if isinstance(base, ir.Expr) and base.op == "exhaust_iter":
            base = guard(get_definition, func_ir, base.value)
        if isinstance(base, ir.Expr) and base.op == "build_tuple" and isinstance(index, int):
            return _over_rows(func_ir, base.items[index], depth + 1)
    return False


def parallel_loops_over_rows(dispatcher: Any) -> tuple[int, int]:
    """(parallel loops Numba made of the compiled function, how many of them run over the
    rows: their length computed from an array's ``shape[0]``). Call it after a first call."""
    expect(getattr(dispatcher, "targetoptions", {}).get("parallel"),
           "compile it with Numba's parallel option: @njit(parallel=True)")
    expect(dispatcher.signatures, "call it once first, so that Numba compiles it")
    diagnostics = dispatcher.get_metadata(dispatcher.signatures[0])["parfor_diagnostics"]
    parfors = diagnostics.get_parfors()
    rows = sum(_over_rows(diagnostics.func_ir, pf.loop_nests[0].stop) for pf in parfors)
    return len(parfors), rows
