"""``grayscott verify`` (attached in cli.py): a run against the shipped reference."""

from __future__ import annotations

import json

import click

from .verify import Verification, describe, verify_file


def _span(first: int, count: int) -> str:
    return f"frame {first}" if count == 1 else f"frames {first}..{first + count - 1}"


def format_verification(v: Verification, config_line: str) -> str:
    lines = [f"{v.path}: reference {v.manifest!r}, {config_line}"]
    n = len(v.checks)
    lines.append(f"  {_span(0, n)} of the file are {_span(v.offset, n)} of the reference "
                 f"({v.reference_frames} frames)")
    if v.frames > n:
        lines.append(f"  {_span(n, v.frames - n)} of the file lie beyond the reference: not "
                     "checked")
    if v.tolerance is not None:
        why = f"{v.reason}: " if v.reason else ""
        lines.append(f"  {why}compared within {v.tolerance:g} (absolute; on every cell where "
                     "the full reference holds the frame, else on min, max, mean and std)")
    bad = [c for c in v.checks if not c.within]
    if v.tolerance is None and not bad:
        lines.append(f"bit for bit the reference ({n} frame{'s' if n != 1 else ''})")
        return "\n".join(lines)
    if not bad:
        exact = n - len(v.differing)
        largest = max(c.difference for c in v.checks)
        lines.append(f"within {v.tolerance:g} of the reference ({n} frames; {exact} bit for "
                     f"bit; largest difference {largest:.3g})")
        return "\n".join(lines)
    first = bad[0]
    if first.exact_measure:
        how = f"by {first.difference:.3g} (largest difference over the cells)"
    elif first.difference > 0:
        how = f"by at least {first.difference:.3g} (from its statistics)"
    else:
        how = "in its bits; its statistics are equal"
    beyond = f"beyond {v.tolerance:g} " if v.tolerance is not None else ""
    lines.append(f"NOT the reference: frame {first.frame} (reference frame "
                 f"{first.reference_frame}) differs {beyond}{how}; {len(bad)} of {n} frames "
                 "differ" + (f" beyond {v.tolerance:g}" if v.tolerance is not None else ""))
    return "\n".join(lines)


@click.command("verify")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--tol", type=float, default=None,
              help="Compare within this absolute tolerance instead of bit for bit (default: "
                   "bit for bit, or 0.001 for JAX and --flush-subnormals runs).")
@click.option("--json", "as_json", is_flag=True, help="The result as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def verify_cmd(file: str, tol: float | None, as_json: bool, quiet: bool) -> int:
    """Check the frames of a run's FILE against the shipped reference of its configuration.

    Exit status 0 when every frame the reference covers is bit for bit the reference (or
    within the tolerance, for runs that cannot be bit for bit), 1 when one is not, 2 when the
    file cannot be read or no reference holds its configuration.
    """
    from ..errors import GrayScottError
    from .manifest import load_all

    if tol is not None and not tol >= 0:
        raise GrayScottError("--tol must be a number >= 0")
    v = verify_file(file, tol, progress=not (quiet or as_json))
    if as_json:
        click.echo(json.dumps(v.as_dict()))
    else:
        m = next(x for x in load_all() if x.name == v.manifest)
        checked = ", ".join(f"{k} ({n} frames)" for k, n in m.checked.items())
        click.echo(format_verification(v, f"{describe(m.config)}; made by {m.made_by}, "
                                          f"checked by {checked}"))
    return 0 if v.ok else 1
