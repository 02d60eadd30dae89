"""Hidden Markov models for chord sequences: transition matrices, Viterbi, forward-backward.

Conventions (those of librosa and libfmp): ``A[i, j]`` is the probability to go from state
``i`` to state ``j`` (each row sums to 1); emissions are given per state and frame as an array
shaped ``(n_states, n_frames)``; everything is computed in the log domain, where products of
thousands of probabilities become sums instead of underflowing to 0 :cite:`Rabiner1989hmm`.

Taught in ``notebooks/02_chord_recognition.ipynb``.
"""

from __future__ import annotations

import numbers

import numba
import numpy as np
import scipy.special

from mirlab._checks import check_positive, check_positive_int

__all__ = [
    "uniform_transitions",
    "circle_of_fifths_transitions",
    "learn_transitions",
    "viterbi",
    "viterbi_fast",
    "forward_backward",
]


def _check_probability(p, name: str, *, open_right: bool = False) -> float:
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not (
            0.0 <= p < 1.0 if open_right else 0.0 <= p <= 1.0):
        interval = "[0, 1)" if open_right else "[0, 1]"
        raise ValueError(f"{name} must be a probability in {interval}; got {p!r}")
    return float(p)


def uniform_transitions(n_states: int = 24, self_prob: float = 0.15) -> np.ndarray:
    """Stay with probability ``self_prob``; move to any other state with equal probability.

    Parameters
    ----------
    n_states : int >= 2
    self_prob : float in [0, 1]

    Returns
    -------
    np.ndarray, shape (n_states, n_states)
        Rows sum to 1; equal to ``libfmp.c5.uniform_transition_matrix(self_prob, n_states)``.

    Examples
    --------
    >>> A = uniform_transitions(3, 0.5)
    >>> A[0]
    array([0.5 , 0.25, 0.25])
    """
    n_states = check_positive_int(n_states, "n_states", minimum=2)
    self_prob = _check_probability(self_prob, "self_prob")
    A = np.full((n_states, n_states), (1.0 - self_prob) / (n_states - 1))
    np.fill_diagonal(A, self_prob)
    return A


def _fifths_position(k: int) -> float:
    """Position of triad ``k`` on the circle of fifths (a minor chord beside its relative major)."""
    root = k % 12
    if k >= 12:  # A minor sits next to C major, a step towards the sharp side
        return (7 * (root + 3)) % 12 + 0.5
    return float((7 * root) % 12)


def circle_of_fifths_transitions(self_prob: float = 0.15, width: float = 1.0) -> np.ndarray:
    """24 x 24 transitions that favour chords close on the circle of fifths.

    Major chords sit on the circle of fifths (C, G, D, ...), each minor chord half a step
    beside its relative major (A minor between C and G). Leaving a chord, the probability of
    moving to chord ``j`` is proportional to ``exp(-d / width)``, with ``d`` the distance on
    the circle (0 to 6 steps); the chord stays with probability ``self_prob``.

    Parameters
    ----------
    self_prob : float in [0, 1]
    width : float > 0
        Steps over which the probability falls by a factor ``e``.

    Returns
    -------
    np.ndarray, shape (24, 24)
        Rows sum to 1.

    Examples
    --------
    >>> A = circle_of_fifths_transitions()
    >>> bool(A[0, 7] > A[0, 6])  # C -> G is likelier than C -> F#
    True

    References
    ----------
    :cite:`Bello2005chords` (a transition matrix initialised from the circle of fifths).
    """
    self_prob = _check_probability(self_prob, "self_prob")
    width = check_positive(width, "width")
    pos = np.array([_fifths_position(k) for k in range(24)])
    d = np.abs(pos[:, None] - pos[None, :])
    d = np.minimum(d, 12.0 - d)
    W = np.exp(-d / width)
    np.fill_diagonal(W, 0.0)
    A = (1.0 - self_prob) * W / W.sum(axis=1, keepdims=True)
    np.fill_diagonal(A, self_prob)
    return A


