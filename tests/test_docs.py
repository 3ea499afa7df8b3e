"""The documentation site builds strictly (a broken link or anchor, a page left out of the nav, a
docstring the API reference cannot read fails it) without writing into the repository, with
its generated references; and every option a hand-written table names is an option of the
command line (the generated reference is the one source of the rest)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

import click
import pytest

from grayscott.cli import cli

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from docs_site import notebooks, rest_to_markdown  # noqa: E402

#: Markdown the site and the forge show: the README, BENCHMARKS.md and every page of docs/.
DOCUMENTS = [ROOT / "README.md", ROOT / "BENCHMARKS.md", *sorted((ROOT / "docs").rglob("*.md"))]
OPTION = re.compile(r"`(--?[A-Za-z][\w-]*)")


def _untracked() -> set[str]:
    """Files git does not track, ignored ones included (caches left out)."""
    out = subprocess.run(["git", "status", "--porcelain", "--ignored"],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return {line[3:] for line in out.splitlines() if line[:2] in ("??", "!!")
            and "__pycache__" not in line and not line[3:].startswith((".hypothesis",
                                                                        ".pytest_cache",
                                                                        ".ruff_cache"))}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    before = _untracked()
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                           str(out)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    assert _untracked() == before, "the build wrote into the repository"
    return out


def test_the_site_builds_strictly_with_its_generated_pages(site: Path) -> None:
    cli_page = (site / "reference" / "cli.html").read_text(encoding="utf-8")
    for command in cli.commands:  # every command, with its options, from click itself
        assert f'id="grayscott-{command}"' in cli_page, command
    assert "--checkpoint-every" in cli_page and "--nbimage" in cli_page
    api = (site / "reference" / "api" / "runs.html").read_text(encoding="utf-8")
    assert "A backend loaded with an initial state" in api  # Simulation's docstring
    assert "Continue the run of" in api  # resume's
    assert ":func:" not in api  # reST roles are shown as code
    for nb in notebooks():
        assert (site / "tutorial" / f"{nb.stem}.html").is_file(), nb.name
    assert (site / "benchmarks.html").is_file() and (site / "architecture.html").is_file()


HREF = re.compile(r'(?:href|src)="([^"]*)"')


def broken_site_links(site: Path) -> list[str]:
    """Relative links of the built pages (the notebooks' and the generated references'
    included) that lead to no file of the site."""
    broken = []
    for page in sorted(site.rglob("*.html")):
        if page.name == "404.html":  # served for any missing URL: its links are absolute
            continue
        for target in HREF.findall(page.read_text(encoding="utf-8")):
            if not target or re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:|^#|^//", target):
                continue
            path = target.split("#", 1)[0].split("?", 1)[0]
            dest = (page.parent / unquote(path)).resolve()
            if not dest.is_relative_to(site.resolve()) or not dest.exists():
                broken.append(f"{page.relative_to(site)}: {target}")
    return broken


def test_every_link_of_the_built_site_leads_to_a_file_of_it(site: Path) -> None:
    assert broken_site_links(site) == []


def test_broken_site_links_finds_a_missing_page(tmp_path: Path) -> None:
    (tmp_path / "a.html").write_text('<a href="b.html#x">b</a> <a href="c.html">c</a>'
                                     '<img src="https://example.org/i.png">')
    (tmp_path / "b.html").write_text("")
    assert broken_site_links(tmp_path) == ["a.html: c.html"]


def _cli_options() -> set[str]:
    found: set[str] = set()

    def walk(cmd: click.Command) -> None:
        for p in cmd.params:
            found.update(p.opts + p.secondary_opts)
        for sub in getattr(cmd, "commands", {}).values():
            walk(sub)

    walk(cli)
    return found


def table_options(text: str) -> list[str]:
    """Options named in the first column of the Markdown tables of ``text``."""
    names = []
    for line in text.splitlines():
        cells = line.strip().split("|")
        if line.lstrip().startswith("|") and len(cells) > 2:
            names += OPTION.findall(cells[1])
    return names


def test_option_tables_name_only_real_options() -> None:
    known = _cli_options()
    checked = 0
    for doc in DOCUMENTS:
        for name in table_options(doc.read_text(encoding="utf-8")):
            assert name in known, f"{doc.relative_to(ROOT)}: {name} is no option of grayscott"
            checked += 1
    assert checked >= 10  # docs/model.md's table of the school's names at least


def test_table_options_reads_first_columns() -> None:
    text = "| option | meaning |\n|---|---|\n| `-n`, `--nbimage` | frames `--not-this` |\n"
    assert table_options(text) == ["-n", "--nbimage"]


def test_rest_roles_and_doctests_become_markdown() -> None:
    text = ("See :func:`grayscott.loop.drive` and :class:`~grayscott.io.runfile.RunFile`.\n\n"
            ">>> sim = Simulation(p)\n>>> sim.advance(3)\n\nQuick use::\n\n    run()\n\nEnd.")
    md = rest_to_markdown(text)
    assert "`grayscott.loop.drive`" in md and "`RunFile`" in md and ":func:" not in md
    assert "```python\n>>> sim = Simulation(p)\n>>> sim.advance(3)\n```" in md
    assert "Quick use:\n\n```\nrun()\n```" in md and md.endswith("End.")
