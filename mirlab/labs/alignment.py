"""Checks for lab 7, alignment (``labs/lab07_alignment``).

Each ``check_*`` function calls a student's function on a few inputs, compares the result with
:mod:`mirlab.sequence` (DTW, soft-DTW and CTC, themselves tested against librosa, tslearn and
PyTorch), and raises :class:`~mirlab.labs.LabCheckError` naming the input and, when the result
shows a typical mistake, that mistake: borders of the accumulated cost off by one, the diagonal
predecessor missing, a path that stops at the border or runs backwards, the soft minimum's sign
or temperature inverted, an overflow without the log-sum-exp shift, repeated labels merged
without a blank between them, the blank at the wrong index.

The private ``_*_variant`` functions compute what each typical mistake returns (for the hints);
``tests/test_lab07.py`` holds their mistake-free settings equal to :mod:`mirlab.sequence`.
"""

from __future__ import annotations

import numpy as np
import scipy.special

from mirlab import sequence
from mirlab.labs.core import LabCheckError, Mistake, compare, exercise

__all__ = [
    "check_accumulated_cost",
    "check_backtrack",
    "check_softmin",
    "check_soft_dtw",
    "check_ctc_forward",
    "reference_accumulated_cost",
    "reference_path",
    "toy_cost",
]

LAB = "lab07"
_D_LAYOUT = "D[n, m] belongs to frame n of X (rows) and frame m of Y (columns), like C"
_PATH_LAYOUT = "the path holds one (n, m) pair per row: shape (L, 2), from (0, 0) to (N-1, M-1)"
_ALPHA_LAYOUT = ("log_alpha[s, t]: position s of the extended label sequence (rows) and frame t "
                 "(columns), shape (2 * len(target) + 1, n_frames), like log_probs[k, t]")
_NEG = -1e9  # -inf is shown (and compared) as this number


# --- the references (from mirlab.sequence) -------------------------------------------------

def reference_accumulated_cost(C) -> np.ndarray:
    """The accumulated cost ``D`` of :func:`mirlab.sequence.dtw` (shape of ``C``)."""
    D, _ = sequence.dtw(np.asarray(C, dtype=float))
    return np.asarray(D, dtype=float)


def reference_path(C) -> np.ndarray:
    """The optimal warping path of :func:`mirlab.sequence.dtw`, from (0, 0) to (N-1, M-1)."""
    _, path = sequence.dtw(np.asarray(C, dtype=float))
    path = np.asarray(path, dtype=int)
    if path.shape[0] == 2 and path.shape[1] != 2:
        path = path.T
    return path if tuple(path[0]) == (0, 0) else path[::-1]


def toy_cost() -> np.ndarray:
    """A 4 x 6 cost matrix with small integer costs (the example drawn in the lab)."""
    return np.array([[1, 5, 6, 7, 9, 9],
                     [6, 1, 1, 4, 8, 7],
                     [7, 4, 6, 1, 2, 6],
                     [9, 8, 7, 5, 3, 1]], dtype=float)


def _cosine_cost(random_state: int) -> np.ndarray:
    """Cosine distances between a random chroma sequence and a slower, noisy copy of it."""
    rng = np.random.default_rng(random_state)
    X = rng.random((12, 40)) ** 3
    idx = np.sort(rng.integers(0, 40, size=64))
    Y = X[:, idx] + 0.05 * rng.random((12, 64))
    X, Y = X / np.linalg.norm(X, axis=0), Y / np.linalg.norm(Y, axis=0)
    return 1.0 - X.T @ Y


def _dtw_cases():
    rng = np.random.default_rng(7)
    return [
        ("the 4 x 6 toy cost matrix", toy_cost()),
        ("a random 25 x 31 cost matrix", rng.random((25, 31))),
        ("the cosine cost of a chroma sequence and a slower copy (40 x 64)", _cosine_cost(1)),
        ("a single row (1 x 5)", rng.random((1, 5)) + 0.5),
    ]


# --- exercise 1: the accumulated cost ------------------------------------------------------