def learn_transitions(sequences, n_states: int = 24, smoothing: float = 1.0,
                      transpose_invariant: bool = True) -> np.ndarray:
    """Estimate a transition matrix by counting consecutive states in labelled sequences.

    ``A[i, j] = (count(i -> j) + smoothing) / sum_j' (count(i -> j') + smoothing)``, the
    maximum-likelihood estimate with additive (Laplace) smoothing, so that a transition never
    seen in training keeps a small probability. A state ``-1`` (a chord outside the vocabulary)
    breaks the sequence: no pair that involves it is counted. With ``transpose_invariant``,
    every pair is also counted in all 12 transpositions (a chorale in G teaches the same
    progression in every key).

    Parameters
    ----------
    sequences : iterable of array_like of int
        State sequences (e.g. one label per beat or per frame of each training piece).
    n_states : int
        24 (triads) or 25 (triads and ``N``).
    smoothing : float >= 0
        Pseudo-count added to every cell (a row never observed becomes uniform).
    transpose_invariant : bool
        Pool the counts over the 12 transpositions.

    Returns
    -------
    np.ndarray, shape (n_states, n_states)
        Rows sum to 1.

    Examples
    --------
    >>> A = learn_transitions([[0, 0, 7, 0]], transpose_invariant=False, smoothing=0.0)
    >>> float(A[0, 0]), float(A[0, 7]), float(A[7, 0])
    (0.5, 0.5, 1.0)

    References
    ----------
    :cite:`Rabiner1989hmm` (sec. III.C), :cite:`Sheh2003chords`, :cite:`Lee2006chord`.
    """
    if n_states not in (24, 25):
        raise ValueError(f"n_states must be 24 or 25; got {n_states!r}")
    if isinstance(smoothing, bool) or not isinstance(smoothing, numbers.Real) or smoothing < 0:
        raise ValueError(f"smoothing must be a non-negative number; got {smoothing!r}")
    counts = np.zeros((n_states, n_states))
    for i, seq in enumerate(sequences):
        s = np.asarray(seq)
        if s.ndim != 1 or (s.size and not np.issubdtype(s.dtype, np.integer)):
            raise ValueError(f"sequences[{i}] must be a 1-D sequence of integer states; "
                             f"got {s.dtype} array of shape {s.shape}")
        if s.size and (s.min() < -1 or s.max() >= n_states):
            raise ValueError(f"sequences[{i}] must hold states in -1..{n_states - 1}; "
                             f"got values from {s.min()} to {s.max()}")
        ok = (s[:-1] >= 0) & (s[1:] >= 0)
        np.add.at(counts, (s[:-1][ok], s[1:][ok]), 1.0)
    if transpose_invariant:
        counts = _pool_transpositions(counts)
    if counts.sum() == 0 and smoothing == 0:
        raise ValueError("sequences must contain at least one pair of consecutive states "
                         "(or use smoothing > 0)")
    counts = counts + smoothing
    counts[counts.sum(axis=1) == 0] = 1.0  # a state never left: uniform row
    return counts / counts.sum(axis=1, keepdims=True)


def _pool_transpositions(counts: np.ndarray) -> np.ndarray:
    """Sum ``counts`` over the 12 transpositions of the triads (N, if present, stays put)."""
    n = counts.shape[0]
    pooled = np.zeros_like(counts)
    for t in range(12):
        perm = np.concatenate([(np.arange(12) + t) % 12, 12 + (np.arange(12) + t) % 12,
                               np.arange(24, n)])
        pooled[np.ix_(perm, perm)] += counts
    return pooled


