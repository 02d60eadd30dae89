"""Connectionist temporal classification (CTC): the probability of a label sequence given
frame-wise class probabilities, summed over all its alignments.

A network gives, for every frame ``t``, log-probabilities ``log_probs[k, t]`` over the classes
``k`` (the labels plus one *blank*). An alignment of a target ``l = (l_1, ..., l_L)`` is a
frame-wise class sequence that becomes ``l`` after merging repeated classes and then dropping
blanks (``a a - b b`` -> ``a b``; ``a - a`` -> ``a a``: a repeated label needs a blank between
its two copies). CTC maximises the total probability of all alignments :cite:`Graves2006ctc`.

The sum runs on the *extended* target ``l' = (-, l_1, -, l_2, -, ..., l_L, -)`` of length
``S = 2L + 1`` (``-`` the blank): an alignment is a path through ``l'`` that at each frame stays,
moves one step, or skips a blank between two *different* labels. The forward variable
``alpha[s, t]`` (log-probability of all path prefixes that reach ``l'_s`` at frame ``t``)
obeys::

    alpha[0, 0] = log_probs[-, 0],   alpha[1, 0] = log_probs[l_1, 0]
    alpha[s, t] = log_probs[l'_s, t] + logsumexp(alpha[s, t-1], alpha[s-1, t-1],
                                                 alpha[s-2, t-1] if l'_s != - and l'_s != l'_s-2)
    log p(l | x) = logsumexp(alpha[S-1, T-1], alpha[S-2, T-1])

Everything stays in log space, where products of hundreds of probabilities do not underflow.
When the target needs more frames than there are (``L`` plus the number of equal neighbours in
``l``), no path exists: ``p = 0`` and the loss is ``inf`` (``zero_infinity`` turns it into 0).

Conventions: ``log_probs`` is shaped ``(n_classes, n_frames)`` like every feature in mirlab
(PyTorch's ``ctc_loss`` takes ``(n_frames, batch, n_classes)``); the blank's index is the
``blank`` argument (0 by default, as in PyTorch). :func:`ctc_forward` is the plain recursion
(read it first); :func:`ctc_forward_fast` is its numba twin.

Taught in ``notebooks/07_alignment.ipynb``.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = [
    "extended_target",
    "ctc_forward",
    "ctc_forward_fast",
    "ctc_backward",
    "ctc_loss",
    "ctc_loss_and_grad",
    "ctc_greedy_decode",
]


def _check_ctc(log_probs, target, blank):
    log_probs = np.asarray(log_probs, dtype=np.float64)
    if log_probs.ndim != 2 or 0 in log_probs.shape:
        raise ValueError(f"log_probs must have shape (n_classes, n_frames) and not be empty; "
                         f"got shape {log_probs.shape}")
    n_classes = log_probs.shape[0]
    if np.any(np.isnan(log_probs)) or np.any(log_probs == np.inf):
        raise ValueError("log_probs must hold log-probabilities (finite or -inf); got NaN or +inf")
    if np.any(log_probs > 1e-6):
        raise ValueError(f"log_probs must hold log-probabilities (<= 0); got values up to "
                         f"{log_probs.max():.3g}: did you pass probabilities or logits instead "
                         "of log-probabilities (apply log_softmax over the classes)?")
    if isinstance(blank, bool) or not isinstance(blank, int | np.integer) \
            or not 0 <= blank < n_classes:
        raise ValueError(f"blank must be a class index in [0, {n_classes}) (n_classes = "
                         f"log_probs.shape[0]); got {blank!r}")
    target = np.asarray(target)
    if target.ndim != 1 or (target.size and not np.issubdtype(target.dtype, np.integer)):
        raise ValueError(f"target must be a 1-d sequence of integer class indices; got "
                         f"{target.dtype} array of shape {target.shape}")
    target = target.astype(np.int64)
    if np.any((target < 0) | (target >= n_classes)):
        raise ValueError(f"target must hold class indices in [0, {n_classes}); got "
                         f"{target.tolist()}")
    if np.any(target == blank):
        raise ValueError(f"target must not contain the blank (index {blank}); got "
                         f"{target.tolist()}: is the blank at the index you meant?")
    return log_probs, target


def extended_target(target, blank: int = 0) -> np.ndarray:
    """The target with a blank before, between and after its labels: ``(-, l_1, -, ..., l_L,
    -)``.

    Parameters
    ----------
    target : sequence of int, length L
        Label indices (no blank).
    blank : int
        Index of the blank.

    Returns
    -------
    np.ndarray of int, shape (2 L + 1,)

    Examples
    --------
    >>> extended_target([3, 3, 5], blank=0).tolist()
    [0, 3, 0, 3, 0, 5, 0]
    """
    target = np.asarray(target, dtype=np.int64)
    ext = np.full(2 * len(target) + 1, blank, dtype=np.int64)
    ext[1::2] = target
    return ext


def _can_skip(ext: np.ndarray, blank: int) -> np.ndarray:
    """``skip[s]``: may a path jump from ``s - 2`` to ``s`` (``l'_s`` a label unlike
    ``l'_s-2``)?"""
    skip = np.zeros(len(ext), dtype=bool)
    skip[2:] = (ext[2:] != blank) & (ext[2:] != ext[:-2])
    return skip


def ctc_forward(log_probs, target, blank: int = 0) -> np.ndarray:
    """The CTC forward variables ``alpha`` in log space (plain version).

    ``alpha[s, t]`` is the log-probability of all alignment prefixes of frames ``0..t`` that end
    in position ``s`` of the extended target (see the module's docstring for the recursion).

    Parameters
    ----------
    log_probs : np.ndarray, shape (n_classes, n_frames)
        Log-probabilities of the classes (blank included) at every frame, e.g. a network's
        ``log_softmax`` output.
    target : sequence of int, length L
        The label sequence (no blanks; repeated labels allowed).
    blank : int
        Index of the blank class.

    Returns
    -------
    np.ndarray, shape (2 L + 1, n_frames)
        ``log_alpha``; ``-inf`` where no prefix reaches. ``log p(target | x) =
        logaddexp(log_alpha[-1, -1], log_alpha[-2, -1])``.

    Examples
    --------
    >>> log_probs = np.log(np.full((3, 2), 1 / 3))  # 3 classes, 2 frames, all equally likely
    >>> alpha = ctc_forward(log_probs, [1])          # "1" aligns as 1-, -1 or 11
    >>> round(float(np.exp(np.logaddexp(alpha[-1, -1], alpha[-2, -1]))), 4)
    0.3333

    References
    ----------
    :cite:`Graves2006ctc` (sec. 4.1).
    """
    log_probs, target = _check_ctc(log_probs, target, blank)
    ext = extended_target(target, blank)
    skip = _can_skip(ext, blank)
    S, T = len(ext), log_probs.shape[1]
    alpha = np.full((S, T), -np.inf)
    alpha[0, 0] = log_probs[blank, 0]  # start on the leading blank ...
    if S > 1:
        alpha[1, 0] = log_probs[ext[1], 0]  # ... or on the first label
    for t in range(1, T):
        for s in range(S):
            prev = alpha[s, t - 1]  # stay
            if s >= 1:
                prev = np.logaddexp(prev, alpha[s - 1, t - 1])  # move one step
            if skip[s]:
                prev = np.logaddexp(prev, alpha[s - 2, t - 1])  # skip the blank in between
            alpha[s, t] = prev + log_probs[ext[s], t]
    return alpha


def ctc_forward_fast(log_probs, target, blank: int = 0) -> np.ndarray:
    """:func:`ctc_forward` compiled with numba: the same ``log_alpha``.

    It visits only the positions a path can have reached by frame ``t`` (``s <= 2t + 1``).

    Parameters
    ----------
    log_probs, target, blank
        As :func:`ctc_forward`.

    Returns
    -------
    np.ndarray, shape (2 L + 1, n_frames)
        As :func:`ctc_forward`.

    Examples
    --------
    >>> log_probs = np.log(np.full((3, 2), 1 / 3))
    >>> np.allclose(ctc_forward_fast(log_probs, [1]), ctc_forward(log_probs, [1]))
    True
    """
    log_probs, target = _check_ctc(log_probs, target, blank)
    return _forward(log_probs, extended_target(target, blank), blank)


@numba.njit(cache=True, nogil=True)
def _logaddexp(a, b):  # pragma: no cover (compiled)
    if a == -np.inf:
        return b
    if b == -np.inf:
        return a
    if a > b:
        return a + np.log1p(np.exp(b - a))
    return b + np.log1p(np.exp(a - b))


@numba.njit(cache=True, nogil=True)
def _forward_numba(emit, skip):  # pragma: no cover (compiled)
    """alpha from emit[s, t] = log_probs[l'_s, t]."""
    S, T = emit.shape
    alpha = np.full((S, T), -np.inf)
    alpha[0, 0] = emit[0, 0]
    if S > 1:
        alpha[1, 0] = emit[1, 0]
    for t in range(1, T):
        for s in range(min(S, 2 * t + 2)):  # at frame t a path is at most at position 2t + 1
            acc = alpha[s, t - 1]
            if s >= 1:
                acc = _logaddexp(acc, alpha[s - 1, t - 1])
            if skip[s]:
                acc = _logaddexp(acc, alpha[s - 2, t - 1])
            alpha[s, t] = acc + emit[s, t]
    return alpha


@numba.njit(cache=True, nogil=True)
def _backward_numba(emit, skip):  # pragma: no cover (compiled)
    S, T = emit.shape
    beta = np.full((S, T), -np.inf)
    beta[S - 1, T - 1] = 0.0
    if S > 1:
        beta[S - 2, T - 1] = 0.0
    for t in range(T - 2, -1, -1):
        for s in range(S):
            acc = beta[s, t + 1] + emit[s, t + 1]
            if s + 1 < S:
                acc = _logaddexp(acc, beta[s + 1, t + 1] + emit[s + 1, t + 1])
            if s + 2 < S and skip[s + 2]:
                acc = _logaddexp(acc, beta[s + 2, t + 1] + emit[s + 2, t + 1])
            beta[s, t] = acc
    return beta


def _forward(log_probs, ext, blank):
    return _forward_numba(np.ascontiguousarray(log_probs[ext]), _can_skip(ext, blank))


def _backward(log_probs, ext, blank):
    """``beta[s, t]``: log-probability of the frames after ``t`` given position ``s`` at ``t``
    (the emission at ``t`` is not included, so ``alpha + beta`` is the log-probability of all
    alignments that pass ``s`` at ``t``)."""
    return _backward_numba(np.ascontiguousarray(log_probs[ext]), _can_skip(ext, blank))


def ctc_backward(log_probs, target, blank: int = 0) -> np.ndarray:
    """The CTC backward variables ``beta`` in log space.

    ``beta[s, t]`` is the log-probability of all alignment suffixes of frames ``t+1..T-1`` that
    start from position ``s`` of the extended target at frame ``t`` and end on its last label
    or final blank. (Graves includes the emission at ``t`` in ``beta``; here it is left out, so
    that ``logsumexp(alpha[:, t] + beta[:, t]) = log p(target | x)`` at every frame ``t``.)

    Parameters
    ----------
    log_probs, target, blank
        As :func:`ctc_forward`.

    Returns
    -------
    np.ndarray, shape (2 L + 1, n_frames)
        ``log_beta``.

    Examples
    --------
    >>> log_probs = np.log(np.full((3, 4), 1 / 3))
    >>> a, b = ctc_forward(log_probs, [1, 2]), ctc_backward(log_probs, [1, 2])
    >>> from scipy.special import logsumexp
    >>> np.allclose(logsumexp(a + b, axis=0), logsumexp(a[-2:, -1]))  # the same at every t
    True

    References
    ----------
    :cite:`Graves2006ctc` (sec. 4.1).
    """
    log_probs, target = _check_ctc(log_probs, target, blank)
    return _backward(log_probs, extended_target(target, blank), blank)


def ctc_loss(log_probs, target, blank: int = 0, zero_infinity: bool = False) -> float:
    """The CTC loss ``-log p(target | x)`` of one sequence.

    Parameters
    ----------
    log_probs, target, blank
        As :func:`ctc_forward`.
    zero_infinity : bool
        Return 0 instead of ``inf`` when the target is infeasible (needs more frames than there
        are), as PyTorch's option of that name.

    Returns
    -------
    float
        The loss; equal to ``torch.nn.functional.ctc_loss(..., reduction="sum")`` on this one
        sequence.

    Examples
    --------
    >>> log_probs = np.log(np.full((3, 2), 1 / 3))
    >>> round(ctc_loss(log_probs, [1]), 4)   # -log(1/3)
    1.0986
    >>> ctc_loss(log_probs, [1, 1])          # "1 - 1" needs three frames
    inf
    >>> ctc_loss(log_probs, [1, 1], zero_infinity=True)
    0.0

    References
    ----------
    :cite:`Graves2006ctc` (eq. 14).
    """
    alpha = ctc_forward_fast(log_probs, target, blank)
    loss = -float(np.logaddexp(alpha[-1, -1], alpha[-2, -1]) if len(alpha) > 1 else alpha[0, -1])
    return 0.0 if (zero_infinity and np.isinf(loss)) else loss


def ctc_loss_and_grad(log_probs, target, blank: int = 0, zero_infinity: bool = False,
                      through_softmax: bool = False) -> tuple[float, np.ndarray]:
    """The CTC loss and its gradient with respect to the log-probabilities.

    With ``gamma[s, t] = exp(alpha[s, t] + beta[s, t] - log p)``, the probability that an
    alignment passes position ``s`` of the extended target at frame ``t``::

        d loss / d log_probs[k, t] = - sum_{s : l'_s = k} gamma[s, t]

    (a class's total occupancy at frame ``t``; each column sums to ``-1``). PyTorch's
    ``ctc_loss`` returns instead ``exp(log_probs[k, t]) - sum_s gamma[s, t]``, the gradient with
    respect to the *logits* when ``log_probs = log_softmax(logits)``; ``through_softmax=True``
    gives that one. Both lead to the same gradient for the logits of a network.

    Parameters
    ----------
    log_probs, target, blank
        As :func:`ctc_forward`.
    zero_infinity : bool
        For an infeasible target, loss 0 and gradient 0 (else ``inf`` and NaN, as PyTorch).
    through_softmax : bool
        Return PyTorch's form of the gradient (see above).

    Returns
    -------
    loss : float
    grad : np.ndarray, shape (n_classes, n_frames)

    Examples
    --------
    >>> log_probs = np.log(np.full((3, 2), 1 / 3))
    >>> loss, grad = ctc_loss_and_grad(log_probs, [1])
    >>> grad.sum(axis=0).round(6).tolist()
    [-1.0, -1.0]
    >>> grad[:, 0].round(4).tolist()  # frame 0: blank in "-1", label 1 in "1-" and "11"
    [-0.3333, -0.6667, 0.0]

    References
    ----------
    :cite:`Graves2006ctc` (sec. 4.2).
    """
    log_probs, target = _check_ctc(log_probs, target, blank)
    ext = extended_target(target, blank)
    alpha = _forward(log_probs, ext, blank)
    beta = _backward(log_probs, ext, blank)
    log_p = np.logaddexp(alpha[-1, -1], alpha[-2, -1]) if len(ext) > 1 else alpha[0, -1]
    if np.isinf(log_p):
        if zero_infinity:
            return 0.0, np.zeros_like(log_probs)
        return np.inf, np.full_like(log_probs, np.nan)
    occupancy = np.exp(alpha + beta - log_p)  # (S, T)
    grad = np.zeros_like(log_probs)
    for k in np.unique(ext):  # sum the positions that carry the same class
        grad[k] = -occupancy[ext == k].sum(axis=0)
    if through_softmax:
        grad += np.exp(log_probs)
    return -float(log_p), grad


def ctc_greedy_decode(log_probs, blank: int = 0) -> list[int]:
    """Best-path decoding: the most likely class per frame, repeats merged, blanks dropped.

    Parameters
    ----------
    log_probs : np.ndarray, shape (n_classes, n_frames)
        Log-probabilities (or any scores: only the argmax counts).
    blank : int
        Index of the blank.

    Returns
    -------
    list of int
        The decoded label sequence.

    Examples
    --------
    >>> scores = np.array([[0, 9, 0, 9, 0], [9, 0, 9, 0, 0], [0, 0, 0, 0, 9]])
    >>> ctc_greedy_decode(scores)   # frames: 1 - 1 - 2
    [1, 1, 2]

    References
    ----------
    :cite:`Graves2006ctc` (sec. 3.2).
    """
    scores = np.asarray(log_probs, dtype=np.float64)
    if scores.ndim != 2 or 0 in scores.shape:
        raise ValueError(f"log_probs must have shape (n_classes, n_frames) and not be empty; "
                         f"got shape {scores.shape}")
    if not 0 <= blank < scores.shape[0]:
        raise ValueError(f"blank must be a class index in [0, {scores.shape[0]}); got {blank!r}")
    best = scores.argmax(axis=0)
    keep = np.r_[True, best[1:] != best[:-1]] & (best != blank)
    return best[keep].tolist()