def _accumulate_variant(C, *, diagonal=True, borders="cumsum", reduce=min):
    """Plain DTW accumulation; the keywords switch on a typical mistake."""
    C = np.asarray(C, dtype=float)
    N, M = C.shape
    D = np.zeros((N, M))
    row, col = np.cumsum(C[0]), np.cumsum(C[:, 0])
    if borders == "plain":  # the borders never accumulate (a padding of zeros)
        row, col = C[0].copy(), C[:, 0].copy()
    elif borders == "shifted":  # each border cell adds the previous cost, not its own
        row = C[0, 0] + np.concatenate([[0.0], np.cumsum(C[0, :-1])])
        col = C[0, 0] + np.concatenate([[0.0], np.cumsum(C[:-1, 0])])
    D[0], D[:, 0] = row, col
    for n in range(1, N):
        for m in range(1, M):
            preds = [D[n - 1, m], D[n, m - 1]] + ([D[n - 1, m - 1]] if diagonal else [])
            D[n, m] = C[n, m] + reduce(preds)
    return D


def _border_hint(got, C, head: str) -> None:
    """Explain a first row or column that is not the running sum of the costs."""
    for axis, name, idx in ((0, "row", "D[0, m]"), (1, "column", "D[n, 0]")):
        g = got[0] if axis == 0 else got[:, 0]
        c = C[0] if axis == 0 else C[:, 0]
        want = np.cumsum(c)
        if np.allclose(g, want):
            continue
        if len(c) > 1 and np.allclose(g, c):
            raise LabCheckError(
                f"{head} your first {name} holds the costs themselves: it must accumulate, "
                f"{idx} = C[0, 0] + ... (the only path to a border cell runs along the border). "
                "With a padded array this happens when the extra row and column are 0: they "
                "must be infinite, only the corner D[0, 0] of the padding is 0.")
        shifted = c[0] + np.concatenate([[0.0], np.cumsum(c[:-1])])
        if len(c) > 1 and np.allclose(g, shifted):
            raise LabCheckError(
                f"{head} your first {name} is off by one: each border cell must add its own "
                f"cost ({idx} = {idx.replace('m]', 'm - 1]').replace('n, 0]', 'n - 1, 0]')} "
                "+ C at the same cell), yours adds the cost of the cell before.")
        if np.allclose(g, want - c[0]):
            raise LabCheckError(f"{head} D[0, 0] must be C[0, 0] (the path starts by paying "
                                "for its first cell); yours leaves it out.")
        bad = int(np.argmax(~np.isclose(g, want)))
        raise LabCheckError(
            f"{head} the first {name} must be the running sum of the costs along it; at "
            f"index {bad} yours is {g[bad]:.4g}, expected {want[bad]:.4g}.")


def _recursion_hint(got, C, head: str) -> None:
    """Find the first cell that does not follow the recursion from its own predecessors."""
    N, M = C.shape
    for n in range(1, N):
        for m in range(1, M):
            up, left, diag = got[n - 1, m], got[n, m - 1], got[n - 1, m - 1]
            want = C[n, m] + min(up, left, diag)
            if np.isclose(got[n, m], want):
                continue
            where = (f"at D[{n}, {m}] yours is {got[n, m]:.4g}, but C[{n}, {m}] + min(D[{n-1}, "
                     f"{m}], D[{n}, {m-1}], D[{n-1}, {m-1}]) = {want:.4g} (from your own D).")
            if np.isclose(got[n, m], C[n, m] + min(up, left)):
                raise LabCheckError(f"{head} the diagonal predecessor is missing: {where} "
                                    "A path may also step diagonally, from (n-1, m-1).")
            if np.isclose(got[n, m], C[n, m] + max(up, left, diag)):
                raise LabCheckError(f"{head} you took the maximum of the predecessors: {where}")
            if np.isclose(got[n, m], min(up, left, diag)):
                raise LabCheckError(f"{head} the cost of the cell itself is missing: {where}")
            if np.isclose(got[n, m], C[n - 1, m - 1] + min(up, left, diag)):
                raise LabCheckError(f"{head} you added the cost of cell (n-1, m-1): an index of "
                                    f"C is off by one. {where}")
            raise LabCheckError(f"{head} {where}")


