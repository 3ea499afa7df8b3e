"""Named regimes of the (F, k) plane: Pearson's classes and the names people use for them.

Sources (see ``docs/patterns.md``): J. E. Pearson, "Complex patterns in a simple system",
Science 261 (1993) 189-192, which labelled the regimes with Greek letters; R. Munafo's xmorphia
catalogue (mrob.com/pub/comp/xmorphia), which maps the plane class by class with example rates;
and the names of the interactive explorers (P. M. Neila's jsexp presets; K. Sims, "Reaction-
Diffusion Tutorial") that most people meet first.

Those rates are for Pearson's model (Du = 2e-5, Dv = 1e-5, 5-point Laplacian on h = 2.5/256,
dt = 1). Ours (the school's) uses the unscaled 3x3 sum with Du = 0.1, Dv = 0.05: the reaction
and its time unit are the same and Du/Dv = 2 in both; the school's 3x3 sum is about 3 h^2 lap,
so U diffuses 0.1 * 3 = 0.3 cells^2 per unit of time against Pearson's Du / h^2 = 2e-5 /
(2.5/256)^2 = 0.21: the same (F, k) give the same regime, patterns about 1.2 times wider.
Regimes near a boundary may land on the other side: each preset below was looked at after
10,000 steps on 128 x 128 and 256 x 256 grids (the picture is ``docs/presets.png``); Munafo's
zeta example died out and was moved, Neila's "worms" and "waves" grew nothing and were left out
(``docs/patterns.md``).

``initial`` is the initial state that grows the pattern. The school's box seeds every regime here
(``mitosis`` needs the box of a 256 x 256 grid or larger); the chaotic ones suggest ``noise``
(the box plus seeded noise everywhere), without which the box's symmetry shapes the picture.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import GrayScottError


@dataclass(frozen=True)
class Preset:
    """A named (F, k) with what it shows, where it comes from and how to start it."""

    name: str
    F: float
    k: float
    description: str
    source: str
    initial: str = "school"  # "school" or "noise" (see the module docstring)


_PEARSON = "Pearson 1993; Munafo, xmorphia"
_NEILA = "Neila, jsexp presets; Munafo, xmorphia"

PRESETS: dict[str, Preset] = {p.name: p for p in [
    # Pearson's classes, with the example rates of Munafo's catalogue.
    Preset("alpha", 0.010, 0.047, "spatio-temporal chaos of wavelets and fledgling spirals",
           _PEARSON, "noise"),
    Preset("beta", 0.026, 0.051, "chaos: a sea of V with voids that open and refill",
           _PEARSON, "noise"),
    Preset("gamma", 0.022, 0.051, "worm-like or branching stripes that never settle",
           _PEARSON),
    Preset("delta", 0.030, 0.055, "a field of V pierced by holes and short stripes", _PEARSON),
    Preset("epsilon", 0.018, 0.055, "chaos of unstable spots that split and die out",
           _PEARSON, "noise"),
    # Munafo's zeta example (0.022, 0.061) dies out in our model; moved to the spot side.
    Preset("zeta", 0.025, 0.060, "spots that pulsate in place and rarely divide",
           "Pearson 1993 (rates moved, see docs)"),
    Preset("eta", 0.034, 0.063, "a steady mixture of spots and short worms", _PEARSON),
    Preset("theta", 0.030, 0.057, "rings and stripes that grow into a network of loops",
           _PEARSON),
    Preset("iota", 0.046, 0.0594, "negatons: holes in a field of V", _PEARSON),
    Preset("kappa", 0.050, 0.063, "stripes growing from their ends into a maze of worms",
           _PEARSON),
    Preset("lambda", 0.026, 0.061, "solitons that divide (mitosis) into a hexagonal field",
           _PEARSON),
    Preset("mu", 0.046, 0.065, "worms that grow from each end and align", _PEARSON),
    # The names of the explorers (Neila's jsexp, Sims's tutorial).
    Preset("mitosis", 0.0367, 0.0649, "spots that grow and divide like cells",
           "Sims, Reaction-Diffusion Tutorial"),
    Preset("coral", 0.0545, 0.062, "branching coral-like stripes invading the grid",
           "Sims, Reaction-Diffusion Tutorial"),
    # Stable in Neila's (Pearson's) model; ours divides them (docs/patterns.md, measured with
    # scripts/preset_spots.py): the names are his, the descriptions what ours shows.
    Preset("solitons", 0.030, 0.062, "spots that divide slowly until they fill the grid",
           _NEILA),
    Preset("pulsating-solitons", 0.025, 0.060, "spots that breathe and divide until they fill "
           "the grid", _NEILA),
    Preset("maze", 0.029, 0.057, "a labyrinth of connected stripes", _NEILA),
    Preset("holes", 0.039, 0.058, "a field of V pierced by round holes", _NEILA),
    Preset("chaos", 0.026, 0.051, "turbulent, never-settling spots and voids", _NEILA, "noise"),
    Preset("chaos-and-holes", 0.034, 0.056, "holes that open and close chaotically", _NEILA),
    Preset("moving-spots", 0.014, 0.054, "spots that wander and split (the school's rates)",
           _NEILA),
    Preset("spots-and-loops", 0.018, 0.051, "spots and loops in constant motion", _NEILA,
           "noise"),
    Preset("u-skate", 0.062, 0.06093,
           "U-skate world; here V invades and leaves negaton clusters (no gliders)",
           "Munafo, xmorphia (U-skate world)"),
]}


def preset_names() -> list[str]:
    return list(PRESETS)


def get_preset(name: str) -> Preset:
    """The preset called ``name`` (case and ``_``/``-`` ignored); else a one-line error that
    lists the valid names."""
    key = name.strip().lower().replace("_", "-").replace(" ", "-")
    if key not in PRESETS:
        raise GrayScottError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
    return PRESETS[key]
