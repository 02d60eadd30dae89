"""Dynamic time warping (DTW): cost matrices, the accumulated cost, backtracking, subsequence DTW.

Two sequences ``X`` (``N`` frames) and ``Y`` (``M`` frames), shaped ``(n_features, n_frames)``
like every feature array of :mod:`mirlab.features`, give a *cost matrix* ``C[n, m]``, the
distance between frame ``n`` of ``X`` and frame ``m`` of ``Y`` (:func:`cost_matrix`). A
*warping path* is a sequence of cells ``(n, m)`` from ``(0, 0)`` to ``(N-1, M-1)`` that moves
by one of the allowed *step sizes* ``(dn, dm)`` at a time; DTW finds the path of least total
cost with one pass of dynamic programming over the *accumulated cost* ``D``::

    D[0, 0] = C[0, 0]
    D[n, m] = min over steps k of  D[n - dn_k, m - dm_k] + w_k * C[n, m] + a_k

(predecessors outside the matrix count as ``inf``), then walks back from ``(N-1, M-1)``
through the step that gave each minimum (*backtracking*). The defaults are librosa's
(:cite:`Mueller2021FMP`, sec. 3.2): steps ``(1, 1), (0, 1), (1, 0)`` with multiplicative
weights ``w = (1, 1, 1)`` and additive weights ``a = (0, 0, 0)``; ``D[N-1, M-1]`` is then the
total cost of the best path. When two steps give the same value, the one listed first wins
(librosa's rule), so the order of ``step_sizes`` decides ties.

*Subsequence DTW* looks for the best match of a short query ``X`` anywhere inside a long ``Y``:
the first row is not accumulated (``D[0, m] = C[0, m]``, a match may start at any frame of
``Y``), the path may end at any column, and ``D[N-1, m] / N`` is the *matching function*
(low where a match of the query ends at frame ``m``) :cite:`Mueller2021FMP` (sec. 7.2).

Conventions: cost matrices are ``(N, M)`` arrays (rows: frames of ``X``, columns: frames of
``Y``); paths are integer arrays shaped ``(L, 2)`` from the first cell to the last (librosa
returns them reversed, from the end to the start). :func:`dtw` is the plain version (read it
first, 20 lines); :func:`dtw_fast` is the numba version with equal results.

Taught in ``notebooks/07_alignment.ipynb`` (and lab 7).
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["DEFAULT_STEP_SIZES", "cost_matrix", "dtw", "dtw_fast", "backtrack",
           "subsequence_dtw", "matching_function"]

DEFAULT_STEP_SIZES = np.array([[1, 1], [0, 1], [1, 0]])
METRICS = ("cosine", "euclidean", "sqeuclidean", "cityblock")


# --- input checks ------------------------------------------------------------------------------

def _check_sequence(X, name: str) -> np.ndarray:
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[None, :]
    if X.ndim != 2 or X.shape[1] == 0:
        raise ValueError(f"{name} must be a feature array shaped (n_features, n_frames) with at "
                         f"least one frame; got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name} must hold finite numbers; got NaN or inf")
    return X


def _check_cost(C) -> np.ndarray:
    C = np.asarray(C, dtype=float)
    if C.ndim != 2 or C.size == 0:
        raise ValueError(f"C must be a cost matrix shaped (N, M) with N, M >= 1; got shape "
                         f"{C.shape}")
    if np.any(np.isnan(C)):
        raise ValueError("C must not hold NaN (inf is allowed: a forbidden cell); got NaN at "
                         f"{tuple(int(i) for i in np.argwhere(np.isnan(C))[0])}")
    return np.ascontiguousarray(C)


def _check_steps(step_sizes, weights, weights_add):
    steps = DEFAULT_STEP_SIZES if step_sizes is None else np.asarray(step_sizes)
    if (steps.ndim != 2 or steps.shape[1] != 2 or len(steps) == 0
            or not np.issubdtype(steps.dtype, np.integer)):
        raise ValueError("step_sizes must be an integer array of (dn, dm) pairs shaped "
                         f"(n_steps, 2); got {np.asarray(step_sizes).tolist()!r}")
    if np.any(steps < 0) or np.any(steps.sum(axis=1) == 0):
        raise ValueError("step_sizes must be non-negative (dn, dm) pairs that move forward "
                         f"(not (0, 0)); got {steps.tolist()}")
    k = len(steps)
    out = []
    for name, w, default in (("weights", weights, 1.0), ("weights_add", weights_add, 0.0)):
        w = np.full(k, default) if w is None else np.asarray(w, dtype=float)
        if w.shape != (k,) or not np.all(np.isfinite(w)):
            raise ValueError(f"{name} must hold one finite number per step ({k} for "
                             f"step_sizes {steps.tolist()}); got {np.asarray(w).tolist()!r}")
        out.append(w)
    return np.ascontiguousarray(steps, dtype=np.int64), out[0], out[1]


def _check_end(D, end, subsequence):
    N, M = D.shape
    if end is None:
        end = int(np.argmin(D[-1])) if subsequence else M - 1
    elif not subsequence:
        raise ValueError(f"end is only for subsequence DTW (the path of DTW ends at (N-1, M-1)); "
                         f"got end={end!r}")
    elif isinstance(end, bool) or not isinstance(end, (int, np.integer)) or not 0 <= end < M:
        raise ValueError(f"end must be a column index in 0..{M - 1}; got {end!r}")
    if not np.isfinite(D[-1, end]):
        raise ValueError(f"no warping path reaches cell ({N - 1}, {end}) with these step sizes "
                         f"(cost matrix {N} x {M}); allow other steps, or use subsequence DTW")
    return int(end)


# --- cost matrices -----------------------------------------------------------------------------

def cost_matrix(X, Y, metric: str = "cosine") -> np.ndarray:
    """The matrix of distances between the frames of two feature sequences.

    Parameters
    ----------
    X : np.ndarray, shape (n_features, N)
    Y : np.ndarray, shape (n_features, M)
    metric : {"cosine", "euclidean", "sqeuclidean", "cityblock"}
        ``"cosine"``: ``1 - <x, y> / (|x| |y|)``, in [0, 2]; a frame of zeros counts as
        orthogonal to everything (distance 1) instead of NaN. The others as
        ``scipy.spatial.distance.cdist``.

    Returns
    -------
    np.ndarray, shape (N, M)
        ``C[n, m]``: distance between ``X[:, n]`` and ``Y[:, m]``. Equal to
        ``scipy.spatial.distance.cdist(X.T, Y.T, metric)`` (what ``librosa.sequence.dtw``
        computes from ``X, Y``) for frames that are not all zeros.

    Examples
    --------
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> cost_matrix(X, X).tolist()
    [[0.0, 1.0], [1.0, 0.0]]
    """
    X, Y = _check_sequence(X, "X"), _check_sequence(Y, "Y")
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"X and Y must have the same number of features (rows); got {X.shape[0]}"
                         f" and {Y.shape[0]}")
    if metric == "cosine":
        nx, ny = np.linalg.norm(X, axis=0), np.linalg.norm(Y, axis=0)
        Xn = X / np.where(nx > 0, nx, 1.0)
        Yn = Y / np.where(ny > 0, ny, 1.0)
        return np.clip(1.0 - Xn.T @ Yn, 0.0, 2.0)
    if metric in ("euclidean", "sqeuclidean"):
        sq = (X ** 2).sum(axis=0)[:, None] + (Y ** 2).sum(axis=0)[None, :] - 2.0 * X.T @ Y
        sq = np.maximum(sq, 0.0)
        return sq if metric == "sqeuclidean" else np.sqrt(sq)
    if metric == "cityblock":
        return np.abs(X[:, :, None] - Y[:, None, :]).sum(axis=0)
    raise ValueError(f"metric must be one of {METRICS}; got {metric!r}")


# --- DTW, plainly ------------------------------------------------------------------------------

def backtrack(S, step_sizes=None, end=None, subsequence: bool = False) -> np.ndarray:
    """The warping path from the step chosen in each cell (the ``S`` that :func:`dtw` fills).

    Parameters
    ----------
    S : np.ndarray of int, shape (N, M)
        ``S[n, m]``: index (into ``step_sizes``) of the step that reached cell ``(n, m)``.
    step_sizes : np.ndarray, shape (n_steps, 2), optional
        The steps used to compute ``S`` (default :data:`DEFAULT_STEP_SIZES`).
    end : int, optional
        Last column of the path (default ``M - 1``; only for subsequence DTW).
    subsequence : bool
        Stop at the first row (subsequence DTW) instead of at ``(0, 0)``.

    Returns
    -------
    np.ndarray of int, shape (L, 2)
        The cells ``(n, m)`` of the path, from the first to the last.
    """
    steps = DEFAULT_STEP_SIZES if step_sizes is None else np.asarray(step_sizes)
    n, m = S.shape[0] - 1, S.shape[1] - 1 if end is None else end
    path = [(n, m)]
    while (n > 0) if subsequence else (n, m) != (0, 0):
        dn, dm = steps[S[n, m]]
        n, m = n - dn, m - dm
        path.append((n, m))
    return np.array(path[::-1], dtype=np.int64)


def dtw(C, *, step_sizes=None, weights=None, weights_add=None, subsequence: bool = False,
        end: int | None = None):
    """Dynamic time warping: the accumulated cost and the optimal warping path (plain version).

    ``D[n, m]`` is the cost of the best path from the start to cell ``(n, m)``::

        D[n, m] = min over steps k of  D[n - dn_k, m - dm_k] + weights[k] * C[n, m]
                                                               + weights_add[k]

    with ``D[0, 0] = C[0, 0]`` (subsequence DTW: ``D[0, m] = C[0, m]`` for every ``m``) and
    predecessors outside the matrix counting as ``inf``. ``S[n, m]`` remembers which step gave
    the minimum (the first one listed on ties); :func:`backtrack` follows these steps from the
    end back to the start.

    Parameters
    ----------
    C : np.ndarray, shape (N, M)
        Cost matrix (e.g. :func:`cost_matrix`); ``inf`` marks forbidden cells.
    step_sizes : array of int, shape (n_steps, 2), optional
        Allowed steps ``(dn, dm)`` (default ``[[1, 1], [0, 1], [1, 0]]``, librosa's
        ``step_sizes_sigma``).
    weights : array of float, shape (n_steps,), optional
        Multiplicative weight of ``C[n, m]`` for each step (default ones; librosa's
        ``weights_mul``). ``(2, 1, 1)`` with the default steps favours no step over the
        others, since a diagonal step skips a cell :cite:`Mueller2021FMP` (sec. 3.2.2).
    weights_add : array of float, shape (n_steps,), optional
        Additive weight (penalty) for each step (default zeros; librosa's ``weights_add``).
    subsequence : bool
        Subsequence DTW: the path starts anywhere in the first row and ends anywhere in the
        last (by default where ``D[N-1, :]`` is least). See :func:`subsequence_dtw`.
    end : int, optional
        With ``subsequence``: the last column of the path.

    Returns
    -------
    D : np.ndarray, shape (N, M)
        Accumulated cost; ``D[N-1, M-1]`` is the cost of the best path (subsequence:
        ``D[N-1, m]`` is the cost of the best match that ends at column ``m``).
    path : np.ndarray of int, shape (L, 2)
        The optimal warping path, cells ``(n, m)`` from ``(0, 0)`` (subsequence: from
        ``(0, start)``) to ``(N-1, M-1)`` (or ``(N-1, end)``). ``librosa.sequence.dtw(C=C)``
        returns the same ``D`` and the same path reversed.

    Raises
    ------
    ValueError
        For a malformed ``C`` or steps, or when no path reaches the end with these steps.

    Examples
    --------
    >>> C = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    >>> D, path = dtw(C)
    >>> D.tolist()
    [[0.0, 1.0, 2.0], [1.0, 0.0, 0.0]]
    >>> path.tolist()
    [[0, 0], [1, 1], [1, 2]]

    References
    ----------
    :cite:`Sakoe1978dtw`, :cite:`Mueller2021FMP` (sec. 3.2, 7.2); taught in
    ``notebooks/07_alignment.ipynb``.
    """
    C = _check_cost(C)
    steps, w_mul, w_add = _check_steps(step_sizes, weights, weights_add)
    N, M = C.shape
    D = np.full((N, M), np.inf)
    S = np.zeros((N, M), dtype=np.int64)  # S[n, m]: the step that reached (n, m)
    if subsequence:
        D[0, :] = C[0, :]
    D[0, 0] = C[0, 0]
    for n in range(N):
        for m in range(M):
            for k, (dn, dm) in enumerate(steps):
                if n >= dn and m >= dm:
                    cost = D[n - dn, m - dm] + w_mul[k] * C[n, m] + w_add[k]
                    if cost < D[n, m]:
                        D[n, m], S[n, m] = cost, k
    end = _check_end(D, end, subsequence)
    return D, backtrack(S, steps, end=end, subsequence=subsequence)


# --- DTW, fast (numba) -------------------------------------------------------------------------

@numba.njit(cache=True, nogil=True)
def _accumulate_default(C, D, S, subsequence):  # pragma: no cover (compiled)
    """The default steps (1, 1), (0, 1), (1, 0) with unit weights, unrolled."""
    N, M = C.shape
    D[0, 0] = C[0, 0]
    S[0, 0] = 0
    for m in range(1, M):  # first row: only (0, 1) steps (subsequence: a fresh start)
        left = D[0, m - 1] + C[0, m]
        if subsequence and C[0, m] <= left:
            D[0, m] = C[0, m]
            S[0, m] = 0
        else:
            D[0, m] = left
            S[0, m] = 1
    for n in range(1, N):
        up = D[n - 1, 0] + C[n, 0]
        D[n, 0] = up
        S[n, 0] = 2
        left_d = up
        for m in range(1, M):
            c = C[n, m]
            best = D[n - 1, m - 1]
            k = 0
            if left_d < best:
                best = left_d
                k = 1
            v = D[n - 1, m]
            if v < best:
                best = v
                k = 2
            left_d = best + c
            D[n, m] = left_d
            S[n, m] = k
    # the first cell's step is never followed; an unreachable first-row cell keeps inf
    return D, S


@numba.njit(cache=True, nogil=True)
def _accumulate_general(C, D, S, steps, w_mul, w_add):  # pragma: no cover (compiled)
    N, M = C.shape
    K = steps.shape[0]
    for n in range(N):
        for m in range(M):
            best = D[n, m]
            arg = 0
            for k in range(K):
                dn = steps[k, 0]
                dm = steps[k, 1]
                if n >= dn and m >= dm:
                    cost = D[n - dn, m - dm] + w_mul[k] * C[n, m] + w_add[k]
                    if cost < best:
                        best = cost
                        arg = k
            D[n, m] = best
            S[n, m] = arg
    return D, S


@numba.njit(cache=True, nogil=True)
def _backtrack_numba(S, steps, end, subsequence):  # pragma: no cover (compiled)
    n = S.shape[0] - 1
    m = end
    out = np.empty((S.shape[0] + S.shape[1], 2), dtype=np.int64)
    L = 0
    out[0, 0] = n
    out[0, 1] = m
    L = 1
    while (subsequence and n > 0) or (not subsequence and (n != 0 or m != 0)):
        k = S[n, m]
        n -= steps[k, 0]
        m -= steps[k, 1]
        out[L, 0] = n
        out[L, 1] = m
        L += 1
    return out[:L][::-1].copy()


def dtw_fast(C, *, step_sizes=None, weights=None, weights_add=None, subsequence: bool = False,
             end: int | None = None):
    """:func:`dtw` compiled with numba: the same ``D`` and path, several times faster than librosa.

    The default steps with unit weights run an unrolled loop that carries the left
    neighbour in a register; other steps and weights run the general loop of :func:`dtw`.
    Ties are broken as in :func:`dtw` (the first step listed wins).

    Parameters
    ----------
    C, step_sizes, weights, weights_add, subsequence, end
        As :func:`dtw`.

    Returns
    -------
    D : np.ndarray, shape (N, M)
    path : np.ndarray of int, shape (L, 2)
        As :func:`dtw`.

    Examples
    --------
    >>> C = np.random.default_rng(0).random((50, 60))
    >>> D1, p1 = dtw(C)
    >>> D2, p2 = dtw_fast(C)
    >>> bool(np.allclose(D1, D2) and np.array_equal(p1, p2))
    True
    """
    C = _check_cost(C)
    steps, w_mul, w_add = _check_steps(step_sizes, weights, weights_add)
    N, M = C.shape
    D = np.empty((N, M))
    S = np.empty((N, M), dtype=np.int8 if len(steps) < 128 else np.int64)
    default = (len(steps) == 3 and np.array_equal(steps, DEFAULT_STEP_SIZES)
               and np.all(w_mul == 1.0) and np.all(w_add == 0.0) and np.all(C > -np.inf))
    if default:
        _accumulate_default(C, D, S, bool(subsequence))
    else:
        D.fill(np.inf)
        if subsequence:
            D[0, :] = C[0, :]
        D[0, 0] = C[0, 0]
        _accumulate_general(C, D, S, steps, w_mul, w_add)
    end = _check_end(D, end, subsequence)
    return D, _backtrack_numba(S, steps, end, bool(subsequence))


# --- subsequence DTW ---------------------------------------------------------------------------

def subsequence_dtw(C, *, step_sizes=None, weights=None, weights_add=None,
                    end: int | None = None, fast: bool = True):
    """Subsequence DTW: the best match of a query (rows of ``C``) inside a longer sequence.

    The first row of ``D`` is ``C[0, :]`` (a match may start at any column) and the path ends
    in the last row, at ``end`` or, by default, at the column where ``D[N-1, :]`` is least.
    The :func:`matching_function` ``D[N-1, :] / N`` ranks all end positions at once.

    Parameters
    ----------
    C : np.ndarray, shape (N, M)
        Cost matrix between the query (``N`` frames) and the database sequence (``M``).
    step_sizes, weights, weights_add
        As :func:`dtw`. With the default steps ``D`` equals libfmp's
        ``compute_accumulated_cost_matrix_subsequence_dtw``; libfmp breaks ties in the order
        diagonal, vertical, horizontal, i.e. ``step_sizes=[[1, 1], [1, 0], [0, 1]]`` here.
    end : int, optional
        Last column of the path (default: ``argmin D[N-1, :]``).
    fast : bool
        Use :func:`dtw_fast` (default) or the plain :func:`dtw`.

    Returns
    -------
    D : np.ndarray, shape (N, M)
        Accumulated cost; ``D[N-1, m]`` is the cost of the best match ending at column ``m``.
    path : np.ndarray of int, shape (L, 2)
        Cells ``(n, m)`` of the best match (ending at ``end``), from row 0 to row ``N-1``;
        the match spans columns ``path[0, 1]`` to ``path[-1, 1]``.

    Examples
    --------
    >>> Y = np.array([[0.0, 1, 2, 3, 2, 1, 0]])
    >>> D, path = subsequence_dtw(cost_matrix(np.array([[2.0, 3, 2]]), Y, "euclidean"))
    >>> path[:, 1].tolist()
    [2, 3, 4]

    References
    ----------
    :cite:`Mueller2021FMP` (sec. 7.2.3); taught in ``notebooks/07_alignment.ipynb``.
    """
    fn = dtw_fast if fast else dtw
    return fn(C, step_sizes=step_sizes, weights=weights, weights_add=weights_add,
              subsequence=True, end=end)


def matching_function(D) -> np.ndarray:
    """The matching function ``D[N-1, :] / N`` of subsequence DTW.

    Parameters
    ----------
    D : np.ndarray, shape (N, M)
        Accumulated cost of :func:`subsequence_dtw`.

    Returns
    -------
    np.ndarray, shape (M,)
        Cost per query frame of the best match that ends at each column (low: a good match);
        equal to libfmp's ``compute_matching_function_dtw`` (its ``Delta``).
    """
    D = np.asarray(D, dtype=float)
    if D.ndim != 2 or D.size == 0:
        raise ValueError(f"D must be an accumulated cost matrix shaped (N, M); got shape "
                         f"{D.shape}")
    return D[-1] / D.shape[0]
