"""Soft dynamic time warping: a smooth, differentiable DTW cost and its expected alignment.

DTW takes the minimum of ``<A, C>`` over all warping paths ``A`` (binary ``N x M`` matrices
from ``(0, 0)`` to ``(N-1, M-1)`` with steps ``(1, 0), (0, 1), (1, 1)``). Soft-DTW replaces
that minimum by the soft minimum with temperature ``gamma > 0``
:cite:`Cuturi2017softdtw`::

    softmin_gamma(a_1, ..., a_k) = -gamma * log(sum_i exp(-a_i / gamma))

which is smooth, lies below the minimum by at most ``gamma * log(k)``, and tends to it as
``gamma -> 0``. The accumulated cost obeys the same recursion as DTW's, with the soft minimum::

    D[0, 0] = 0,  D[n, 0] = D[0, m] = inf                       (n, m >= 1)
    D[n, m] = C[n-1, m-1] + softmin_gamma(D[n-1, m], D[n, m-1], D[n-1, m-1])
    SDTW_gamma(C) = D[N, M]

(``D`` has one extra row and column for the border; note the third predecessor is the
diagonal ``D[n-1, m-1]``). The gradient of ``SDTW_gamma(C)`` with respect to the cost matrix is
the *expected alignment* ``E``: the average of all warping paths, each weighted by its Gibbs
probability ``exp(-<A, C> / gamma) / Z``. It comes from one backward recursion over the same
grid. As ``gamma -> 0``, ``E`` tends to the optimal DTW path (a 0/1 matrix) and the value to
the DTW cost; for large ``gamma`` ``E`` spreads over the whole matrix.

Conventions: cost matrices are ``(N, M)`` arrays of float; sequences are ``(n_features,
n_frames)`` arrays (librosa's). :func:`soft_dtw` and :func:`soft_dtw_alignment` are the plain
versions (read them first); :func:`soft_dtw_fast` and :func:`soft_dtw_alignment_fast` are the
numba versions with equal results, and :func:`soft_dtw_alignment_batch` runs many pairs at once
(used by the PyTorch loss in :mod:`mirlab.nn.softdtw`).

Taught in ``notebooks/07_alignment.ipynb``.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = [
    "softmin",
    "soft_dtw",
    "soft_dtw_alignment",
    "soft_dtw_fast",
    "soft_dtw_alignment_fast",
    "soft_dtw_alignment_batch",
    "soft_dtw_divergence",
    "sqeuclidean_cost",
]


# ---------------------------------------------------------------------------------------------
# input checks


def _check_gamma(gamma) -> float:
    try:
        g = float(gamma)
    except (TypeError, ValueError):
        raise ValueError(f"gamma must be a positive number; got {gamma!r}") from None
    if not (g > 0 and np.isfinite(g)):
        raise ValueError(f"gamma must be a positive, finite number (gamma > 0; use DTW for "
                         f"gamma = 0); got {gamma!r}")
    return g


def _check_cost(C, name: str = "C") -> np.ndarray:
    C = np.asarray(C, dtype=np.float64)
    if C.ndim != 2 or C.shape[0] == 0 or C.shape[1] == 0:
        raise ValueError(f"{name} must be a cost matrix of shape (N, M) with N, M >= 1; "
                         f"got shape {C.shape}")
    if not np.all(np.isfinite(C)):
        raise ValueError(f"{name} must hold finite costs; got NaN or inf")
    return C


def _check_sequence(X, name: str) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X[None, :]
    if X.ndim != 2 or X.shape[1] == 0:
        raise ValueError(f"{name} must have shape (n_features, n_frames) with n_frames >= 1; "
                         f"got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name} must be finite; got NaN or inf")
    return X


# ---------------------------------------------------------------------------------------------
# plain versions


def softmin(a, b, c, gamma: float = 1.0):
    """The soft minimum of three numbers: ``-gamma * log(exp(-a/gamma) + exp(-b/gamma) +
    exp(-c/gamma))``.

    Computed with the log-sum-exp shift: with ``m = min(a, b, c)``, ``softmin = m - gamma *
    log(sum exp(-(x - m) / gamma))``, so that no exponential overflows (every exponent is
    ``<= 0``) and the largest term is exactly 1. Always ``min - gamma * log(3) <= softmin <=
    min``; it tends to ``min(a, b, c)`` as ``gamma -> 0``. Works elementwise on arrays;
    ``inf`` entries count as absent.

    Parameters
    ----------
    a, b, c : float or np.ndarray
        The three values (broadcast together).
    gamma : float
        Temperature, ``> 0``.

    Returns
    -------
    float or np.ndarray
        The soft minimum.

    Examples
    --------
    >>> round(softmin(1.0, 2.0, 3.0, gamma=1.0), 4)
    0.5924
    >>> round(softmin(1.0, 2.0, 3.0, gamma=0.01), 4)  # nearly the hard minimum
    1.0

    References
    ----------
    :cite:`Cuturi2017softdtw` (eq. 1).
    """
    gamma = _check_gamma(gamma)
    a, b, c = (np.asarray(v, dtype=np.float64) for v in (a, b, c))
    m = np.minimum(np.minimum(a, b), c)
    with np.errstate(invalid="ignore"):  # inf - inf where all three are inf
        total = (np.exp(-(a - m) / gamma) + np.exp(-(b - m) / gamma)
                 + np.exp(-(c - m) / gamma))
    out = np.where(np.isinf(m), m, m - gamma * np.log(np.where(np.isinf(m), 1.0, total)))
    return float(out) if out.ndim == 0 else out


def _accumulated_cost(C: np.ndarray, gamma: float) -> np.ndarray:
    """The soft accumulated cost ``D``, shape ``(N + 1, M + 1)``, with its inf border."""
    N, M = C.shape
    D = np.full((N + 1, M + 1), np.inf)
    D[0, 0] = 0.0
    for n in range(1, N + 1):
        for m in range(1, M + 1):
            D[n, m] = C[n - 1, m - 1] + softmin(D[n - 1, m], D[n, m - 1], D[n - 1, m - 1],
                                                gamma)
    return D


def soft_dtw(C, gamma: float = 1.0) -> float:
    """The soft-DTW value of a cost matrix (plain version).

    ``D[n, m] = C[n-1, m-1] + softmin_gamma(D[n-1, m], D[n, m-1], D[n-1, m-1])`` with
    ``D[0, 0] = 0`` and an infinite border; the value is ``D[N, M]``. It is the soft minimum of
    ``<A, C>`` over all warping paths ``A``, so it lies below the DTW cost and tends to it as
    ``gamma -> 0``. :func:`soft_dtw_fast` gives the same value, much faster.

    Parameters
    ----------
    C : np.ndarray, shape (N, M)
        Cost matrix (finite; e.g. squared Euclidean distances, :func:`sqeuclidean_cost`).
    gamma : float
        Temperature of the soft minimum, ``> 0``.

    Returns
    -------
    float
        ``SDTW_gamma(C)``. Equal to ``tslearn.metrics.SoftDTW(C, gamma).compute()``.

    Examples
    --------
    >>> C = np.array([[0.0, 1.0], [1.0, 0.0]])
    >>> abs(soft_dtw(C, gamma=0.01)) < 1e-6  # the diagonal path costs 0, the others >= 2
    True
    >>> soft_dtw(C, gamma=1.0) < 0  # the soft minimum goes below every path's cost
    True

    References
    ----------
    :cite:`Cuturi2017softdtw` (Algorithm 1).
    """
    C, gamma = _check_cost(C), _check_gamma(gamma)
    return float(_accumulated_cost(C, gamma)[-1, -1])


def soft_dtw_alignment(C, gamma: float = 1.0) -> tuple[float, np.ndarray]:
    """The soft-DTW value and its gradient, the expected alignment ``E`` (plain version).

    After the forward recursion of :func:`soft_dtw`, a backward recursion spreads the
    probability 1 of the end cell ``(N-1, M-1)`` back over the grid. A cell ``(n, m)`` passes
    to each of its successors ``s`` in ``(n+1, m), (n, m+1), (n+1, m+1)`` the share that ``s``'s
    soft minimum gave to ``(n, m)``::

        E[n, m] = sum_s E[s] * exp((D[s] - C[s] - D[n, m]) / gamma)

    (indices of ``D`` shifted by one for its border). ``E[n, m]`` is the probability that a
    warping path, drawn with probability proportional to ``exp(-<A, C> / gamma)``, passes through
    ``(n, m)``, and it equals ``d SDTW_gamma(C) / d C[n, m]``.

    Parameters
    ----------
    C : np.ndarray, shape (N, M)
        Cost matrix.
    gamma : float
        Temperature, ``> 0``.

    Returns
    -------
    value : float
        ``SDTW_gamma(C)``.
    E : np.ndarray, shape (N, M)
        The expected alignment, entries in ``[0, 1]``; ``E[0, 0] = E[-1, -1] = 1``. Equal to
        ``tslearn.metrics.SoftDTW(C, gamma).grad()``.

    Examples
    --------
    >>> C = np.array([[0.0, 5.0], [5.0, 0.0]])
    >>> value, E = soft_dtw_alignment(C, gamma=0.1)
    >>> E.round(3).tolist()  # the cheap diagonal path gets (nearly) all the weight
    [[1.0, 0.0], [0.0, 1.0]]

    References
    ----------
    :cite:`Cuturi2017softdtw` (Algorithm 2), :cite:`Blondel2021divergences`.
    """
    C, gamma = _check_cost(C), _check_gamma(gamma)
    N, M = C.shape
    D = _accumulated_cost(C, gamma)
    E = np.zeros((N + 2, M + 2))  # indices shifted like D's, plus a zero border after the end
    E[N, M] = 1.0
    for n in range(N, 0, -1):
        for m in range(M, 0, -1):
            if (n, m) == (N, M):
                continue
            for dn, dm in ((1, 0), (0, 1), (1, 1)):
                sn, sm = n + dn, m + dm
                if sn <= N and sm <= M:
                    share = np.exp((D[sn, sm] - C[sn - 1, sm - 1] - D[n, m]) / gamma)
                    E[n, m] += E[sn, sm] * share
    return float(D[N, M]), E[1:N + 1, 1:M + 1]


# ---------------------------------------------------------------------------------------------
# numba fast path: the forward pass keeps the three soft-minimum weights of every cell, so the
# backward pass needs no exponentials at all (tslearn recomputes three per cell).


_STRIP = 4  # rows computed together: their cells are independent, so the CPU overlaps them


@numba.njit(cache=True, nogil=True)
def _softmin_weights(up, left, diag, inv):  # pragma: no cover (compiled)
    """Soft minimum's shifted form: (min, e_up, e_left, e_diag), the smallest exponent is 0."""
    if up <= left and up <= diag:
        return up, 1.0, np.exp((up - left) * inv), np.exp((up - diag) * inv)
    if left <= diag:
        return left, np.exp((left - up) * inv), 1.0, np.exp((left - diag) * inv)
    return diag, np.exp((diag - up) * inv), np.exp((diag - left) * inv), 1.0


