"""Non-negative matrix factorisation (NMF) with multiplicative updates.

A non-negative matrix ``V`` (a magnitude spectrogram, shaped ``(n_bins, n_frames)``) is
approximated by the product of two non-negative matrices::

    V ≈ W @ H,    W: (n_bins, n_components) templates,   H: (n_components, n_frames) activations

by minimising a beta-divergence ``D_beta(V | WH)`` (``beta=2``: half the squared Euclidean
distance; ``beta=1``: the generalised Kullback-Leibler divergence; ``beta=0``: Itakura-Saito)
plus an optional L1 penalty ``sparsity * sum(H)`` on the activations. Each update multiplies
the current factor by a ratio of non-negative terms (the negative and positive parts of the
gradient), so factors stay non-negative and, for ``1 <= beta <= 2``, the cost never increases
(Lee & Seung 2001; Févotte & Idier 2011).

Two implementations share one interface:

- :func:`update_H` and :func:`update_W` write the general beta update as in the papers, one
  line each (``method="plain"``);
- ``method="fast"`` (the default) specialises the two common costs: for ``beta=2`` it uses
  ``(W.T @ W) @ H`` instead of ``W.T @ (W @ H)`` (a rank-sized product instead of a
  spectrogram-sized one), for ``beta=1`` it reuses one buffer for ``V / WH`` and the column
  sums of ``W`` instead of ``W.T @ ones``; all in float32 by default. The tests hold the two
  equal, and both against scikit-learn's and libfmp's solvers.

Numerical safety: every denominator gets ``eps`` added, so silent frames (columns of zeros)
give zero activations, never NaN.

Taught in ``notebooks/03_nmf_transcription.ipynb``; practised in ``labs/lab03_nmf_transcription``.
"""

from __future__ import annotations

import functools
import numbers
from dataclasses import dataclass

import numpy as np

from mirlab.core.checks import check_choice, check_positive_int, check_spectrogram, describe

__all__ = ["NMFResult", "beta_divergence", "nmf", "normalize_templates", "update_H", "update_W",
           "EPS"]

EPS = float(np.finfo(np.float32).eps)  # added to every denominator (as scikit-learn and libfmp)
COSTS = {"euclidean": 2.0, "kl": 1.0, "is": 0.0}


@dataclass
class NMFResult:
    """The outcome of :func:`nmf`.

    Attributes
    ----------
    W : np.ndarray, shape (n_bins, n_components)
        Templates (one spectrum per column).
    H : np.ndarray, shape (n_components, n_frames)
        Activations (one time series per row).
    cost : np.ndarray
        The cost (divergence plus sparsity penalty) before the first iteration, then after
        every ``cost_every``-th iteration and after the last one: the convergence curve.
    cost_iterations : np.ndarray of int
        The iteration after which each entry of ``cost`` was measured (0: the initial factors).
    beta : float
        The beta of the divergence that was minimised.
    """

    W: np.ndarray
    H: np.ndarray
    cost: np.ndarray
    cost_iterations: np.ndarray
    beta: float


def _check_beta(beta) -> float:
    if isinstance(beta, str):
        return COSTS[check_choice(beta, "beta", set(COSTS))]
    if isinstance(beta, bool) or not isinstance(beta, numbers.Real) or not 0 <= beta <= 2:
        raise ValueError("beta must be 'euclidean', 'kl', 'is' or a number in [0, 2]; "
                         f"got {describe(beta)}")
    return float(beta)