@exercise(LAB, "accumulated_cost")
def check_accumulated_cost(accumulated_cost):
    """Check ``accumulated_cost(C)`` against :func:`mirlab.sequence.dtw`."""
    for case, C in _dtw_cases():
        what = "accumulated_cost(C)"
        head = f"{what} on {case}:"
        expected = reference_accumulated_cost(C)
        got = accumulated_cost(C.copy())
        mistakes = [
            Mistake(_accumulate_variant(C, diagonal=False), "the diagonal predecessor is "
                    "missing: D[n, m] = C[n, m] + min(D[n-1, m], D[n, m-1], D[n-1, m-1])."),
            Mistake(_accumulate_variant(C, borders="plain"), "your first row and column hold "
                    "the costs themselves: they must accumulate (a padded array needs an "
                    "infinite extra row and column, with 0 only in its corner)."),
            Mistake(_accumulate_variant(C, borders="shifted"), "the borders are off by one: "
                    "each border cell adds its own cost, D[0, m] = D[0, m-1] + C[0, m]."),
        ]
        arr = None if got is None else np.asarray(got, dtype=float)
        if arr is not None and arr.shape == (C.shape[0] + 1, C.shape[1] + 1):
            msg = (f"{head} your D has shape {arr.shape}, one row and column more than C "
                   f"{C.shape}: return the accumulated cost without the padding")
            if np.allclose(arr[1:, 1:], expected):
                msg += " (D_padded[1:, 1:]); its values are right"
            raise LabCheckError(msg + ".")
        if arr is not None and arr.shape == C.shape and not np.allclose(arr, expected):
            if not any(np.allclose(arr, m.output) for m in mistakes):
                _border_hint(arr, C, head)
                _recursion_hint(arr, C, head)
        compare(got, expected, what=what, case=case, mistakes=mistakes, layout=_D_LAYOUT,
                rtol=1e-6, atol=1e-8)


# --- exercise 2: backtracking --------------------------------------------------------------

_STEPS = {(1, 0), (0, 1), (1, 1)}


def _backtrack_variant(D, *, diagonal=True, stop_at_border=False):
    """Plain backtracking; the keywords switch on a typical mistake."""
    n, m = D.shape[0] - 1, D.shape[1] - 1
    path = [(n, m)]
    while (n, m) != (0, 0):
        if n == 0 or m == 0:
            if stop_at_border:
                break
            n, m = (n, m - 1) if n == 0 else (n - 1, m)
        else:
            cands = [(n - 1, m), (n, m - 1)] + ([(n - 1, m - 1)] if diagonal else [])
            n, m = min(cands, key=lambda c: D[c])
        path.append((n, m))
    return np.array(path[::-1])


def _path_hint(got, D, head: str) -> None:
    """Explain a path that is not a valid, optimal warping path through ``D``."""
    N, M = D.shape
    if got.ndim == 2 and got.shape[0] == 2 and got.shape[1] != 2:
        raise LabCheckError(f"{head} your path has shape {got.shape}: {_PATH_LAYOUT} "
                            "(stack the pairs as rows, e.g. np.array(list_of_pairs)).")
    if got.ndim != 2 or got.shape[1] != 2 or len(got) == 0:
        raise LabCheckError(f"{head} expected an array of shape (L, 2); got shape {got.shape}. "
                            f"{_PATH_LAYOUT}.")
    first, last = tuple(int(v) for v in got[0]), tuple(int(v) for v in got[-1])
    if first == (N - 1, M - 1) and last == (0, 0) and len(got) > 1:
        raise LabCheckError(f"{head} your path runs backwards, from (N-1, M-1) to (0, 0): "
                            "backtracking collects it from the end, so reverse it at the end "
                            "(path[::-1]). (librosa's dtw returns it reversed; here it runs "
                            "forwards.)")
    if last != (N - 1, M - 1):
        raise LabCheckError(f"{head} the path must end at (N-1, M-1) = ({N - 1}, {M - 1}); "
                            f"yours ends at {last}.")
    if first != (0, 0):
        raise LabCheckError(f"{head} the path must start at (0, 0); yours starts at {first}. "
                            "Did your loop stop when n or m reached 0? From there the path "
                            "continues along the border to (0, 0).")
    for i in range(len(got) - 1):
        step = tuple(int(v) for v in got[i + 1] - got[i])
        if step not in _STEPS:
            raise LabCheckError(f"{head} the step from {tuple(got[i])} to {tuple(got[i + 1])} "
                                "is not allowed: each step moves by (1, 0), (0, 1) or (1, 1).")
    for i in range(len(got) - 1, 0, -1):
        n, m = (int(v) for v in got[i])
        cands = [(a, b) for a, b in ((n - 1, m), (n, m - 1), (n - 1, m - 1)) if a >= 0 and b >= 0]
        best = min(cands, key=lambda c: D[c])
        prev = tuple(int(v) for v in got[i - 1])
        if not np.isclose(D[prev], D[best]):
            msg = (f"{head} at ({n}, {m}) your path comes from {prev} with D = {D[prev]:.4g}, "
                   f"but {best} has the smallest accumulated cost, {D[best]:.4g}.")
            if best == (n - 1, m - 1):
                msg += " Consider the diagonal predecessor too."
            raise LabCheckError(msg)


