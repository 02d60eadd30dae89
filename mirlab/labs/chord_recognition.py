"""Checks for lab 2, chord recognition (``labs/lab02_chord_recognition``).

Each ``check_*`` function calls a student's function on a few inputs, compares the result with
:mod:`mirlab.chords` (itself tested against librosa, libfmp and mir_eval), and raises
:class:`~mirlab.labs.LabCheckError` naming the input and, when the result equals the output of
a typical mistake (probabilities instead of log-probabilities, an off-by-one in the
backtracking, a transposed matrix, an average of per-piece scores, ...), that mistake.
"""

from __future__ import annotations

import numpy as np

from mirlab import chords
from mirlab.labs.core import LabCheckError, Mistake, compare, exercise

__all__ = [
    "check_uniform_transitions",
    "check_count_transitions",
    "check_viterbi",
    "check_evaluation",
    "toy_pieces",
]

LAB = "lab02"
_A_LAYOUT = "A[i, j] is the probability to go from state i to state j: each ROW sums to 1"


def _rows_hint(got, head: str) -> None:
    """Explain a transition matrix whose rows do not sum to 1."""
    got = np.asarray(got, dtype=float)
    if got.ndim != 2 or got.shape[0] != got.shape[1]:
        return
    rows = got.sum(axis=1)
    if np.allclose(rows, 1.0):
        return
    if np.allclose(got.sum(axis=0), 1.0):
        raise LabCheckError(f"{head} your columns sum to 1 but your rows do not: the matrix "
                            f"is transposed. {_A_LAYOUT}.")
    raise LabCheckError(f"{head} the rows of a transition matrix must sum to 1 (from any state "
                        f"the chain goes somewhere); yours sum to values between "
                        f"{rows.min():.4g} and {rows.max():.4g}. {_A_LAYOUT}.")


def _matches_any(arr, mistakes) -> bool:
    return arr is not None and any(
        m.output.shape == arr.shape and np.allclose(arr, m.output) for m in mistakes)


# --- exercise 1: a uniform transition matrix ------------------------------------------------

@exercise(LAB, "uniform_transitions")
def check_uniform_transitions(uniform_transitions):
    """Check ``uniform_transitions(n_states, self_prob)`` against :mod:`mirlab.chords`."""
    for n, p in [(24, 0.15), (3, 0.5), (24, 0.9)]:
        what = f"uniform_transitions({n}, {p})"
        got = uniform_transitions(n, p)
        expected = chords.uniform_transitions(n, p)
        wrong_div = np.full((n, n), (1 - p) / n)
        np.fill_diagonal(wrong_div, p)
        mistakes = [
            Mistake(chords.uniform_transitions(n, 1 - p), "the diagonal holds 1 - self_prob: "
                    "self_prob is the probability to STAY in the same state."),
            Mistake(np.full((n, n), (1 - p) / (n - 1)), "the diagonal must hold self_prob "
                    "(np.fill_diagonal(A, self_prob))."),
        ]
        arr = np.asarray(got, dtype=float) if got is not None else None
        if arr is not None and arr.shape == (n, n) and np.allclose(arr, wrong_div):
            raise LabCheckError(f"{what}: the other {n - 1} states share 1 - self_prob: divide "
                                f"by n_states - 1, not by n_states (your rows sum to "
                                f"{arr.sum(axis=1)[0]:.4g}).")
        if arr is not None and not _matches_any(arr, mistakes):
            _rows_hint(arr, f"{what}:")
        compare(got, expected, what=what, case=None, mistakes=mistakes, layout=_A_LAYOUT)


# --- exercise 2: transitions learned by counting --------------------------------------------

def _counted(sequences, n_states, smoothing, *, transpose=False, across=False, normalise=True):
    counts = np.zeros((n_states, n_states))
    for seq in sequences:
        s = np.asarray(seq)
        for a, b in zip(s[:-1], s[1:], strict=True):
            if (a < 0 or b < 0) and not across:
                continue
            counts[(b, a) if transpose else (a, b)] += 1
    counts = counts + smoothing
    if not normalise:
        return counts
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.full_like(counts, 1.0 / n_states),
                     where=totals > 0)


def _count_cases():
    rng = np.random.default_rng(2)
    seqs = [rng.integers(-1, 24, size=400) for _ in range(3)]
    return [
        ("one short sequence [0, 0, 1, 2, 0]", [np.array([0, 0, 1, 2, 0])], 3, 0.0),
        ("three random sequences over 24 states with -1 (outside the vocabulary)", seqs, 24,
         1.0),
        ("the same sequences with smoothing 0.5", seqs, 24, 0.5),
    ]


