"""Tests of lab 7 (alignment): the checks pass plain solutions and name typical mistakes (the
notebook in both versions: test_lab_notebooks.py)."""

from __future__ import annotations

import nbformat
import numpy as np
import pytest
import scipy.special
from nbtools import REPO

from mirlab import labs, sequence
from mirlab.labs import LabCheckError
from mirlab.labs import alignment as checks
from mirlab.labs.student import student_notebook

LAB07 = REPO / "labs" / "lab07_alignment.ipynb"


# --- plain solutions, as a student would write them ----------------------------------------

def accumulated_cost(C):
    N, M = C.shape
    D = np.zeros((N, M))
    D[0, 0] = C[0, 0]
    for n in range(1, N):
        D[n, 0] = D[n - 1, 0] + C[n, 0]
    for m in range(1, M):
        D[0, m] = D[0, m - 1] + C[0, m]
    for n in range(1, N):
        for m in range(1, M):
            D[n, m] = C[n, m] + min(D[n - 1, m], D[n, m - 1], D[n - 1, m - 1])
    return D


def accumulated_cost_padded(C):
    N, M = C.shape
    D = np.full((N + 1, M + 1), np.inf)
    D[0, 0] = 0.0
    for n in range(1, N + 1):
        for m in range(1, M + 1):
            D[n, m] = C[n - 1, m - 1] + min(D[n - 1, m], D[n, m - 1], D[n - 1, m - 1])
    return D[1:, 1:]


def backtrack(D):
    n, m = D.shape[0] - 1, D.shape[1] - 1
    path = [(n, m)]
    while n > 0 or m > 0:
        if n == 0:
            m -= 1
        elif m == 0:
            n -= 1
        else:
            n, m = min([(n - 1, m - 1), (n - 1, m), (n, m - 1)], key=lambda c: D[c])
        path.append((n, m))
    return np.array(path[::-1])


def backtrack_other_ties(D):
    """Prefers the vertical step on ties (another valid choice)."""
    n, m = D.shape[0] - 1, D.shape[1] - 1
    path = [(n, m)]
    while n > 0 or m > 0:
        if n == 0:
            m -= 1
        elif m == 0:
            n -= 1
        else:
            n, m = min([(n - 1, m), (n, m - 1), (n - 1, m - 1)], key=lambda c: D[c])
        path.append((n, m))
    return path[::-1]  # a list of tuples is fine too


def softmin(a, b, c, gamma):
    v = np.array([a, b, c])
    lo = v.min()
    return lo - gamma * np.log(np.sum(np.exp(-(v - lo) / gamma)))


def soft_dtw(C, gamma):
    N, M = C.shape
    R = np.full((N + 1, M + 1), np.inf)
    R[0, 0] = 0.0
    for n in range(1, N + 1):
        for m in range(1, M + 1):
            R[n, m] = C[n - 1, m - 1] + softmin(R[n - 1, m], R[n, m - 1], R[n - 1, m - 1],
                                                gamma)
    return R[N, M]


def ctc_forward(log_probs, target, blank):
    ext = [blank]
    for label in target:
        ext += [label, blank]
    S, T = len(ext), log_probs.shape[1]
    alpha = np.full((S, T), -np.inf)
    alpha[0, 0] = log_probs[ext[0], 0]
    alpha[1, 0] = log_probs[ext[1], 0]
    for t in range(1, T):
        for s in range(S):
            a = alpha[s, t - 1]
            if s >= 1:
                a = np.logaddexp(a, alpha[s - 1, t - 1])
            if s >= 2 and ext[s] != blank and ext[s] != ext[s - 2]:
                a = np.logaddexp(a, alpha[s - 2, t - 1])
            alpha[s, t] = a + log_probs[ext[s], t]
    return alpha


SOLUTIONS = [(checks.check_accumulated_cost, accumulated_cost, "accumulated_cost"),
             (checks.check_backtrack, backtrack, "backtrack"),
             (checks.check_softmin, softmin, "softmin"),
             (checks.check_soft_dtw, soft_dtw, "soft_dtw"),
             (checks.check_ctc_forward, ctc_forward, "ctc_forward")]


@pytest.mark.parametrize("check, solution, name", SOLUTIONS, ids=[s[2] for s in SOLUTIONS])
def test_checks_pass_plain_solutions(check, solution, name, capsys):
    assert check(solution)
    assert f"✓ {name}: passed" in capsys.readouterr().out


