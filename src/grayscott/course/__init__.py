"""What the course's notebooks (``notebooks/``) import besides the package itself.

:mod:`grayscott.course.checks` holds the tools of the notebooks' check cells: they look at *how*
an exercise computes (its code, the program JAX traces, the loops Numba made parallel, what it
calls while it runs), not only at what it returns. :mod:`grayscott.course.ladder` measures the
closing ladder of each notebook. They live in the package, not beside the notebooks, so that a
notebook imports them wherever it is opened (and wherever the tests run it).
"""
