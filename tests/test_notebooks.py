"""The house style of every notebook (a linter), and the book built in quick mode.

The book test copies the book's sources to a temporary folder, injects each notebook's quick
parameters, builds it with Jupyter Book (warnings are errors, so unresolved citations and
references fail) and checks the HTML: every chapter page has figures and audio players and no
error output.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbtools import REPO, course_notebooks, parameters_index, with_quick_parameters

NOTEBOOKS = course_notebooks()
IDS = [str(p.relative_to(REPO)) for p in NOTEBOOKS]
CITE = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]+)`")
MAX_CELL_LINES = 30


def bib_keys() -> set[str]:
    text = (REPO / "book" / "references.bib").read_text(encoding="utf-8")
    return set(re.findall(r"@\w+\{([^,\s]+),", text))


def cited_keys(text: str) -> set[str]:
    return {k.strip() for group in CITE.findall(text) for k in group.split(",")}


def test_there_are_notebooks():
    assert any(p.parent.name == "notebooks" for p in NOTEBOOKS)
    assert any(p.parent.name == "labs" for p in NOTEBOOKS)


def test_bibliography_has_unique_keys():
    text = (REPO / "book" / "references.bib").read_text(encoding="utf-8")
    keys = re.findall(r"@\w+\{([^,\s]+),", text)
    assert len(keys) == len(set(keys)), "duplicate keys in book/references.bib"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_house_style(path: Path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    cells = nb.cells
    first = cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# "), "title first"
    for needle in ("## Learning goals", "**Data:**", "**Runs in:**"):
        assert needle in first.source, f"first cell lacks {needle!r}"
    setup = cells[1]
    assert setup.cell_type == "code" and "google.colab" in setup.source, "setup cell second"
    assert "import mirlab" in setup.source
    p = parameters_index(nb)
    assert p == 2, "the parameters cell comes right after the setup cell"
    assigned = {t.id for node in ast.parse(cells[p].source).body
                if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)}
    quick = nb.metadata.get("mirlab", {}).get("quick_parameters", {})
    assert quick, "notebook metadata lacks mirlab.quick_parameters"
    unknown = set(quick) - assigned
    assert not unknown, f"quick parameters not in the parameters cell: {unknown}"
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    text = "\n".join(c.source for c in cells)
    for heading in ("## Summary", "## Exercises", "## Further reading"):
        assert heading in text, f"missing section {heading!r}"
    for i, cell in enumerate(cells):
        assert cell.source.strip(), f"cell {i} is empty"
        if cell.cell_type != "code":
            continue
        assert not cell.get("outputs") and cell.get("execution_count") is None, (
            f"cell {i} has stored outputs: strip them")
        assert "os.chdir" not in cell.source and "../" not in cell.source, (
            f"cell {i} reaches into the repo by a relative path; use mirlab")
        solution = "### BEGIN SOLUTION" in cell.source
        if i > 1 and not solution:
            n = len(cell.source.strip().splitlines())
            assert n <= MAX_CELL_LINES, f"cell {i} has {n} lines: move code into mirlab"
    missing = cited_keys(text) - bib_keys()
    assert not missing, f"citations not in book/references.bib: {missing}"
    assert cited_keys(text), "no citations"


@pytest.mark.parametrize("path", sorted((REPO / "book").glob("*.md")), ids=lambda p: p.name)
def test_prose_citations_resolve(path: Path):
    missing = cited_keys(path.read_text(encoding="utf-8")) - bib_keys()
    assert not missing, f"{path.name} cites unknown keys {missing}"


def test_toc_lists_every_notebook():
    toc = (REPO / "_toc.yml").read_text(encoding="utf-8")
    for path in NOTEBOOKS:
        assert str(path.relative_to(REPO).with_suffix("")) in toc, f"{path} is not in _toc.yml"


@pytest.fixture(scope="module")
def quick_book(tmp_path_factory) -> Path:
    """Build the whole book in quick mode into a temporary folder; return the HTML folder."""
    root = tmp_path_factory.mktemp("book")
    shutil.copy(REPO / "_toc.yml", root / "_toc.yml")
    # a fresh execution cache: every notebook really runs against the current mirlab
    config = (REPO / "_config.yml").read_text(encoding="utf-8")
    config = config.replace("cache: _build/.jupyter_cache", f"cache: {root}/_build/.jupyter_cache")
    assert str(root) in config, "_config.yml no longer sets execute.cache"
    assert "timeout: 600" in config, "_config.yml no longer sets execute.timeout"
    config = config.replace("timeout: 600", "timeout: 240")  # quick cells: fail fast on a hang
    (root / "_config.yml").write_text(config, encoding="utf-8")
    for folder in ("book", "notebooks", "labs"):
        shutil.copytree(REPO / folder, root / folder)
    for path in NOTEBOOKS:
        nb = with_quick_parameters(nbformat.read(path, as_version=4))
        nbformat.write(nb, root / path.relative_to(REPO))
    env = {**os.environ, "MIRLAB_STATIC": "1", "TQDM_DISABLE": "1"}  # as `make book` does
    execute = [sys.executable, str(REPO / ".ci" / "execute-notebooks"),
               str(root / "_build" / ".jupyter_cache"), str(root / "_toc.yml"), "240"]
    subprocess.run(execute, capture_output=True, text=True, timeout=900, env=env, check=True)
    cmd = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(root),
           "--warningiserror", "--keep-going"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-4000:]
    return root / "_build" / "html"


@pytest.mark.slow
@pytest.mark.xdist_group("book")
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_built_page(quick_book: Path, path: Path):
    html = (quick_book / path.relative_to(REPO).with_suffix(".html")).read_text(encoding="utf-8")
    assert "Traceback" not in html and 'class="output traceback' not in html
    assert "| :---" not in html and "| ---:" not in html, "a Markdown table rendered as text"
    if path.parent.name in ("notebooks", "book"):
        assert html.count('src="../_images/') >= 3, "a chapter page shows figures"
        assert html.count("<audio") >= 1, "a chapter page has audio players"
    assert "colab.research.google.com" in html, "Colab launch button"
    assert "widget-view+json" not in html, "a progress bar or widget in a static page"
    nb = nbformat.read(path, as_version=4)
    n_cited = len(cited_keys("\n".join(c.source for c in nb.cells)))
    links = set(re.findall(r'href="(?:\.\./book/)?references\.html#(id\d+)"', html))
    assert len(links) == n_cited, "every citation links to its bibliography entry"


@pytest.mark.slow
@pytest.mark.xdist_group("book")
def test_built_bibliography(quick_book: Path):
    html = (quick_book / "book" / "references.html").read_text(encoding="utf-8")
    assert html.count('role="doc-biblioentry"') == len(bib_keys())
