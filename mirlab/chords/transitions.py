"""Transition matrices of chord HMMs: uniform, circle of fifths, learned from labels.

Decoding (Viterbi, forward-backward) lives in :mod:`mirlab.sequence.hmm`.

Conventions (those of librosa and libfmp): ``A[i, j]`` is the probability to go from state
``i`` to state ``j`` (each row sums to 1); emissions are given per state and frame as an array
shaped ``(n_states, n_frames)``; everything is computed in the log domain, where products of
thousands of probabilities become sums instead of underflowing to 0 :cite:`Rabiner1989hmm`.

Taught in ``notebooks/02_chord_recognition.ipynb``.
"""

from __future__ import annotations

import numbers

import numpy as np

from mirlab.core.checks import check_positive, check_positive_int

__all__ = [
    "uniform_transitions",
    "circle_of_fifths_transitions",
    "learn_transitions",
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