def _check_hmm(log_B, log_A, log_p0):
    log_B = np.asarray(log_B, dtype=float)
    if log_B.ndim != 2 or log_B.size == 0:
        raise ValueError(f"log_B must have shape (n_states, n_frames) and not be empty; "
                         f"got shape {log_B.shape}")
    if np.any(np.isnan(log_B)) or np.any(log_B == np.inf):
        raise ValueError("log_B must hold log-probabilities (finite or -inf); got NaN or +inf")
    n = log_B.shape[0]
    log_A = np.asarray(log_A, dtype=float)
    if log_A.shape != (n, n):
        raise ValueError(f"log_A must have shape ({n}, {n}) for log_B with {n} states; "
                         f"got shape {log_A.shape}")
    if log_p0 is None:
        log_p0 = np.full(n, -np.log(n))
    log_p0 = np.asarray(log_p0, dtype=float)
    if log_p0.shape != (n,):
        raise ValueError(f"log_p0 must have shape ({n},); got shape {log_p0.shape}")
    for name, x in (("log_A", log_A), ("log_p0", log_p0)):
        if np.any(np.isnan(x)) or np.any(x > 1e-9):
            raise ValueError(f"{name} must hold log-probabilities (<= 0, no NaN); got values up "
                             f"to {np.nanmax(x):.3g}: did you pass probabilities instead of "
                             "their logarithms?")
    return log_B, log_A, log_p0


def viterbi(log_B, log_A, log_p0=None, return_logp: bool = False):
    """The most likely state sequence of an HMM (Viterbi algorithm, log domain).

    With ``D[i, n]`` the log-probability of the best path that ends in state ``i`` at frame
    ``n``::

        D[i, 0] = log_p0[i] + log_B[i, 0]
        D[j, n] = max_i (D[i, n-1] + log_A[i, j]) + log_B[j, n]
        E[j, n] = argmax_i (D[i, n-1] + log_A[i, j])          (the best predecessor)

    then backtracking from ``s[N-1] = argmax_i D[i, N-1]``: ``s[n] = E[s[n+1], n+1]``.
    Written plainly (one loop over frames); :func:`viterbi_fast` computes the same path.

    Parameters
    ----------
    log_B : np.ndarray, shape (n_states, n_frames)
        Log emission probabilities ``log P(observation n | state i)``.
    log_A : np.ndarray, shape (n_states, n_states)
        Log transition probabilities (``log_A[i, j]``: from ``i`` to ``j``).
    log_p0 : np.ndarray, shape (n_states,), optional
        Log initial distribution (default uniform).
    return_logp : bool
        Also return the log-probability of the best path.

    Returns
    -------
    np.ndarray of int, shape (n_frames,)
        The best state sequence; with ``return_logp``, ``(path, logp)``. Equal to
        ``librosa.sequence.viterbi`` and ``libfmp.c5.viterbi_log_likelihood`` given the same
        probabilities.

    Examples
    --------
    >>> log_A = np.log([[0.9, 0.1], [0.1, 0.9]])
    >>> log_B = np.log([[0.8, 0.4, 0.8], [0.2, 0.6, 0.2]])
    >>> viterbi(log_B, log_A).tolist()  # the middle frame alone does not pay for two switches
    [0, 0, 0]

    References
    ----------
    :cite:`Viterbi1967`, :cite:`Rabiner1989hmm` (sec. III.B), :cite:`Mueller2021FMP` (sec. 5.3).
    """
    log_B, log_A, log_p0 = _check_hmm(log_B, log_A, log_p0)
    n_states, n_frames = log_B.shape
    D = np.empty((n_states, n_frames))
    E = np.zeros((n_states, n_frames), dtype=int)
    D[:, 0] = log_p0 + log_B[:, 0]
    for n in range(1, n_frames):
        scores = D[:, n - 1][:, None] + log_A  # scores[i, j]: come from i, go to j
        E[:, n] = np.argmax(scores, axis=0)
        D[:, n] = np.max(scores, axis=0) + log_B[:, n]
    path = np.empty(n_frames, dtype=int)
    path[-1] = np.argmax(D[:, -1])
    for n in range(n_frames - 2, -1, -1):
        path[n] = E[path[n + 1], n + 1]
    return (path, float(D[path[-1], -1])) if return_logp else path


