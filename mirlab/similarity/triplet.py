"""Triplet losses with in-batch mining, on embeddings and integer labels.

Stand-ins written against the planned API of :mod:`mirlab.nn.metric` (where the chapter's
losses live, tested against pytorch-metric-learning); this module only serves the encoders of
:mod:`mirlab.similarity.embedding`.
"""

from __future__ import annotations

import torch

__all__ = ["pairwise_distances", "batch_hard_triplet_loss", "semi_hard_triplet_loss"]


def pairwise_distances(e: torch.Tensor) -> torch.Tensor:
    """Euclidean distances ``(batch, batch)`` between rows, with a safe gradient at 0."""
    sq = (e * e).sum(dim=1)
    d2 = (sq[:, None] + sq[None, :] - 2.0 * e @ e.T).clamp(min=0.0)
    return torch.sqrt(d2 + 1e-12)


def _masks(labels: torch.Tensor):
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    return same & ~eye, ~same


def batch_hard_triplet_loss(e: torch.Tensor, labels: torch.Tensor, margin: float = 0.2):
    """Mean over anchors of ``relu(d(a, hardest p) - d(a, hardest n) + margin)``
    :cite:`Hermans2017defense`; anchors without a positive or a negative are skipped."""
    d = pairwise_distances(e)
    pos, neg = _masks(labels)
    hardest_pos = torch.where(pos, d, torch.zeros_like(d)).amax(dim=1)
    hardest_neg = torch.where(neg, d, torch.full_like(d, float("inf"))).amin(dim=1)
    valid = pos.any(dim=1) & neg.any(dim=1)
    loss = torch.relu(hardest_pos - hardest_neg + margin)[valid]
    return loss.mean() if len(loss) else e.sum() * 0.0


def semi_hard_triplet_loss(e: torch.Tensor, labels: torch.Tensor, margin: float = 0.2):
    """Mean over (anchor, positive) pairs of the loss with the nearest negative farther than the
    positive (a semi-hard one, :cite:`Schroff2015facenet`), else the farthest negative."""
    d = pairwise_distances(e)
    pos, neg = _masks(labels)
    d_ap = d[:, :, None]                      # (a, p, 1)
    d_an = d[:, None, :]                      # (a, 1, n)
    semi = neg[:, None, :] & (d_an > d_ap)
    inf = torch.full_like(d_an.expand_as(semi), float("inf"))
    nearest_semi = torch.where(semi, d_an.expand_as(semi), inf).amin(dim=2)
    farthest = torch.where(neg, d, torch.full_like(d, -float("inf"))).amax(dim=1)
    chosen = torch.where(torch.isfinite(nearest_semi), nearest_semi, farthest[:, None])
    loss = torch.relu(d - chosen + margin)[pos & neg.any(dim=1)[:, None]]
    return loss.mean() if len(loss) else e.sum() * 0.0