@numba.njit(cache=True, nogil=True)
def _forward_numba(C, gamma, W, keep):  # pragma: no cover (compiled)
    """Soft accumulated cost; returns D[N, M]. With ``keep``, ``W[k, n, m]`` is the weight of
    predecessor k (0: up (n-1, m), 1: left (n, m-1), 2: diagonal) in the soft minimum of cell
    (n, m). Rows go in strips of ``_STRIP``, along the strip's anti-diagonals: one chain of
    dependent exp/log calls per row runs side by side with the others."""
    N, M = C.shape
    inv = 1.0 / gamma
    D = np.empty((N + 1, M + 1))
    D[0, :] = np.inf
    D[:, 0] = np.inf
    D[0, 0] = 0.0
    for n0 in range(0, N, _STRIP):
        rows = min(_STRIP, N - n0)
        for step in range(M + rows - 1):
            for r in range(rows):
                m = step - r
                if 0 <= m < M:
                    n = n0 + r
                    lo, eu, el, ed = _softmin_weights(D[n, m + 1], D[n + 1, m], D[n, m], inv)
                    total = eu + el + ed
                    D[n + 1, m + 1] = C[n, m] + lo - gamma * np.log(total)
                    if keep:
                        W[0, n, m] = eu / total
                        W[1, n, m] = el / total
                        W[2, n, m] = ed / total
    return D[N, M]


