"""Hidden Markov models: the most likely state sequence (Viterbi) and state posteriors
(forward-backward), in the log domain.

Conventions (those of librosa and libfmp): ``A[i, j]`` is the probability to go from state
``i`` to state ``j`` (each row sums to 1); emissions are given per state and frame as an array
shaped ``(n_states, n_frames)``; everything is computed in the log domain, where products of
thousands of probabilities become sums instead of underflowing to 0 :cite:`Rabiner1989hmm`.

Taught in ``notebooks/02_chord_recognition.ipynb`` (chord sequences); the alignment chapter
adds DTW, soft-DTW and CTC to this package.
"""

from __future__ import annotations

import numba
import numpy as np
import scipy.special

__all__ = ["viterbi", "viterbi_fast", "forward_backward"]


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