@exercise(LAB, "backtrack")
def check_backtrack(backtrack):
    """Check ``backtrack(D)`` against the path of :func:`mirlab.sequence.dtw`.

    A path that differs from the reference only where two predecessors tie is accepted (it
    is as good: its cost is also D[N-1, M-1]).
    """
    for case, C in _dtw_cases():
        what = "backtrack(D)"
        head = f"{what} on {case}:"
        D = reference_accumulated_cost(C)
        expected = reference_path(C)
        got = backtrack(D.copy())
        arr = None if got is None else np.asarray(got)
        if arr is not None and arr.dtype != object and np.issubdtype(arr.dtype, np.number):
            if arr.shape == expected.shape and np.array_equal(arr, expected):
                continue
            if arr.size and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
                _path_hint(np.round(arr).astype(int), D, head)
                continue  # a valid optimal path (ties broken differently)
        compare(got, expected, what=what, case=case, rtol=0, atol=0, layout=_PATH_LAYOUT)


# --- exercise 3: the soft minimum ----------------------------------------------------------

def _softmin_variant(a, b, c, gamma, *, kind="right"):
    """The soft minimum, or what a typical mistake computes instead."""
    v = np.array([a, b, c], dtype=float)
    with np.errstate(all="ignore"):
        if kind == "softmax":
            return float(gamma * scipy.special.logsumexp(v / gamma))
        if kind == "inner_sign":
            return float(-gamma * scipy.special.logsumexp(v / gamma))
        if kind == "outer_sign":
            return float(gamma * scipy.special.logsumexp(-v / gamma))
        if kind == "gamma_inverted":
            return float(-scipy.special.logsumexp(-v * gamma) / gamma)
        if kind == "unshifted":
            return float(-gamma * np.log(np.sum(np.exp(-v / gamma))))
        if kind == "hard":
            return float(v.min())
    return float(-gamma * scipy.special.logsumexp(-v / gamma))


def _softmin_cases():
    return [
        ("(1, 2, 3) with gamma = 1", (1.0, 2.0, 3.0, 1.0)),
        ("(3, 1, 2) with gamma = 0.5", (3.0, 1.0, 2.0, 0.5)),
        ("(1, 2, 3) with gamma = 10", (1.0, 2.0, 3.0, 10.0)),
        ("(inf, 4, inf) with gamma = 1 (a border cell)", (np.inf, 4.0, np.inf, 1.0)),
        ("(800, 801, 802) with gamma = 1 (large accumulated costs)", (800.0, 801.0, 802.0, 1.0)),
        ("(-50, -49, -48) with gamma = 0.05", (-50.0, -49.0, -48.0, 0.05)),
    ]


