"""Input/output: the school's HDF5 layout, written crash-safe; checks of output paths."""

from .hdf5 import RunFile, check_output_path, read_final_state, read_frames, read_info

__all__ = ["RunFile", "check_output_path", "read_final_state", "read_frames", "read_info"]
