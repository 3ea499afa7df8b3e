"""What the page may say, checked before anything acts on it.

The page sends small JSON objects (WebSocket text messages); :func:`parse` turns one into a
:class:`Command` or raises :class:`Refused` with the reason the server logs and sends back.
Everything is checked: the size, the JSON itself (``NaN`` and ``Infinity`` tokens refused),
the type, every key (unknown ones refused), each value's type and range, the brush inside the
grid, and a time step the explicit scheme cannot take (refused as ``grayscott run`` refuses it).

The physics a command changes is kept as *operations* (:func:`check_op`): ``params`` (all seven
settings), ``reset`` (an initial state), ``brush`` (one dab) and ``steps`` (steps per frame).
They are what a recording's timeline holds, so a replay checks the file's operations with the
same rules as the live page's messages.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from ..errors import GrayScottError
from ..physics import BORDERS, INITIAL_STATES, STENCILS, Parameters, make_problem

#: Longest text message accepted from the page (bytes). A command is a few dozen.
MAX_MESSAGE = 1024
#: Ranges of the rates and the time step a page may ask for (the stable bound is checked too).
RANGES: dict[str, tuple[float, float]] = {
    "F": (0.0, 0.2), "k": (0.0, 0.2), "Du": (0.0, 1.0), "Dv": (0.0, 1.0), "dt": (1e-6, 10.0)}
PARAM_NAMES = ("Du", "Dv", "F", "k", "dt")
MAX_STEPS = 1000
MAX_RADIUS = 64
MAX_SEED = 2**31 - 1
MAX_SEQ = 2**53

#: Keys each message type takes besides ``type`` and ``seq`` (True: required).
_KEYS: dict[str, dict[str, bool]] = {
    "params": {**dict.fromkeys(PARAM_NAMES, False), "stencil": False, "border": False},
    "preset": {"name": True},
    "brush": {"row": True, "col": True, "radius": True, "value": True},
    "steps": {"n": True},
    "record": {"on": True},
    "ack": {"frame": True},
    "run": {}, "pause": {}, "step": {}, "reset": {},
}


class Refused(GrayScottError):
    """A message the server will not act on; the text says why."""


@dataclass(frozen=True)
class Command:
    """A checked message: its ``type``, its ``seq`` (the page's counter, echoed in the frames
    computed after it was applied) and its values."""

    type: str
    seq: int = 0
    values: dict[str, Any] = field(default_factory=dict)


def _refuse_constant(token: str) -> Any:
    raise Refused(f"{token} is not a number the page may send")


def _number(name: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Refused(f"{name} must be a number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise Refused(f"{name} must be finite")
    if not low <= value <= high:
        raise Refused(f"{name} must be from {low:g} to {high:g}, got {value:g}")
    return value


def _integer(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Refused(f"{name} must be an integer, got {type(value).__name__}")
    if not low <= value <= high:
        raise Refused(f"{name} must be from {low} to {high}, got {value}")
    return value


def _choice(name: str, value: Any, choices: tuple[str, ...] | list[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        shown = value if isinstance(value, str) and len(value) <= 40 else type(value).__name__
        raise Refused(f"{name} must be one of {', '.join(choices)}, got {shown!r}")
    return value


def parse(text: str | bytes | None, shape: tuple[int, int]) -> Command:
    """The :class:`Command` a text message holds, or :class:`Refused`."""
    if not isinstance(text, str):
        raise Refused("only text messages are accepted")
    if len(text.encode("utf-8", "replace")) > MAX_MESSAGE:
        raise Refused(f"message too long (at most {MAX_MESSAGE} bytes)")
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        raise Refused("message is not valid JSON") from None
    if not isinstance(data, dict):
        raise Refused("message must be a JSON object")
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in _KEYS:
        raise Refused(f"unknown message type; use one of: {', '.join(_KEYS)}")
    seq = _integer("seq", data.get("seq", 0), 0, MAX_SEQ)
    keys = _KEYS[kind]
    extra = sorted(set(data) - set(keys) - {"type", "seq"})
    if extra:
        raise Refused(f"{kind} takes no key {extra[0][:40]!r}")
    missing = [k for k, required in keys.items() if required and k not in data]
    if missing:
        raise Refused(f"{kind} needs {', '.join(missing)}")
    values = {k: data[k] for k in keys if k in data}
    if kind == "params":
        values = _check_params(values, base=None)
    elif kind == "preset":
        from ..physics.presets import preset_names

        values["name"] = _choice("preset", values["name"], preset_names())
    elif kind == "brush":
        values = check_op({"op": "brush", **values}, shape)
    elif kind == "steps":
        values["n"] = _integer("steps per frame", values["n"], 1, MAX_STEPS)
    elif kind == "record":
        if not isinstance(values["on"], bool):
            raise Refused("record's on must be true or false")
    elif kind == "ack":
        values["frame"] = _integer("frame", values["frame"], 0, MAX_SEQ)
    return Command(kind, seq, values)


def _check_params(values: dict[str, Any], base: dict[str, Any] | None) -> dict[str, Any]:
    """Each rate in its range, the stencil and border known; with ``base`` (the settings in
    force), the merged settings must be stable."""
    out: dict[str, Any] = {}
    for name in PARAM_NAMES:
        if name in values:
            out[name] = _number(name, values[name], *RANGES[name])
    if "stencil" in values:
        out["stencil"] = _choice("stencil", values["stencil"], STENCILS)
    if "border" in values:
        out["border"] = _choice("border", values["border"], BORDERS)
    if base is not None:
        out = {**base, **out}
        check_stable(out)
    return out


def check_stable(settings: dict[str, Any]) -> None:
    """Refuse settings whose time step is unstable (the check of ``grayscott run``)."""
    try:
        make_problem((3, 3), params=Parameters(**{k: settings[k] for k in PARAM_NAMES}),
                     stencil=settings["stencil"], border=settings["border"])
    except GrayScottError as exc:
        raise Refused(str(exc).replace(" (use --allow-unstable to run anyway)", "")
                      .replace("; use --allow-unstable to run anyway", "")) from None


def merge_params(base: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    """The settings after ``change`` (checked: ranges and stability)."""
    return _check_params(change, base)


def check_op(op: Any, shape: tuple[int, int]) -> dict[str, Any]:
    """A timeline operation, checked (from the live page or from a recording's file)."""
    if not isinstance(op, dict) or op.get("op") not in ("params", "reset", "brush", "steps"):
        raise Refused(f"unknown operation {str(op)[:60]!r}")
    kind = op["op"]
    nr, nc = shape
    if kind == "params":
        if set(op) != {"op", *PARAM_NAMES, "stencil", "border"}:
            raise Refused("a params operation names all seven settings")
        return {"op": kind, **_check_params({k: op[k] for k in op if k != "op"}, {})}
    if kind == "reset":
        if set(op) != {"op", "initial", "seed"}:
            raise Refused("a reset operation names initial and seed")
        return {"op": kind, "initial": _choice("initial", op["initial"], INITIAL_STATES),
                "seed": _integer("seed", op["seed"], 0, MAX_SEED)}
    if kind == "steps":
        if set(op) != {"op", "n"}:
            raise Refused("a steps operation names n")
        return {"op": kind, "n": _integer("steps per frame", op["n"], 1, MAX_STEPS)}
    if set(op) - {"op"} != {"row", "col", "radius", "value"}:
        raise Refused("a brush names row, col, radius and value")
    return {"op": kind, "row": _integer("brush row", op["row"], 0, nr - 1),
            "col": _integer("brush col", op["col"], 0, nc - 1),
            "radius": _integer("brush radius", op["radius"], 1, MAX_RADIUS),
            "value": _number("brush value", op["value"], 0.0, 1.0)}