_SOFTMIN_HINTS = {
    "softmax": "this is a soft MAXIMUM, gamma * log sum exp(+v / gamma): the soft minimum "
               "negates twice, -gamma * log sum exp(-v / gamma).",
    "inner_sign": "the sign inside the exponential is wrong: exp(-v / gamma), not "
                  "exp(v / gamma) (your value is near minus the maximum).",
    "outer_sign": "the sign in front is wrong: -gamma * log sum exp(-v / gamma) (your value "
                  "is near minus the minimum).",
    "gamma_inverted": "gamma is inverted: divide the values by gamma inside the exponential "
                      "and multiply the logarithm by gamma, -gamma * log sum exp(-v / gamma).",
    "hard": "you returned the hard minimum: the soft minimum smooths it, -gamma * log sum "
            "exp(-v / gamma), which is slightly below min(v) and approaches it as gamma -> 0.",
}


@exercise(LAB, "softmin")
def check_softmin(softmin):
    """Check ``softmin(a, b, c, gamma)`` against :func:`mirlab.sequence.softmin`."""
    for case, (a, b, c, gamma) in _softmin_cases():
        what = "softmin(a, b, c, gamma)"
        head = f"{what} on {case}:"
        expected = float(sequence.softmin(a, b, c, gamma))
        with np.errstate(all="ignore"):
            got = softmin(a, b, c, gamma)
        arr = None if got is None else np.asarray(got, dtype=float)
        if arr is not None and arr.size == 1 and not np.isfinite(arr.item()):
            if not np.isfinite(_softmin_variant(a, b, c, gamma, kind="unshifted")):
                raise LabCheckError(
                    f"{head} your result is {arr.item()}, expected {expected:.6g}. The "
                    "exponentials under- or overflow (exp(-800) is 0.0 in floating point): "
                    "shift by the minimum first, softmin = min(v) - gamma * log sum "
                    "exp(-(v - min(v)) / gamma), the log-sum-exp trick.")
        mistakes = [Mistake(np.float64(_softmin_variant(a, b, c, gamma, kind=k)), hint)
                    for k, hint in _SOFTMIN_HINTS.items()]
        compare(_scalar(arr, head), np.float64(expected), what=what, case=case,
                mistakes=mistakes, rtol=1e-7, atol=1e-9, layout="a single number")


# --- exercise 4: the value of soft-DTW -----------------------------------------------------

def _soft_dtw_variant(C, gamma, *, diagonal=True, borders="inf", smin="right", padded_off=False):
    """Plain soft-DTW value; the keywords switch on a typical mistake."""
    C = np.asarray(C, dtype=float)
    N, M = C.shape
    R = np.full((N + 1, M + 1), np.inf)
    if borders == "zero":
        R[0, :] = R[:, 0] = 0.0
    R[0, 0] = 0.0
    for n in range(1, N + 1):
        for m in range(1, M + 1):
            diag = R[n - 1, m - 1] if diagonal else np.inf
            R[n, m] = C[n - 1, m - 1] + _softmin_variant(R[n - 1, m], R[n, m - 1], diag, gamma,
                                                         kind=smin)
    return float(R[N - 1, M - 1] if padded_off else R[N, M])


def _soft_dtw_cases():
    rng = np.random.default_rng(11)
    return [
        ("the 4 x 6 toy cost matrix, gamma = 1", toy_cost(), 1.0),
        ("a random 20 x 26 cost matrix, gamma = 0.1", rng.random((20, 26)), 0.1),
        ("the same matrix, gamma = 10", rng.random((20, 26)), 10.0),
        ("a chroma cosine cost times 100 (40 x 64), gamma = 0.1", 100 * _cosine_cost(2), 0.1),
    ]


