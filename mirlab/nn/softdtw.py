"""Soft-DTW as a PyTorch loss: the value from :mod:`mirlab.sequence.softdtw`'s numba kernels,
the gradient with respect to the cost matrix from its expected alignment.

``SDTW_gamma(C)`` is differentiable in the cost matrix ``C`` with gradient ``E``, the expected
alignment :cite:`Cuturi2017softdtw`. :class:`SoftDTWFunction` is the autograd node: its forward
pass runs the numba recursion on a batch of cost matrices and keeps ``E``, its backward pass
returns ``grad_output * E``. Everything before the cost matrix (a network, the squared
Euclidean distance between its output frames and a target sequence) is differentiated by
PyTorch as usual, so :func:`soft_dtw_loss` trains a network against a target sequence *without*
knowing how the two are aligned in time.

Sequences are shaped ``(batch, n_features, n_frames)`` (mirlab's ``(n_features, n_frames)``
with a batch axis in front, as a ``Conv1d`` outputs them); a single pair may be given without
the batch axis, and sequences of different lengths as lists of 2-d tensors (or padded, with
``x_lengths`` / ``y_lengths``). The kernels run on the CPU in float64 (the tensors may live
anywhere; they are copied) and are not differentiable twice.

Taught in ``notebooks/07_alignment.ipynb``; used for training in :mod:`mirlab.alignment`.
"""

from __future__ import annotations

import numpy as np
import torch

from mirlab.sequence.softdtw import soft_dtw_alignment_batch

__all__ = ["SoftDTWFunction", "soft_dtw_values", "sqeuclidean_costs", "soft_dtw_loss",
           "SoftDTWLoss"]

_REDUCTIONS = ("mean", "sum", "none")


class SoftDTWFunction(torch.autograd.Function):
    """Autograd node: ``(C, gamma, n_lengths, m_lengths) -> SDTW_gamma(C[b])`` for every ``b``.

    ``C`` is a ``(batch, N, M)`` tensor of cost matrices; its gradient is ``grad_output[b] *
    E[b]`` with ``E`` the expected alignment. Call it as ``SoftDTWFunction.apply(C, gamma,
    n_lengths, m_lengths)`` (lengths may be None), or use :func:`soft_dtw_values`.
    """

    @staticmethod
    def forward(ctx, C, gamma, n_lengths, m_lengths):
        values, E = soft_dtw_alignment_batch(C.detach().cpu().double().numpy(), gamma,
                                             n_lengths, m_lengths)
        ctx.save_for_backward(torch.from_numpy(E).to(device=C.device, dtype=C.dtype))
        return torch.from_numpy(values).to(device=C.device, dtype=C.dtype)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_values):
        (E,) = ctx.saved_tensors
        return grad_values[:, None, None] * E, None, None, None


def _gamma(gamma) -> float:
    try:
        value = float(gamma)
    except (TypeError, ValueError):
        value = float("nan")
    if not (value > 0 and np.isfinite(value)):
        raise ValueError(f"gamma must be a positive, finite number (gamma > 0); got {gamma!r}")
    return value


def _lengths(lengths, batch: int, full: int, name: str):
    if lengths is None:
        return None
    arr = np.asarray(lengths.detach().cpu() if torch.is_tensor(lengths) else lengths)
    if arr.shape != (batch,) or not np.issubdtype(arr.dtype, np.integer) \
            or np.any(arr < 1) or np.any(arr > full):
        raise ValueError(f"{name} must hold {batch} integers in [1, {full}]; got {lengths!r}")
    return arr.astype(np.int64)


