"""Helpers for the notebook tests: find the course's notebooks, inject quick parameters, run."""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK_DIRS = ("notebooks", "labs", "book")


def course_notebooks() -> list[Path]:
    """Every notebook of the book: chapters, labs and executed prose pages."""
    found = []
    for folder in NOTEBOOK_DIRS:
        found += sorted((REPO / folder).glob("*.ipynb"))
    return found


def parameters_index(nb) -> int:
    """Index of the cell tagged ``parameters``; ValueError if there is none."""
    for i, cell in enumerate(nb.cells):
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            return i
    raise ValueError("notebook has no cell tagged 'parameters'")


def with_quick_parameters(nb):
    """Return a copy of ``nb`` with its quick parameters injected after the parameters cell.

    The quick values live in ``nb.metadata["mirlab"]["quick_parameters"]`` so that the test
    runs the very same notebook, only smaller (the way papermill injects parameters).
    """
    nb = copy.deepcopy(nb)
    quick = nb.metadata.get("mirlab", {}).get("quick_parameters", {})
    source = "# Injected by the tests: quick parameters\n" + "".join(
        f"{name} = {value!r}\n" for name, value in quick.items()
    )
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    nb.cells.insert(parameters_index(nb) + 1, cell)
    return nb


def execute(nb, timeout: int = 600, cwd: Path | None = None):
    """Execute ``nb`` in a fresh python3 kernel and return it (raises on the first error)."""
    from nbclient import NotebookClient

    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(cwd or REPO)}})
    client.execute()
    return nb


def outputs_text(nb) -> str:
    """All text the executed notebook printed (streams and plain-text results)."""
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                parts.append(out.get("text", ""))
            elif "data" in out:
                parts.append(out["data"].get("text/plain", ""))
    return "".join(parts)


def lab_notebook(lab: str) -> Path:
    """The source notebook of ``lab`` (e.g. ``"lab03"``): ``labs/lab03_*.ipynb``."""
    found = sorted((REPO / "labs").glob(f"{lab}_*.ipynb"))
    if len(found) != 1:
        raise ValueError(f"expected one notebook labs/{lab}_*.ipynb; found {len(found)}")
    return found[0]


def run_lab(lab: str, *, student: bool = False, out_dir: Path | None = None,
            timeout: int = 300) -> str:
    """Execute ``lab`` with its quick parameters and return everything it printed.

    ``student=True`` runs the student version, written to ``out_dir`` by
    :func:`mirlab.labs.make_student_version`; otherwise the source, with its solutions.
    """
    from mirlab.labs import make_student_version

    path = lab_notebook(lab)
    if student:
        if out_dir is None:
            raise ValueError("out_dir is needed to write the student version")
        path = make_student_version(path, out_dir)
    nb = execute(with_quick_parameters(nbformat.read(path, as_version=4)), timeout=timeout)
    return outputs_text(nb)
