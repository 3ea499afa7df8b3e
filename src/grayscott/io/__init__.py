"""Input/output: the school's HDF5 layout, written crash-safe; checks of output paths.

* :mod:`.runfile` - the run file's writer (:class:`RunFile`), and the rule for what is written
  in place and what goes through a new file;
* :mod:`.readers` - reading a run's file, live or not, and ``grayscott info``;
* :mod:`.layout` - names, the checks before a file is made, a durable file's making;
* :mod:`.paths` - output paths, the writer's lock, the temporary file beside the output;
* :mod:`.commands` - ``grayscott resume`` and ``grayscott info``.

This package owns the files on disk; it may not import the time loop, the observers, the
backends or the views (the observers call it, not the other way round).
"""

from .layout import check_output_path
from .readers import read_final_state, read_frames, read_info
from .runfile import RunFile

__all__ = ["RunFile", "check_output_path", "read_final_state", "read_frames", "read_info"]