@exercise(LAB, "count_transitions")
def check_count_transitions(count_transitions):
    """Check ``count_transitions(sequences, n_states, smoothing)`` against
    :func:`mirlab.chords.learn_transitions` (without pooling transpositions)."""
    for case, seqs, n, smoothing in _count_cases():
        what = f"count_transitions(..., n_states={n}, smoothing={smoothing})"
        if n == 24:
            expected = chords.learn_transitions(seqs, n_states=24, smoothing=smoothing,
                                                transpose_invariant=False)
        else:
            expected = _counted(seqs, n, smoothing)
        got = count_transitions([s.copy() for s in seqs], n, smoothing)
        mistakes = [
            Mistake(_counted(seqs, n, smoothing, across=True), "you counted pairs that involve "
                    "the state -1 (a chord outside the vocabulary). Skip every pair where "
                    "either state is -1 (NumPy reads index -1 as the LAST state!)."),
            Mistake(_counted(seqs, n, smoothing, normalise=False), "these are the counts: "
                    "divide each row by its sum so that it becomes a probability distribution."),
            Mistake(_counted(seqs, n, 0.0), "you forgot the smoothing: add `smoothing` to "
                    "every cell before normalising."),
        ]
        arr = None if got is None else np.asarray(got, dtype=float)
        if arr is not None and not _matches_any(arr, mistakes):
            _rows_hint(arr, f"{what} on {case}:")
        compare(got, expected, what=what, case=case, mistakes=mistakes, layout=_A_LAYOUT)


# --- exercise 3: Viterbi --------------------------------------------------------------------

def _viterbi_variant(log_B, log_A, log_p0, *, prob=False, off_by_one=False, transpose=False,
                     no_init=False):
    """Reference Viterbi with one typical mistake switched on (for the hints)."""
    if transpose:
        log_A = log_A.T
    n_states, n_frames = log_B.shape
    D = np.empty((n_states, n_frames))
    E = np.zeros((n_states, n_frames), dtype=int)
    if prob:
        B, A = np.exp(log_B), np.exp(log_A)
        D[:, 0] = np.exp(log_p0) * B[:, 0]
        for n in range(1, n_frames):
            scores = D[:, n - 1][:, None] * A
            E[:, n] = np.argmax(scores, axis=0)
            D[:, n] = scores.max(axis=0) * B[:, n]
    else:
        D[:, 0] = log_B[:, 0] + (0.0 if no_init else log_p0)
        for n in range(1, n_frames):
            scores = D[:, n - 1][:, None] + log_A
            E[:, n] = np.argmax(scores, axis=0)
            D[:, n] = scores.max(axis=0) + log_B[:, n]
    path = np.empty(n_frames, dtype=int)
    path[-1] = np.argmax(D[:, -1])
    for n in range(n_frames - 2, -1, -1):
        path[n] = E[path[n + 1], n] if off_by_one else E[path[n + 1], n + 1]
    return path


def _random_hmm(n_states, n_frames, random_state, scale=1.0):
    rng = np.random.default_rng(random_state)
    A = rng.random((n_states, n_states)) ** 4 + np.eye(n_states) * 2
    A /= A.sum(axis=1, keepdims=True)
    B = rng.random((n_states, n_frames)) * scale
    p0 = rng.random(n_states) ** 4
    return np.log(B), np.log(A), np.log(p0 / p0.sum())


def _viterbi_cases():
    log_A = np.log([[0.9, 0.1], [0.1, 0.9]])
    log_B = np.log([[0.8, 0.4, 0.8, 0.1], [0.2, 0.6, 0.2, 0.9]])
    return [
        ("a two-state example (4 frames)", log_B, log_A, np.log([0.5, 0.5])),
        ("a random HMM (5 states, 60 frames, sticky transitions)", *_random_hmm(5, 60, 3)),
        ("a random HMM (24 states, 300 frames)", *_random_hmm(24, 300, 4)),
        ("a long random HMM (24 states, 3,000 frames, emission probabilities below 0.01)",
         *_random_hmm(24, 3000, 5, scale=0.01)),
    ]


@exercise(LAB, "viterbi")
def check_viterbi(viterbi):
    """Check ``viterbi(log_B, log_A, log_p0)`` against :func:`mirlab.chords.viterbi`."""
    for case, log_B, log_A, log_p0 in _viterbi_cases():
        what = "viterbi(log_B, log_A, log_p0)"
        expected = chords.viterbi(log_B, log_A, log_p0)
        with np.errstate(under="ignore"):
            prob = _viterbi_variant(log_B, log_A, log_p0, prob=True)
        mistakes = [
            Mistake(prob, "this is what a Viterbi in the probability domain returns: the "
                    "products of thousands of probabilities underflow to 0 and every path "
                    "looks equally (im)probable. Add log-probabilities instead of multiplying "
                    "probabilities."),
            Mistake(_viterbi_variant(log_B, log_A, log_p0, off_by_one=True), "off-by-one in "
                    "the backtracking: the best predecessor of the state at frame n + 1 is "
                    "stored at frame n + 1 (path[n] = E[path[n + 1], n + 1])."),
            Mistake(_viterbi_variant(log_B, log_A, log_p0, transpose=True), "you used the "
                    "transposed transition matrix: log_A[i, j] is the log-probability to go "
                    "FROM i TO j, so the scores of coming from i into j are D[i, n-1] + "
                    "log_A[i, j] (maximise over i, the rows)."),
            Mistake(_viterbi_variant(log_B, log_A, log_p0, no_init=True), "the first frame "
                    "must add the initial log-probabilities: D[:, 0] = log_p0 + log_B[:, 0]."),
            Mistake(np.argmax(log_B, axis=0), "this is the best state of every frame on its "
                    "own (template matching): the transitions are missing."),
        ]
        got = viterbi(log_B.copy(), log_A.copy(), log_p0.copy())
        arr = None if got is None else np.asarray(got)
        if arr is not None and arr.ndim == 2 and arr.shape == log_B.shape:
            raise LabCheckError(f"{what} on {case}: you returned a matrix of shape "
                                f"{arr.shape}; return the path, one state per frame "
                                f"(shape ({log_B.shape[1]},)).")
        compare(got, expected, what=what, case=case, mistakes=mistakes, rtol=0, atol=0,
                layout="the path holds one state index per frame")


