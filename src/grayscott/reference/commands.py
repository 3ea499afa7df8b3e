"""``grayscott verify`` (attached in cli.py): a run against the shipped reference."""

from __future__ import annotations

import json

import click

from .verify import verify_file


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

    if tol is not None and not tol >= 0:
        raise GrayScottError("--tol must be a number >= 0")
    v = verify_file(file, tol, progress=not (quiet or as_json))
    if as_json:
        click.echo(json.dumps(v.as_dict()))
    else:
        click.echo(v.report())
    return 0 if v.ok else 1
