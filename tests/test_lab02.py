"""Tests of lab 2 (chord recognition): the checks pass plain solutions and name typical
mistakes (the notebook in both versions: test_lab_notebooks.py)."""

from __future__ import annotations

import mir_eval
import nbformat
import numpy as np
import pytest
from nbtools import REPO

from mirlab import labs
from mirlab.labs import LabCheckError
from mirlab.labs import chord_recognition as checks
from mirlab.labs.student import student_notebook

LAB02 = REPO / "labs" / "lab02_chord_recognition.ipynb"


# --- plain solutions, as a student would write them ----------------------------------------

def uniform_transitions(n_states, self_prob):
    A = np.full((n_states, n_states), (1 - self_prob) / (n_states - 1))
    np.fill_diagonal(A, self_prob)
    return A


def count_transitions(sequences, n_states, smoothing):
    counts = np.full((n_states, n_states), float(smoothing))
    for seq in sequences:
        for a, b in zip(seq[:-1], seq[1:], strict=True):
            if a >= 0 and b >= 0:
                counts[a, b] += 1
    return counts / counts.sum(axis=1, keepdims=True)


def viterbi(log_B, log_A, log_p0):
    n_states, n_frames = log_B.shape
    D = np.zeros((n_states, n_frames))
    E = np.zeros((n_states, n_frames), dtype=int)
    D[:, 0] = log_p0 + log_B[:, 0]
    for n in range(1, n_frames):
        for j in range(n_states):
            scores = D[:, n - 1] + log_A[:, j]
            E[j, n] = np.argmax(scores)
            D[j, n] = scores[E[j, n]] + log_B[j, n]
    path = np.zeros(n_frames, dtype=int)
    path[-1] = np.argmax(D[:, -1])
    for n in range(n_frames - 2, -1, -1):
        path[n] = E[path[n + 1], n + 1]
    return path


def evaluate_majmin(references, estimates):
    correct = scored = 0.0
    for (ref_iv, ref_lab), (est_iv, est_lab) in zip(references, estimates, strict=True):
        est_iv, est_lab = mir_eval.util.adjust_intervals(est_iv, est_lab, ref_iv.min(),
                                                         ref_iv.max(), "N", "N")
        iv, r, e = mir_eval.util.merge_labeled_intervals(ref_iv, ref_lab, est_iv, est_lab)
        durations = iv[:, 1] - iv[:, 0]
        comp = mir_eval.chord.majmin(r, e)
        correct += np.sum(durations[comp >= 0] * comp[comp >= 0])
        scored += np.sum(durations[comp >= 0])
    return correct / scored


SOLUTIONS = [(checks.check_uniform_transitions, uniform_transitions, "uniform_transitions"),
             (checks.check_count_transitions, count_transitions, "count_transitions"),
             (checks.check_viterbi, viterbi, "viterbi"),
             (checks.check_evaluation, evaluate_majmin, "evaluation")]


@pytest.mark.parametrize("check, solution, name", SOLUTIONS, ids=[s[2] for s in SOLUTIONS])
def test_checks_pass_plain_solutions(check, solution, name, capsys):
    assert check(solution)
    assert f"✓ {name}: passed" in capsys.readouterr().out


def test_exercises_are_registered_in_order():
    assert labs.exercises_of("lab02") == [s[2] for s in SOLUTIONS]


# --- typical mistakes -----------------------------------------------------------------------

def _uniform_div_n(n, p):
    A = np.full((n, n), (1 - p) / n)
    np.fill_diagonal(A, p)
    return A


def _viterbi_prob(log_B, log_A, log_p0):
    B, A = np.exp(log_B), np.exp(log_A)
    D = np.zeros_like(B)
    E = np.zeros(B.shape, dtype=int)
    D[:, 0] = np.exp(log_p0) * B[:, 0]
    for n in range(1, B.shape[1]):
        scores = D[:, n - 1][:, None] * A
        E[:, n] = scores.argmax(axis=0)
        D[:, n] = scores.max(axis=0) * B[:, n]
    path = np.zeros(B.shape[1], dtype=int)
    path[-1] = D[:, -1].argmax()
    for n in range(B.shape[1] - 2, -1, -1):
        path[n] = E[path[n + 1], n + 1]
    return path