# --- exercise 4: the evaluation loop --------------------------------------------------------

def toy_pieces():
    """Two small annotated 'pieces' with estimates: (references, estimates).

    Piece 1 (10 s) is half right; piece 2 (2 s) is all right; piece 1 also holds a beat with
    a diminished chord that majmin does not score. Used by :func:`check_evaluation`.
    """
    ref1 = (np.array([[0.0, 4.0], [4.0, 5.0], [5.0, 10.0]]), ["C:maj", "B:dim", "G:7"])
    est1 = (np.array([[0.0, 2.0], [2.0, 10.0]]), ["C:maj", "A:min"])
    ref2 = (np.array([[0.0, 1.0], [1.0, 2.0]]), ["A:min", "E:maj"])
    est2 = (np.array([[0.0, 1.0], [1.0, 2.5]]), ["A:min", "E:maj"])
    return [ref1, ref2], [est1, est2]


def _chorale_pairs():
    from mirlab import datasets

    pairs = []
    for pid in ("bach/bwv66.6",):
        rec = datasets.load_piece(pid)
        est = chords.ChordRecognizer().predict(rec.y, rec.sr)
        pairs.append(((rec.chords.intervals, rec.chords.labels), est))
    return pairs


def _eval_variants(refs, ests):
    import mir_eval

    pieces = [chords.score_piece(*r, *e, metrics=("majmin",))["majmin"]
              for r, e in zip(refs, ests, strict=True)]
    mean = float(np.mean([c / d for c, d in pieces]))
    all_counted, per_segment = [0.0, 0.0], []
    for r, e in zip(refs, ests, strict=True):
        iv, lr, le = _merge(r, e)
        d = np.diff(iv, axis=1)[:, 0]
        comp = mir_eval.chord.majmin(lr, le)
        all_counted[0] += float(np.sum(d * (comp > 0)))
        all_counted[1] += float(d.sum())
        per_segment += list(comp[comp >= 0])
    return mean, all_counted[0] / all_counted[1], float(np.mean(per_segment))


def _merge(ref, est):
    import mir_eval

    est_iv, est_lab = mir_eval.util.adjust_intervals(
        np.asarray(est[0]), est[1], ref[0].min(), ref[0].max(), "N", "N")
    return mir_eval.util.merge_labeled_intervals(ref[0], ref[1], est_iv, est_lab)


@exercise(LAB, "evaluation")
def check_evaluation(evaluate_majmin, pairs=None):
    """Check ``evaluate_majmin(references, estimates)``: duration-weighted majmin over pieces."""
    cases = [("two toy pieces (10 s and 2 s)", *toy_pieces())]
    if pairs is None:
        pairs = _chorale_pairs()
    cases.append(("a rendered chorale (template matching)", [p[0] for p in pairs],
                  [p[1] for p in pairs]))
    for case, refs, ests in cases:
        what = "evaluate_majmin(references, estimates)"
        expected = chords.aggregate_scores([chords.score_piece(*r, *e, metrics=("majmin",))
                                            for r, e in zip(refs, ests, strict=True)],
                                           metrics=("majmin",))["majmin"]
        mean, all_counted, per_segment = _eval_variants(refs, ests)
        mistakes = [
            Mistake(np.float64(mean), "this is the mean of the per-piece scores: a 2-second "
                    "piece then counts as much as a 10-second one. Add up the correct seconds "
                    "and the scored seconds over ALL pieces, then divide once."),
            Mistake(np.float64(all_counted), "you counted the segments that majmin does not "
                    "score (comparison -1, e.g. a diminished chord) as wrong: leave them out "
                    "of both sums."),
            Mistake(np.float64(per_segment), "you averaged over segments: weight each "
                    "comparison by the duration of its segment."),
        ]
        got = evaluate_majmin([(np.asarray(r[0]).copy(), list(r[1])) for r in refs],
                              [(np.asarray(e[0]).copy(), list(e[1])) for e in ests])
        compare(np.float64(got) if got is not None else None, np.float64(expected),
                what=what, case=case, mistakes=mistakes, rtol=1e-6, atol=1e-9,
                layout="a single number")
