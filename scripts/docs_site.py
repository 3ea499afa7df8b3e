"""What the documentation site needs beyond MkDocs' own configuration (``mkdocs.yml``).

* MkDocs hooks: the tutorial notebooks (``notebooks/tutorial/``, in their order) and
  BENCHMARKS.md become pages of the site without being copied into ``docs/``; links from a
  page to a file of the repository outside the site (``../src/...``, ``../README.md``) are
  written as the file's path, so the site has no broken links and the Markdown still works on
  a forge.
* A Griffe extension (:class:`ReSTToMarkdown`) for the API reference: the docstrings are
  written in reST roles (``:func:`x```) and doctest lines (``>>>``), which Markdown would show
  as punctuation or block quotes; they become code spans and code blocks.

Nothing here runs a notebook or imports the package.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks" / "tutorial"
SOLUTIONS = ROOT / "notebooks" / "solutions"
#: The nav section that the notebooks are added to, after its own pages.
TUTORIALS = "Tutorials"
#: Repository files that are pages of the site too: (file, its page).
EXTRA_PAGES = {"BENCHMARKS.md": "benchmarks.md"}

_LINK = re.compile(r"(!?\[[^\]\n]*\])\(([^)\s]+)\)")


def notebooks() -> list[Path]:
    """The tutorial notebooks in the course's order (their names start with the number)."""
    def number(p: Path) -> int:
        head = p.name.split("_", 1)[0]
        return int(head) if head.isdigit() else 1_000

    return sorted(NOTEBOOKS.glob("*.ipynb"), key=lambda p: (number(p), p.name))


# -- MkDocs hooks ---------------------------------------------------------------------------


def on_config(config: Any) -> Any:
    """Put every tutorial notebook in the nav, in order, after the Tutorials section's pages."""
    for entry in config["nav"] or []:
        if isinstance(entry, dict) and TUTORIALS in entry:
            pages = entry[TUTORIALS]
            pages += [{p.stem.replace("_", " "): f"tutorial/{p.name}"} for p in notebooks()]
            return config
    raise ValueError(f"mkdocs.yml has no nav section {TUTORIALS!r} for the notebooks")


def _first(fn: Any) -> Any:
    """Run this hook before the plugins' (mkdocs-jupyter must see the notebooks' files)."""
    from mkdocs.plugins import event_priority

    return event_priority(100)(fn)


@_first
def on_files(files: Any, config: Any) -> Any:
    """Add the notebooks and the extra pages as files of the site (read where they are)."""
    from mkdocs.structure.files import File

    for p in notebooks():  # read from notebooks/tutorial/, shown as tutorial/NAME
        files.append(File(f"tutorial/{p.name}", str(NOTEBOOKS.parent), config["site_dir"],
                          config["use_directory_urls"]))
    # The answers, as files to download: each tutorial links to its solution.
    for p in sorted(SOLUTIONS.glob("*.ipynb")):
        files.append(File(f"solutions/{p.name}", str(SOLUTIONS.parent), config["site_dir"],
                          config["use_directory_urls"]))
    for name, page in EXTRA_PAGES.items():
        files.append(File.generated(config, page, abs_src_path=str(ROOT / name)))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Links are resolved from the file's real place (BENCHMARKS.md links as it does on a
    forge) and written for the page's place in the site; a link to a repository file that is
    not part of the site becomes its text and the file's path."""
    docs = Path(config["docs_dir"]).resolve()
    src = Path(page.file.abs_src_path).resolve()
    here = docs / Path(page.file.src_uri).parent

    def repl(m: re.Match[str]) -> str:
        target = m.group(2)
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:|^#|^/", target):
            return m.group(0)
        where, _, fragment = target.partition("#")
        dest = (src.parent / unquote(where)).resolve()
        rel = dest.relative_to(ROOT).as_posix() if dest.is_relative_to(ROOT) else where
        if rel in EXTRA_PAGES:
            dest = docs / EXTRA_PAGES[rel]
        if not dest.is_relative_to(docs):
            text = m.group(1).lstrip("!")[1:-1]
            return f"{text} (`{rel}`)"
        new = os.path.relpath(dest, here).replace(os.sep, "/")
        return f"{m.group(1)}({new}" + (f"#{fragment})" if fragment else ")")

    return _LINK.sub(repl, markdown)


