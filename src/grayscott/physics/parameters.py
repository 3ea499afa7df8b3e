"""The model's rate constants and time step (docs/model.md §1)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from ..errors import GrayScottError


@dataclass(frozen=True)
class Parameters:
    """Rates of the Gray-Scott model and the explicit-Euler time step.

    du/dt = Du lap(u) - u v^2 + F (1 - u);  dv/dt = Dv lap(v) + u v^2 - (F + k) v
    """

    Du: float = 0.1
    Dv: float = 0.05
    F: float = 0.014
    k: float = 0.054
    dt: float = 1.0

    def __post_init__(self) -> None:
        for name in ("Du", "Dv", "F", "k", "dt"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise GrayScottError(f"{name} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise GrayScottError(f"{name} must be finite, got {value}")
            if name == "dt" and value <= 0:
                raise GrayScottError(f"dt must be > 0, got {value}")
            if value < 0:
                raise GrayScottError(f"{name} must be >= 0, got {value}")
            object.__setattr__(self, name, float(value))

    def as_dict(self) -> dict[str, float]:
        return asdict(self)