@pytest.mark.parametrize("check, solution", [
    (checks.check_accumulated_cost, accumulated_cost_padded),
    (checks.check_backtrack, backtrack_other_ties),
    (checks.check_soft_dtw, lambda C, g: float(sequence.soft_dtw_fast(C, g))),
])
def test_checks_pass_other_correct_solutions(check, solution):
    assert check(solution, verbose=False)


def test_exercises_are_registered_in_order():
    assert labs.exercises_of("lab07") == [s[2] for s in SOLUTIONS]


def test_the_mistake_free_variants_equal_the_references():
    """The variants that produce the mistakes' outputs are right with every mistake off."""
    for _, C in checks._dtw_cases():
        D = checks.reference_accumulated_cost(C)
        np.testing.assert_allclose(checks._accumulate_variant(C), D)
        np.testing.assert_allclose(accumulated_cost(C), D)
        path = checks.reference_path(C)
        assert np.sum(C[path[:, 0], path[:, 1]]) == pytest.approx(D[-1, -1])
        np.testing.assert_array_equal(checks._backtrack_variant(D), backtrack(D))
    for _, (a, b, c, g) in checks._softmin_cases():
        assert checks._softmin_variant(a, b, c, g) == pytest.approx(sequence.softmin(a, b, c, g))
    for _, C, g in checks._soft_dtw_cases():
        assert checks._soft_dtw_variant(C, g) == pytest.approx(sequence.soft_dtw(C, g))
    for _, lp, target, blank in checks._ctc_cases():
        ref = sequence.ctc_forward(lp, np.asarray(target), blank=blank)
        np.testing.assert_allclose(checks._clip(checks._ctc_variant(lp, target, blank)),
                                   checks._clip(ref), rtol=1e-9, atol=1e-9)


def test_ctc_cases_hold_the_infeasible_case_and_a_long_one():
    cases = checks._ctc_cases()
    ends = [checks._ctc_variant(lp, t, b)[-2:, -1] for _, lp, t, b in cases]
    assert any(np.all(np.isneginf(e)) for e in ends)  # infeasible: the loss is infinite
    lp, t, b = cases[-1][1:]
    with np.errstate(under="ignore"):  # the probability domain underflows on the long case
        assert np.exp(scipy.special.logsumexp(ends[-1])) == 0.0


# --- typical mistakes -----------------------------------------------------------------------

def _acc_no_diagonal(C):
    D = accumulated_cost(C)
    for n in range(1, C.shape[0]):
        for m in range(1, C.shape[1]):
            D[n, m] = C[n, m] + min(D[n - 1, m], D[n, m - 1])
    return D


def _acc_zero_padding(C):
    N, M = C.shape
    D = np.zeros((N + 1, M + 1))
    for n in range(1, N + 1):
        for m in range(1, M + 1):
            D[n, m] = C[n - 1, m - 1] + min(D[n - 1, m], D[n, m - 1], D[n - 1, m - 1])
    return D[1:, 1:]


def _acc_shifted_borders(C):
    D = accumulated_cost(C)
    D[0, 1:] = C[0, 0] + np.cumsum(C[0, :-1])
    D[1:, 0] = C[0, 0] + np.cumsum(C[:-1, 0])
    for n in range(1, C.shape[0]):
        for m in range(1, C.shape[1]):
            D[n, m] = C[n, m] + min(D[n - 1, m], D[n, m - 1], D[n - 1, m - 1])
    return D


def _acc_padded_returned(C):
    N, M = C.shape
    D = np.full((N + 1, M + 1), np.inf)
    D[0, 0] = 0.0
    D[1:, 1:] = accumulated_cost(C)
    return D


def _acc_max(C):
    D = accumulated_cost(C)
    for n in range(1, C.shape[0]):
        for m in range(1, C.shape[1]):
            D[n, m] = C[n, m] + max(D[n - 1, m], D[n, m - 1], D[n - 1, m - 1])
    return D


def _acc_no_corner(C):
    D = accumulated_cost(C) - C[0, 0]
    return D


def _acc_last_row_missing(C):
    D = accumulated_cost(C)
    if C.shape[0] > 1 and C.shape[1] > 1:
        D[-1, 1:] = 0.0
    return D


def _bt_stop_at_border(D):
    n, m = D.shape[0] - 1, D.shape[1] - 1
    path = [(n, m)]
    while n > 0 and m > 0:
        n, m = min([(n - 1, m - 1), (n - 1, m), (n, m - 1)], key=lambda c: D[c])
        path.append((n, m))
    return np.array(path[::-1])


