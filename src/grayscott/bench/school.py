"""The Gray-Scott School's published benchmark (docs/model.md §7), as data, in one place.

"32 x 1000 iterations" is 1000 frames of 32 steps on 1080 x 1920: 32,000 steps. The school gives
seconds for that run (shorter is better) on two CPUs, for four rungs of its ladder. Each rung is
paired with the backend of ours that writes the same formulation.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The school's benchmark run: grid and number of steps (1000 frames x 32 steps).
SCHOOL_GRID: tuple[int, int] = (1080, 1920)
SCHOOL_FRAMES = 1000
SCHOOL_STEPS_PER_FRAME = 32
SCHOOL_STEPS = SCHOOL_FRAMES * SCHOOL_STEPS_PER_FRAME
#: Cell-updates of the whole run.
SCHOOL_CELL_STEPS = SCHOOL_GRID[0] * SCHOOL_GRID[1] * SCHOOL_STEPS

#: The CPUs of the school's table, in its order.
SCHOOL_CPUS: tuple[str, ...] = ("Intel Xeon Silver 4210R", "AMD EPYC 7313")
#: The CPU whose column gives the ladder ratios (x1, x2.1, x6.6, x18).
SCHOOL_REFERENCE_CPU = "AMD EPYC 7313"

#: Our backend that plays the school's baseline.
BASELINE = "numpy-school"


@dataclass(frozen=True)
class SchoolRung:
    """One column of the school's table."""

    label: str  # the school's name for it
    backend: str  # our backend with the same formulation
    seconds: dict[str, float]  # CPU -> seconds for the 32 x 1000 run

    def cell_steps_per_s(self, cpu: str = SCHOOL_REFERENCE_CPU) -> float:
        return SCHOOL_CELL_STEPS / self.seconds[cpu]


SCHOOL_RUNGS: tuple[SchoolRung, ...] = (
    SchoolRung("NumPy", "numpy-school",
               {"Intel Xeon Silver 4210R": 7800, "AMD EPYC 7313": 2545}),
    SchoolRung("Numba", "numba",
               {"Intel Xeon Silver 4210R": 3257, "AMD EPYC 7313": 1219}),
    SchoolRung("JAX (generic stencil)", "jax",
               {"Intel Xeon Silver 4210R": 1031, "AMD EPYC 7313": 386}),
    SchoolRung("JAX (specialised 3x3)", "jax-3x3",
               {"Intel Xeon Silver 4210R": 377, "AMD EPYC 7313": 141}),
)


def school_rung(backend: str) -> SchoolRung | None:
    """The school's rung that ``backend`` reproduces, or None (our own rungs)."""
    for rung in SCHOOL_RUNGS:
        if rung.backend == backend:
            return rung
    return None


def school_ladder(cpu: str = SCHOOL_REFERENCE_CPU) -> dict[str, float]:
    """Speedup of each rung over the school's NumPy on ``cpu``: {label: ratio}."""
    base = SCHOOL_RUNGS[0].seconds[cpu]
    return {rung.label: base / rung.seconds[cpu] for rung in SCHOOL_RUNGS}


def school_table() -> dict[str, object]:
    """The published table as plain data (for the JSON report)."""
    return {
        "run": {"grid": list(SCHOOL_GRID), "steps": SCHOOL_STEPS,
                "frames": SCHOOL_FRAMES, "steps_per_frame": SCHOOL_STEPS_PER_FRAME},
        "unit": "seconds for the run (shorter is better)",
        "rungs": [{"label": r.label, "backend": r.backend, "seconds": dict(r.seconds)}
                  for r in SCHOOL_RUNGS],
        "ladder_cpu": SCHOOL_REFERENCE_CPU,
        "ladder": school_ladder(),
    }
