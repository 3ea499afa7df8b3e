"""Input/output: the school's HDF5 layout."""

from .hdf5 import FrameWriter, check_output_path, read_final_state, read_frames

__all__ = ["FrameWriter", "check_output_path", "read_final_state", "read_frames"]
