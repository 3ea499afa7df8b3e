"""What the course's notebooks (``notebooks/``) import besides the package itself.

:mod:`grayscott.course.checks` holds the tools of the notebooks' check cells: they look at *how*
an exercise computes (its code, the program JAX traces, the loops Numba made parallel, what it
calls while it runs), not only at what it returns. :mod:`grayscott.course.ladder` measures the
closing ladder of each notebook. They live in the package, not beside the notebooks, so that a
notebook imports them wherever it is opened (and wherever the tests run it).

This package owns what only the course needs; nothing else in the package imports it. It builds
backends by name and reads the school's table (:mod:`grayscott.bench.school`), and may not
import the time loop, the observers or io/: a check looks at a learner's code, not at runs.
"""
