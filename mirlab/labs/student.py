"""Student versions of lab notebooks, and the ``mirlab-lab`` command.

A lab's source notebook holds the solutions between the markers that nbgrader and
otter-grader use::

    def frame(y, frame_length, hop_length):
        \"\"\"...\"\"\"
        ### BEGIN SOLUTION
        ...
        ### END SOLUTION

The student version replaces every such region by a stub at the region's indentation (the
convention of nbgrader)::

        # YOUR CODE HERE
        raise NotImplementedError()

(``YOUR ANSWER HERE`` in a markdown cell), drops every cell tagged ``solution-only``, and
clears outputs and execution counts. Everything else is kept as it is.
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path

__all__ = ["make_student_version", "strip_solutions", "main", "SOLUTION_ONLY_TAG"]

SOLUTION_ONLY_TAG = "solution-only"
_BEGIN = re.compile(r"^(\s*)#+\s*BEGIN SOLUTION\s*$")
_END = re.compile(r"^\s*#+\s*END SOLUTION\s*$")
_CODE_STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
_MARKDOWN_STUB = ("YOUR ANSWER HERE",)


def _describe_cell(index: int, cell) -> str:
    first = next((line.strip() for line in cell.source.splitlines() if line.strip()), "")
    cell_id = f" (id {cell['id']!r})" if "id" in cell else ""
    return f"cell {index}{cell_id}, starting {first[:60]!r}"


def strip_solutions(source: str, where: str = "the cell",
                    markdown: bool = False) -> tuple[str, int]:
    """Replace every solution region of one cell's source by a stub.

    Parameters
    ----------
    source : str
        The cell's source.
    where : str
        How to name the cell in error messages.
    markdown : bool
        Use the markdown stub (``YOUR ANSWER HERE``) instead of the code stub.

    Returns
    -------
    source : str
        The source with stubs in place of the solutions.
    n_regions : int
        How many regions were replaced.

    Raises
    ------
    ValueError
        If a ``BEGIN SOLUTION`` has no ``END SOLUTION``, an ``END`` comes without ``BEGIN``,
        or regions are nested.
    """
    stub = _MARKDOWN_STUB if markdown else _CODE_STUB
    out, indent, n_regions = [], None, 0
    for number, line in enumerate(source.splitlines(), start=1):
        begin, end = _BEGIN.match(line), _END.match(line)
        if begin:
            if indent is not None:
                raise ValueError(f"nested '### BEGIN SOLUTION' at line {number} of {where}: "
                                 "close the open region with '### END SOLUTION' first")
            indent = begin.group(1)
        elif end:
            if indent is None:
                raise ValueError(f"'### END SOLUTION' without a matching '### BEGIN SOLUTION' "
                                 f"at line {number} of {where}")
            out += [indent + s for s in stub]
            indent, n_regions = None, n_regions + 1
        elif indent is None:
            out.append(line)
    if indent is not None:
        raise ValueError(f"'### BEGIN SOLUTION' without '### END SOLUTION' in {where}")
    return "\n".join(out), n_regions


def student_notebook(nb):
    """Return ``(student copy of nb, number of solution regions replaced)``."""
    nb = copy.deepcopy(nb)
    cells, n_regions = [], 0
    for index, cell in enumerate(nb.cells):
        if SOLUTION_ONLY_TAG in cell.get("metadata", {}).get("tags", []):
            continue
        if cell.cell_type in ("code", "markdown"):
            cell.source, n = strip_solutions(cell.source, _describe_cell(index, cell),
                                             markdown=cell.cell_type == "markdown")
            n_regions += n
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cells.append(cell)
    nb.cells = cells
    return nb, n_regions


def make_student_version(src_path, dst_path) -> Path:
    """Write the student version of the lab notebook ``src_path`` to ``dst_path``.

    Parameters
    ----------
    src_path : str or Path
        The source notebook, with solutions between ``### BEGIN SOLUTION`` and
        ``### END SOLUTION``.
    dst_path : str or Path
        The file to write; if it is a folder (an existing one, or any path not ending in
        ``.ipynb``), the notebook keeps its file name inside it. Folders are created.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    ValueError
        If the source has malformed markers (the message names the cell), or if
        ``dst_path`` is the source itself.

    Examples
    --------
    >>> make_student_version("labs/lab01_audio_representations.ipynb", "/tmp/student")
    ... # doctest: +SKIP
    PosixPath('/tmp/student/lab01_audio_representations.ipynb')
    """
    import nbformat

    src, dst = Path(src_path), Path(dst_path)
    if not src.is_file():
        raise ValueError(f"src_path must be an existing notebook; got {str(src)!r}")
    if dst.is_dir() or dst.suffix != ".ipynb":
        dst = dst / src.name
    if dst.resolve() == src.resolve():
        raise ValueError(f"dst_path must differ from src_path; got {str(dst)!r} for both")
    nb = nbformat.read(src, as_version=4)
    try:
        student, _ = student_notebook(nb)
    except ValueError as err:
        raise ValueError(f"{src.name}: {err}") from None
    dst.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(student, dst)
    return dst


def _notebooks(paths) -> list[Path]:
    found = []
    for p in map(Path, paths):
        if p.is_dir():
            found += sorted(q for q in p.glob("*.ipynb") if not q.name.startswith("."))
        elif p.suffix == ".ipynb" and p.is_file():
            found.append(p)
        else:
            raise ValueError(f"expected a notebook (.ipynb) or a folder of notebooks; got "
                             f"{str(p)!r}")
    return found


def main(argv=None) -> int:
    """The ``mirlab-lab`` command: ``mirlab-lab student <lab.ipynb or folder>... --out DIR``."""
    parser = argparse.ArgumentParser(
        prog="mirlab-lab", description="Tools for the course's lab notebooks.")
    sub = parser.add_subparsers(dest="command", required=True)
    student = sub.add_parser(
        "student", help="write student versions (solutions replaced by stubs)",
        description="Replace every region between '### BEGIN SOLUTION' and '### END SOLUTION' "
                    "by a stub raising NotImplementedError, drop cells tagged 'solution-only' "
                    "and all outputs, and write the notebooks into --out.")
    student.add_argument("paths", nargs="+", help="lab notebooks or folders holding them")
    student.add_argument("--out", required=True, help="folder for the student notebooks")
    args = parser.parse_args(argv)

    try:
        notebooks = _notebooks(args.paths)
        if not notebooks:
            raise ValueError(f"no notebooks found in {', '.join(args.paths)}")
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        for nb_path in notebooks:
            print(f"wrote {make_student_version(nb_path, out / nb_path.name)}")
    except ValueError as err:
        print(f"mirlab-lab: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