def soft_dtw_values(C, gamma: float = 1.0, n_lengths=None, m_lengths=None) -> torch.Tensor:
    """Soft-DTW of every cost matrix in a batch, differentiable with respect to ``C``.

    Parameters
    ----------
    C : torch.Tensor, shape (batch, N, M) or (N, M)
        Cost matrices (any cost you computed with torch operations).
    gamma : float
        Temperature, ``> 0``.
    n_lengths, m_lengths : sequence of int, shape (batch,), optional
        True sizes of padded cost matrices (pair ``b`` is ``C[b, :n_lengths[b],
        :m_lengths[b]]``).

    Returns
    -------
    torch.Tensor, shape (batch,) (a scalar for a 2-d ``C``)
        ``SDTW_gamma(C[b])``; ``torch.autograd`` gives ``d value / d C[b] = E[b]``, the expected
        alignment of :func:`mirlab.sequence.softdtw.soft_dtw_alignment`.

    Examples
    --------
    >>> C = torch.tensor([[0.0, 5.0], [5.0, 0.0]], requires_grad=True)
    >>> soft_dtw_values(C, gamma=0.1).backward()
    >>> C.grad.round(decimals=3).tolist()
    [[1.0, 0.0], [0.0, 1.0]]

    References
    ----------
    :cite:`Cuturi2017softdtw`.
    """
    if not torch.is_tensor(C) or C.ndim not in (2, 3) or 0 in C.shape:
        shape = tuple(C.shape) if torch.is_tensor(C) else type(C).__name__
        raise ValueError(f"C must be a torch.Tensor of shape (batch, N, M) or (N, M) with "
                         f"N, M >= 1; got {shape}")
    single = C.ndim == 2
    C3 = C[None] if single else C
    B, N, M = C3.shape
    values = SoftDTWFunction.apply(C3, _gamma(gamma), _lengths(n_lengths, B, N, "n_lengths"),
                                   _lengths(m_lengths, B, M, "m_lengths"))
    return values[0] if single else values