@numba.njit(cache=True, nogil=True)
def _backward_numba(W, E):  # pragma: no cover (compiled)
    """Expected alignment from the soft-minimum weights (see :func:`soft_dtw_alignment`)."""
    N, M = E.shape
    E[N - 1, M - 1] = 1.0
    for m in range(M - 2, -1, -1):  # last row: only the right neighbour
        E[N - 1, m] = E[N - 1, m + 1] * W[1, N - 1, m + 1]
    for n in range(N - 2, -1, -1):
        E[n, M - 1] = E[n + 1, M - 1] * W[0, n + 1, M - 1]
        for m in range(M - 2, -1, -1):
            E[n, m] = (E[n + 1, m] * W[0, n + 1, m] + E[n, m + 1] * W[1, n, m + 1]
                       + E[n + 1, m + 1] * W[2, n + 1, m + 1])


@numba.njit(cache=True, nogil=True)
def _batch_numba(C, n_lengths, m_lengths, gamma, E):  # pragma: no cover (compiled)
    B = C.shape[0]
    values = np.empty(B)
    W = np.empty((3, C.shape[1], C.shape[2]))
    for b in range(B):
        N, M = n_lengths[b], m_lengths[b]
        Cb = np.ascontiguousarray(C[b, :N, :M])
        Wb = W[:, :N, :M]
        values[b] = _forward_numba(Cb, gamma, Wb, True)
        Eb = np.zeros((N, M))
        _backward_numba(Wb, Eb)
        E[b, :N, :M] = Eb
    return values


