"""The run file's public names, for scripts written when they lived in one module.

They live in :mod:`grayscott.io.runfile` (the writer), :mod:`grayscott.io.readers` (reading,
``info``) and :mod:`grayscott.io.layout` (names, checks, the making of a durable file); import
them from there. This module only re-exports them: replacing a name here changes nothing.
"""

from .layout import (
    DATASET,
    LAYOUT_VERSION,
    STATUS_BYTES,
    check_output_path,
    durable_file,
    estimated_bytes,
    file_error,
    is_disk_full,
    write_refused,
)
from .readers import frames_available, open_run, read_final_state, read_frames, read_info
from .runfile import RunFile

__all__ = ["DATASET", "LAYOUT_VERSION", "STATUS_BYTES", "RunFile", "check_output_path",
           "durable_file", "estimated_bytes", "file_error", "frames_available", "is_disk_full",
           "open_run", "read_final_state", "read_frames", "read_info", "write_refused"]
