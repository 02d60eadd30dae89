"""Checks for lab 6, metric learning (``labs/lab06_metric_learning``).

Each ``check_*`` function calls a student's function on a few seeded inputs (random
embeddings of a few classes; a class with one item in the batch; exact duplicates, as in a
collapsed embedding; distance matrices with and without ties), compares the value and, for
the losses, the gradient with a plain reference, and raises :class:`~mirlab.labs.LabCheckError`
naming the input, what differs and, when the result equals the output of a typical mistake,
that mistake: squared instead of plain Euclidean distances, the square root's infinite
gradient at zero distance, the anchor mined as its own positive, positives left among the
negatives, unnormalised embeddings in a cosine loss, the softmax over the wrong axis, the
temperature multiplied instead of divided, the query retrieving itself, ties in the ranking
broken by position.

The references are written out here, plainly (the lab's definitions, stated in each check's
docstring); ``tests/test_lab06.py`` holds them against :mod:`mirlab.nn.metric`,
:mod:`mirlab.metrics`, pytorch-metric-learning and scikit-learn.

Use it in the lab as ``from mirlab.labs import metric_learning as checks``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import average_precision_score

from mirlab.labs.core import LabCheckError, Mistake, compare, exercise

__all__ = [
    "reference_distances",
    "reference_triplet_loss",
    "reference_info_nce",
    "reference_recall_at_k",
    "reference_average_precision",
    "check_pairwise_distances",
    "check_triplet_loss",
    "check_info_nce",
    "check_recall_at_k",
    "check_mean_average_precision",
    "check_embedding",
    "feature_statistics",
    "class_batches",
]

LAB = "lab06"


# --- the references (and, through their options, the typical mistakes) ----------------------

def reference_distances(x: torch.Tensor, *, squared: bool = False) -> torch.Tensor:
    """Euclidean distances between the rows of ``x`` ``(n, d)``: ``(n, n)``, zero diagonal.

    The gradient at zero distance is 0 (a subgradient), as ``torch.cdist``'s; ``squared=True``
    gives the squared distances (a typical mistake when plain ones are asked for).
    """
    sq = ((x[:, None, :] - x[None, :, :]) ** 2).sum(dim=-1)
    if squared:
        return sq
    positive = sq > 0
    return torch.where(positive, torch.where(positive, sq, torch.ones_like(sq)).sqrt(),
                       torch.zeros_like(sq))


def reference_triplet_loss(embeddings: torch.Tensor, labels, margin: float = 0.2, *,
                           squared: bool = False, self_positive: bool = False,
                           negatives: str = "other classes", positive: str = "farthest",
                           negative: str = "nearest", reduction: str = "mean",
                           hinge: bool = True) -> torch.Tensor:
    """The batch-hard triplet loss of Hermans et al.: for each anchor, its farthest positive
    and its nearest negative in the batch, ``relu(d_ap - d_an + margin)``, averaged over the
    anchors that have at least one positive and one negative.

    The keyword options after ``margin`` reproduce typical mistakes (the defaults are right).
    """
    labels = torch.as_tensor(labels)
    dist = reference_distances(embeddings, squared=squared)
    n = len(labels)
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(n, dtype=torch.bool)
    pos = same if self_positive else same & ~eye
    neg = ~eye if negatives == "all others" else ~same
    valid = pos.any(dim=1) & neg.any(dim=1)
    inf = torch.tensor(float("inf"), dtype=dist.dtype)
    if positive == "farthest":
        d_ap = torch.where(pos, dist, -inf).amax(dim=1)
    else:
        d_ap = torch.where(pos, dist, inf).amin(dim=1)
    if negative == "nearest":
        d_an = torch.where(neg, dist, inf).amin(dim=1)
    else:
        d_an = torch.where(neg, dist, -inf).amax(dim=1)
    terms = (d_ap - d_an + margin)[valid]
    if hinge:
        terms = torch.relu(terms)
    if reduction == "sum":
        return terms.sum()
    if reduction == "nonzero":
        return terms.sum() / max(int((terms > 0).sum()), 1)
    return terms.mean()


def reference_info_nce(queries: torch.Tensor, keys: torch.Tensor, temperature: float = 0.1,
                       *, normalise: bool = True, dim: int = 1, temperature_as: str = "divide",
                       exclude_positive: bool = False, reduction: str = "mean",
                       symmetric: bool = False) -> torch.Tensor:
    """InfoNCE of van den Oord et al. with cosine similarity: query ``i``'s positive is key
    ``i``, its negatives the other keys; ``-log softmax_j(cos(q_i, k_j) / temperature)`` at
    ``j = i``, averaged over the queries.

    The keyword options after ``temperature`` reproduce typical mistakes.
    """
    if normalise:
        queries, keys = F.normalize(queries, dim=1), F.normalize(keys, dim=1)
    sim = queries @ keys.T
    logits = {"divide": sim / temperature, "multiply": sim * temperature,
              "none": sim}[temperature_as]
    if exclude_positive:
        eye = torch.eye(len(sim), dtype=torch.bool)
        others = logits.masked_fill(eye, float("-inf"))
        terms = torch.logsumexp(others, dim=dim) - logits.diagonal()
    else:
        terms = -logits.log_softmax(dim=dim).diagonal()
    if symmetric:
        terms = 0.5 * (terms - logits.log_softmax(dim=1 - dim).diagonal())
    return terms.sum() if reduction == "sum" else terms.mean()


def _relevance(labels) -> np.ndarray:
    labels = np.asarray(labels)
    return labels[:, None] == labels[None, :]


def reference_recall_at_k(distances, labels, k: int, *, include_self: bool = False,
                          farthest: bool = False, kind: str = "hit",
                          skip_lonely: bool = True) -> float:
    """Leave-one-out recall@k of metric learning: the fraction of the queries (the items that
    have at least one other item of their label) whose ``k`` nearest other items include one
    of their label. ``distances`` is the square matrix between the items.

    The keyword options after ``k`` reproduce typical mistakes (``kind``: ``"hit"`` is right;
    ``"precision"`` and ``"fraction"`` are precision@k and the retrieved share of the relevant
    items).
    """
    D = np.asarray(distances, dtype=float)
    rel = _relevance(labels)
    n = len(D)
    hits = []
    for i in range(n):
        others = np.arange(n) if include_self else np.flatnonzero(np.arange(n) != i)
        relevant = rel[i, others]
        if not include_self and relevant.sum() == 0 and skip_lonely:
            continue
        d = -D[i, others] if farthest else D[i, others]
        top = relevant[np.argsort(d, kind="stable")[:k]]
        if kind == "precision":
            hits.append(top.mean())
        elif kind == "fraction":
            hits.append(top.sum() / max(relevant.sum(), 1))
        else:
            hits.append(float(top.any()))
    return float(np.mean(hits))


def reference_average_precision(distances, labels, *, include_self: bool = False,
                                ties: str = "grouped", farthest: bool = False,
                                lonely_as_zero: bool = False, per_query: bool = False):
    """Leave-one-out mean average precision: each item queries all the others, the relevant
    ones share its label; its AP is scikit-learn's ``average_precision_score`` of the
    relevance against the negated distances (tied distances form one threshold); the mean runs
    over the items that have at least one relevant other item.

    The keyword options reproduce typical mistakes (``ties="by position"``: ties broken by the
    order of the items). ``per_query=True`` returns the APs (NaN where undefined).
    """
    D = np.asarray(distances, dtype=float)
    rel = _relevance(labels)
    n = len(D)
    aps = np.full(n, np.nan)
    for i in range(n):
        others = np.arange(n) if include_self else np.flatnonzero(np.arange(n) != i)
        relevant = rel[i, others].astype(float)
        if relevant.sum() == 0:
            if lonely_as_zero:
                aps[i] = 0.0
            continue
        score = D[i, others] if farthest else -D[i, others]
        if ties == "grouped":
            aps[i] = average_precision_score(relevant, score)
        else:
            ranked = relevant[np.argsort(-score, kind="stable")]
            precision = np.cumsum(ranked) / np.arange(1, len(ranked) + 1)
            aps[i] = float(precision[ranked == 1].mean())
    return aps if per_query else float(np.nanmean(aps))


# --- shared helpers -------------------------------------------------------------------------

def _scalar(got, head: str) -> float:
    """The student's result as one float, or a LabCheckError saying what it is instead."""
    if got is None:
        raise LabCheckError(f"{head} your function returned None (did you forget the "
                            "`return` statement?)")
    if isinstance(got, torch.Tensor):
        got = got.detach().cpu().numpy()
    arr = np.asarray(got)
    if arr.size != 1 or not np.issubdtype(arr.dtype, np.number):
        raise LabCheckError(f"{head} return one number (a scalar); got {type(got).__name__} "
                            f"of shape {arr.shape}: did you forget to average?")
    return float(arr.reshape(()))