def _bt_no_diagonal(D):
    n, m = D.shape[0] - 1, D.shape[1] - 1
    path = [(n, m)]
    while n > 0 or m > 0:
        if n == 0:
            m -= 1
        elif m == 0:
            n -= 1
        else:
            n, m = min([(n - 1, m), (n, m - 1)], key=lambda c: D[c])
        path.append((n, m))
    return np.array(path[::-1])


def _bt_argmax(D):
    n, m = D.shape[0] - 1, D.shape[1] - 1
    path = [(n, m)]
    while n > 0 or m > 0:
        if n == 0:
            m -= 1
        elif m == 0:
            n -= 1
        else:
            n, m = max([(n - 1, m - 1), (n - 1, m), (n, m - 1)], key=lambda c: D[c])
        path.append((n, m))
    return np.array(path[::-1])


def _softmin_unshifted(a, b, c, gamma):
    v = np.array([a, b, c])
    return -gamma * np.log(np.sum(np.exp(-v / gamma)))


def _softmin_softmax(a, b, c, gamma):
    return gamma * scipy.special.logsumexp(np.array([a, b, c]) / gamma)


def _softmin_inner_sign(a, b, c, gamma):
    return -gamma * scipy.special.logsumexp(np.array([a, b, c]) / gamma)


def _softmin_gamma_inverted(a, b, c, gamma):
    return -scipy.special.logsumexp(-np.array([a, b, c]) * gamma) / gamma


def _sdtw(C, gamma, *, smin=softmin, diagonal=True, zero=False, value=lambda R: R[-1, -1]):
    N, M = C.shape
    R = np.full((N + 1, M + 1), np.inf)
    if zero:
        R[0, :] = R[:, 0] = 0.0
    R[0, 0] = 0.0
    for n in range(1, N + 1):
        for m in range(1, M + 1):
            diag = R[n - 1, m - 1] if diagonal else np.inf
            R[n, m] = C[n - 1, m - 1] + smin(R[n - 1, m], R[n, m - 1], diag, gamma)
    return value(R)


def _ctc(log_probs, target, blank, *, merge=False, skip=True, ends=True, domain="log",
         init_all=False):
    return _ctc_frames_first(log_probs.T, target, blank, merge=merge, skip=skip, ends=ends,
                             domain=domain, init_all=init_all).T


def _ctc_frames_first(log_probs, target, blank, *, merge, skip, ends, domain, init_all):
    ext = []
    for label in target:
        ext += [blank, label]
    ext = ext + [blank] if ends else ext[1:]
    T, S = log_probs.shape[0], len(ext)
    if domain == "prob":
        probs = np.exp(log_probs)
        alpha = np.zeros((T, S))
        alpha[0, :2] = probs[0, ext[:2]]
        for t in range(1, T):
            for s in range(S):
                a = alpha[t - 1, s] + (alpha[t - 1, s - 1] if s >= 1 else 0.0)
                if s >= 2 and ext[s] != blank and ext[s] != ext[s - 2]:
                    a += alpha[t - 1, s - 2]
                alpha[t, s] = a * probs[t, ext[s]]
        with np.errstate(divide="ignore"):
            return np.log(alpha)
    alpha = np.full((T, S), -np.inf)
    for s in range(S if init_all else 2):
        alpha[0, s] = log_probs[0, ext[s]]
    for t in range(1, T):
        for s in range(S):
            terms = [alpha[t - 1, s]] + ([alpha[t - 1, s - 1]] if s >= 1 else [])
            if skip and s >= 2 and ext[s] != blank and (merge or ext[s] != ext[s - 2]):
                terms.append(alpha[t - 1, s - 2])
            if domain == "unstable":
                with np.errstate(divide="ignore"):
                    alpha[t, s] = np.log(np.sum(np.exp(terms))) + log_probs[t, ext[s]]
            else:
                alpha[t, s] = scipy.special.logsumexp(terms) + log_probs[t, ext[s]]
    return alpha


