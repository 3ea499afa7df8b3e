"""Exceptions that mean "the user asked for something we refuse", not "our code broke".

The command line prints these as one line and exits non-zero; anything else is a bug and keeps
its traceback.
"""


class GrayScottError(Exception):
    """A user-facing error: bad input, a missing extra, an unwritable output..."""


class UnstableError(GrayScottError):
    """The time step is above the explicit-Euler stability bound of the stencil."""


class BlowUpError(GrayScottError):
    """The fields became NaN or infinite during a run."""


class BackendUnavailable(GrayScottError):
    """The backend exists but cannot run here (an optional dependency is missing)."""


class DiskFullError(GrayScottError):
    """The disk filled up during a run; the frames written before are kept."""


class OutputBusyError(GrayScottError):
    """Another run is writing the output file (two runs never write one file)."""