def _loss_tensor(got, head: str) -> torch.Tensor:
    if got is None:
        raise LabCheckError(f"{head} your function returned None (did you forget the "
                            "`return` statement?)")
    if not isinstance(got, torch.Tensor):
        raise LabCheckError(f"{head} return a torch tensor (the loss must carry a gradient); "
                            f"got {type(got).__name__}. Stay in torch: no .item(), .numpy() "
                            "or float() inside the loss.")
    if got.numel() != 1:
        raise LabCheckError(f"{head} return a scalar tensor (one loss for the batch); got "
                            f"shape {tuple(got.shape)}: average over the anchors / queries.")
    if not got.requires_grad:
        raise LabCheckError(f"{head} the loss carries no gradient (requires_grad is False): "
                            "somewhere the computation left torch (.detach(), .item(), "
                            ".numpy(), torch.tensor(...) of a result).")
    return got.reshape(())


def _match(got: float, expected: float, head: str, mistakes, tol: float, source: str):
    """Raise a LabCheckError unless ``got`` equals ``expected`` (naming a matching mistake)."""
    if np.isclose(got, expected, rtol=tol, atol=tol):
        return
    for mistake in mistakes:
        out = float(mistake.output)
        if np.isfinite(out) and not np.isclose(out, expected, rtol=tol, atol=tol) and \
                np.isclose(got, out, rtol=tol, atol=tol):
            raise LabCheckError(f"{head} yours {got:.6g}, expected {expected:.6g}: "
                                f"{mistake.hint}")
    if not np.isfinite(got):
        raise LabCheckError(f"{head} your result is {got}, expected {expected:.6g}: look for "
                            "a square root of a negative number, a log of 0, or a mean over "
                            "an empty selection.")
    raise LabCheckError(f"{head} yours {got:.6g}, expected {expected:.6g} ({source}). Work "
                        "through the formula above the exercise on the smallest case by hand.")