@exercise(LAB, "soft_dtw")
def check_soft_dtw(soft_dtw):
    """Check ``soft_dtw(C, gamma)`` against :func:`mirlab.sequence.soft_dtw`."""
    for case, C, gamma in _soft_dtw_cases():
        what = "soft_dtw(C, gamma)"
        head = f"{what} on {case}:"
        expected = float(sequence.soft_dtw(C, gamma))
        with np.errstate(all="ignore"):
            got = soft_dtw(C.copy(), gamma)
        arr = None if got is None else np.asarray(got, dtype=float)
        if arr is not None and arr.ndim == 2:
            msg = f"{head} you returned a matrix of shape {arr.shape}; return the value, a float"
            if arr.size and np.isclose(arr[-1, -1], expected):
                msg += " (its last cell, R[N, M] of the padded array)"
            raise LabCheckError(msg + ".")
        if arr is not None and arr.size == 1 and not np.isfinite(arr.item()):
            msg = f"{head} your value is {arr.item()}, expected {expected:.6g}."
            if np.isfinite(_soft_dtw_variant(C, gamma, smin="unshifted")):
                raise LabCheckError(
                    f"{msg} Every path starts with the diagonal step from R[0, 0] = 0 to R[1, "
                    "1] (its other predecessors are the infinite padding): is the diagonal "
                    "predecessor R[n-1, m-1] in your soft minimum? And does your softmin "
                    "return inf (not NaN) when all three values are inf?")
            raise LabCheckError(
                f"{msg} With costs in the hundreds the exponentials in the soft minimum "
                "underflow to 0: use the log-sum-exp shift (subtract the minimum before "
                "exponentiating).")
        mistakes = [
            Mistake(np.float64(_soft_dtw_variant(C, gamma, diagonal=False)), "the diagonal "
                    "predecessor is missing: R[n, m] = C + softmin(R[n-1, m], R[n, m-1], "
                    "R[n-1, m-1]) (the third term is the diagonal, not R[n, m] itself)."),
            Mistake(np.float64(_soft_dtw_variant(C, gamma, borders="zero")), "the padding row "
                    "and column must be infinite (only R[0, 0] = 0): with zeros the path may "
                    "start anywhere on the border."),
            Mistake(np.float64(_soft_dtw_variant(C, gamma, padded_off=True)), "off by one: in "
                    "the padded (N+1) x (M+1) array the value is R[N, M] (R[-1, -1]), not "
                    "R[N-1, M-1]."),
            Mistake(np.float64(_soft_dtw_variant(C, gamma, smin="hard")), "this is the DTW "
                    "value (a hard minimum): use your soft minimum with gamma in the recursion."),
            Mistake(np.float64(_soft_dtw_variant(C, gamma, smin="softmax")), "you used a soft "
                    "maximum: see the softmin exercise."),
        ]
        compare(_scalar(arr, head), np.float64(expected), what=what, case=case, mistakes=mistakes,
                rtol=1e-7, atol=1e-9, layout="a single number")


# --- exercise 5: the CTC forward recursion -------------------------------------------------

def _extended(target, blank, *, ends=True):
    ext = []
    for label in target:
        ext += [blank, int(label)]
    return ext + [blank] if ends else ext[1:]


def _ctc_variant(log_probs, target, blank, *, skip="distinct", ends=True, init="two",
                 lse="stable"):
    """Plain CTC forward variables in log space; the keywords switch on a typical mistake.

    ``log_probs`` has shape (n_classes, n_frames); returns ``log_alpha`` of shape
    (2 * len(target) + 1, n_frames).
    """
    lp = np.asarray(log_probs, dtype=float).T
    ext = _extended(target, blank, ends=ends)
    T, S = lp.shape[0], len(ext)
    alpha = np.full((T, S), -np.inf)
    first = range(S) if init == "all" else range(min(2, S))
    for s in first:
        alpha[0, s] = lp[0, ext[s]]
    for t in range(1, T):
        for s in range(S):
            terms = [alpha[t - 1, s]]
            if s >= 1:
                terms.append(alpha[t - 1, s - 1])
            may_skip = s >= 2 and ext[s] != blank and (skip == "merged" or ext[s] != ext[s - 2])
            if may_skip and skip != "never":
                terms.append(alpha[t - 1, s - 2])
            with np.errstate(divide="ignore", under="ignore"):
                total = (np.log(np.sum(np.exp(terms))) if lse == "unstable"
                         else scipy.special.logsumexp(terms))
            alpha[t, s] = total + lp[t, ext[s]]
    return alpha.T


def _log_softmax(x):
    """Log-probabilities over the classes (axis 0) of scores shaped (n_classes, n_frames)."""
    return x - scipy.special.logsumexp(x, axis=0, keepdims=True)


