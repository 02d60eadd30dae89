"""The five lab notebooks, each in both versions: the source (solutions) passes every check;
the student version (solutions replaced by stubs) holds no solution code, runs without
crashing and reports every exercise as still to do.

What is particular to one lab (its checks, its mistakes) is tested in ``test_labs.py`` (lab 1)
and ``test_lab02.py`` ... ``test_lab05.py``; the notebook scaffolding is here, once.
"""

from __future__ import annotations

import importlib

import nbformat
import pytest
from nbtools import lab_notebook, run_lab

from mirlab import labs
from mirlab.labs.student import student_notebook

# lab -> (module of its checks, code stubs in the student version, written answers,
#         phrases the solution version must print besides the report)
LABS = {
    "lab01": ("mirlab.labs.audio_representations", 5, 0, ()),
    "lab02": ("mirlab.labs.chord_recognition", 4, 0, ()),
    "lab03": ("mirlab.labs.nmf_transcription", 5, 1, ("onset F-measure",)),
    "lab04": ("mirlab.labs.music_tagging", 7, 1, ("macro ROC-AUC",)),
    "lab05": ("mirlab.labs.transfer_learning", 4, 1, ("labelled clips per class",)),
    "lab06": ("mirlab.labs.metric_learning", 8, 1, ("mAP (instrument family",)),
    "lab07": ("mirlab.labs.alignment", 5, 0, ("your CTC loss", "within 100 ms")),
}


def _exercises(lab: str) -> list[str]:
    importlib.import_module(LABS[lab][0])  # registers the lab's exercises
    names = labs.exercises_of(lab)
    assert names, f"{LABS[lab][0]} registers no exercise for {lab}"
    return names


def _solution_regions(source: str) -> list[str]:
    """The text between each pair of solution markers of a cell."""
    regions, inside = [], None
    for line in source.splitlines():
        if "BEGIN SOLUTION" in line:
            inside = []
        elif "END SOLUTION" in line:
            regions.append("\n".join(inside))
            inside = None
        elif inside is not None:
            inside.append(line)
    return regions


def _per_lab(slow: bool = False):
    """One parameter per lab; the slow tests of a lab share one xdist worker (and cache)."""
    marks = lambda lab: [pytest.mark.slow, pytest.mark.xdist_group(f"{lab}-notebook")]  # noqa: E731
    return [pytest.param(lab, marks=marks(lab) if slow else (), id=lab) for lab in LABS]


@pytest.mark.parametrize("lab", _per_lab())
def test_student_version_has_no_solution_code(lab):
    _, n_stubs, n_answers, _ = LABS[lab]
    source = nbformat.read(lab_notebook(lab), as_version=4)
    student, n_regions = student_notebook(source)
    assert n_regions == n_stubs + n_answers
    assert len(student.cells) == len(source.cells)
    text = "\n".join(c.source for c in student.cells)
    code = "\n".join(c.source for c in student.cells if c.cell_type == "code")
    assert "SOLUTION" not in text
    assert code.count("raise NotImplementedError()") == n_stubs >= len(_exercises(lab))
    assert text.count("YOUR ANSWER HERE") == n_answers
    for src_cell, cell in zip(source.cells, student.cells, strict=True):
        for region in _solution_regions(src_cell.source):
            assert region.count("\n") < 2 or region not in cell.source, region
    full = "".join(c.source for c in source.cells)
    for name in _exercises(lab):
        assert f'lab.check("{name}"' in full
    assert "lab.report()" in full


@pytest.mark.parametrize("lab", _per_lab(slow=True))
def test_solution_version_passes_every_check(lab):
    text = run_lab(lab)
    n = len(_exercises(lab))
    assert f"Lab {lab}: {n} of {n} exercises passed" in text
    assert "All exercises passed" in text
    assert "✗" not in text
    for phrase in LABS[lab][3]:
        assert phrase in text


@pytest.mark.parametrize("lab", _per_lab(slow=True))
def test_student_version_runs_and_lists_what_is_left(lab, tmp_path):
    text = run_lab(lab, student=True, out_dir=tmp_path)
    names = _exercises(lab)
    for name in names:
        assert f"✗ {name}: not done yet" in text
    assert f"Lab {lab}: 0 of {len(names)} exercises passed" in text
    assert "Still to do: " + ", ".join(names) in text