def _check_gradient(grad, expected: torch.Tensor, head: str, nan_hint: str):
    """Compare the gradient of the student's loss with the reference gradient."""
    if grad is None:
        raise LabCheckError(f"{head} the embeddings received no gradient: the loss does not "
                            "depend on them through torch operations.")
    if not torch.all(torch.isfinite(grad)):
        raise LabCheckError(f"{head} the value is right but the gradient holds "
                            f"{int((~torch.isfinite(grad)).sum())} NaN or infinite values. "
                            + nan_hint)
    if not torch.allclose(grad, expected, rtol=1e-3, atol=1e-5):
        diff = float((grad - expected).abs().max())
        raise LabCheckError(f"{head} the value is right but the gradient differs from the "
                            f"reference (largest difference {diff:.3g}): is part of the "
                            "computation detached, or a selection made with values instead "
                            "of a mask?")


_SQRT_HINT = ("The square root's derivative is infinite at 0, and the distance of an item to "
              "itself (or to an exact duplicate) is 0: even where a mask later drops that "
              "entry, 0 * inf gives NaN. Take the root of the squared distance clamped to a "
              "tiny positive number (sq.clamp_min(1e-12).sqrt()), or only where it is > 0.")


def _embeddings(n_per_class, dim: int, seed: int, spread: float = 0.6) -> tuple:
    """Random float32 embeddings around one centre per class, and their integer labels."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(n_per_class)), n_per_class)
    centres = rng.normal(size=(len(n_per_class), dim))
    x = centres[labels] + spread * rng.normal(size=(len(labels), dim))
    order = rng.permutation(len(labels))
    return (torch.tensor(x[order], dtype=torch.float32),
            torch.tensor(labels[order], dtype=torch.long))


# --- exercise 1: pairwise distances ---------------------------------------------------------

def _distance_cases():
    x1, _ = _embeddings([3, 3, 2], 5, seed=1)
    x2, _ = _embeddings([4, 4], 3, seed=2)
    x2[5] = x2[1]                                          # an exact duplicate
    x3 = torch.tensor(np.random.default_rng(3).normal(size=(5, 8)) * 0.01 + 3.0)
    return [("8 random embeddings (5 dimensions)", x1.double()),
            ("8 embeddings, items 1 and 5 identical", x2.double()),
            ("5 nearby embeddings far from the origin", x3.double())]


@exercise(LAB, "pairwise_distances")
def check_pairwise_distances(distances_fn):
    """Check ``distances_fn(x) -> (n, n)``: the Euclidean (not squared) distances between the
    rows of ``x`` ``(n, d)``, against ``torch.cdist``; and its gradient, which must stay
    finite where a distance is 0 (the diagonal, duplicates)."""
    for case, x in _distance_cases():
        head = f"pairwise_distances(x) on {case}:"
        x = x.clone().requires_grad_(True)
        got = distances_fn(x)
        if not isinstance(got, torch.Tensor):
            raise LabCheckError(f"{head} return a torch tensor; got {type(got).__name__} "
                                "(the triplet loss needs its gradient).")
        ref = reference_distances(x.detach().double())
        scale = float(ref.max())
        if not torch.all(torch.isfinite(got)):
            raise LabCheckError(f"{head} your distances hold NaN values where the true "
                                "distance is 0 or tiny: round-off can make a squared distance "
                                "computed as |a|^2 + |b|^2 - 2 a.b slightly negative, and the "
                                "root of a negative number is NaN. Clamp before the root.")
        mistakes = [
            Mistake(reference_distances(x.detach().double(), squared=True).numpy(),
                    "these are the squared distances: take the square root."),
            Mistake((1 - F.normalize(x.detach().double(), dim=1)
                     @ F.normalize(x.detach().double(), dim=1).T).numpy(),
                    "this is the cosine distance; the exercise asks for the Euclidean one."),
            Mistake(torch.cdist(x.detach().double(), x.detach().double(), p=1).numpy(),
                    "these are L1 (city-block) distances: square the differences, sum, and "
                    "take the root."),
        ]
        compare(got.detach().double().numpy(), ref.numpy(), what="pairwise_distances(x)",
                case=case, mistakes=mistakes, layout="the result is (n, n): rows and columns "
                "index the items", rtol=1e-3, atol=1e-3 * scale)
        weights = torch.tensor(np.random.default_rng(7).random(ref.shape), dtype=x.dtype)
        (got * weights).sum().backward()
        xr = x.detach().double().requires_grad_(True)
        (reference_distances(xr) * weights.double()).sum().backward()
        _check_gradient(x.grad.double(), xr.grad, head, _SQRT_HINT)


# --- exercise 2: the batch-hard triplet loss ------------------------------------------------

def _triplet_cases():
    x1, y1 = _embeddings([3, 3, 3, 3], 4, seed=11)
    x2, y2 = _embeddings([4, 3, 1, 2], 4, seed=12)          # class 2 has one item only
    x3, y3 = _embeddings([3, 3, 2], 3, seed=13, spread=0.05)
    x3[y3 == 2] = x3[y3 == 0][:2].clone()                   # class 2 duplicates class 0 items
    return [("12 embeddings, 4 classes of 3", x1, y1, 0.2),
            ("10 embeddings; one class has a single item (no positive for it)", x2, y2, 0.5),
            ("8 embeddings, two items of class 2 identical to items of class 0 (collapse)",
             x3, y3, 0.2)]


def _triplet_mistakes(x, y, margin):
    ref = lambda **kw: float(reference_triplet_loss(x, y, margin, **kw))  # noqa: E731
    return [
        Mistake(ref(squared=True), "you used squared distances; this loss uses plain Euclidean "
                "distances (the margin is in those units). Mixing the two is a classic: "
                "check what your pairwise_distances returns."),
        Mistake(ref(self_positive=True), "the anchor was mined as its own positive: an anchor "
                "whose class has no other item in the batch got d_ap = 0. Exclude the "
                "diagonal from the positives (same label AND a different item) and skip the "
                "anchors left without a positive."),
        Mistake(ref(negatives="all others"), "your negatives include items of the anchor's "
                "own class: a negative must have a different label."),
        Mistake(ref(negative="farthest"), "you took the farthest negative; batch-hard mining "
                "takes the nearest (hardest) negative: min over the negatives."),
        Mistake(ref(positive="nearest"), "you took the nearest positive; batch-hard mining "
                "takes the farthest (hardest) positive: max over the positives."),
        Mistake(ref(reduction="sum"), "you summed over the anchors; average them."),
        Mistake(ref(reduction="nonzero"), "you averaged over the anchors with a non-zero loss "
                "only (pytorch-metric-learning's default reducer); this lab averages over all "
                "anchors that have a positive and a negative."),
        Mistake(ref(hinge=False), "the hinge is missing: relu(d_ap - d_an + margin), so "
                "triplets that already satisfy the margin contribute 0, not a negative "
                "number."),
    ]


@exercise(LAB, "triplet_loss")
def check_triplet_loss(loss_fn):
    """Check ``loss_fn(embeddings, labels, margin) -> scalar tensor``, the batch-hard triplet
    loss on plain Euclidean distances (:func:`reference_triplet_loss`), value and gradient,
    on a balanced batch, a batch with a single-item class and a half-collapsed batch."""
    for case, x, y, margin in _triplet_cases():
        head = f"triplet_loss(embeddings, labels, margin={margin}) on {case}:"
        xs = x.clone().requires_grad_(True)
        got = _loss_tensor(loss_fn(xs, y.clone(), margin), head)
        xr = x.double().requires_grad_(True)
        ref = reference_triplet_loss(xr, y, margin)
        _match(float(got.detach()), float(ref.detach()), head,
               _triplet_mistakes(x.double(), y, margin), 1e-4, "the batch-hard triplet loss")
        got.backward()
        ref.backward()
        _check_gradient(None if xs.grad is None else xs.grad.double(), xr.grad, head,
                        _SQRT_HINT)


# --- exercise 3: InfoNCE --------------------------------------------------------------------

def _info_nce_cases():
    rng = np.random.default_rng(21)
    q = rng.normal(size=(6, 8))
    k = q + 0.8 * rng.normal(size=(6, 8))
    scale = rng.uniform(0.3, 3.0, size=(6, 1))             # rows of different lengths
    q2 = rng.normal(size=(10, 5))
    k2 = 0.5 * q2 + rng.normal(size=(10, 5))
    as_t = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    return [("6 pairs, 8 dimensions, rows of different lengths", as_t(q * scale),
             as_t(k / scale), 0.1),
            ("10 pairs, 5 dimensions", as_t(q2), as_t(k2), 0.5)]


def _info_nce_mistakes(q, k, tau):
    ref = lambda **kw: float(reference_info_nce(q, k, tau, **kw))  # noqa: E731
    return [
        Mistake(ref(normalise=False), "you used the dot product of unnormalised embeddings; "
                "cosine similarity divides by the lengths: normalise the rows first "
                "(F.normalize(x, dim=1)). Unnormalised, the loss can shrink by making vectors "
                "longer instead of better aligned."),
        Mistake(ref(dim=0), "the softmax runs over the wrong axis: for query i (row i) the "
                "candidates are the keys (the columns of row i): log_softmax(dim=1)."),
        Mistake(ref(temperature_as="multiply"), "you multiplied by the temperature; divide the "
                "similarities by it (a small temperature sharpens the softmax)."),
        Mistake(ref(temperature_as="none"), "the temperature is missing: divide the "
                "similarities by it."),
        Mistake(ref(exclude_positive=True), "the positive is missing from the denominator: "
                "the softmax runs over all keys, the positive included."),
        Mistake(ref(reduction="sum"), "you summed over the queries; average them."),
        Mistake(ref(symmetric=True), "you averaged both directions (queries to keys and keys "
                "to queries, as CLIP does); this exercise asks for queries to keys only."),
        Mistake(-ref(), "the sign is wrong: the loss is MINUS the log-probability of the "
                "positive (a positive number)."),
    ]


@exercise(LAB, "info_nce")
def check_info_nce(loss_fn):
    """Check ``loss_fn(queries, keys, temperature) -> scalar tensor``: InfoNCE with cosine
    similarity divided by the temperature, softmax over the keys, mean over the queries
    (:func:`reference_info_nce`), value and gradient."""
    for case, q, k, tau in _info_nce_cases():
        head = f"info_nce(queries, keys, temperature={tau}) on {case}:"
        qs, ks = q.clone().requires_grad_(True), k.clone().requires_grad_(True)
        got = _loss_tensor(loss_fn(qs, ks, tau), head)
        qr, kr = q.double().requires_grad_(True), k.double().requires_grad_(True)
        ref = reference_info_nce(qr, kr, tau)
        _match(float(got.detach()), float(ref.detach()), head,
               _info_nce_mistakes(q.double(), k.double(), tau), 1e-4, "InfoNCE")
        got.backward()
        ref.backward()
        for name, g, r in (("queries", qs.grad, qr.grad), ("keys", ks.grad, kr.grad)):
            _check_gradient(None if g is None else g.double(), r, f"{head} ({name})",
                            "Look for a division by a zero norm or a log of 0.")


# --- exercises 4 and 5: retrieval metrics ---------------------------------------------------

def _retrieval_cases(real=None, ties: bool = True):
    rng = np.random.default_rng(31)
    labels1 = np.repeat(np.arange(4), 3)[rng.permutation(12)]
    x = rng.normal(size=(4, 3))[labels1] + 0.9 * rng.normal(size=(12, 3))
    D1 = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    labels2 = np.array([0, 0, 0, 1, 1, 2, 3, 3, 3, 3])         # label 2: one item only
    y2 = rng.normal(size=(10, 2)) + 0.6 * labels2[:, None]
    D2 = np.sqrt(((y2[:, None] - y2[None]) ** 2).sum(-1))
    cases = [("12 items, 4 labels (3 items each)", D1, labels1),
             ("10 items; label 2 has one item (no relevant item for it)", D2, labels2)]
    if ties:
        D3 = np.round(D1 * 2) / 2                                  # many tied distances
        cases.append(("12 items whose distances are rounded to 0.5 (many ties)", D3, labels1))
    if real is not None:
        Dr, yr = real
        cases.append((f"real distances ({len(yr)} items)", np.asarray(Dr, dtype=float),
                      np.asarray(yr)))
    return cases


def _call(fn, D, labels, *args):
    return fn(D.copy(), labels.copy(), *args)


def _recall_mistakes(D, labels, k):
    ref = lambda **kw: reference_recall_at_k(D, labels, k, **kw)  # noqa: E731
    return [
        Mistake(ref(include_self=True), "the query retrieved itself: its distance to itself "
                "is 0, so it always comes first. Leave the query out of its own ranking "
                "(e.g. set the diagonal to +inf)."),
        Mistake(ref(farthest=True), "you ranked the items from the farthest: sort the "
                "distances in increasing order (nearest first)."),
        Mistake(ref(kind="precision"), "this is precision@k (the share of the k nearest items "
                "that are relevant). Recall@k in metric learning asks whether at least one of "
                "the k nearest items is relevant (a hit, 1 or 0), averaged over the queries."),
        Mistake(ref(kind="fraction"), "this is the share of the relevant items found in the "
                "top k (recall in the information-retrieval sense). Metric-learning recall@k "
                "asks whether at least one of them is there."),
        Mistake(ref(skip_lonely=False), "you counted the queries without any relevant item as "
                "misses; leave them out (no ranking can succeed for them)."),
        Mistake(reference_recall_at_k(D, labels, k + 1), "off by one: you looked at the k + 1 "
                "nearest items (did you drop the query itself after taking k + 1?)."),
    ]


@exercise(LAB, "recall_at_k")
def check_recall_at_k(recall_fn, real=None):
    """Check ``recall_fn(distances, labels, k) -> float``: leave-one-out recall@k
    (:func:`reference_recall_at_k`) for k in 1, 2, 5 on distance matrices without ties (and
    with ``real=(distances, labels)``, real ones)."""
    for case, D, labels in _retrieval_cases(real, ties=False):
        for k in (1, 2, 5):
            head = f"recall_at_k(distances, labels, k={k}) on {case}:"
            got = _scalar(_call(recall_fn, D, labels, k), head)
            ref = reference_recall_at_k(D, labels, k)
            _match(got, ref, head, _recall_mistakes(D, labels, k), 1e-6,
                   "the fraction of queries with a relevant item among the k nearest others")


def _ap_mistakes(D, labels):
    ref = lambda **kw: reference_average_precision(D, labels, **kw)  # noqa: E731
    return [
        Mistake(ref(include_self=True), "the query is in its own ranking: at distance 0 it is "
                "the first, relevant item of every list. Leave it out."),
        Mistake(ref(farthest=True), "you ranked the items from the farthest; the nearest come "
                "first (a distance is not a similarity)."),
        Mistake(ref(lonely_as_zero=True), "you gave AP 0 to the queries without any relevant "
                "item; leave them out of the mean (their AP is undefined)."),
        Mistake(ref(ties="by position"), "ties in the ranking: items at the same distance were "
                "ranked by their position in the matrix. Tied items cross the threshold "
                "together: compute precision and recall once per distinct distance, after all "
                "the items at that distance (as sklearn.metrics.average_precision_score does "
                "on the negated distances)."),
    ]


@exercise(LAB, "mean_average_precision")
def check_mean_average_precision(map_fn, real=None):
    """Check ``map_fn(distances, labels) -> float``: leave-one-out mean average precision with
    tied distances as one threshold (:func:`reference_average_precision`), on random,
    single-item-label and tied distance matrices (and ``real=(distances, labels)``)."""
    for case, D, labels in _retrieval_cases(real):
        head = f"mean_average_precision(distances, labels) on {case}:"
        got = _scalar(_call(map_fn, D, labels), head)
        ref = reference_average_precision(D, labels)
        _match(got, ref, head, _ap_mistakes(D, labels), 1e-6,
               "the mean over the queries of sklearn's average_precision_score")


# --- exercise 6: an embedding trained with your loss ----------------------------------------

@exercise(LAB, "embedding")
def check_embedding(scores: dict, baseline: dict, *, quick: bool = False):
    """Check the retrieval scores of a trained embedding against those of its input features.

    Parameters
    ----------
    scores, baseline : dict
        ``{"recall@1": float, "mAP": float}`` of the trained embedding and of the features it
        was trained on, both on the test items.
    quick : bool
        Quick test mode: check only that the scores are numbers in [0, 1].
    """
    for name, table in (("your embedding", scores), ("the baseline", baseline)):
        if table is None:
            raise NotImplementedError("train the embedding first")
        for key in ("recall@1", "mAP"):
            value = table.get(key) if isinstance(table, dict) else None
            if value is None or not 0.0 <= float(value) <= 1.0:
                raise LabCheckError(f"{name}: expected a dict with {key!r} in [0, 1]; got "
                                    f"{table!r}")
    if quick:
        return
    if scores["mAP"] <= baseline["mAP"] + 0.02:
        raise LabCheckError(
            f"your embedding's mAP ({scores['mAP']:.3f}) is not above that of its input "
            f"features ({baseline['mAP']:.3f}). Look at the training loss: if it sits at the "
            "margin, the embedding collapsed (lower the learning rate, or mine semi-hard "
            "negatives); if it fell to 0 at once, the margin is too small for the scale of "
            "the embeddings (normalise them).")


# --- helpers of exercise 6 ------------------------------------------------------------------

def feature_statistics(audio, sr: int = 16000) -> np.ndarray:
    """MFCC statistics and chroma statistics of every clip, side by side, ``(n_clips, 104)``.

    :func:`mirlab.tagging.baselines.mfcc_features` (mean and spread of 20 MFCCs and their
    deltas) next to :func:`mirlab.similarity.evaluation.chroma_statistics` (mean and spread
    of the 12 pitch classes): the input features of exercise 6.
    """
    from mirlab.similarity.evaluation import chroma_statistics
    from mirlab.tagging.baselines import mfcc_features

    return np.hstack([mfcc_features(audio, sr), chroma_statistics(audio, sr)])


def class_batches(X, y, p: int = 8, m: int = 4, steps: int = 30):
    """Batches of ``m`` rows of ``X`` (``(n, n_features)``) from each of ``p`` classes of ``y``
    for :func:`mirlab.nn.training.fit`: :class:`mirlab.nn.metric.ClassBatchSampler`, with
    ``p`` lowered to the number of classes that have ``m`` rows (small quick-mode data)."""
    from mirlab.nn.metric import ClassBatchSampler

    counts = np.bincount(np.unique(np.asarray(y), return_inverse=True)[1].ravel())
    p = max(2, min(p, int(np.sum(counts >= m))))
    return ClassBatchSampler(np.asarray(X, dtype=np.float32), y, n_classes=p, n_per_class=m,
                             steps=steps)