MISTAKES = [
    (checks.check_accumulated_cost, _acc_no_diagonal, ["diagonal predecessor is missing"]),
    (checks.check_accumulated_cost, _acc_zero_padding, ["must accumulate"]),
    (checks.check_accumulated_cost, _acc_shifted_borders, ["off by one"]),
    (checks.check_accumulated_cost, _acc_padded_returned, ["one row and column more",
                                                           "values are right"]),
    (checks.check_accumulated_cost, _acc_max, ["maximum"]),
    (checks.check_accumulated_cost, _acc_no_corner, ["D[0, 0] must be C[0, 0]"]),
    (checks.check_accumulated_cost, _acc_last_row_missing, ["at D[3, 1]"]),
    (checks.check_accumulated_cost, lambda C: accumulated_cost(C).T, ["transposed"]),
    (checks.check_accumulated_cost, lambda C: None, ["return"]),
    (checks.check_backtrack, lambda D: backtrack(D)[::-1], ["backwards", "path[::-1]"]),
    (checks.check_backtrack, _bt_stop_at_border, ["must start at (0, 0)", "border"]),
    (checks.check_backtrack, _bt_no_diagonal, ["diagonal predecessor"]),
    (checks.check_backtrack, _bt_argmax, ["smallest accumulated cost"]),
    (checks.check_backtrack, lambda D: backtrack(D).T, ["shape (2,"]),
    (checks.check_backtrack, lambda D: backtrack(D)[1:], ["must start at (0, 0)"]),
    (checks.check_softmin, _softmin_unshifted, ["log-sum-exp"]),
    (checks.check_softmin, _softmin_softmax, ["soft MAXIMUM"]),
    (checks.check_softmin, _softmin_inner_sign, ["sign inside the exponential"]),
    (checks.check_softmin, lambda a, b, c, g: g * scipy.special.logsumexp(-np.array([a, b, c]) / g),
     ["sign in front"]),
    (checks.check_softmin, _softmin_gamma_inverted, ["gamma is inverted"]),
    (checks.check_softmin, lambda a, b, c, g: min(a, b, c), ["hard minimum"]),
    (checks.check_soft_dtw, lambda C, g: _sdtw(C, g, diagonal=False), ["diagonal"]),
    (checks.check_soft_dtw, lambda C, g: _sdtw(C, g, zero=True), ["infinite"]),
    (checks.check_soft_dtw, lambda C, g: _sdtw(C, g, value=lambda R: R[-2, -2]),
     ["off by one", "R[N, M]"]),
    (checks.check_soft_dtw, lambda C, g: _sdtw(C, g, smin=lambda a, b, c, _: min(a, b, c)),
     ["DTW value"]),
    (checks.check_soft_dtw, lambda C, g: _sdtw(C, g, smin=_softmin_unshifted),
     ["log-sum-exp shift"]),
    (checks.check_soft_dtw, lambda C, g: _sdtw(C, g, value=lambda R: R), ["matrix"]),
    (checks.check_ctc_forward, lambda lp, t, b: _ctc(lp, t, b, merge=True), ["merged"]),
    (checks.check_ctc_forward, lambda lp, t, b: _ctc(lp, t, 0), ["the blank is class 12"]),
    (checks.check_ctc_forward, lambda lp, t, b: _ctc(lp, t, lp.shape[0] - 1),
     ["the blank is class 0"]),
    (checks.check_ctc_forward, lambda lp, t, b: _ctc(lp, t, b, skip=False), ["skips"]),
    (checks.check_ctc_forward, lambda lp, t, b: _ctc(lp, t, b, init_all=True),
     ["first two states"]),
    (checks.check_ctc_forward, lambda lp, t, b: _ctc(lp, t, b, domain="prob"), ["log space"]),
    (checks.check_ctc_forward, lambda lp, t, b: _ctc(lp, t, b, domain="unstable"),
     ["log-sum-exp"]),
    (checks.check_ctc_forward, lambda lp, t, b: _ctc(lp, t, b, ends=False),
     ["2 * len(target) + 1"]),
    (checks.check_ctc_forward, lambda lp, t, b: _ctc(lp, t, b).T, ["transposed"]),
]


@pytest.mark.parametrize("check, wrong, phrases", MISTAKES,
                         ids=[f"{m[0].__name__}-{i}" for i, m in enumerate(MISTAKES)])
def test_checks_name_typical_mistakes(check, wrong, phrases):
    with pytest.raises(LabCheckError) as info:
        check(wrong, verbose=False)
    for phrase in phrases:
        assert phrase in str(info.value), str(info.value)


# --- the notebook ---------------------------------------------------------------------------

# (both versions run in test_lab_notebooks.py)

def test_lab07_student_version_hides_the_key_lines():
    student, _ = student_notebook(nbformat.read(LAB07, as_version=4))
    code = "".join(c.source for c in student.cells if c.cell_type == "code")
    for line in ("D[n - 1, m - 1])", "ext[s] != ext[s - 2]", "np.exp(-(values - lowest)"):
        assert line not in code