def _viterbi_off_by_one(log_B, log_A, log_p0):
    n_states, n_frames = log_B.shape
    D = np.zeros((n_states, n_frames))
    E = np.zeros((n_states, n_frames), dtype=int)
    D[:, 0] = log_p0 + log_B[:, 0]
    for n in range(1, n_frames):
        scores = D[:, n - 1][:, None] + log_A
        E[:, n] = scores.argmax(axis=0)
        D[:, n] = scores.max(axis=0) + log_B[:, n]
    path = np.zeros(n_frames, dtype=int)
    path[-1] = D[:, -1].argmax()
    for n in range(n_frames - 2, -1, -1):
        path[n] = E[path[n + 1], n]  # reads the pointers of the wrong frame
    return path


def _mean_of_pieces(references, estimates):
    return np.mean([mir_eval.chord.evaluate(r[0], r[1], e[0], e[1])["majmin"]
                    for r, e in zip(references, estimates, strict=True)])


def _counts_across(sequences, n_states, smoothing):
    counts = np.full((n_states, n_states), float(smoothing))
    for seq in sequences:
        for a, b in zip(seq[:-1], seq[1:], strict=True):
            counts[a, b] += 1
    return counts / counts.sum(axis=1, keepdims=True)


MISTAKES = [
    (checks.check_uniform_transitions, lambda n, p: uniform_transitions(n, p).T * 0 + (1 - p)
     / (n - 1), ["diagonal must hold self_prob"]),
    (checks.check_uniform_transitions, _uniform_div_n, ["n_states - 1"]),
    (checks.check_uniform_transitions, lambda n, p: uniform_transitions(n, 1 - p),
     ["STAY"]),
    (checks.check_count_transitions, lambda s, n, k: count_transitions(s, n, k).T,
     ["transposed"]),
    (checks.check_count_transitions, _counts_across, ["-1", "LAST state"]),
    (checks.check_count_transitions,
     lambda s, n, k: count_transitions(s, n, k) * 3.0, ["rows", "sum to 1"]),
    (checks.check_count_transitions, lambda s, n, k: count_transitions(s, n, 0.0),
     ["forgot the smoothing"]),
    (checks.check_viterbi, _viterbi_prob, ["underflow", "log"]),
    (checks.check_viterbi, _viterbi_off_by_one, ["off-by-one"]),
    (checks.check_viterbi, lambda B, A, p: viterbi(B, A.T, p), ["transposed"]),
    (checks.check_viterbi, lambda B, A, p: viterbi(B, A, 0 * p), ["initial"]),
    (checks.check_viterbi, lambda B, A, p: np.argmax(B, axis=0), ["transitions are missing"]),
    (checks.check_viterbi, lambda B, A, p: None, ["return"]),
    (checks.check_evaluation, _mean_of_pieces, ["mean of the per-piece scores"]),
]


@pytest.mark.parametrize("check, wrong, phrases", MISTAKES,
                         ids=[f"{m[0].__name__}-{i}" for i, m in enumerate(MISTAKES)])
def test_checks_name_typical_mistakes(check, wrong, phrases):
    with pytest.raises(LabCheckError) as info:
        check(wrong, verbose=False)
    for phrase in phrases:
        assert phrase in str(info.value), str(info.value)


def test_evaluation_check_names_unscored_segments_and_per_segment_means():
    refs, ests = checks.toy_pieces()

    def all_counted(references, estimates):
        c = t = 0.0
        for (ri, rl), (ei, el) in zip(references, estimates, strict=True):
            ei, el = mir_eval.util.adjust_intervals(ei, el, ri.min(), ri.max(), "N", "N")
            iv, r, e = mir_eval.util.merge_labeled_intervals(ri, rl, ei, el)
            d = iv[:, 1] - iv[:, 0]
            comp = mir_eval.chord.majmin(r, e)
            c, t = c + np.sum(d * (comp > 0)), t + d.sum()
        return c / t

    for wrong, phrase in [(all_counted, "does not score")]:
        with pytest.raises(LabCheckError, match=phrase):
            checks.check_evaluation(wrong, verbose=False, pairs=list(zip(refs, ests, strict=True)))
    # the toy case: piece 1 scores 2 of 9 seconds (B:dim unscored), piece 2 all 2 seconds
    assert evaluate_majmin(refs, ests) == pytest.approx(4 / 11)


# --- the notebook ---------------------------------------------------------------------------

# (both versions run in test_lab_notebooks.py)

def test_lab02_student_version_hides_the_key_lines():
    student, _ = student_notebook(nbformat.read(LAB02, as_version=4))
    code = "".join(c.source for c in student.cells if c.cell_type == "code")
    assert "counts[a, b] += 1" not in code and "E[path[n + 1], n + 1]" not in code