def soft_dtw_fast(C, gamma: float = 1.0) -> float:
    """:func:`soft_dtw` compiled with numba: the same value.

    Four rows are computed side by side along their anti-diagonals, so that the exponentials
    and logarithms of different cells overlap in the processor (``benchmarks/softdtw.py``).

    Parameters
    ----------
    C, gamma
        As :func:`soft_dtw`.

    Returns
    -------
    float
        ``SDTW_gamma(C)``.

    Examples
    --------
    >>> C = np.array([[0.0, 1.0], [1.0, 0.0]])
    >>> bool(np.isclose(soft_dtw_fast(C, 0.5), soft_dtw(C, 0.5)))
    True
    """
    C, gamma = _check_cost(C), _check_gamma(gamma)
    dummy = np.empty((3, 0, 0))
    return float(_forward_numba(np.ascontiguousarray(C), gamma, dummy, False))


def soft_dtw_alignment_fast(C, gamma: float = 1.0) -> tuple[float, np.ndarray]:
    """:func:`soft_dtw_alignment` compiled with numba: the same value and expected alignment.

    The forward pass stores, for every cell, the weights its soft minimum gave to its three
    predecessors (``exp((softmin - D[pred]) / gamma)``, which sum to 1); these are exactly the
    shares of the backward recursion, so the backward pass is three multiply-adds per cell.

    Parameters
    ----------
    C, gamma
        As :func:`soft_dtw_alignment`.

    Returns
    -------
    value : float
    E : np.ndarray, shape (N, M)
        As :func:`soft_dtw_alignment`.

    Examples
    --------
    >>> C = np.array([[0.0, 5.0], [5.0, 0.0]])
    >>> value, E = soft_dtw_alignment_fast(C, gamma=0.1)
    >>> E.round(3).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    C, gamma = _check_cost(C), _check_gamma(gamma)
    W = np.empty((3,) + C.shape)
    value = _forward_numba(np.ascontiguousarray(C), gamma, W, True)
    E = np.zeros(C.shape)
    _backward_numba(W, E)
    return float(value), E


def soft_dtw_alignment_batch(C, gamma: float = 1.0, n_lengths=None, m_lengths=None):
    """Soft-DTW values and expected alignments of a batch of cost matrices (numba).

    Parameters
    ----------
    C : np.ndarray, shape (batch, N, M)
        Cost matrices, padded to a common shape.
    gamma : float
        Temperature, ``> 0``.
    n_lengths, m_lengths : array of int, shape (batch,), optional
        The true sizes: pair ``b`` uses ``C[b, :n_lengths[b], :m_lengths[b]]`` (default: all of
        it). Padding is ignored and gets zero weight in ``E``.

    Returns
    -------
    values : np.ndarray, shape (batch,)
    E : np.ndarray, shape (batch, N, M)
        As :func:`soft_dtw_alignment_fast`, pair by pair (zero outside each pair's size).

    Examples
    --------
    >>> C = np.random.default_rng(0).random((2, 4, 3))
    >>> values, E = soft_dtw_alignment_batch(C, 1.0, n_lengths=[4, 2], m_lengths=[3, 3])
    >>> bool(np.isclose(values[1], soft_dtw(C[1, :2], 1.0))), float(E[1, 2:].sum())
    (True, 0.0)
    """
    gamma = _check_gamma(gamma)
    C = np.asarray(C, dtype=np.float64)
    if C.ndim != 3 or 0 in C.shape:
        raise ValueError(f"C must have shape (batch, N, M) with all sizes >= 1; got shape "
                         f"{C.shape}")
    B, N, M = C.shape
    lengths = []
    for name, given, full in (("n_lengths", n_lengths, N), ("m_lengths", m_lengths, M)):
        arr = np.full(B, full, dtype=np.int64) if given is None else np.asarray(given)
        if arr.shape != (B,) or np.any(arr < 1) or np.any(arr > full):
            raise ValueError(f"{name} must hold {B} integers in [1, {full}]; got {given!r}")
        lengths.append(arr.astype(np.int64))
    for b in range(B):
        if not np.all(np.isfinite(C[b, :lengths[0][b], :lengths[1][b]])):
            raise ValueError(f"C must hold finite costs; got NaN or inf in pair {b}")
    E = np.zeros((B, N, M))
    values = _batch_numba(np.ascontiguousarray(C), lengths[0], lengths[1], gamma, E)
    return values, E


# ---------------------------------------------------------------------------------------------
# costs and the divergence


def sqeuclidean_cost(X, Y) -> np.ndarray:
    """Squared Euclidean distances between the frames of two sequences.

    Parameters
    ----------
    X : np.ndarray, shape (n_features, N)
    Y : np.ndarray, shape (n_features, M)

    Returns
    -------
    np.ndarray, shape (N, M)
        ``C[n, m] = sum_k (X[k, n] - Y[k, m]) ** 2``.

    Examples
    --------
    >>> sqeuclidean_cost(np.array([[0.0, 1.0]]), np.array([[3.0]])).tolist()
    [[9.0], [4.0]]
    """
    X, Y = _check_sequence(X, "X"), _check_sequence(Y, "Y")
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"X and Y must have the same number of features (rows); got "
                         f"{X.shape[0]} and {Y.shape[0]}")
    diff = X[:, :, None] - Y[:, None, :]
    return np.einsum("knm,knm->nm", diff, diff)


def soft_dtw_divergence(X, Y, gamma: float = 1.0, *, cost=sqeuclidean_cost) -> float:
    """The soft-DTW divergence ``SDTW(X, Y) - (SDTW(X, X) + SDTW(Y, Y)) / 2``.

    Soft-DTW itself is not a proper discrepancy: ``SDTW_gamma(X, X)`` is negative and a sequence
    is not the closest one to itself. Subtracting the two self-terms gives a divergence that is
    ``>= 0`` and ``0`` exactly when ``X == Y`` (for the squared Euclidean cost)
    :cite:`Blondel2021divergences`, the better loss to average or compare sequences with.

    Parameters
    ----------
    X : np.ndarray, shape (n_features, N)
    Y : np.ndarray, shape (n_features, M)
        The two sequences (librosa's layout: one column per frame).
    gamma : float
        Temperature, ``> 0``.
    cost : callable
        ``cost(X, Y) -> (N, M)`` cost matrix; default :func:`sqeuclidean_cost`.

    Returns
    -------
    float
        The divergence.

    Examples
    --------
    >>> X = np.array([[0.0, 1.0, 2.0]])
    >>> round(soft_dtw_divergence(X, X, gamma=1.0), 12)
    0.0
    >>> soft_dtw_divergence(X, X[:, ::-1], gamma=1.0) > 0
    True

    References
    ----------
    :cite:`Blondel2021divergences` (sec. 3).
    """
    gamma = _check_gamma(gamma)
    X, Y = _check_sequence(X, "X"), _check_sequence(Y, "Y")
    xy, xx, yy = (soft_dtw_fast(cost(a, b), gamma) for a, b in ((X, Y), (X, X), (Y, Y)))
    return float(xy - 0.5 * (xx + yy))
