"""Metric learning: distances, the contrastive, triplet and InfoNCE losses, and class batches.

An embedding network ``f`` is trained so that distances between embeddings mean something:
items of one class close, items of different classes far apart. Every loss here is a short
function of a batch of embeddings ``emb`` (shape ``(n, dim)``) and their integer ``labels``
(or of explicit pairs/triplets), returns a scalar tensor, and can also return a few
statistics of the batch (``return_stats=True``) so that a chapter can watch training:

=========================  ==================================================================
:func:`pairwise_distances`  Euclidean (plain or squared) or cosine distances between rows
:func:`l2_normalize`        rows scaled to unit length (cosine geometry)
:func:`contrastive_loss`    pairs: pull positives together, push negatives beyond a margin
                            :cite:`Hadsell2006contrastive`
:func:`mine_triplets`       (anchor, positive, negative) indices from labels: all, random,
                            semi-hard, hard, batch-hard :cite:`Schroff2015facenet`
                            :cite:`Hermans2017defense`
:func:`triplet_loss`        ``relu(d(a, p) - d(a, n) + margin)`` on mined triplets
:func:`info_nce`            cross-entropy of the positive among the batch
                            :cite:`Oord2018cpc`; :func:`nt_xent` for two views (SimCLR,
                            :cite:`Chen2020simclr`)
:class:`ClassBatchSampler`  batches of P classes x m items for :func:`mirlab.nn.training.fit`
=========================  ==================================================================

Statistics (``return_stats=True`` returns ``(loss, stats)``, ``stats`` a dict of floats):
``pos_distance`` and ``neg_distance``, the mean distance of all positive and all negative
pairs in the batch (they shrink to the same value when the embedding *collapses* to a point,
the failure batch-hard mining with a high learning rate can produce); ``active``, the fraction
of the loss's terms that are non-zero; ``n_terms``, their number.

The temperature ``tau`` of InfoNCE *divides* the similarities (``sim / tau``): a small ``tau``
sharpens the softmax. It is not a margin.

Every loss is held against pytorch-metric-learning (value and gradient) in
``tests/test_metric_losses.py``; this module does not import it. Taught in
``notebooks/06_metric_learning.ipynb`` (and lab 6).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from mirlab.core.checks import check_choice, check_nonnegative, check_positive, check_positive_int

__all__ = ["l2_normalize", "pairwise_distances", "pair_masks", "contrastive_loss",
           "pair_contrastive_loss", "mine_triplets", "triplet_loss", "batch_triplet_loss",
           "info_nce", "nt_xent", "ContrastiveLoss", "TripletLoss", "InfoNCELoss",
           "NTXentLoss", "ClassBatchSampler", "MINING", "METRICS", "REDUCTIONS"]

METRICS = ("euclidean", "squared", "cosine")
MINING = ("all", "random", "semihard", "semihard_nearest", "hard", "batch_hard")
REDUCTIONS = ("mean", "sum", "nonzero", "none")


# ------------------------------------------------------------------------------ checks
def _check_embeddings(emb, name: str = "emb") -> torch.Tensor:
    if not isinstance(emb, torch.Tensor) or emb.ndim != 2 or len(emb) == 0:
        raise ValueError(f"{name} must be a tensor of shape (n_items, dim) with n_items > 0; "
                         f"got {type(emb).__name__} of shape {tuple(getattr(emb, 'shape', ()))}")
    if not emb.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor; got {emb.dtype}")
    return emb


def _check_labels(labels, n: int, device) -> torch.Tensor:
    labels = torch.as_tensor(labels, device=device)
    if labels.shape != (n,):
        raise ValueError(f"labels must have shape ({n},), one per embedding; got "
                         f"{tuple(labels.shape)}")
    return labels


def _reduce(terms: torch.Tensor, reduction: str) -> torch.Tensor:
    """``mean`` over all terms, ``sum``, ``nonzero`` (mean over the non-zero terms, as
    pytorch-metric-learning's default reducer does), or ``none`` (the terms themselves)."""
    check_choice(reduction, "reduction", REDUCTIONS)
    if reduction == "none":
        return terms
    if len(terms) == 0:  # no term: a zero that still has a graph
        return terms.sum()
    if reduction == "sum":
        return terms.sum()
    if reduction == "nonzero":
        return terms.sum() / (terms > 0).sum().clamp(min=1)
    return terms.mean()


# --------------------------------------------------------------------------- distances
def l2_normalize(x: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Rows of ``x`` divided by their Euclidean norm (rows of norm below ``eps`` by ``eps``).

    On unit vectors the squared Euclidean distance is ``2 - 2 cos``: Euclidean and cosine
    distances then rank neighbours the same way.

    Examples
    --------
    >>> l2_normalize(torch.tensor([[3.0, 4.0]]))
    tensor([[0.6000, 0.8000]])
    """
    return x / x.norm(dim=-1, keepdim=True).clamp(min=eps)


def pairwise_distances(emb: torch.Tensor, other: torch.Tensor | None = None, *,
                       squared: bool = False, metric: str = "euclidean") -> torch.Tensor:
    """Distances between the rows of ``emb`` and those of ``other`` (default: ``emb``).

    Parameters
    ----------
    emb : torch.Tensor, shape (n, dim)
    other : torch.Tensor, shape (m, dim), optional
    squared : bool
        Euclidean only: return ``||a - b||^2`` instead of ``||a - b||``.
    metric : {'euclidean', 'squared', 'cosine'}
        ``'squared'`` is ``'euclidean'`` with ``squared=True``; ``'cosine'`` is
        ``1 - cos(a, b)`` (in [0, 2]).

    Returns
    -------
    torch.Tensor, shape (n, m)
        The Euclidean distance has a zero (not NaN) gradient where two rows coincide (the
        diagonal of ``pairwise_distances(emb)``), since ``sqrt`` is not differentiable at 0.
        It is computed from the differences (exact, ``n * m * dim`` numbers in memory): meant
        for training batches; for a large database use ``torch.cdist``.

    Examples
    --------
    >>> pairwise_distances(torch.tensor([[0.0, 0.0], [3.0, 4.0]]))
    tensor([[0., 5.],
            [5., 0.]])
    """
    emb = _check_embeddings(emb)
    other = emb if other is None else _check_embeddings(other, "other")
    check_choice(metric, "metric", METRICS)
    if emb.shape[1] != other.shape[1]:
        raise ValueError(f"emb and other must have the same dim; got {emb.shape[1]} and "
                         f"{other.shape[1]}")
    if metric == "cosine":
        return 1.0 - l2_normalize(emb) @ l2_normalize(other).T
    d2 = ((emb[:, None, :] - other[None, :, :]) ** 2).sum(dim=-1)
    if squared or metric == "squared":
        return d2
    positive = d2 > 0
    return torch.where(positive, torch.where(positive, d2, torch.ones_like(d2)).sqrt(),
                       torch.zeros_like(d2))


def pair_masks(labels) -> tuple[torch.Tensor, torch.Tensor]:
    """Boolean ``(n, n)`` masks of the positive pairs (same label, ``i != j``: an item is never
    its own positive) and the negative pairs (different labels)."""
    labels = torch.as_tensor(labels)
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    return same & ~eye, ~same


def _pair_stats(dist: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor, terms) -> dict:
    with torch.no_grad():
        mean = (lambda m: float(dist[m].mean()) if m.any() else math.nan)  # noqa: E731
        return {"pos_distance": mean(pos), "neg_distance": mean(neg),
                "active": float((terms > 0).float().mean()) if len(terms) else math.nan,
                "n_terms": int(len(terms))}


# ------------------------------------------------------------------------- contrastive
def pair_contrastive_loss(d: torch.Tensor, same, margin: float = 1.0, *,
                          squared: bool = True, reduction: str = "mean") -> torch.Tensor:
    """The contrastive loss of explicit pairs, given their distances :cite:`Hadsell2006contrastive`.

    ``L = same * d^2 / 2 + (1 - same) * max(0, margin - d)^2 / 2`` per pair: a positive pair
    is pulled together, a negative pair is pushed apart until its distance reaches ``margin``
    and is left alone beyond it.

    Parameters
    ----------
    d : torch.Tensor, shape (n_pairs,)
        Distances of the pairs (e.g. ``(f(x1) - f(x2)).norm(dim=1)``).
    same : array_like of bool, shape (n_pairs,)
        True for a positive pair (same class).
    margin : float
        ``m >= 0``.
    squared : bool
        True: Hadsell et al.'s squared terms (with their factor 1/2). False: the plain hinge
        ``d`` and ``max(0, m - d)`` (pytorch-metric-learning's ``ContrastiveLoss`` with
        ``pos_margin=0, neg_margin=m``).
    reduction : {'mean', 'sum', 'nonzero', 'none'}

    Returns
    -------
    torch.Tensor
        A scalar (``reduction='none'``: one value per pair).

    References
    ----------
    Hadsell, Chopra & LeCun (2006), Dimensionality reduction by learning an invariant
    mapping, CVPR.

    Examples
    --------
    >>> pair_contrastive_loss(torch.tensor([0.5, 0.5]), [True, False], 1.0, reduction="none")
    tensor([0.1250, 0.1250])
    """
    same = torch.as_tensor(same, dtype=torch.bool, device=d.device)
    if d.ndim != 1 or same.shape != d.shape:
        raise ValueError(f"d and same must have the same shape (n_pairs,); got "
                         f"{tuple(d.shape)} and {tuple(same.shape)}")
    margin = check_nonnegative(margin, "margin")
    pull, push = d, torch.relu(margin - d)
    if squared:
        pull, push = pull ** 2 / 2, push ** 2 / 2
    return _reduce(torch.where(same, pull, push), reduction)


def contrastive_loss(emb: torch.Tensor, labels, margin: float = 1.0, *, squared: bool = True,
                     metric: str = "euclidean", reduction: str = "mean",
                     return_stats: bool = False):
    """The contrastive loss over all pairs ``i < j`` of a batch :cite:`Hadsell2006contrastive`.

    Every pair of items with equal labels is a positive pair, every other pair a negative
    one; the loss of each is :func:`pair_contrastive_loss`'s.

    Parameters
    ----------
    emb : torch.Tensor, shape (n, dim)
    labels : array_like of int, shape (n,)
    margin : float
    squared : bool
        See :func:`pair_contrastive_loss`.
    metric : {'euclidean', 'cosine'}
        The distance ``d`` (:func:`pairwise_distances`).
    reduction : {'mean', 'sum', 'nonzero', 'none'}
        Over the ``n (n - 1) / 2`` pairs, in the order of ``torch.triu_indices(n, n, 1)``
        (pytorch-metric-learning's default instead averages the non-zero positive terms and
        the non-zero negative terms separately and adds the two means; its per-pair terms are
        ours with ``squared=False``, tested).
    return_stats : bool
        Also return the batch statistics (module docstring).

    Returns
    -------
    torch.Tensor or (torch.Tensor, dict)

    References
    ----------
    Hadsell, Chopra & LeCun (2006), Dimensionality reduction by learning an invariant
    mapping, CVPR.
    """
    emb = _check_embeddings(emb)
    labels = _check_labels(labels, len(emb), emb.device)
    dist = pairwise_distances(emb, metric=metric)
    i, j = torch.triu_indices(len(emb), len(emb), 1, device=emb.device)
    terms = pair_contrastive_loss(dist[i, j], labels[i] == labels[j], margin, squared=squared,
                                  reduction="none")
    loss = _reduce(terms, reduction)
    if return_stats:
        return loss, _pair_stats(dist, *pair_masks(labels), terms)
    return loss


# ----------------------------------------------------------------------------- triplets
def mine_triplets(dist: torch.Tensor, labels, strategy: str = "batch_hard", *,
                  margin: float = 0.2, random_state=None):
    """(anchor, positive, negative) index triplets of a batch, chosen from the labels.

    With ``d`` the distances and ``gap = d(a, n) - d(a, p)`` (the triplet is satisfied when
    ``gap >= margin``):

    - ``'all'``: every triplet (``a != p`` with the label of ``a``, ``n`` of another label);
    - ``'random'``: for every (anchor, positive) pair, one negative drawn at random;
    - ``'semihard'``: the triplets with ``0 < gap <= margin``: the negative is farther than
      the positive but inside the margin :cite:`Schroff2015facenet`;
    - ``'semihard_nearest'``: for every (anchor, positive) pair, one negative: the nearest
      one farther than the positive (``gap > 0``), or, if there is none, the farthest one
      (FaceNet's per-pair choice as TensorFlow Addons' ``TripletSemiHardLoss`` implements it);
    - ``'hard'``: the triplets with ``gap <= 0``: the negative is at most as far as the
      positive;
    - ``'batch_hard'``: for each anchor, its farthest positive and its nearest negative, one
      triplet per anchor :cite:`Hermans2017defense`.

    ``'semihard'`` and ``'hard'`` are pytorch-metric-learning's ``TripletMarginMiner`` types,
    ``'batch_hard'`` its ``BatchHardMiner`` (tested equal). Mining looks at the distances only:
    no gradient flows through the choice. Anchors without a positive or a negative in the batch
    give no triplet.

    Parameters
    ----------
    dist : torch.Tensor, shape (n, n)
        :func:`pairwise_distances` of the batch.
    labels : array_like of int, shape (n,)
    strategy : {'all', 'random', 'semihard', 'semihard_nearest', 'hard', 'batch_hard'}
    margin : float
        Used by ``'semihard'`` and ``'hard'``.
    random_state : int, torch.Generator or None
        Used by ``'random'``; None: torch's global generator (which
        :func:`mirlab.nn.training.fit` seeds), so each batch draws new negatives.

    Returns
    -------
    a, p, n : torch.Tensor of int64, each shape (n_triplets,)

    References
    ----------
    Schroff, Kalenichenko & Philbin (2015), FaceNet, CVPR.
    Hermans, Beyer & Leibe (2017), In defense of the triplet loss for person
    re-identification, arXiv:1703.07737.
    """
    check_choice(strategy, "strategy", MINING)
    if dist.ndim != 2 or dist.shape[0] != dist.shape[1]:
        raise ValueError(f"dist must be a square matrix (n, n); got {tuple(dist.shape)}")
    labels = _check_labels(labels, len(dist), dist.device)
    pos, neg = pair_masks(labels)
    d = dist.detach()
    if strategy == "batch_hard":
        inf = torch.tensor(math.inf, dtype=d.dtype, device=d.device)
        has = pos.any(dim=1) & neg.any(dim=1)
        p = torch.where(pos, d, -inf).argmax(dim=1)
        n = torch.where(neg, d, inf).argmin(dim=1)
        a = torch.arange(len(d), device=d.device)
        return a[has], p[has], n[has]
    if strategy == "semihard_nearest":
        inf = torch.tensor(math.inf, dtype=d.dtype, device=d.device)
        a, p = torch.nonzero(pos, as_tuple=True)
        d_an, negatives = d[a], neg[a]                      # (n_pairs, n)
        semi = negatives & (d_an > d[a, p][:, None])
        nearest_semi = torch.where(semi, d_an, inf).argmin(dim=1)
        farthest = torch.where(negatives, d_an, -inf).argmax(dim=1)
        n = torch.where(semi.any(dim=1), nearest_semi, farthest)
        keep = negatives.any(dim=1)
        return a[keep], p[keep], n[keep]
    if strategy == "random":
        a, p = torch.nonzero(pos, as_tuple=True)
        generator = random_state
        if random_state is not None and not isinstance(random_state, torch.Generator):
            generator = torch.Generator().manual_seed(int(random_state))
        weights = neg[a].float().cpu()
        keep = weights.sum(dim=1) > 0
        a, p, weights = a[keep], p[keep], weights[keep]
        if len(a) == 0:
            return a, p, a.clone()
        n = torch.multinomial(weights, 1, generator=generator)[:, 0].to(d.device)
        return a, p, n
    a, p, n = torch.nonzero(pos[:, :, None] & neg[:, None, :], as_tuple=True)
    gap = d[a, n] - d[a, p]
    margin = check_nonnegative(margin, "margin")
    keep = {"all": torch.ones_like(gap, dtype=torch.bool), "semihard": (gap > 0) & (gap <= margin),
            "hard": gap <= 0}[strategy]
    return a[keep], p[keep], n[keep]


def triplet_loss(d_ap: torch.Tensor, d_an: torch.Tensor, margin: float = 0.2, *,
                 reduction: str = "mean") -> torch.Tensor:
    """The triplet loss of given distances: ``max(0, d(a, p) - d(a, n) + margin)``.

    A triplet costs nothing once its negative is farther from the anchor than its positive
    by at least ``margin`` :cite:`Schroff2015facenet` (FaceNet uses squared Euclidean
    distances on unit vectors; Hermans et al. found the plain distance better behaved).

    Parameters
    ----------
    d_ap, d_an : torch.Tensor, shape (n_triplets,)
        Anchor-positive and anchor-negative distances.
    margin : float
    reduction : {'mean', 'sum', 'nonzero', 'none'}
        ``'nonzero'``: the mean over the triplets that violate the margin (the default
        of pytorch-metric-learning's ``TripletMarginLoss``).

    Examples
    --------
    >>> triplet_loss(torch.tensor([1.0, 1.0]), torch.tensor([1.1, 2.0]), 0.2, reduction="none")
    tensor([0.1000, 0.0000])
    """
    if d_ap.shape != d_an.shape or d_ap.ndim != 1:
        raise ValueError(f"d_ap and d_an must have the same shape (n_triplets,); got "
                         f"{tuple(d_ap.shape)} and {tuple(d_an.shape)}")
    return _reduce(torch.relu(d_ap - d_an + check_nonnegative(margin, "margin")), reduction)


def batch_triplet_loss(emb: torch.Tensor, labels, margin: float = 0.2, *,
                       mining: str = "batch_hard", squared: bool = False,
                       metric: str = "euclidean", reduction: str = "mean",
                       random_state=None, return_stats: bool = False):
    """The triplet loss on the triplets mined from a batch (:func:`mine_triplets`).

    Parameters
    ----------
    emb : torch.Tensor, shape (n, dim)
    labels : array_like of int, shape (n,)
        Batches of P classes x m items (:class:`ClassBatchSampler`) give every anchor
        positives and negatives.
    margin : float
    mining : {'all', 'random', 'semihard', 'semihard_nearest', 'hard', 'batch_hard'}
    squared : bool
        Squared Euclidean distances (FaceNet's choice).
    metric : {'euclidean', 'cosine'}
    reduction : {'mean', 'sum', 'nonzero', 'none'}
    random_state : int, torch.Generator or None
        For ``mining='random'``.
    return_stats : bool
        Also return ``pos_distance``, ``neg_distance`` (means over all positive and negative
        pairs of the batch), ``active`` (fraction of mined triplets with a non-zero loss) and
        ``n_terms`` (mined triplets).

    Returns
    -------
    torch.Tensor or (torch.Tensor, dict)
        A batch with no triplet gives 0 (with a graph, so ``backward`` works).

    References
    ----------
    Schroff, Kalenichenko & Philbin (2015), FaceNet: a unified embedding for face recognition
    and clustering, CVPR.
    Hermans, Beyer & Leibe (2017), In defense of the triplet loss for person
    re-identification, arXiv:1703.07737.

    Examples
    --------
    >>> emb = torch.tensor([[0.0], [0.1], [1.0], [1.1]])
    >>> float(batch_triplet_loss(emb, [0, 0, 1, 1], margin=0.5))
    0.0
    """
    emb = _check_embeddings(emb)
    labels = _check_labels(labels, len(emb), emb.device)
    dist = pairwise_distances(emb, squared=squared, metric=metric)
    a, p, n = mine_triplets(dist, labels, mining, margin=margin, random_state=random_state)
    terms = triplet_loss(dist[a, p], dist[a, n], margin, reduction="none")
    loss = _reduce(terms, reduction)
    if return_stats:
        return loss, _pair_stats(dist, *pair_masks(labels), terms)
    return loss


# ----------------------------------------------------------------------------- InfoNCE
def info_nce(query: torch.Tensor, key: torch.Tensor, temperature: float = 0.1, *,
             metric: str = "cosine", symmetric: bool = False, reduction: str = "mean",
             return_stats: bool = False):
    """InfoNCE: for each query, the cross-entropy of its own key among all keys :cite:`Oord2018cpc`.

    Row ``i`` of ``query`` and row ``i`` of ``key`` form a positive pair (two views of a clip,
    a clip and its score); the other keys are the negatives. With similarities
    ``s(q, k)`` (cosine, or the negated distance ``-d`` for a Euclidean metric, the form
    ``exp(-d / tau)``), the loss of query ``i`` is

    ``-log( exp(s(q_i, k_i) / tau) / sum_j exp(s(q_i, k_j) / tau) )``,

    a softmax over the keys (``dim=1`` of the ``(n, n)`` logits). The temperature ``tau``
    divides: ``tau -> 0`` weighs only the hardest negative, a large ``tau`` all alike.

    Parameters
    ----------
    query, key : torch.Tensor, shape (n, dim)
    temperature : float
        ``tau > 0``. SimCLR used 0.1-0.5, CLMR 0.5.
    metric : {'cosine', 'euclidean', 'squared'}
        Cosine normalises the rows first.
    symmetric : bool
        Average with the loss of keys querying queries (CLIP-style two-way retrieval).
    reduction : {'mean', 'sum', 'none'}
    return_stats : bool
        Also return ``pos_similarity``, ``neg_similarity`` (means, before dividing by
        ``tau``) and ``accuracy`` (fraction of queries whose own key scores highest).

    Returns
    -------
    torch.Tensor or (torch.Tensor, dict)

    References
    ----------
    van den Oord, Li & Vinyals (2018), Representation learning with contrastive predictive
    coding, arXiv:1807.03748.

    Examples
    --------
    >>> q = torch.eye(3)
    >>> float(info_nce(q, q, temperature=0.01)) < 1e-6
    True
    """
    query, key = _check_embeddings(query, "query"), _check_embeddings(key, "key")
    if query.shape != key.shape:
        raise ValueError(f"query and key must have the same shape (n, dim); got "
                         f"{tuple(query.shape)} and {tuple(key.shape)}")
    tau = check_positive(temperature, "temperature")
    check_choice(metric, "metric", METRICS)
    if metric == "cosine":
        sim = l2_normalize(query) @ l2_normalize(key).T
    else:
        sim = -pairwise_distances(query, key, metric=metric)
    logits = sim / tau
    target = torch.arange(len(query), device=query.device)
    terms = F.cross_entropy(logits, target, reduction="none")
    if symmetric:
        terms = (terms + F.cross_entropy(logits.T, target, reduction="none")) / 2
    loss = _reduce(terms, reduction)
    if return_stats:
        return loss, _similarity_stats(sim, torch.eye(len(sim), dtype=torch.bool,
                                                      device=sim.device))
    return loss


def _similarity_stats(sim: torch.Tensor, positive: torch.Tensor, exclude=None) -> dict:
    with torch.no_grad():
        candidates = sim if exclude is None else sim.masked_fill(exclude, -math.inf)
        negative = ~positive if exclude is None else ~positive & ~exclude
        top = candidates.argmax(dim=1)
        return {"pos_similarity": float(sim[positive].mean()),
                "neg_similarity": float(sim[negative].mean()) if negative.any() else math.nan,
                "accuracy": float(positive[torch.arange(len(sim)), top].float().mean())}


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5, *,
            reduction: str = "mean", return_stats: bool = False):
    """NT-Xent, the normalised temperature-scaled cross-entropy of SimCLR :cite:`Chen2020simclr`.

    The ``2N`` rows of ``z1`` and ``z2`` (two augmented views of ``N`` clips) are
    L2-normalised; each row's positive is the other view of its clip, its negatives the
    ``2N - 2`` other rows (itself excluded). The loss of row ``i`` with positive ``j`` is

    ``-log( exp(cos(z_i, z_j) / tau) / sum_{k != i} exp(cos(z_i, z_k) / tau) )``,

    averaged over all ``2N`` rows: InfoNCE (:func:`info_nce`) with both views as queries
    and the rest of the batch as negatives.

    Parameters
    ----------
    z1, z2 : torch.Tensor, shape (N, dim)
        Projections of the first and second views (row ``i``: clip ``i``), ``N >= 2``.
    temperature : float
        ``tau > 0``, dividing the cosine similarities (SimCLR: 0.5 at its default batch).
    reduction : {'mean', 'sum', 'none'}
        Over the ``2N`` rows (``'none'``: the first ``N`` are ``z1``'s).
    return_stats : bool
        Also return ``pos_similarity``, ``neg_similarity`` and ``accuracy`` (the other view
        ranks first among the ``2N - 1`` candidates).

    Returns
    -------
    torch.Tensor or (torch.Tensor, dict)

    References
    ----------
    Chen, Kornblith, Norouzi & Hinton (2020), A simple framework for contrastive learning of
    visual representations, ICML.

    Examples
    --------
    >>> z = torch.eye(4)
    >>> float(nt_xent(z, z, temperature=0.01)) < 1e-6
    True
    """
    z1, z2 = _check_embeddings(z1, "z1"), _check_embeddings(z2, "z2")
    if z1.shape != z2.shape or len(z1) < 2:
        raise ValueError(f"z1 and z2 must have the same shape (N, dim) with N >= 2; got "
                         f"{tuple(z1.shape)} and {tuple(z2.shape)}")
    tau = check_positive(temperature, "temperature")
    z = l2_normalize(torch.cat([z1, z2]))
    n = len(z1)
    sim = z @ z.T
    self_pair = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    logits = (sim / tau).masked_fill(self_pair, -math.inf)
    partner = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)
    terms = F.cross_entropy(logits, partner, reduction="none")
    loss = _reduce(terms, reduction)
    if return_stats:
        positive = torch.zeros_like(self_pair)
        positive[torch.arange(2 * n), partner] = True
        return loss, _similarity_stats(sim, positive, exclude=self_pair)
    return loss


# ------------------------------------------------------------------ losses for fit()
class _Loss(torch.nn.Module):
    """Base: ``loss(emb, labels)`` for :func:`mirlab.nn.training.fit`; keeps the statistics
    of the last batch in ``self.last_stats`` (a dict) for a chapter to plot."""

    def __init__(self):
        super().__init__()
        self.last_stats: dict = {}


class ContrastiveLoss(_Loss):
    """:func:`contrastive_loss` as a module: ``loss(emb, labels)``."""

    def __init__(self, margin: float = 1.0, **options):
        super().__init__()
        self.margin, self.options = margin, options

    def forward(self, emb, labels):
        loss, self.last_stats = contrastive_loss(emb, labels, self.margin, return_stats=True,
                                                 **self.options)
        return loss


class TripletLoss(_Loss):
    """:func:`batch_triplet_loss` as a module: ``loss(emb, labels)``.

    Examples
    --------
    >>> loss = TripletLoss(0.2, mining="semihard")
    >>> value = loss(torch.randn(8, 4), torch.tensor([0, 0, 1, 1, 2, 2, 3, 3]))
    >>> sorted(loss.last_stats)
    ['active', 'n_terms', 'neg_distance', 'pos_distance']
    """

    def __init__(self, margin: float = 0.2, mining: str = "batch_hard", **options):
        super().__init__()
        check_choice(mining, "mining", MINING)
        self.margin, self.mining, self.options = margin, mining, options

    def forward(self, emb, labels):
        loss, self.last_stats = batch_triplet_loss(emb, labels, self.margin, mining=self.mining,
                                                   return_stats=True, **self.options)
        return loss


class InfoNCELoss(_Loss):
    """:func:`info_nce` as a module for a model returning a pair ``(query, key)`` (e.g. audio
    and score towers): ``loss((query, key), y)``; ``y`` is not used."""

    def __init__(self, temperature: float = 0.1, **options):
        super().__init__()
        self.temperature = check_positive(temperature, "temperature")
        self.options = options

    def forward(self, outputs, y=None):
        query, key = outputs
        loss, self.last_stats = info_nce(query, key, self.temperature, return_stats=True,
                                         **self.options)
        return loss


class NTXentLoss(_Loss):
    """:func:`nt_xent` as a module for a model returning the two views' projections
    ``(z1, z2)``: ``loss((z1, z2), y)``; ``y`` is not used."""

    def __init__(self, temperature: float = 0.5, **options):
        super().__init__()
        self.temperature = check_positive(temperature, "temperature")
        self.options = options

    def forward(self, outputs, y=None):
        z1, z2 = outputs
        loss, self.last_stats = nt_xent(z1, z2, self.temperature, return_stats=True,
                                        **self.options)
        return loss


# ------------------------------------------------------------------------------ sampler
class ClassBatchSampler:
    """Batches of ``n_classes`` classes x ``n_per_class`` items: a batch sampler for
    :func:`mirlab.nn.training.fit` (the "PK" batches of :cite:`Hermans2017defense`).

    Every batch holds ``P = n_classes`` distinct classes drawn at random among those with at
    least ``min(n_per_class, 2)`` items, and ``m = n_per_class`` items of each (drawn without
    replacement; with replacement from a class that has fewer than ``m``), so every anchor
    has positives and negatives in its batch.

    Parameters
    ----------
    x : np.ndarray, shape (n_items, ...), or callable
        The items, or ``x(i) -> np.ndarray`` loading item ``i`` (all of one shape).
    labels : array_like, shape (n_items,)
        Class of each item (ints or strings); the batches' ``y`` holds their codes
        ``0..n_labels-1`` in the order of ``np.unique(labels)`` (int64).
    n_classes : int
        ``P``, at least 2.
    n_per_class : int
        ``m``, at least 2 for triplets.
    steps : int or None
        Batches per epoch (None: ``n_items // (P * m)``, at least 1).

    Examples
    --------
    >>> sampler = ClassBatchSampler(np.zeros((12, 3), np.float32), [0, 1, 2] * 4, n_classes=2,
    ...                             n_per_class=2)
    >>> x, y = next(sampler.batches(np.random.default_rng(0)))
    >>> len(sampler), tuple(x.shape), sorted(np.bincount(y.numpy()).tolist())[-2:]
    (3, (4, 3), [2, 2])
    """

    def __init__(self, x, labels, n_classes: int = 8, n_per_class: int = 4, *,
                 steps: int | None = None):
        labels = np.asarray(labels)
        if labels.ndim != 1 or len(labels) == 0:
            raise ValueError(f"labels must have shape (n_items,) with n_items > 0; got "
                             f"{labels.shape}")
        self.names, codes = np.unique(labels, return_inverse=True)
        self.codes = codes.astype(np.int64).ravel()
        n = len(self.codes)
        if callable(x):
            self.x, self.load = None, x
        else:
            if getattr(x, "ndim", 0) < 1 or len(x) != n:
                raise ValueError(f"x must be an array with one row per label ({n}) or a "
                                 f"callable x(i); got {type(x).__name__} of shape "
                                 f"{getattr(x, 'shape', None)}")
            self.x, self.load = x, None
        self.n_classes = check_positive_int(n_classes, "n_classes", minimum=2)
        self.n_per_class = check_positive_int(n_per_class, "n_per_class")
        self.members = [np.flatnonzero(self.codes == c) for c in range(len(self.names))]
        self.eligible = np.array([c for c, m in enumerate(self.members)
                                  if len(m) >= min(self.n_per_class, 2)])
        if len(self.eligible) < self.n_classes:
            raise ValueError(f"n_classes must be at most the number of classes with at least "
                             f"{min(self.n_per_class, 2)} items ({len(self.eligible)}); got "
                             f"{self.n_classes}")
        per_batch = self.n_classes * self.n_per_class
        self.steps = max(n // per_batch, 1) if steps is None else check_positive_int(steps,
                                                                                      "steps")

    def __len__(self) -> int:
        return self.steps

    def indices(self, rng) -> np.ndarray:
        """The item indices of one batch, class by class (``P * m`` ints)."""
        classes = rng.choice(self.eligible, self.n_classes, replace=False)
        return np.concatenate([rng.choice(self.members[c], self.n_per_class,
                                          replace=len(self.members[c]) < self.n_per_class)
                               for c in classes])

    def batches(self, rng):
        """Yield the ``(x, y)`` tensors of one epoch: ``x`` float32 items, ``y`` int64 codes."""
        for _ in range(self.steps):
            index = self.indices(rng)
            if self.load is not None:
                items = np.stack([np.asarray(self.load(int(i))) for i in index])
            else:
                items = np.asarray(self.x[index])
            yield (torch.from_numpy(np.ascontiguousarray(items, dtype=np.float32)),
                   torch.from_numpy(self.codes[index]))