_ATTR = re.compile(r"""((?:href|src)=")([^"#]+)(#[^"]*)?(")""")


def on_post_page(output: str, page: Any, config: Any) -> str:
    """A notebook's links (written for the repository: ``../../docs/model.md``) made to lead to
    the site's pages; the notebooks' Markdown is converted by mkdocs-jupyter, after the hook
    above."""
    src = page.file.abs_src_path
    if src is None or not Path(src).resolve().is_relative_to(NOTEBOOKS):
        return output
    docs = Path(config["docs_dir"]).resolve()
    here = Path(config["site_dir"]) / Path(page.file.dest_uri).parent

    def repl(m: re.Match[str]) -> str:
        target = m.group(2)
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:|^/", target):
            return m.group(0)
        dest = (Path(src).parent / unquote(target)).resolve()
        rel = dest.relative_to(ROOT).as_posix() if dest.is_relative_to(ROOT) else None
        if rel in EXTRA_PAGES:
            site_rel = EXTRA_PAGES[rel]
        elif dest.is_relative_to(docs):
            site_rel = dest.relative_to(docs).as_posix()
        else:
            return m.group(0)
        if site_rel.endswith(".md"):
            site_rel = site_rel[:-3] + ".html"
        new = os.path.relpath(Path(config["site_dir"]) / site_rel, here).replace(os.sep, "/")
        return f"{m.group(1)}{new}{m.group(3) or ''}{m.group(4)}"

    return _ATTR.sub(repl, output)


# -- Griffe extension -----------------------------------------------------------------------

_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|attr|data|obj|exc|const):`~?([^`]+)`")
_TILDE_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|attr|data|obj|exc|const):`~([^`]+)`")


def rest_to_markdown(text: str) -> str:
    """reST roles to code spans (``~a.b.c`` shows ``c``), ``>>>`` lines and ``::`` literal
    blocks to fenced code blocks."""
    text = _TILDE_ROLE.sub(lambda m: f"`{m.group(1).rsplit('.', 1)[-1]}`", text)
    text = _ROLE.sub(lambda m: f"`{m.group(1)}`", text)
    out: list[str] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith(">>>"):
            block = []
            while i < len(lines) and lines[i].lstrip().startswith((">>>", "...")):
                block.append(lines[i].strip())
                i += 1
            out += ["```python", *block, "```"]
            continue
        if line.rstrip().endswith("::") and i + 1 < len(lines) and not lines[i + 1].strip():
            out.append(line.rstrip()[:-1])  # "Quick use::" -> "Quick use:"
            indent = len(line) - len(line.lstrip())
            j = i + 2
            block = []
            while j < len(lines) and (not lines[j].strip()
                                      or len(lines[j]) - len(lines[j].lstrip()) > indent):
                block.append(lines[j])
                j += 1
            while block and not block[-1].strip():
                block.pop()
            if block:
                cut = min(len(b) - len(b.lstrip()) for b in block if b.strip())
                out += ["", "```", *(b[cut:] for b in block), "```", ""]
                i = j
                continue
        out.append(line)
        i += 1
    return "\n".join(out)


try:
    import griffe
except ImportError:  # the site is not being built
    griffe = None

if griffe is not None:
    class ReSTToMarkdown(griffe.Extension):
        """Docstrings written with reST roles and doctests, shown as Markdown."""

        def on_instance(self, *, obj: Any, **kwargs: Any) -> None:
            if obj.docstring is not None:
                obj.docstring.value = rest_to_markdown(obj.docstring.value)