def _ctc_cases():
    rng = np.random.default_rng(5)
    return [
        ("4 frames, 3 classes, target [1, 2], blank 0", _log_softmax(rng.normal(size=(3, 4))),
         [1, 2], 0),
        ("12 frames, target [1, 1, 2] (a repeated label), blank 0",
         _log_softmax(rng.normal(size=(4, 12))), [1, 1, 2], 0),
        ("30 frames, 13 classes (12 pitch classes + blank 12), target [7, 7, 3, 5, 5, 5, 2]",
         _log_softmax(2 * rng.normal(size=(13, 30))), [7, 7, 3, 5, 5, 5, 2], 12),
        ("4 frames, target [2, 2, 2]: infeasible, the repeats need blanks between them",
         _log_softmax(rng.normal(size=(3, 4))), [2, 2, 2], 0),
        ("400 frames, 13 classes, blank 12, target of 20 labels (tiny path probabilities)",
         _log_softmax(3 * rng.normal(size=(13, 400))), list(rng.integers(0, 12, size=20)), 12),
    ]


def _scalar(arr, head: str):
    """The student's result as one float (None stays None, for compare's message)."""
    if arr is None:
        return None
    if arr.size != 1:
        raise LabCheckError(f"{head} return a single number; got an array of shape {arr.shape}.")
    return np.float64(arr.item())


def _clip(a):
    a = np.asarray(a, dtype=float)
    return np.where(np.isneginf(a), _NEG, a)


@exercise(LAB, "ctc_forward")
def check_ctc_forward(ctc_forward):
    """Check ``ctc_forward(log_probs, target, blank)`` against :func:`mirlab.sequence.ctc_forward`.

    -inf (a state that cannot be reached) is compared and shown as -1e9.
    """
    for case, lp, target, blank in _ctc_cases():
        what = f"ctc_forward(log_probs, target, blank={blank})"
        head = f"{what} on {case}:"
        expected = np.asarray(sequence.ctc_forward(lp, np.asarray(target), blank=blank))
        with np.errstate(all="ignore"):
            got = ctc_forward(lp.copy(), list(target), blank)
        arr = None if got is None else np.asarray(got, dtype=float)
        wrong_blank = 0 if blank != 0 else lp.shape[0] - 1
        mistakes = [
            Mistake(_clip(_ctc_variant(lp, target, blank, skip="merged")), "a repeated label "
                    "was merged: the skip from s-2 to s is allowed only when ext[s] is not the "
                    "blank AND differs from ext[s-2]; between two equal labels the path must "
                    "visit a blank (else 'A A' would collapse to 'A')."),
            Mistake(_clip(_ctc_variant(lp, target, wrong_blank)), f"the blank is class "
                    f"{blank} here (the `blank` argument), not class {wrong_blank}."),
            Mistake(_clip(_ctc_variant(lp, target, blank, skip="never")), "the skips are "
                    "missing: from ext[s-2] a path may jump over a blank to a different label "
                    "(log_alpha[s, t] adds log_alpha[s-2, t-1] then)."),
            Mistake(_clip(_ctc_variant(lp, target, blank, init="all")), "only the first two "
                    "states can start a path (the leading blank and the first label): "
                    "log_alpha[s, 0] = -inf for s >= 2."),
        ]
        if arr is not None and arr.ndim == 2 and arr.shape == (2 * len(target) - 1, lp.shape[1]):
            raise LabCheckError(f"{head} your extended sequence has {arr.shape[0]} states; it "
                                f"needs 2 * len(target) + 1 = {2 * len(target) + 1}: a blank "
                                "before, between and after the labels.")
        if arr is not None and arr.ndim == 2 and arr.shape == expected.shape:
            fell = np.isneginf(arr) & np.isfinite(expected) | np.isnan(arr)
            if fell.any() and not any(np.allclose(_clip(arr), m.output) for m in mistakes):
                t = int(np.argwhere(fell)[:, 1].min())
                raise LabCheckError(
                    f"{head} from frame {t} on some of your values are -inf or NaN where the "
                    "path probabilities are tiny but not zero. Sum probabilities in log "
                    "space with a stable log-sum-exp (np.logaddexp or "
                    "scipy.special.logsumexp), never through np.exp of the log-values.")
        compare(None if arr is None else _clip(arr), _clip(expected), what=what, case=case,
                mistakes=mistakes, rtol=1e-7, atol=1e-6, layout=_ALPHA_LAYOUT)
