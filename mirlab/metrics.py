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
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.stats import rankdata

from mirlab.core.checks import check_choice, check_matrix

__all__ = ["roc_auc", "pr_auc", "binary_roc_auc", "binary_average_precision", "tag_report",
           "format_report", "SingleClassWarning"]


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
