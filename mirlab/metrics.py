"""Evaluation of multi-label taggers: per-tag and macro ROC-AUC and PR-AUC.

For each tag, the clips are ranked by the predicted score. The ROC curve plots the true
positive rate (sensitivity) against the false positive rate (1 - specificity) over all
thresholds; its area (ROC-AUC) is the probability that a random positive clip is scored above
a random negative one (0.5: chance; 1: perfect). The precision-recall curve plots precision
against recall; its area, computed as average precision (PR-AUC), starts from the tag's
prevalence for a random scorer, so it is the harsher measure for rare tags. The tagging
literature reports both, averaged over tags ("macro") :cite:`Won2020evaluation`.

Both are written out below in a few lines each (:func:`binary_roc_auc`, the rank statistic;
:func:`binary_average_precision`, precision at each positive) and tested against scikit-learn,
which this module does not call. A tag whose ground truth holds only one class (all clips
positive or all negative) has no ROC or PR curve: it is skipped (NaN in the per-tag values,
left out of the macro average, with a warning naming it) or, with
``single_class="raise"``, raises a ``ValueError``.

Taught in the music tagging chapter.

Retrieval metrics (the second half of this module) score ranked lists: each query ranks the
items of a database by distance (nearest first), and the items that share its label are
relevant. :func:`precision_at_k`, :func:`recall_at_k`, :func:`average_precision` (per query),
:func:`mean_average_precision` and :func:`map_at_r` :cite:`Musgrave2020reality` all take a
distance matrix ``(n_queries, n_database)`` and the labels; when the queries *are* the
database (``database_labels=None``, leave-one-out retrieval) each query's own row is left
out of its list. Tested against scikit-learn's ``average_precision_score`` and
pytorch-metric-learning's ``AccuracyCalculator``. Taught in the metric learning chapter.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy.stats import rankdata

from mirlab.core.checks import check_choice, check_matrix

__all__ = ["roc_auc", "pr_auc", "binary_roc_auc", "binary_average_precision", "tag_report",
           "format_report", "SingleClassWarning", "ranked_relevance", "precision_at_k",
           "recall_at_k", "average_precision", "mean_average_precision", "map_at_r"]


class SingleClassWarning(UserWarning):
    """A tag was skipped because its ground truth holds only one class."""


def binary_roc_auc(y_true, y_score) -> float:
    """ROC-AUC of one tag: the probability that a positive clip outscores a negative one.

    In words: rank all clips by score (1 = lowest; tied scores share the mean of their ranks).
    The positives' rank sum minus its smallest possible value, ``n_pos (n_pos + 1) / 2``,
    counts the (positive, negative) pairs in which the positive is scored higher, a tie
    counting one half (the Mann-Whitney U statistic). Divided by the number of pairs
    ``n_pos * n_neg`` it is the area under the ROC curve.

    Parameters
    ----------
    y_true : array_like, shape (n_clips,)
        0/1 labels, at least one of each.
    y_score : array_like, shape (n_clips,)
        Scores; only their order matters.

    Returns
    -------
    float
        Equal to ``sklearn.metrics.roc_auc_score`` (tested).

    Examples
    --------
    >>> binary_roc_auc([1, 0, 1, 0], [0.9, 0.5, 0.5, 0.1])
    0.875
    """
    y_true, y_score = _check_column(y_true, y_score)
    positive = y_true == 1
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    ranks = rankdata(y_score)  # 'average': tied scores share their mean rank
    pairs_won = ranks[positive].sum() - n_pos * (n_pos + 1) / 2
    return float(pairs_won / (n_pos * n_neg))


def binary_average_precision(y_true, y_score) -> float:
    """Average precision (PR-AUC) of one tag: the mean precision at the positives' ranks.

    In words: sort the clips by decreasing score; at each positive clip, the precision is the
    fraction of positives among the clips scored at least as high; average it over the
    positives. Tied scores form one threshold: every positive in a group of ties gets the
    precision at the end of the group. This is ``sum_n (R_n - R_{n-1}) P_n`` over the
    thresholds, without interpolation.

    Parameters
    ----------
    y_true : array_like, shape (n_clips,)
        0/1 labels, at least one of each.
    y_score : array_like, shape (n_clips,)
        Scores; only their order matters.

    Returns
    -------
    float
        Equal to ``sklearn.metrics.average_precision_score`` (tested).

    Examples
    --------
    >>> binary_average_precision([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1])
    0.8333333333333333
    """
    y_true, y_score = _check_column(y_true, y_score)
    order = np.argsort(-y_score, kind="stable")
    score, label = y_score[order], y_true[order]
    true_positives = np.cumsum(label)           # positives among the first k + 1 clips
    end = np.append(score[1:] != score[:-1], True)  # last clip of each group of tied scores
    precision = true_positives[end] / (np.flatnonzero(end) + 1)
    new_positives = np.diff(true_positives[end], prepend=0)  # recall step of each threshold
    return float(np.sum(new_positives * precision) / true_positives[-1])


def _check_column(y_true, y_score):
    """Validate the labels and scores of one tag: 1-D, same length, 0/1 with both classes."""
    y_true, y_score = np.asarray(y_true), np.asarray(y_score)
    if y_true.ndim != 1 or y_score.ndim != 1:
        raise ValueError(f"y_true and y_score must have shape (n_clips,) for one tag; got "
                         f"y_true {y_true.shape} and y_score {y_score.shape} (use roc_auc or "
                         "pr_auc for a matrix of tags)")
    y_true, y_score = _check_inputs(y_true[:, None], y_score[:, None])
    if y_true.min() == y_true.max():
        raise ValueError(f"y_true must hold both classes (0 and 1); got only {y_true[0, 0]}s: "
                         "ROC-AUC and PR-AUC are undefined")
    return y_true[:, 0], y_score[:, 0]


def _check_inputs(y_true, y_score, tags=None):
    y_true = check_matrix(y_true, "y_true")
    y_score = check_matrix(y_score, "y_score")
    if y_true.shape != y_score.shape:
        raise ValueError(f"y_true and y_score must have the same shape (n_clips, n_tags); "
                         f"got y_true {y_true.shape} and y_score {y_score.shape}")
    if not np.all((y_true == 0) | (y_true == 1)):
        raise ValueError("y_true must hold 0/1 labels; got values "
                         f"{np.unique(y_true)[:5].tolist()}...")
    if tags is not None and len(tags) != y_true.shape[1]:
        raise ValueError(f"tags must name the {y_true.shape[1]} columns; got {len(tags)} names")
    return y_true.astype(int), y_score.astype(float)


def _per_tag(metric, y_true, y_score, single_class, tags):
    """``metric`` for each column; NaN (with a warning) or ValueError for one-class columns."""
    check_choice(single_class, "single_class", {"skip", "raise"})
    names = tags if tags is not None else [f"column {j}" for j in range(y_true.shape[1])]
    values = np.full(y_true.shape[1], np.nan)
    skipped = []
    for j in range(y_true.shape[1]):
        if y_true[:, j].min() == y_true[:, j].max():
            skipped.append(names[j])
        else:
            values[j] = metric(y_true[:, j], y_score[:, j])
    if skipped and single_class == "raise":
        raise ValueError(
            f"y_true has a single class (all 0 or all 1) for {len(skipped)} tag(s): "
            f"{', '.join(map(str, skipped[:5]))}; ROC-AUC and PR-AUC are undefined there. "
            "Evaluate on more clips, drop those tags, or pass single_class='skip'")
    if np.all(np.isnan(values)):
        raise ValueError("y_true has a single class in every column: no tag can be evaluated")
    if skipped:
        warnings.warn(f"skipped {len(skipped)} tag(s) with a single class in y_true: "
                      f"{', '.join(map(str, skipped[:5]))}", SingleClassWarning, stacklevel=3)
    return values


def _average(values, average):
    if average not in ("macro", None):
        raise ValueError(f"average must be 'macro' or None; got {average!r}")
    return float(np.nanmean(values)) if average == "macro" else values


def roc_auc(y_true, y_score, average: str | None = "macro", *, single_class: str = "skip",
            tags=None):
    """Area under the ROC curve, per tag or averaged over tags.

    Parameters
    ----------
    y_true : array_like, shape (n_clips, n_tags)
        0/1 ground truth.
    y_score : array_like, shape (n_clips, n_tags)
        Scores (probabilities or logits: only their order matters).
    average : {'macro', None}
        ``'macro'``: the mean over tags (a float); None: one value per tag.
    single_class : {'skip', 'raise'}
        What to do with a tag whose ``y_true`` column is constant (see the module docstring).
    tags : list of str, optional
        Column names, used in messages.

    Returns
    -------
    float or np.ndarray, shape (n_tags,)
        :func:`binary_roc_auc` of each column (equal to ``sklearn.metrics.roc_auc_score``).

    Examples
    --------
    >>> roc_auc([[1, 0], [0, 1], [1, 1], [0, 0]], [[0.9, 0.2], [0.1, 0.8], [0.7, 0.3], [0.2, 0.4]])
    0.875
    """
    y_true, y_score = _check_inputs(y_true, y_score, tags)
    return _average(_per_tag(binary_roc_auc, y_true, y_score, single_class, tags), average)


def pr_auc(y_true, y_score, average: str | None = "macro", *, single_class: str = "skip",
           tags=None):
    """Area under the precision-recall curve (average precision), per tag or macro-averaged.

    Parameters are those of :func:`roc_auc`.

    Returns
    -------
    float or np.ndarray, shape (n_tags,)
        :func:`binary_average_precision` of each column (equal to
        ``sklearn.metrics.average_precision_score``). A random scorer
        gets about the tag's prevalence (fraction of positive clips), a perfect one 1.

    Examples
    --------
    >>> pr_auc([[1], [0], [1], [0]], [[0.9], [0.1], [0.7], [0.2]])
    1.0
    """
    y_true, y_score = _check_inputs(y_true, y_score, tags)
    return _average(_per_tag(binary_average_precision, y_true, y_score, single_class, tags),
                    average)


def tag_report(y_true, y_score, tags, *, sort_by: str | None = "roc_auc") -> list[dict]:
    """One row per tag: positives, prevalence, ROC-AUC and PR-AUC (NaN for one-class tags).

    Parameters
    ----------
    y_true, y_score : array_like, shape (n_clips, n_tags)
    tags : list of str
        Column names.
    sort_by : {'roc_auc', 'pr_auc', 'prevalence', None}
        Sort the rows by this column, best first (None: the order of ``tags``).

    Returns
    -------
    list of dict
        Keys ``tag, positives, prevalence, roc_auc, pr_auc``
        (``pandas.DataFrame(rows)`` makes a table of it; :func:`format_report` a text one).
    """
    y_true, y_score = _check_inputs(y_true, y_score, list(tags))
    if sort_by not in ("roc_auc", "pr_auc", "prevalence", None):
        raise ValueError(f"sort_by must be 'roc_auc', 'pr_auc', 'prevalence' or None; "
                         f"got {sort_by!r}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingleClassWarning)
        roc = _per_tag(binary_roc_auc, y_true, y_score, "skip", tags)
        pr = _per_tag(binary_average_precision, y_true, y_score, "skip", tags)
    rows = [{"tag": str(tag), "positives": int(y_true[:, j].sum()),
             "prevalence": float(y_true[:, j].mean()), "roc_auc": float(roc[j]),
             "pr_auc": float(pr[j])} for j, tag in enumerate(tags)]
    if sort_by is not None:
        rows.sort(key=lambda r: -np.inf if np.isnan(r[sort_by]) else r[sort_by], reverse=True)
    return rows


def format_report(rows: list[dict]) -> str:
    """A markdown table of :func:`tag_report`'s rows, with the macro averages last."""
    lines = ["| tag | positives | prevalence | ROC-AUC | PR-AUC |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for r in rows:
        lines.append(f"| {r['tag']} | {r['positives']} | {r['prevalence']:.2f} | "
                     f"{r['roc_auc']:.3f} | {r['pr_auc']:.3f} |")
    roc = np.nanmean([r["roc_auc"] for r in rows])
    pr = np.nanmean([r["pr_auc"] for r in rows])
    lines.append(f"| **macro** | | | **{roc:.3f}** | **{pr:.3f}** |")
    return "\n".join(lines)


# ------------------------------------------------------------------------ retrieval
def ranked_relevance(distances, query_labels, database_labels=None, *,
                     exclude_self: bool | None = None):
    """Each query's database items sorted nearest first: their relevance and distances.

    The rule for equal distances is stable: tied items keep the order of the database (the
    lower index first). The functions below either use that order (``ties='stable'``) or
    treat each group of tied items as one (``'average'``, ``'grouped'``), which needs the
    sorted distances too.

    Parameters
    ----------
    distances : array_like, shape (n_queries, n_database)
        Smaller is closer (for similarities pass their negation). NaN is refused; ``inf`` is
        allowed (never retrieved before a finite distance).
    query_labels : array_like, shape (n_queries,)
    database_labels : array_like, shape (n_database,) or None
        None: the database is the query set (``distances`` square, same labels).
    exclude_self : bool or None
        Leave item ``i`` out of query ``i``'s list (needs a square ``distances``). None: True
        when ``database_labels`` is None, else False.

    Returns
    -------
    relevant : np.ndarray of bool, shape (n_queries, n_ranked)
        ``relevant[q, r]``: the item at rank ``r`` (0 = nearest) shares query ``q``'s label.
    sorted_distances : np.ndarray, shape (n_queries, n_ranked)
        ``n_ranked`` is ``n_database``, minus one with ``exclude_self``.

    Examples
    --------
    >>> rel, d = ranked_relevance([[0, 2, 1], [2, 0, 1], [1, 1, 0]], [0, 0, 1])
    >>> rel.tolist(), d.tolist()
    ([[False, True], [False, True], [False, False]], [[1, 2], [1, 2], [1, 1]])
    """
    D = check_matrix(distances, "distances")
    if np.isnan(D).any():
        raise ValueError("distances must not contain NaN")
    q_labels = np.asarray(query_labels)
    if q_labels.shape != (D.shape[0],):
        raise ValueError(f"query_labels must have shape ({D.shape[0]},), one per row of "
                         f"distances; got {q_labels.shape}")
    db_labels = q_labels if database_labels is None else np.asarray(database_labels)
    if db_labels.shape != (D.shape[1],):
        raise ValueError(f"database_labels must have shape ({D.shape[1]},), one per column of "
                         f"distances; got {db_labels.shape}")
    if exclude_self is None:
        exclude_self = database_labels is None
    if exclude_self and D.shape[0] != D.shape[1]:
        raise ValueError(f"exclude_self=True needs a square distances matrix (the queries are "
                         f"the database); got shape {D.shape}")
    if exclude_self and D.shape[1] < 2:
        raise ValueError("distances must hold at least 2 items to leave each query out")
    columns = np.broadcast_to(np.arange(D.shape[1]), D.shape)
    is_self = (columns == np.arange(D.shape[0])[:, None]) if exclude_self else \
        np.zeros(D.shape, dtype=bool)
    order = np.lexsort((columns, D, is_self), axis=-1)  # self last, then distance, then index
    if exclude_self:
        order = order[:, :-1]
    relevant = db_labels[order] == q_labels[:, None]
    return relevant, np.take_along_axis(D, order, axis=1)


def _check_k(k, n_ranked: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= n_ranked:
        raise ValueError(f"k must be an integer between 1 and the number of ranked items "
                         f"({n_ranked}); got {k!r}")
    return int(k)


def _queries_with_relevant(relevant) -> np.ndarray:
    has = relevant.any(axis=1)
    if not has.any():
        raise ValueError("no query has a relevant item in the database (no shared label): "
                         "retrieval metrics are undefined")
    return has


def _summarise(values, has, average: bool):
    values = np.where(has, values, np.nan)
    return float(np.nanmean(values)) if average else values


def _top_k_counts(relevant, D, k: int, ties: str) -> tuple[np.ndarray, np.ndarray]:
    """Relevant items in each query's top ``k``: the count, and the probability of at least
    one. ``'stable'``: of the stable order. ``'average'``: the expected count and the exact
    probability when the items tied with the ``k``-th are ordered uniformly at random."""
    check_choice(ties, "ties", {"stable", "average"})
    if ties == "stable":
        top = relevant[:, :k]
        return top.sum(axis=1).astype(float), top.any(axis=1).astype(float)
    kth = D[:, k - 1:k]
    before, group = D < kth, D == kth
    rel_before = (relevant & before).sum(axis=1)
    rel_group, n_group = (relevant & group).sum(axis=1), group.sum(axis=1)
    slots = k - before.sum(axis=1)  # places in the top k left for the tied group
    expected = rel_before + slots * rel_group / n_group
    miss = [math.comb(int(g - r), int(s)) / math.comb(int(g), int(s))
            for g, r, s in zip(n_group, rel_group, slots, strict=True)]
    hit = np.where(rel_before > 0, 1.0, 1.0 - np.array(miss))
    return expected, hit


def precision_at_k(distances, query_labels, database_labels=None, k: int = 1, *,
                   exclude_self: bool | None = None, ties: str = "stable",
                   average: bool = True):
    """Precision@k: the fraction of relevant items among each query's ``k`` nearest.

    Parameters
    ----------
    distances, query_labels, database_labels, exclude_self
        See :func:`ranked_relevance`.
    k : int
        ``1 <= k <=`` the number of ranked items.
    ties : {'stable', 'average'}
        Items at the same distance as the ``k``-th: ``'stable'`` keeps the lower database
        indices; ``'average'`` gives the expected value when ties are ordered at random (so
        a constant embedding scores chance, not an accident of the item order).
    average : bool
        True: the mean over the queries that have at least one relevant item (the others
        are left out); False: one value per query (NaN for the left-out ones).

    Returns
    -------
    float or np.ndarray, shape (n_queries,)

    References
    ----------
    Manning, Raghavan & Schütze (2008), Introduction to Information Retrieval, ch. 8.

    Examples
    --------
    >>> D = [[0, 1, 2, 3], [1, 0, 2, 3], [2, 2, 0, 1], [3, 3, 1, 0]]
    >>> precision_at_k(D, [0, 0, 1, 1], k=1)
    1.0
    >>> precision_at_k(D, [0, 0, 1, 1], k=2)
    0.5
    """
    relevant, D = ranked_relevance(distances, query_labels, database_labels,
                                   exclude_self=exclude_self)
    k = _check_k(k, relevant.shape[1])
    counts, _ = _top_k_counts(relevant, D, k, ties)
    return _summarise(counts / k, _queries_with_relevant(relevant), average)


def recall_at_k(distances, query_labels, database_labels=None, k: int = 1, *,
                exclude_self: bool | None = None, ties: str = "stable", kind: str = "hit",
                average: bool = True):
    """Recall@k: whether (``kind='hit'``) or how much (``'fraction'``) of the relevant set is
    among each query's ``k`` nearest.

    Two definitions share this name. In metric learning and cross-modal retrieval papers
    ("R@k"), recall@k is the fraction of queries with *at least one* relevant item in their
    top ``k`` (``kind='hit'``). In information retrieval it is the fraction of a query's
    relevant items found in its top ``k`` (``kind='fraction'``). With a single relevant item
    per query (a clip and its own score) they agree.

    Parameters
    ----------
    distances, query_labels, database_labels, exclude_self
        See :func:`ranked_relevance`.
    k : int
    ties : {'stable', 'average'}
        See :func:`precision_at_k` (``'average'``: the exact probability of a hit, or the
        expected fraction, over random orders of the tied items).
    kind : {'hit', 'fraction'}
    average : bool
        See :func:`precision_at_k`.

    Returns
    -------
    float or np.ndarray, shape (n_queries,)

    References
    ----------
    Musgrave, Belongie & Lim (2020), A metric learning reality check, ECCV (on the two
    meanings).

    Examples
    --------
    >>> D = [[0, 1, 2, 3], [1, 0, 2, 3], [2, 2, 0, 1], [3, 3, 1, 0]]
    >>> recall_at_k(D, [0, 0, 1, 0], k=1), recall_at_k(D, [0, 0, 1, 0], k=1, kind="fraction")
    (0.6666666666666666, 0.3333333333333333)
    """
    check_choice(kind, "kind", {"hit", "fraction"})
    relevant, D = ranked_relevance(distances, query_labels, database_labels,
                                   exclude_self=exclude_self)
    k = _check_k(k, relevant.shape[1])
    counts, hits = _top_k_counts(relevant, D, k, ties)
    has = _queries_with_relevant(relevant)
    values = hits if kind == "hit" else counts / np.maximum(relevant.sum(axis=1), 1)
    return _summarise(values, has, average)


def _precision_at_ranks(relevant, D, ties: str) -> np.ndarray:
    """Precision at every rank ``r`` (``(r + 1)``-th item); with ``'grouped'`` ties each item
    gets the precision at the end of its group of equal distances."""
    hits = np.cumsum(relevant, axis=1)
    n = relevant.shape[1]
    if ties == "stable":
        return hits / np.arange(1, n + 1)
    is_end = np.ones(D.shape, dtype=bool)
    is_end[:, :-1] = D[:, 1:] != D[:, :-1]
    end = np.where(is_end, np.arange(n), n)[:, ::-1]
    end = np.minimum.accumulate(end, axis=1)[:, ::-1]  # the last rank of each item's group
    return np.take_along_axis(hits, end, axis=1) / (end + 1)


def average_precision(distances, query_labels, database_labels=None, *,
                      exclude_self: bool | None = None, ties: str = "grouped") -> np.ndarray:
    """Average precision of each query: the mean of the precisions at its relevant items.

    ``AP = (1 / R) sum_r P(r) rel(r)`` over the ranks ``r`` of the list, with ``R`` the
    number of relevant items and ``P(r)`` the precision of the first ``r`` items.

    Parameters
    ----------
    distances, query_labels, database_labels, exclude_self
        See :func:`ranked_relevance`.
    ties : {'grouped', 'stable'}
        ``'grouped'``: items at equal distance form one threshold and every relevant item of
        the group gets the precision at the group's end; this equals
        ``sklearn.metrics.average_precision_score(relevant, -distance)`` (tested) and does
        not depend on the item order. ``'stable'``: the order of :func:`ranked_relevance`.

    Returns
    -------
    np.ndarray, shape (n_queries,)
        NaN for a query without any relevant item.

    References
    ----------
    Manning, Raghavan & Schütze (2008), Introduction to Information Retrieval, ch. 8.

    Examples
    --------
    >>> average_precision([[0, 1, 2, 3]], [0], [1, 0, 1, 0]).tolist()
    [0.5]
    """
    check_choice(ties, "ties", {"grouped", "stable"})
    relevant, D = ranked_relevance(distances, query_labels, database_labels,
                                   exclude_self=exclude_self)
    n_relevant = relevant.sum(axis=1)
    precision = _precision_at_ranks(relevant, D, ties)
    with np.errstate(invalid="ignore", divide="ignore"):
        ap = (precision * relevant).sum(axis=1) / n_relevant
    return np.where(n_relevant > 0, ap, np.nan)


def mean_average_precision(distances, query_labels, database_labels=None, *,
                           exclude_self: bool | None = None, ties: str = "grouped") -> float:
    """Mean of :func:`average_precision` over the queries that have a relevant item.

    Examples
    --------
    >>> D = [[0, 1, 2, 3], [1, 0, 2, 3], [2, 2, 0, 1], [3, 3, 1, 0]]
    >>> round(mean_average_precision(D, [0, 1, 0, 1]), 4)  # APs 1/2, 1/3, 1/3, 1/3
    0.375
    """
    ap = average_precision(distances, query_labels, database_labels, exclude_self=exclude_self,
                           ties=ties)
    if np.all(np.isnan(ap)):
        raise ValueError("no query has a relevant item in the database (no shared label): "
                         "mean average precision is undefined")
    return float(np.nanmean(ap))


def map_at_r(distances, query_labels, database_labels=None, *,
             exclude_self: bool | None = None, average: bool = True):
    """MAP@R :cite:`Musgrave2020reality`: average precision truncated at rank ``R``.

    For a query with ``R`` relevant items, ``MAP@R = (1 / R) sum_{r <= R} P(r) rel(r)``: only
    the first ``R`` retrieved items count, so a perfect ranking scores 1 and, unlike
    precision@1, the measure rewards a well-ordered neighbourhood. Ties are broken by the
    stable rule of :func:`ranked_relevance`.

    Parameters
    ----------
    distances, query_labels, database_labels, exclude_self
        See :func:`ranked_relevance`.
    average : bool
        See :func:`precision_at_k`.

    Returns
    -------
    float or np.ndarray, shape (n_queries,)
        Equal to pytorch-metric-learning's ``mean_average_precision_at_r`` (tested).

    References
    ----------
    Musgrave, Belongie & Lim (2020), A metric learning reality check, ECCV.

    Examples
    --------
    >>> map_at_r([[0, 1, 2, 3]], [0], [1, 0, 0, 1])
    0.25
    """
    relevant, D = ranked_relevance(distances, query_labels, database_labels,
                                   exclude_self=exclude_self)
    has = _queries_with_relevant(relevant)
    R = relevant.sum(axis=1)
    within_r = np.arange(relevant.shape[1])[None, :] < R[:, None]
    precision = _precision_at_ranks(relevant, D, "stable")
    values = (precision * relevant * within_r).sum(axis=1) / np.maximum(R, 1)
    return _summarise(values, has, average)
