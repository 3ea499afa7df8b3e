"""Manifests of reference runs: each frame's SHA-256 and summary statistics, and the
configuration that made them.

A frame's digest is SHA-256 over its bytes as the run file stores them: the frame in the file's
dtype, little-endian, C order (``np.ascontiguousarray(frame, "<f4").tobytes()`` for float32).
Two runs with equal digests are equal bit for bit. The statistics (minimum, maximum, mean and
standard deviation, computed in float64) say by how much a frame differs where the digest says
only that it does: ``max |a - b|`` over the cells is at least the difference of the minima, of
the maxima and of the means.

A manifest is compact JSON: ``{"format", "name", "description", "config", "frames", "made_by",
"checked", "provenance", "sha256": [...], "stats": {"min": [...], ...}}``, one list per column.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = 1
STATS = ("min", "max", "mean", "std")
#: The run attributes that decide a run's frames (with the file's frame dtype): equal values
#: give equal frames on every IEEE backend. ``seed`` counts only for a seeded initial state.
CONFIG_KEYS = ("nbrow", "nbcol", "nbextrastep", "Du", "Dv", "F", "k", "dt", "dtype",
               "output_dtype", "stencil", "stencil_weights", "border", "initial", "seed")
_FLOATS = ("Du", "Dv", "F", "k", "dt")
_INTS = ("nbrow", "nbcol", "nbextrastep", "seed")


def frame_bytes(frame: np.ndarray) -> bytes:
    """The bytes a digest is taken over: the frame's dtype, little-endian, C order."""
    frame = np.asarray(frame)
    return np.ascontiguousarray(frame, dtype=frame.dtype.newbyteorder("<")).tobytes()


def digest(frame: np.ndarray) -> str:
    return hashlib.sha256(frame_bytes(frame)).hexdigest()


def stats(frame: np.ndarray) -> dict[str, float]:
    """Minimum, maximum, mean and standard deviation, in float64 (NaN where the frame has)."""
    x = np.asarray(frame, dtype=np.float64)
    return {"min": float(x.min()), "max": float(x.max()), "mean": float(x.mean()),
            "std": float(x.std())}


def config_of(attrs: Mapping[str, Any], frame_dtype: str | None = None) -> dict[str, Any]:
    """The configuration of a run from its file's attributes (plain Python values).

    Missing keys are left out, so a file of another program matches no manifest.
    """
    out: dict[str, Any] = {}
    for key in CONFIG_KEYS:
        if key not in attrs:
            continue
        value = attrs[key]
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, np.ndarray):
            value = [float(x) for x in value.ravel()]
        elif key in _FLOATS:
            value = float(value)
        elif key in _INTS:
            value = int(value)
        elif isinstance(value, np.generic):
            value = value.item()
        out[key] = value
    if frame_dtype is not None:
        out["output_dtype"] = str(frame_dtype)  # what the frames are, whatever was asked
    if out.get("initial") == "school":
        out.pop("seed", None)  # the school's state takes no seed
    return out


@dataclass
class Manifest:
    """One reference run: its configuration, and per frame a digest and statistics."""

    name: str
    description: str
    config: dict[str, Any]
    sha256: list[str]
    stats: dict[str, list[float]]
    made_by: str = ""
    checked: dict[str, int] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    full: str | None = None  # name of the packaged file that holds its first frames in full

    @property
    def frames(self) -> int:
        return len(self.sha256)

    def frame_stats(self, i: int) -> dict[str, float]:
        return {k: self.stats[k][i] for k in STATS}

    def matches(self, config: Mapping[str, Any]) -> bool:
        return dict(config) == self.config

    def to_json(self) -> str:
        doc = {"format": FORMAT, "name": self.name, "description": self.description,
               "config": self.config, "frames": self.frames, "made_by": self.made_by,
               "checked": self.checked, "provenance": self.provenance, "full": self.full,
               "sha256": self.sha256, "stats": self.stats}
        return json.dumps(doc, separators=(",", ":")) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        doc = json.loads(text)
        if doc.get("format") != FORMAT:
            raise ValueError(f"manifest format {doc.get('format')!r}, expected {FORMAT}")
        return cls(name=doc["name"], description=doc["description"], config=doc["config"],
                   sha256=doc["sha256"], stats=doc["stats"], made_by=doc["made_by"],
                   checked=doc["checked"], provenance=doc["provenance"], full=doc.get("full"))


def records(frames: Iterable[np.ndarray]) -> Iterable[tuple[str, dict[str, float]]]:
    """``(digest, stats)`` of every frame, in order."""
    for frame in frames:
        yield digest(frame), stats(frame)


def data_dir() -> Path:
    """The folder of the packaged manifests (package data: installed with the package)."""
    return Path(str(resources.files("grayscott.reference") / "data"))


def load_all(folder: Path | None = None) -> list[Manifest]:
    folder = folder or data_dir()
    return [Manifest.from_json(p.read_text()) for p in sorted(folder.glob("*.json"))]


def find(config: Mapping[str, Any], folder: Path | None = None) -> Manifest | None:
    """The manifest of this configuration, or None."""
    return next((m for m in load_all(folder) if m.matches(config)), None)


def config_for(problem: Any, nbextrastep: int, initial: str = "school", seed: int = 0,
               output_dtype: str = "float32") -> dict[str, Any]:
    """The configuration a ``grayscott run`` of ``problem`` records (as :func:`config_of`)."""
    attrs = {**problem.params.as_dict(), "nbrow": problem.nbrow, "nbcol": problem.nbcol,
             "nbextrastep": nbextrastep, "stencil": problem.stencil.name,
             "stencil_weights": np.asarray(problem.stencil.weights, dtype=np.float64),
             "border": problem.border, "initial": initial, "seed": seed,
             "dtype": problem.dtype.name, "output_dtype": np.dtype(output_dtype).name}
    return config_of(attrs)