def beta_divergence(V, V_hat, beta="kl", eps: float = EPS) -> float:
    """The beta-divergence ``D_beta(V | V_hat)``, summed over all entries.

    ``beta=2``: ``0.5 * sum((V - V_hat)**2)``; ``beta=1`` (generalised Kullback-Leibler):
    ``sum(V * log(V / V_hat) - V + V_hat)``; ``beta=0`` (Itakura-Saito):
    ``sum(V / V_hat - log(V / V_hat) - 1)``; otherwise
    ``sum(V**b + (b - 1) V_hat**b - b V V_hat**(b - 1)) / (b (b - 1))``. The scaling matches
    scikit-learn's ``_beta_divergence``. Logarithms and divisions use ``max(V_hat, eps)`` (and
    ``V + eps`` for Itakura-Saito) so that zeros give finite values.

    Parameters
    ----------
    V, V_hat : np.ndarray
        Non-negative arrays of the same shape (data and approximation ``W @ H``).
    beta : {"euclidean", "kl", "is"} or float in [0, 2]
    eps : float
        Safety constant.

    Returns
    -------
    float

    Examples
    --------
    >>> V = np.array([[1.0, 2.0]])
    >>> beta_divergence(V, V, "kl"), beta_divergence(V, 2 * V, "euclidean")
    (0.0, 2.5)

    References
    ----------
    C. Févotte and J. Idier, "Algorithms for nonnegative matrix factorization with the
    beta-divergence," Neural Computation 23(9), 2011. {cite}`Fevotte2011beta`
    """
    b = _check_beta(beta)
    V, V_hat = np.asarray(V), np.asarray(V_hat)
    total = functools.partial(np.sum, dtype=np.float64)  # float64 sums of float32 terms
    if b == 2:
        diff = V - V_hat
        return float(0.5 * total(diff * diff))
    Vh = np.maximum(V_hat, eps)
    if b == 1:
        pos = V > 0
        return float(total(V[pos] * np.log(V[pos] / Vh[pos])) - total(V) + total(V_hat))
    if b == 0:
        ratio = (V + eps) / Vh
        return float(total(ratio - np.log(ratio) - 1))
    return float(total(V ** b + (b - 1) * Vh ** b - b * V * Vh ** (b - 1)) / (b * (b - 1)))


def _exponent(b: float) -> float:
    """Exponent of the update ratio that guarantees a non-increasing cost (Févotte & Idier)."""
    return 1.0 / (2.0 - b) if b < 1 else 1.0


def update_H(V, W, H, beta: float = 1.0, sparsity: float = 0.0, eps: float = EPS) -> np.ndarray:
    """One multiplicative update of the activations (the readable form).

    ``H <- H * (W.T @ (V * WH**(beta-2))) / (W.T @ WH**(beta-1) + sparsity + eps)``

    with ``WH = W @ H`` (for ``beta < 1`` the ratio is raised to ``1 / (2 - beta)``). For
    ``beta=2`` the numerator is ``W.T @ V`` and the denominator ``W.T @ W @ H``; for ``beta=1``
    they are ``W.T @ (V / WH)`` and ``W.T @ 1``.

    Parameters
    ----------
    V : np.ndarray, shape (n_bins, n_frames)
    W : np.ndarray, shape (n_bins, n_components)
    H : np.ndarray, shape (n_components, n_frames)
    beta : float in [0, 2]
    sparsity : float >= 0
        Weight of the L1 penalty on ``H`` (it enters the denominator).
    eps : float
        Added to ``WH`` and to the denominator: no division by zero.

    Returns
    -------
    np.ndarray
        The new ``H`` (a new array).

    References
    ----------
    D. D. Lee and H. S. Seung, "Algorithms for non-negative matrix factorization," NIPS 2001.
    {cite}`Lee2001nmf`
    """
    WH = W @ H + (eps if beta < 2 else 0.0)  # eps: no division by zero for beta < 2
    numerator = W.T @ (V * WH ** (beta - 2))
    denominator = W.T @ WH ** (beta - 1) + sparsity + eps
    return H * (numerator / denominator) ** _exponent(beta)


def update_W(V, W, H, beta: float = 1.0, eps: float = EPS) -> np.ndarray:
    """One multiplicative update of the templates (the readable form).

    ``W <- W * ((V * WH**(beta-2)) @ H.T) / (WH**(beta-1) @ H.T + eps)``: the transpose of
    :func:`update_H` (the problem ``V.T ≈ H.T @ W.T`` has the same form).

    Parameters
    ----------
    V, W, H : np.ndarray
        As in :func:`update_H`.
    beta : float in [0, 2]
    eps : float

    Returns
    -------
    np.ndarray
        The new ``W``.
    """
    WH = W @ H + (eps if beta < 2 else 0.0)
    numerator = (V * WH ** (beta - 2)) @ H.T
    denominator = WH ** (beta - 1) @ H.T + eps
    return W * (numerator / denominator) ** _exponent(beta)


# --- the fast updates (tested equal to the plain ones) ---------------------------------------

def _fast_euclidean(V, W, H, update_W, update_H, sparsity, eps, buf):
    if update_H:
        num = W.T @ V
        den = (W.T @ W) @ H
        den += sparsity + eps
        np.divide(num, den, out=num)
        H *= num
    if update_W:
        num = V @ H.T
        den = W @ (H @ H.T)
        den += eps
        np.divide(num, den, out=num)
        W *= num