def sqeuclidean_costs(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances between the frames of ``x`` and ``y``, batch by batch.

    Parameters
    ----------
    x : torch.Tensor, shape (batch, n_features, N)
    y : torch.Tensor, shape (batch, n_features, M)

    Returns
    -------
    torch.Tensor, shape (batch, N, M)
        ``C[b, n, m] = sum_k (x[b, k, n] - y[b, k, m]) ** 2``.

    Examples
    --------
    >>> sqeuclidean_costs(torch.tensor([[[0.0, 1.0]]]), torch.tensor([[[3.0]]])).tolist()
    [[[9.0], [4.0]]]
    """
    return (x.pow(2).sum(1)[:, :, None] + y.pow(2).sum(1)[:, None, :]
            - 2 * x.transpose(1, 2) @ y)


def _batch(x, name: str):
    """(tensor (batch, n_features, n_frames), lengths or None, had a batch axis)."""
    if isinstance(x, list | tuple):
        if not x or not all(torch.is_tensor(t) and t.ndim == 2 and t.shape[1] > 0 for t in x):
            raise ValueError(f"{name} given as a list must hold 2-d tensors (n_features, "
                             f"n_frames) with n_frames >= 1")
        lengths = [t.shape[1] for t in x]
        padded = x[0].new_zeros((len(x), x[0].shape[0], max(lengths)))
        for b, t in enumerate(x):
            padded[b, :, :t.shape[1]] = t
        return padded, lengths, True
    if not torch.is_tensor(x) or x.ndim not in (2, 3) or x.shape[-1] == 0:
        shape = tuple(x.shape) if torch.is_tensor(x) else type(x).__name__
        raise ValueError(f"{name} must be a torch.Tensor of shape (batch, n_features, n_frames) "
                         f"or (n_features, n_frames), or a list of 2-d tensors; got {shape}")
    return (x, None, True) if x.ndim == 3 else (x[None], None, False)


def soft_dtw_loss(x, y, gamma: float = 1.0, *, cost="sqeuclidean", divergence: bool = False,
                  x_lengths=None, y_lengths=None, reduction: str = "mean") -> torch.Tensor:
    """Soft-DTW loss between batches of sequences (or the soft-DTW divergence).

    For every pair, the cost matrix ``C = cost(x, y)`` (squared Euclidean distances between
    frames by default) goes through :func:`soft_dtw_values`. With ``divergence=True`` the loss is
    ``SDTW(x, y) - (SDTW(x, x) + SDTW(y, y)) / 2``, which is ``>= 0`` and ``0`` only for ``x ==
    y`` :cite:`Blondel2021divergences`; plain soft-DTW is negative for close sequences and does
    not reach its minimum at ``x == y``.

    Parameters
    ----------
    x : torch.Tensor, shape (batch, n_features, N) or (n_features, N), or list of 2-d tensors
        E.g. a network's output (one column per frame).
    y : torch.Tensor, shape (batch, n_features, M) or (n_features, M), or list of 2-d tensors
        The target sequences (need not be aligned to ``x``, nor as long).
    gamma : float
        Temperature, ``> 0``.
    cost : "sqeuclidean" or callable
        ``cost(x, y) -> (batch, N, M)`` tensor for padded batches ``x``, ``y``.
    divergence : bool
        Return the soft-DTW divergence instead of soft-DTW.
    x_lengths, y_lengths : sequence of int, optional
        True lengths of padded sequences (taken from the lists when lists are given).
    reduction : {"mean", "sum", "none"}
        Over the batch.

    Returns
    -------
    torch.Tensor
        A scalar, or shape ``(batch,)`` with ``reduction="none"``.

    Examples
    --------
    >>> x = torch.tensor([[0.0, 1.0, 2.0]], requires_grad=True)
    >>> y = torch.tensor([[0.0, 0.0, 1.0, 2.0, 2.0]])       # the same melody, slower
    >>> loss = soft_dtw_loss(x, y, gamma=0.01)
    >>> round(loss.item(), 3)                                # a warping fits exactly
    0.0
    >>> soft_dtw_loss(x, y.flip(-1), gamma=0.01, divergence=True).item() > 1  # reversed: none
    True

    References
    ----------
    :cite:`Cuturi2017softdtw`, :cite:`Blondel2021divergences`.
    """
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}; got {reduction!r}")
    if cost == "sqeuclidean":
        cost = sqeuclidean_costs
    elif not callable(cost):
        raise ValueError(f"cost must be 'sqeuclidean' or a callable cost(x, y); got {cost!r}")
    gamma = _gamma(gamma)
    xb, x_list_len, batched = _batch(x, "x")
    yb, y_list_len, _ = _batch(y, "y")
    if xb.shape[0] != yb.shape[0] or xb.shape[1] != yb.shape[1]:
        raise ValueError(f"x and y must have the same batch size and number of features; got "
                         f"x of shape {tuple(xb.shape)} and y of shape {tuple(yb.shape)}")
    x_lengths = x_list_len if x_list_len is not None else x_lengths
    y_lengths = y_list_len if y_list_len is not None else y_lengths
    values = soft_dtw_values(cost(xb, yb), gamma, x_lengths, y_lengths)
    if divergence:
        values = values - 0.5 * (soft_dtw_values(cost(xb, xb), gamma, x_lengths, x_lengths)
                                 + soft_dtw_values(cost(yb, yb), gamma, y_lengths, y_lengths))
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    return values if batched else values[0]


class SoftDTWLoss(torch.nn.Module):
    """:func:`soft_dtw_loss` as a module: ``SoftDTWLoss(gamma)(x, y)``.

    Parameters
    ----------
    gamma, cost, divergence, reduction
        As :func:`soft_dtw_loss`.

    Examples
    --------
    >>> loss = SoftDTWLoss(gamma=0.1, divergence=True)
    >>> x = torch.zeros(4, 12, 30, requires_grad=True)   # (batch, n_features, n_frames)
    >>> loss(x, torch.ones(4, 12, 10)).backward()
    >>> tuple(x.grad.shape)
    (4, 12, 30)
    """

    def __init__(self, gamma: float = 1.0, *, cost="sqeuclidean", divergence: bool = False,
                 reduction: str = "mean"):
        super().__init__()
        if reduction not in _REDUCTIONS:
            raise ValueError(f"reduction must be one of {_REDUCTIONS}; got {reduction!r}")
        self.gamma, self.cost, self.divergence, self.reduction = (_gamma(gamma), cost, divergence,
                                                                   reduction)

    def forward(self, x, y, x_lengths=None, y_lengths=None):
        return soft_dtw_loss(x, y, self.gamma, cost=self.cost, divergence=self.divergence,
                             x_lengths=x_lengths, y_lengths=y_lengths, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"gamma={self.gamma}, divergence={self.divergence}, reduction={self.reduction!r}"
