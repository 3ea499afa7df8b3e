"""The locks (requirements/*.txt, `make lock`) agree with pyproject.toml.

Every requirement of the extras a lock is made for, followed through ``grayscott[...]``, must
be pinned there with a version its specifier allows, with hashes, on every Python the package
supports. When pyproject.toml changes, `make lock` refreshes the locks.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
LOCKS = {"run.txt": ["numba", "video"], "test.txt": ["test"]}
PYTHONS = ["3.11", "3.12", "3.13"]
PLATFORMS = ["linux", "darwin", "win32"]
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def requirements(extras: list[str]) -> list[Requirement]:
    """The package's requirements with these extras, self-references followed."""
    project = pyproject()
    name = canonicalize_name(project["name"])
    out, seen, todo = [Requirement(r) for r in project["dependencies"]], set(), list(extras)
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for text in project["optional-dependencies"][extra]:
            r = Requirement(text)
            if canonicalize_name(r.name) == name:
                todo += sorted(r.extras)
            else:
                out.append(r)
    return out


def parse_lock(text: str) -> dict[str, list[tuple[Version, Marker | None, int]]]:
    """name -> [(version, marker, hashes)] of every pin."""
    pins: dict[str, list[tuple[Version, Marker | None, int]]] = {}
    current = None
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line.startswith(" "):
            if current is not None and "--hash=sha256:" in line:
                name, i = current
                v, m, h = pins[name][i]
                pins[name][i] = (v, m, h + 1)
            continue
        match = PIN.match(line)
        assert match, f"not a pin: {line!r}"
        name = canonicalize_name(match[1])
        pins.setdefault(name, []).append(
            (Version(match[2]), Marker(match[3]) if match[3] else None, 0))
        current = (name, len(pins[name]) - 1)
    return pins


def environment(python: str, platform: str) -> dict[str, str]:
    return {"python_version": python, "python_full_version": f"{python}.0",
            "sys_platform": platform, "platform_system": {"linux": "Linux", "darwin": "Darwin",
                                                          "win32": "Windows"}[platform],
            "platform_machine": "x86_64", "os_name": "nt" if platform == "win32" else "posix",
            "implementation_name": "cpython", "platform_python_implementation": "CPython",
            "extra": ""}


def check(pins, reqs) -> list[str]:
    """What is wrong: a requirement unpinned, pinned twice or outside its specifier."""
    problems = []
    for python in PYTHONS:
        for platform in PLATFORMS:
            env = environment(python, platform)
            for r in reqs:
                if r.marker is not None and not r.marker.evaluate(env):
                    continue
                found = [(v, h) for v, m, h in pins.get(canonicalize_name(r.name), [])
                         if m is None or m.evaluate(env)]
                where = f"{r} on Python {python}, {platform}"
                if len(found) != 1:
                    problems.append(f"{where}: {len(found)} pins")
                elif found[0][0] not in r.specifier:
                    problems.append(f"{where}: pinned {found[0][0]}")
                elif found[0][1] == 0:
                    problems.append(f"{where}: no hash")
    return problems


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_lock_agrees_with_pyproject(lock):
    pins = parse_lock((ROOT / "requirements" / lock).read_text())
    problems = check(pins, requirements(LOCKS[lock]))
    assert not problems, f"requirements/{lock} is stale, run `make lock`: {problems[:5]}"


def test_check_finds_a_stale_lock():
    pins = parse_lock((ROOT / "requirements" / "run.txt").read_text())
    reqs = requirements(["numba", "video"])
    assert any(r.name == "numba" for r in reqs) and not any(r.name == "jax" for r in reqs)
    assert check(pins, [Requirement("numba>=999")])  # a newer minimum than the lock holds
    assert check(pins, [Requirement("a-package-not-in-the-lock")])
    del pins["tqdm"]
    assert check(pins, reqs) and all("tqdm" in p for p in check(pins, reqs))


def test_make_installs_from_the_locks():
    makefile = (ROOT / "Makefile").read_text()
    for lock in LOCKS:
        assert f"--require-hashes -r requirements/{lock}" in makefile
    assert "--no-deps -e ." in makefile and "\nlock:" in makefile