def _ratio_kl(V, W, H, eps, buf):
    """``V / (W @ H + eps)`` computed in ``buf`` without temporaries."""
    np.matmul(W, H, out=buf)
    buf += eps
    np.divide(V, buf, out=buf)
    return buf


def _fast_kl(V, W, H, update_W, update_H, sparsity, eps, buf):
    if update_H:
        num = W.T @ _ratio_kl(V, W, H, eps, buf)
        den = W.sum(axis=0)[:, None] + (sparsity + eps)
        np.divide(num, den, out=num)
        H *= num
    if update_W:
        num = _ratio_kl(V, W, H, eps, buf) @ H.T
        num /= H.sum(axis=1)[None, :] + eps
        W *= num


def _step(V, W, H, b, fast, learn_W, learn_H, sparsity, eps, buf):
    """One iteration, in place: ``H`` then ``W``."""
    if fast and b == 2.0:
        _fast_euclidean(V, W, H, learn_W, learn_H, sparsity, eps, buf)
    elif fast and b == 1.0:
        _fast_kl(V, W, H, learn_W, learn_H, sparsity, eps, buf)
    else:
        if learn_H:
            H[...] = update_H(V, W, H, b, sparsity, eps)
        if learn_W:
            W[...] = update_W(V, W, H, b, eps)


def _cost(V, W, H, b, sparsity, eps) -> float:
    return beta_divergence(V, W @ H, b, eps) + sparsity * float(H.sum(dtype=np.float64))


# --- the driver ------------------------------------------------------------------------------

def _init_factors(V, n_components, W, H, rng, dtype):
    n_bins, n_frames = V.shape
    scale = np.sqrt(max(float(V.mean()), 1e-12) / n_components)
    if W is None:
        W = scale * (rng.random((n_bins, n_components)) + 0.1)
    if H is None:
        H = scale * (rng.random((n_components, n_frames)) + 0.1)
    return np.array(W, dtype=dtype, order="C"), np.array(H, dtype=dtype, order="C")


def _check_factor(X, name, shape):
    X = check_spectrogram(X, name)
    if X.shape != shape:
        raise ValueError(f"{name} must have shape {shape} to match V and n_components; "
                         f"got shape {X.shape}")
    return X


def _check_args(V, n_components, W, H, update_W, update_H):
    V = check_spectrogram(V, "V")
    if n_components is None:
        if W is None and H is None:
            raise ValueError("n_components must be given when neither W nor H is; got None")
        n_components = (W if W is not None else H).shape[1 if W is not None else 0]
    n_components = check_positive_int(n_components, "n_components")
    if W is not None:
        W = _check_factor(W, "W", (V.shape[0], n_components))
    if H is not None:
        H = _check_factor(H, "H", (n_components, V.shape[1]))
    if not update_W and W is None:
        raise ValueError("W must be given when update_W=False (fixed templates); got None")
    if not update_H and H is None:
        raise ValueError("H must be given when update_H=False (fixed activations); got None")
    return V, n_components, W, H


