"""Every relative link in the repository's Markdown files and notebooks leads to a file of the
repository (and, for a link into a Markdown file, to a heading that exists): a clone has nothing
else. Nothing refers to the reference text kept beside the repository."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Folders that are not the project's documents (tools, caches, build outputs).
SKIP_DIRS = {".git", ".venv", "node_modules", "build", "dist", "__pycache__", ".ipynb_checkpoints"}
#: Text files searched for the forbidden path.
TEXT_SUFFIXES = {".md", ".ipynb", ".py", ".toml", ".cfg", ".txt", ".yml", ".yaml", ".sh", ".json"}

FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
INLINE_CODE = re.compile(r"`[^`\n]*`")
INLINE_LINK = re.compile(r"!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M)
HTML_LINK = re.compile(r"""<(?:a|img)\b[^>]*?\b(?:href|src)\s*=\s*["']([^"']+)["']""", re.I)
HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$", re.M)


def _project_files(suffixes: set[str]) -> list[Path]:
    out = []
    for path in sorted(ROOT.rglob("*")):
        rel = path.relative_to(ROOT)
        if any(part in SKIP_DIRS or (part.startswith(".") and part != ".ci")
               for part in rel.parts[:-1]):
            continue
        if path.is_file() and path.suffix in suffixes:
            out.append(path)
    return out


def _markdown_texts(path: Path) -> list[str]:
    """The Markdown of a file: the file itself, or a notebook's markdown cells."""
    if path.suffix == ".ipynb":
        nb = json.loads(path.read_text(encoding="utf-8"))
        return ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                for c in nb["cells"] if c["cell_type"] == "markdown"]
    return [path.read_text(encoding="utf-8")]


def links(text: str) -> list[str]:
    """Link targets of a Markdown text, code blocks and inline code left out."""
    text = INLINE_CODE.sub("", FENCE.sub("", text))
    return [m.group(1) for rx in (INLINE_LINK, REFERENCE_LINK, HTML_LINK)
            for m in rx.finditer(text)]


def slug(heading: str) -> str:
    """The anchor GitHub (and JupyterLab's renderer) gives a heading."""
    text = INLINE_CODE.sub(lambda m: m.group(0)[1:-1], heading)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    return {slug(h) for text in _markdown_texts(path) for h in HEADING.findall(FENCE.sub("", text))}


def broken_links(path: Path) -> list[str]:
    """Relative links of one document that lead outside the repository or nowhere."""
    problems = []
    for text in _markdown_texts(path):
        for target in links(text):
            if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) or target.startswith("//"):
                continue  # http:, https:, mailto:, ... : not a file of the clone
            where, _, fragment = target.partition("#")
            dest = path if not where else (path.parent / unquote(where)).resolve()
            if not dest.is_relative_to(ROOT):
                problems.append(f"{target}: leads outside the repository")
            elif not dest.exists():
                problems.append(f"{target}: no such file")
            elif fragment and dest.suffix in (".md", ".ipynb") and dest.is_file() \
                    and fragment not in anchors(dest):
                problems.append(f"{target}: no heading #{fragment} in {dest.name}")
    return problems


DOCUMENTS = _project_files({".md", ".ipynb"})


def test_the_documents_are_found():
    names = {p.relative_to(ROOT).as_posix() for p in DOCUMENTS}
    assert {"README.md", "BENCHMARKS.md", "docs/model.md",
            "notebooks/solutions/1_Optimization.ipynb"} <= names


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve_inside_the_repository(path):
    assert broken_links(path) == []


def test_nothing_refers_to_the_reference_text_beside_the_repository():
    forbidden = "/".join(["..", "shared"])  # not written out, so this file does not match itself
    offenders = [p.relative_to(ROOT).as_posix() for p in _project_files(TEXT_SUFFIXES)
                 if forbidden in p.read_text(encoding="utf-8", errors="replace")]
    assert offenders == []
    # The model's description in the repository is docs/model.md; nothing cites the other text.
    citing = [p.relative_to(ROOT).as_posix() for p in _project_files(TEXT_SUFFIXES)
              if p != Path(__file__).resolve()
              and re.search(r"\bSPEC(\.md|\s+§|\s+section|,\s+section)",
                            p.read_text(encoding="utf-8", errors="replace"))]
    assert citing == [], "cite docs/model.md (its sections are numbered) instead"


# ---------------------------------------------------------------- the checker itself


@pytest.mark.parametrize(("text", "expected"), [
    ("see [the model](docs/model.md) and ![chart](docs/ladder.png)",
     ["docs/model.md", "docs/ladder.png"]),
    ("[a](b.md#sec \"title\")", ["b.md#sec"]),
    ("[ref]: ../x.md\n", ["../x.md"]),
    ('<img src="pic.png"> <a href="y.md">', ["pic.png", "y.md"]),
    ("code `[a](nope.md)` and\n```\n[b](nope.md)\n```\n", []),
])
def test_links_are_extracted(text, expected):
    assert sorted(links(text)) == sorted(expected)


def test_a_link_outside_or_to_nothing_is_reported(tmp_path, monkeypatch):
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# Title here\n\n## Second `part`\n")
    doc = tmp_path / "README.md"
    doc.write_text("[ok](docs/a.md) [ok2](docs/a.md#second-part) [out](../SPEC.md)\n"
                   "[gone](docs/b.md) [bad anchor](docs/a.md#third) [web](https://x.org/a)\n")
    problems = broken_links(doc)
    assert [p.split(":")[0] for p in problems] == ["../SPEC.md", "docs/b.md", "docs/a.md#third"]


def test_headings_become_github_anchors():
    assert slug("7. The school's published benchmark") == "7-the-schools-published-benchmark"
    assert slug("Measuring: `grayscott bench` and `grayscott profile`") == \
        "measuring-grayscott-bench-and-grayscott-profile"
