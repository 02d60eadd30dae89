"""Labs: automatic checks for the exercises, and student versions of the lab notebooks.

A lab notebook creates one :class:`Lab` at the top and routes every exercise's check
through it::

    from mirlab import labs

    lab = labs.Lab("lab01")
    ...
    lab.check("stft", labs.check_stft, stft)   # ✓ stft: passed / ✗ stft: ... with a hint
    ...
    lab.report()                                # which exercises passed, failed, are to do

Each ``check_*`` function can also be called on its own (e.g. by a grading tool): it prints
``✓ <exercise>: passed`` or raises :class:`LabCheckError`, an ``AssertionError`` whose
message names the input, the expected and received shape or value, and the typical mistake
it recognises.

``make_student_version`` (and the command ``mirlab-lab student <lab or folder> --out DIR``)
writes a lab's student version: the solutions between ``### BEGIN SOLUTION`` and
``### END SOLUTION`` replaced by stubs raising ``NotImplementedError``.
"""

from mirlab.labs.audio_representations import (
    check_chroma_pooling,
    check_frame,
    check_mel_filterbank,
    check_min_n_fft,
    check_stft,
    compare_chromagrams,
    compare_filterbanks,
    compare_resolution,
    compare_spectrograms,
)
from mirlab.labs.core import Lab, LabCheckError, Mistake, compare, exercises_of
from mirlab.labs.student import SOLUTION_ONLY_TAG, main, make_student_version, strip_solutions

__all__ = [
    "Lab",
    "LabCheckError",
    "Mistake",
    "compare",
    "exercises_of",
    "make_student_version",
    "strip_solutions",
    "main",
    "SOLUTION_ONLY_TAG",
    "check_frame",
    "check_stft",
    "check_mel_filterbank",
    "check_chroma_pooling",
    "check_min_n_fft",
    "compare_spectrograms",
    "compare_filterbanks",
    "compare_chromagrams",
    "compare_resolution",
]