def nmf(V, n_components: int | None = None, *, W=None, H=None, beta="kl", n_iter: int = 100,
        update_W: bool = True, update_H: bool = True, sparsity: float = 0.0,
        random_state=None, method: str = "fast", dtype=np.float32, eps: float = EPS,
        cost_every: int = 1) -> NMFResult:
    """Factorise ``V ≈ W @ H`` with multiplicative updates (``H`` first, then ``W``).

    Parameters
    ----------
    V : array_like, shape (n_bins, n_frames)
        Non-negative data, e.g. a magnitude spectrogram.
    n_components : int, optional
        Rank of the factorisation (read from ``W`` or ``H`` when omitted).
    W : array_like, shape (n_bins, n_components), optional
        Initial (or, with ``update_W=False``, fixed) templates; random when omitted.
    H : array_like, shape (n_components, n_frames), optional
        Initial activations; random when omitted. Zeros stay zero under multiplicative updates,
        which is how score-informed initialisation constrains the result.
    beta : {"euclidean", "kl", "is"} or float in [0, 2]
        The divergence (2 = Euclidean, 1 = Kullback-Leibler, 0 = Itakura-Saito).
    n_iter : int
        Number of iterations (each updates ``H`` then ``W``).
    update_W, update_H : bool
        Learn the templates / the activations (``update_W=False``: fixed templates).
    sparsity : float >= 0
        Weight of the L1 penalty ``sparsity * sum(H)`` (sparser activations).
    random_state : int or np.random.Generator, optional
        Seed of the random initialisation.
    method : {"fast", "plain"}
        The specialised in-place updates (for ``beta`` 1 and 2; other values of ``beta``
        always use the plain ones), or the readable :func:`update_H`/:func:`update_W`.
    dtype : numpy dtype
        Precision of the computation (float32 by default; float64 for comparisons).
    eps : float
        Added to every denominator.
    cost_every : int
        Record the cost every ``cost_every`` iterations (computing it costs about one update).

    Returns
    -------
    NMFResult
        ``W``, ``H`` and the convergence curve ``cost`` (see :class:`NMFResult`).

    Raises
    ------
    ValueError
        On negative, empty, non-finite or wrongly shaped inputs, naming the argument.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> V = rng.random((6, 2)) @ rng.random((2, 8))
    >>> result = nmf(V, 2, beta="euclidean", n_iter=200, random_state=0)
    >>> bool(result.cost[-1] < 1e-3 * result.cost[0])
    True

    References
    ----------
    D. D. Lee and H. S. Seung, "Learning the parts of objects by non-negative matrix
    factorization," Nature 401, 1999 {cite}`Lee1999nmf`; "Algorithms for non-negative matrix
    factorization," NIPS 2001 {cite}`Lee2001nmf`. C. Févotte and J. Idier, Neural Computation
    23(9), 2011 {cite}`Fevotte2011beta`. P. Smaragdis and J. C. Brown, "Non-negative matrix
    factorization for polyphonic music transcription," WASPAA 2003 {cite}`Smaragdis2003nmf`.
    """
    b = _check_beta(beta)
    V, n_components, W, H = _check_args(V, n_components, W, H, update_W, update_H)
    n_iter = check_positive_int(n_iter, "n_iter", minimum=0)
    cost_every = check_positive_int(cost_every, "cost_every")
    check_choice(method, "method", {"fast", "plain"})
    if isinstance(sparsity, bool) or not isinstance(sparsity, numbers.Real) or not sparsity >= 0:
        raise ValueError(f"sparsity must be a number >= 0; got {describe(sparsity)}")
    rng = np.random.default_rng(random_state)
    W, H = _init_factors(V, n_components, W, H, rng, dtype)
    V = np.ascontiguousarray(V, dtype=dtype)
    fast = method == "fast"
    buf = np.empty_like(V) if fast and b == 1.0 else None
    costs, at = [_cost(V, W, H, b, sparsity, eps)], [0]
    for it in range(1, n_iter + 1):
        _step(V, W, H, b, fast, update_W, update_H, sparsity, eps, buf)
        if it % cost_every == 0 or it == n_iter:
            costs.append(_cost(V, W, H, b, sparsity, eps))
            at.append(it)
    return NMFResult(W=W, H=H, cost=np.array(costs), cost_iterations=np.array(at), beta=b)


def normalize_templates(W, H, norm: str = "max") -> tuple[np.ndarray, np.ndarray]:
    """Rescale each template to unit ``norm`` and its activation inversely (``W @ H`` unchanged).

    NMF cannot tell a loud template with weak activations from a quiet one with strong
    activations; normalising the templates makes activations comparable across components.

    Parameters
    ----------
    W : np.ndarray, shape (n_bins, n_components)
    H : np.ndarray, shape (n_components, n_frames)
    norm : {"max", "sum", "l2"}

    Returns
    -------
    W, H : np.ndarray
        New arrays; an all-zero template is left as it is.

    Examples
    --------
    >>> W, H = normalize_templates(np.array([[2.0], [1.0]]), np.array([[1.0, 3.0]]))
    >>> W.ravel().tolist(), H.ravel().tolist()
    ([1.0, 0.5], [2.0, 6.0])
    """
    check_choice(norm, "norm", {"max", "sum", "l2"})
    W = check_spectrogram(W, "W")
    H = check_spectrogram(H, "H")
    if W.shape[1] != H.shape[0]:
        raise ValueError(f"W has {W.shape[1]} columns but H has {H.shape[0]} rows; they must match")
    scale = {"max": lambda: W.max(axis=0), "sum": lambda: W.sum(axis=0),
             "l2": lambda: np.linalg.norm(W, axis=0)}[norm]()
    scale = np.where(scale > 0, scale, 1.0)
    return W / scale, H * scale[:, None]