@numba.njit(cache=True, nogil=True)
def _viterbi_numba(log_B_T, log_A_T, log_p0):  # pragma: no cover (compiled)
    n_frames, n_states = log_B_T.shape
    ptr = np.empty((n_frames, n_states), dtype=np.int32)
    prev = log_p0 + log_B_T[0]
    cur = np.empty(n_states)
    for n in range(1, n_frames):
        for j in range(n_states):
            best = prev[0] + log_A_T[j, 0]
            arg = 0
            for i in range(1, n_states):
                v = prev[i] + log_A_T[j, i]
                if v > best:
                    best = v
                    arg = i
            cur[j] = best + log_B_T[n, j]
            ptr[n, j] = arg
        prev, cur = cur, prev
    path = np.empty(n_frames, dtype=np.int64)
    best_end = 0
    for i in range(1, n_states):
        if prev[i] > prev[best_end]:
            best_end = i
    path[-1] = best_end
    for n in range(n_frames - 2, -1, -1):
        path[n] = ptr[n + 1, path[n + 1]]
    return path, prev[best_end]


def viterbi_fast(log_B, log_A, log_p0=None, return_logp: bool = False):
    """:func:`viterbi` compiled with numba: the same path, about as fast as librosa's.

    It keeps only two columns of ``D`` (the previous and the current frame) and reads the
    transposed transition matrix row by row, so the inner loop runs over contiguous memory.

    Parameters
    ----------
    log_B, log_A, log_p0, return_logp
        As :func:`viterbi`.

    Returns
    -------
    np.ndarray of int, shape (n_frames,)
        As :func:`viterbi` (``(path, logp)`` with ``return_logp``).

    Examples
    --------
    >>> log_A = np.log([[0.9, 0.1], [0.1, 0.9]])
    >>> log_B = np.log([[0.8, 0.4, 0.8], [0.2, 0.6, 0.2]])
    >>> viterbi_fast(log_B, log_A).tolist()
    [0, 0, 0]
    """
    log_B, log_A, log_p0 = _check_hmm(log_B, log_A, log_p0)
    path, logp = _viterbi_numba(np.ascontiguousarray(log_B.T), np.ascontiguousarray(log_A.T),
                                np.ascontiguousarray(log_p0))
    return (path, float(logp)) if return_logp else path


def forward_backward(log_B, log_A, log_p0=None):
    """Posterior probability of every state at every frame (forward-backward algorithm).

    ``gamma[i, n] = P(state n = i | all observations)`` combines the forward variable
    ``alpha[i, n] = P(o_0 .. o_n, state n = i)`` and the backward variable
    ``beta[i, n] = P(o_n+1 .. o_N-1 | state n = i)``: ``gamma = alpha * beta / P(o)``.
    Both recursions run in the log domain (``logsumexp`` replaces the sums).

    Parameters
    ----------
    log_B, log_A, log_p0
        As :func:`viterbi`.

    Returns
    -------
    gamma : np.ndarray, shape (n_states, n_frames)
        Posteriors; every column sums to 1.
    log_likelihood : float
        ``log P(o_0 .. o_N-1)``.

    Examples
    --------
    >>> log_A = np.log([[0.9, 0.1], [0.1, 0.9]])
    >>> log_B = np.log([[0.8, 0.4, 0.8], [0.2, 0.6, 0.2]])
    >>> gamma, _ = forward_backward(log_B, log_A)
    >>> gamma.sum(axis=0).round(6).tolist()
    [1.0, 1.0, 1.0]

    References
    ----------
    :cite:`Rabiner1989hmm` (sec. III.A).
    """
    log_B, log_A, log_p0 = _check_hmm(log_B, log_A, log_p0)
    n_states, n_frames = log_B.shape
    log_alpha = np.empty((n_states, n_frames))
    log_beta = np.zeros((n_states, n_frames))
    log_alpha[:, 0] = log_p0 + log_B[:, 0]
    for n in range(1, n_frames):
        log_alpha[:, n] = (scipy.special.logsumexp(log_alpha[:, n - 1][:, None] + log_A, axis=0)
                           + log_B[:, n])
    for n in range(n_frames - 2, -1, -1):
        log_beta[:, n] = scipy.special.logsumexp(log_A + (log_B[:, n + 1] + log_beta[:, n + 1]),
                                                 axis=1)
    log_likelihood = float(scipy.special.logsumexp(log_alpha[:, -1]))
    gamma = np.exp(log_alpha + log_beta - log_likelihood)
    return gamma / gamma.sum(axis=0, keepdims=True), log_likelihood

