"""Checks for lab 4, music tagging (``labs/lab04_music_tagging``).

Each ``check_*`` function calls a student's function on a few inputs (seeded random labels and
scores, with and without ties; tag matrices holding a tag with one class; a small calibrated
convolutional tagger and synthetic or real clips), compares the result with scikit-learn and
:mod:`mirlab.nn.training`, and raises :class:`~mirlab.labs.LabCheckError` naming the input, what
differs and, when the result equals the output of a typical mistake (1 - AUC from a reversed
ranking, ties ignored, a micro instead of a macro average, the trapezoid rule instead of
average precision, a sigmoid inside the model, logits averaged instead of probabilities, the
last chunk dropped, the model left in training mode ...), that mistake.

Use it in the lab as ``from mirlab.labs import music_tagging as checks``.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import torch
from scipy.special import expit
from scipy.stats import rankdata
from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_auc_score
from torch import nn

from mirlab.labs.core import LabCheckError, Mistake, compare, exercise
from mirlab.metrics import SingleClassWarning
from mirlab.metrics import roc_auc as reference_roc_auc
from mirlab.nn.models import LogMel, Tagger, build, count_parameters
from mirlab.nn.models.base import chunk_starts, torch_threads
from mirlab.nn.training import predict as reference_predict

__all__ = [
    "PARAMETER_RANGE",
    "subsample",
    "check_roc_auc",
    "check_macro_average",
    "check_average_precision",
    "check_tagger",
    "check_bag_of_chunks",
    "check_training",
]

LAB = "lab04"

#: trainable parameters a CPU-sized tagger of this lab may have
PARAMETER_RANGE = (2_000, 300_000)


def subsample(data, split: str, n_clips: int | None = None, random_state: int = 0):
    """The clips of one split of a :class:`~mirlab.datasets.tagging.TaggingDataset`, or
    ``n_clips`` of them drawn at random without replacement (kept in their order).

    Unlike ``data.subset(split)`` followed by a selection, the audio is copied only once,
    and only for the clips kept. The lab's quick mode uses it to train on a few clips.

    Parameters
    ----------
    data : TaggingDataset
    split : {'train', 'valid', 'test'}
    n_clips : int or None
        How many clips to keep (None, or more than the split holds: all of them).
    random_state : int
        Seed of the draw.

    Returns
    -------
    TaggingDataset
    """
    index = np.flatnonzero(np.asarray(data.split) == split)
    if len(index) == 0:
        raise ValueError(f"split must name a split of data; got {split!r}, data has "
                         f"{sorted(set(np.asarray(data.split).tolist()))}")
    if n_clips is not None:
        if n_clips < 1:
            raise ValueError(f"n_clips must be a positive int or None; got {n_clips!r}")
        if n_clips < len(index):
            rng = np.random.default_rng(random_state)
            index = np.sort(rng.choice(index, n_clips, replace=False))
    return dataclasses.replace(data, audio=data.audio[index], labels=data.labels[index],
                               split=np.asarray(data.split)[index],
                               meta=[data.meta[i] for i in index])


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
        raise LabCheckError(f"{head} return one number (a float); got "
                            f"{type(got).__name__} of shape {arr.shape}")
    return float(arr.reshape(()))


def _check_value(got: float, expected: float, head: str, mistakes=(), tol: float = 1e-6,
                 source: str = "scikit-learn"):
    """Raise a LabCheckError unless ``got`` equals ``expected`` (naming a matching mistake)."""
    if np.isclose(got, expected, rtol=0, atol=tol):
        return
    for mistake in mistakes:
        if np.isfinite(mistake.output) and np.isclose(got, mistake.output, rtol=0, atol=tol):
            raise LabCheckError(f"{head} yours {got:.6g}, expected {expected:.6g}: "
                                f"{mistake.hint}")
    if not np.isfinite(got):
        raise LabCheckError(f"{head} your result is {got}, expected {expected:.6g}. Look for a "
                            "division by zero (no positive or no negative clip?) or an empty "
                            "selection.")
    raise LabCheckError(f"{head} yours {got:.6g}, expected {expected:.6g} ({source}). Compare "
                        "your steps with the formula above the exercise on a tiny example "
                        "(e.g. y_true = [1, 0, 1, 0], y_score = [0.9, 0.8, 0.3, 0.1]).")


def _call_metric(fn, y_true, y_score, what: str, case: str, reference) -> float:
    """Call ``fn(y_true, y_score)`` on copies; name swapped arguments when that is the cause."""
    head = f"{what} on {case}:"
    try:
        with np.errstate(all="ignore"):
            got = _scalar(fn(y_true.copy(), y_score.copy()), head)
    except (LabCheckError, NotImplementedError):
        raise
    except Exception as err:
        if _swapped_matches(fn, y_true, y_score, reference):
            raise LabCheckError(f"{head} your function raised {type(err).__name__} ({err}) "
                                f"but works with the arguments swapped: {_SWAPPED}") from None
        raise
    if not np.isclose(got, reference, rtol=0, atol=1e-6) and _swapped_matches(
            fn, y_true, y_score, reference):
        raise LabCheckError(f"{head} yours {got:.6g}, expected {reference:.6g}: {_SWAPPED}")
    return got


_SWAPPED = ("the scores and labels are swapped. The order is (y_true, y_score), as in "
            "scikit-learn: the 0/1 labels first, the scores second.")


def _swapped_matches(fn, y_true, y_score, reference) -> bool:
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            other = float(np.asarray(fn(y_score.copy(), y_true.copy())).reshape(()))
    except Exception:
        return False
    return bool(np.isclose(other, reference, rtol=0, atol=1e-6))


def _score_cases(real=None):
    """(description, y_true, y_score, has_ties) for the one-tag metrics."""
    rng = np.random.default_rng(4)
    y1 = (rng.random(40) < 0.3).astype(float)
    y1[:2] = [1.0, 0.0]
    s1 = rng.random(40) + 0.4 * y1
    y2 = (rng.random(60) < 0.4).astype(np.float32)
    s2 = np.round(rng.random(60) * 0.6 + 0.4 * y2, 1)          # many ties
    y3 = np.zeros(50)
    y3[[4, 17, 33]] = 1.0
    s3 = rng.normal(size=50) + 1.0 * y3
    order = rng.permutation(24)
    s4 = np.linspace(1.0, 0.05, 24)[order]                    # distinct scores, shuffled
    y4 = np.array([0, 1, 1, 0, 1, 1, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0],
                  dtype=float)[order]                          # labels in decreasing score
    cases = [("40 clips with random scores (no ties)", y1, s1, False),
             ("24 clips whose top-scored clip is negative", y4, s4, False),
             ("50 clips, 3 of them positive (a rare tag)", y3, s3, False),
             ("60 clips whose scores are rounded to one decimal (many ties)", y2, s2, True)]
    if real is not None:
        Y, S = (np.asarray(a, dtype=float) for a in real)
        for j in range(Y.shape[1]):
            if 0 < Y[:, j].sum() < len(Y):
                cases.append((f"real scores, column {j} ({len(Y)} clips)", Y[:, j], S[:, j],
                              len(np.unique(S[:, j])) < len(S)))
    return cases


def _break_ties(s: np.ndarray) -> np.ndarray:
    """``s`` plus a jitter smaller than any gap between distinct values: no ties, same order."""
    values = np.unique(s)
    gap = np.min(np.diff(values)) if len(values) > 1 else 1.0
    return s + 0.25 * gap * np.random.default_rng(0).random(len(s))


def _only_ties_wrong(fn, y, s, reference) -> bool:
    """True if ``fn`` matches ``reference`` once the ties of ``s`` are broken."""
    jittered = _break_ties(s)
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = float(np.asarray(fn(y.copy(), jittered)).reshape(()))
    except Exception:
        return False
    return bool(np.isclose(got, reference(y, jittered), rtol=0, atol=1e-6))


def _ties_hint(metric: str) -> str:
    return (f"your {metric} is right on scores without ties but wrong when several clips share "
            "a score. Tied scores form one threshold: ")


# --- exercise 1: ROC-AUC --------------------------------------------------------------------

def _pair_auc(y, s, tie_value=0.5) -> float:
    pos, neg = s[y == 1], s[y == 0]
    greater = pos[:, None] > neg[None, :]
    equal = pos[:, None] == neg[None, :]
    return float(np.mean(greater + tie_value * equal))


def _roc_mistakes(y, s, ref) -> list[Mistake]:
    n_pos, n_neg = int(y.sum()), int(len(y) - y.sum())
    rank_sum = float(rankdata(s)[y == 1].sum())
    return [
        Mistake(1.0 - ref, "this is 1 - AUC: you ranked the clips in the wrong direction (a "
                "higher score must mean 'more likely positive'; e.g. you sorted ascending "
                "where you meant descending, or counted pairs where the negative scores "
                "higher), or treated the negatives (label 0) as the positive class."),
        Mistake(ref * n_pos * n_neg, "this is the number of correctly ordered pairs (the "
                "Mann-Whitney U): divide by n_pos * n_neg."),
        Mistake(rank_sum / (n_pos * n_neg), "you divided the rank sum of the positives by "
                "n_pos * n_neg without first subtracting n_pos * (n_pos + 1) / 2."),
        Mistake(float(np.mean((s > 0.5) == (y == 1))), "this is the accuracy at threshold "
                "0.5; the AUC looks at every threshold (every pair of a positive and a "
                "negative clip)."),
        Mistake(_pair_auc(y, s, 0.0), _ties_hint("AUC") + "a tied (positive, negative) pair "
                "counts 1/2, not 0 (you used > only)."),
        Mistake(_pair_auc(y, s, 1.0), _ties_hint("AUC") + "a tied (positive, negative) pair "
                "counts 1/2, not 1 (you used >=)."),
    ]


@exercise(LAB, "roc_auc")
def check_roc_auc(roc_auc_fn, real=None):
    """Check ``roc_auc_fn(y_true, y_score) -> float`` against
    ``sklearn.metrics.roc_auc_score`` on random scores, a rare tag, tied scores, and (with
    ``real=(Y, S)``, 0/1 labels and scores shaped ``(n_clips, n_tags)``) every column of
    real scores that has both classes."""
    _check_metric(roc_auc_fn, real, "roc_auc", roc_auc_score, _roc_mistakes,
                  _ties_hint("AUC") + "count a tied (positive, negative) pair as 1/2 (or give "
                  "tied scores their average rank).")


def _check_metric(fn, real, name: str, reference, mistakes_of, ties_hint: str) -> None:
    """The body of :func:`check_roc_auc` and :func:`check_average_precision`: ``fn`` against
    the scikit-learn ``reference`` on every case, naming a known mistake or wrong ties."""
    what = f"{name}(y_true, y_score)"
    for case, y, s, ties in _score_cases(real):
        ref = float(reference(y, s))
        got = _call_metric(fn, y, s, what, case, ref)
        mistakes = mistakes_of(y, s, ref)
        if ties and not np.isclose(got, ref, rtol=0, atol=1e-6) and _only_ties_wrong(
                fn, y, s, reference):
            hint = next((m.hint for m in mistakes if np.isclose(got, m.output, atol=1e-6)),
                        ties_hint)
            raise LabCheckError(f"{what} on {case}: yours {got:.6g}, expected {ref:.6g}: "
                                f"{hint}")
        _check_value(got, ref, f"{what} on {case}:", mistakes,
                     source=f"sklearn.metrics.{reference.__name__}")


def _macro_cases(real=None):
    rng = np.random.default_rng(5)
    Y = (rng.random((30, 6)) < [0.5, 0.2, 0.4, 0.0, 0.3, 0.6]).astype(float)
    Y[:3, [0, 1, 2, 4, 5]] = [[1, 1, 1, 1, 1], [0, 0, 0, 0, 0], [1, 0, 1, 0, 1]]
    S = rng.random((30, 6)) + 0.5 * Y * np.array([1.0, 0.2, 0.6, 0.0, 1.5, 0.4])
    Y2 = (rng.random((20, 4)) < 0.5).astype(float)
    Y2[:2] = [[1, 0, 1, 0], [0, 1, 0, 1]]
    Y2[:, 2] = 1.0                                               # a tag every clip carries
    S2 = rng.random((20, 4)) + 0.5 * Y2
    cases = [("30 clips x 6 tags; tag 3 has no positive clip", Y, S),
             ("20 clips x 4 tags; every clip carries tag 2", Y2, S2)]
    if real is not None:
        Yr, Sr = (np.asarray(a, dtype=float) for a in real)
        cases.append((f"real scores ({Yr.shape[0]} clips x {Yr.shape[1]} tags)", Yr, Sr))
    return cases


def _valid_columns(Y) -> np.ndarray:
    return np.flatnonzero((Y.sum(axis=0) > 0) & (Y.sum(axis=0) < len(Y)))


def _quiet(metric, y, s) -> float:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return float(metric(y, s))
    except ValueError:
        return np.nan


def _macro_mistakes(metric, Y, S, ref) -> list[Mistake]:
    ok = _valid_columns(Y)
    per_tag = np.array([_quiet(metric, Y[:, j], S[:, j]) for j in range(Y.shape[1])])
    rows = [i for i in range(len(Y)) if 0 < Y[i].sum() < Y.shape[1]]
    weights = Y[:, ok].sum(axis=0)
    mistakes = [
        Mistake(_quiet(metric, Y.ravel(), S.ravel()), "this is a micro average (all tags "
                "pooled into one ranking). The macro average computes the metric for each "
                "tag (column) and then takes the mean."),
        Mistake(float(np.mean([_quiet(metric, Y[i], S[i]) for i in rows])), "you averaged "
                "over clips (rows); the macro average runs over tags (columns): "
                "metric(Y[:, j], S[:, j]) for each tag j."),
        Mistake(float(np.sum(per_tag[ok] * weights) / weights.sum()), "you weighted the "
                "tags by their number of positive clips; the macro average gives every tag "
                "the same weight."),
    ]
    for fill in (0.0, 0.5, 1.0):
        filled = np.where(np.isin(np.arange(Y.shape[1]), ok), per_tag, fill)
        mistakes.append(Mistake(float(np.mean(filled)), f"you counted the tags with one "
                                f"class as {fill:g}; skip them (their metric is undefined)."))
    if np.all(np.isfinite(per_tag)):
        mistakes.append(Mistake(float(np.mean(per_tag)), "you kept the tags whose column "
                                "holds one class only (all 0 or all 1); skip them: no ranking "
                                "of clips can be judged there."))
    return [m for m in mistakes if np.isfinite(m.output) and not np.isclose(m.output, ref)]


@exercise(LAB, "macro_average")
def check_macro_average(macro_fn, real=None):
    """Check ``macro_fn(metric, Y, S) -> float``: the mean of ``metric(Y[:, j], S[:, j])``
    over the tags ``j`` whose column of ``Y`` holds both classes, with scikit-learn's
    ``roc_auc_score`` and ``average_precision_score`` as ``metric``; ``real=(Y, S)`` adds
    real scores."""
    for case, Y, S in _macro_cases(real):
        ok = _valid_columns(Y)
        for name, metric in (("roc_auc_score", roc_auc_score),
                             ("average_precision_score", average_precision_score)):
            what = f"macro_average({name}, Y, S) on {case}:"
            ref = float(np.mean([metric(Y[:, j], S[:, j]) for j in ok]))
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    got = _scalar(macro_fn(metric, Y.copy(), S.copy()), what)
            except ValueError as err:
                if len(ok) < Y.shape[1]:
                    raise LabCheckError(f"{what} {name} raised ValueError ({err}). Skip the "
                                        "tags whose column of Y holds one class only (all 0 "
                                        "or all 1) before calling the metric.") from None
                raise
            if not np.isfinite(got) and len(ok) < Y.shape[1]:
                raise LabCheckError(f"{what} your result is {got}, expected {ref:.6g}: skip "
                                    "the tags whose column of Y holds one class only (all 0 "
                                    "or all 1); their metric is undefined (NaN).")
            _check_value(got, ref, what, _macro_mistakes(metric, Y, S, ref),
                         source=f"the mean of {name} over the tags with both classes")


# --- exercise 2: average precision ----------------------------------------------------------

def _precision_recall_steps(y, s):
    """Precision and recall at each distinct threshold, highest first (as scikit-learn)."""
    order = np.argsort(-s, kind="stable")
    y, s = y[order], s[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tp = np.cumsum(y)[last]
    precision = tp / (last + 1)
    return precision, tp / tp[-1]


def _ap_mistakes(y, s, ref) -> list[Mistake]:
    precision, recall = _precision_recall_steps(y, s)
    steps = np.diff(np.r_[0.0, recall])
    interpolated = np.maximum.accumulate(precision[::-1])[::-1]
    p_curve, r_curve, _ = precision_recall_curve(y, s)
    order = np.argsort(-s, kind="stable")
    hits = np.cumsum(y[order])
    at_positives = (hits / np.arange(1, len(y) + 1))[y[order] == 1]
    return [
        Mistake(float(auc(r_curve, p_curve)), "this is the trapezoid rule on the "
                "precision-recall curve. Average precision sums rectangles: "
                "sum over thresholds of (R_n - R_(n-1)) * P_n, no interpolation between "
                "points."),
        Mistake(float(np.sum(steps * interpolated)), "you interpolated the precision (the "
                "maximum precision at any higher recall); average precision uses the "
                "precision P_n at each threshold as it is."),
        Mistake(float(average_precision_score(y, -s)), "you ranked the clips from the lowest "
                "score up: sort by decreasing score (the most confident clip first)."),
        Mistake(float(np.mean(precision)), "you averaged the precision over all thresholds; "
                "weight each precision by the recall it adds: (R_n - R_(n-1)) * P_n."),
        Mistake(float(at_positives.sum() / len(y)), "you divided the sum of the precisions "
                "at the positive clips by the number of clips; divide by the number of "
                "positive clips."),
        Mistake(float(roc_auc_score(y, s)), "this is the ROC-AUC, not the average "
                "precision."),
        Mistake(float(average_precision_score(1 - y, s)), "you treated the negatives as the "
                "positive class: the positives are the clips whose label is 1."),
    ]


@exercise(LAB, "average_precision")
def check_average_precision(ap_fn, real=None):
    """Check ``ap_fn(y_true, y_score) -> float`` against
    ``sklearn.metrics.average_precision_score`` (the step-wise sum
    ``sum_n (R_n - R_(n-1)) P_n`` over distinct thresholds) on random scores, a rare tag,
    tied scores and, with ``real=(Y, S)``, every column of real scores with both classes."""
    _check_metric(ap_fn, real, "average_precision", average_precision_score, _ap_mistakes,
                  _ties_hint("average precision") + "compute precision and recall once per "
                  "distinct score, after all the clips sharing it (the last index of each run "
                  "of equal sorted scores).")


# --- exercise 3: the tagger -----------------------------------------------------------------

def _noise(n_clips: int, seconds: float, sr: int, seed: int) -> torch.Tensor:
    """Coloured noise plus a few tones with a changing envelope: different in every chunk."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * sr))
    t = np.arange(n) / sr
    white = rng.standard_normal((n_clips, n))
    colour = np.cumsum(white, axis=1)
    colour -= colour.mean(axis=1, keepdims=True)
    f0 = rng.uniform(100, 1000, size=(n_clips, 1)) * (1 + 0.5 * np.sin(2 * np.pi * 0.3 * t))
    tone = np.sin(2 * np.pi * np.cumsum(f0, axis=1) / sr)
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(0.2, 1.5, (n_clips, 1)) * t)
    y = 0.05 * white + 0.01 * colour / colour.std() + 0.3 * envelope * tone
    return torch.from_numpy(y.astype(np.float32))


def _build_student_model(model_class, n_tags: int, sr: int):
    head = f"{getattr(model_class, '__name__', 'your class')}(n_tags={n_tags}, sr={sr}):"
    torch.manual_seed(0)
    try:
        model = model_class(n_tags=n_tags, sr=sr)
    except NotImplementedError:
        raise NotImplementedError("the model's __init__") from None  # reported as "to do"
    if not isinstance(model, nn.Module):
        raise LabCheckError(f"{head} the model must be a torch.nn.Module; got "
                            f"{type(model).__name__}")
    if not isinstance(model, Tagger):
        raise LabCheckError(f"{head} subclass mirlab.nn.models.Tagger (an nn.Module that stores "
                            "n_tags and sr, which mirlab.nn.training needs) and call "
                            "super().__init__(n_tags, sr) first in __init__.")
    if model.n_tags != n_tags or model.sr != sr:
        raise LabCheckError(f"{head} the model stores n_tags={model.n_tags}, sr={model.sr}: "
                            "pass your arguments on: super().__init__(n_tags, sr).")
    if not any(isinstance(m, LogMel) for m in model.modules()):
        raise LabCheckError(f"{head} no LogMel layer found. The model takes waveforms: make "
                            "mirlab.nn.models.LogMel its first layer (an attribute set in "
                            "__init__, e.g. self.melspec = LogMel(sr, ...)).")
    return model, head


def _check_size(model, head: str) -> None:
    n = count_parameters(model)
    low, high = PARAMETER_RANGE
    if n < low:
        raise LabCheckError(f"{head} {n:,} trainable parameters: too few to learn 15 tags "
                            f"(expected {low:,} to {high:,}); use a few convolutional blocks "
                            "of 8 to 64 channels.")
    if n > high:
        raise LabCheckError(f"{head} {n:,} trainable parameters: too many to train on a CPU in "
                            f"a minute (expected {low:,} to {high:,}); use fewer channels "
                            "(e.g. 16, 32, 64) and global pooling instead of a large dense "
                            "layer.")


def _check_outputs(model, head: str, n_tags: int, sr: int) -> list[torch.Tensor]:
    outputs = []
    for mode in ("eval", "train"):
        model.train(mode == "train")
        for k, seconds in enumerate((1.0, 1.7, 3.0)):
            x = _noise(3, seconds, sr, seed=10 + k)
            where = (f"{head[:-1]} on a batch of 3 waveforms of {seconds} s ({x.shape[1]} "
                     "samples)")
            try:
                with torch.no_grad():
                    out = model(x)
            except NotImplementedError:
                raise
            except Exception as err:
                raise LabCheckError(
                    f"{where} in {mode} mode your model raised {type(err).__name__}: {err}. "
                    "It must accept waveforms (batch, n_samples) of any length of at least "
                    "1 s: pool globally over frequency and time (e.g. h.amax(dim=(2, 3))) "
                    "before the linear layer, rather than flattening a fixed size.") from None
            _check_shape(out, where, n_tags)
            outputs.append(out)
    model.eval()
    return outputs


def _check_shape(out, where: str, n_tags: int) -> None:
    if not isinstance(out, torch.Tensor):
        raise LabCheckError(f"{where}: forward must return a tensor; got {type(out).__name__}")
    if tuple(out.shape) == (3, n_tags):
        return
    msg = f"{where}: expected logits of shape (3, {n_tags}), got {tuple(out.shape)}."
    if out.ndim > 2 and out.shape[:2] == (3, n_tags) or out.ndim > 2 and out.shape[0] == 3:
        msg += (" Pool over the remaining frequency and time axes (global max or mean "
                "pooling) so that one vector per example reaches the linear layer.")
    elif out.ndim == 2 and out.shape[0] == 3:
        msg += " The last (linear) layer must have n_tags outputs."
    else:
        msg += " Keep one row per example in the batch."
    raise LabCheckError(msg)


def _check_logits(model, outputs, head: str) -> None:
    values = torch.cat([o.flatten() for o in outputs])
    if bool((values >= 0).all() and (values <= 1).all()):
        raise LabCheckError(f"{head} your outputs all lie in [0, 1]: they look like "
                            "probabilities. Return logits (no sigmoid or softmax at the end): "
                            "the loss (BCEWithLogitsLoss) applies the sigmoid itself, more "
                            "stably, and prediction applies it afterwards.")
    if bool((values >= 0).all()):
        raise LabCheckError(f"{head} your outputs are never negative: a ReLU after the last "
                            "linear layer? Logits must be free to be negative (probability "
                            "below 0.5).")


def _check_trainable(model, head: str, n_tags: int, sr: int) -> None:
    x = _noise(4, 1.0, sr, seed=20)
    y = torch.from_numpy((np.random.default_rng(21).random((4, n_tags)) < 0.5).astype(
        np.float32))
    loss_fn = nn.BCEWithLogitsLoss()
    model.train()
    model.zero_grad()
    loss_fn(model(x), y).backward()
    unused = [name for name, p in model.named_parameters() if p.requires_grad and p.grad is None]
    if len(unused) == len(list(model.parameters())):
        raise LabCheckError(f"{head} no parameter received a gradient: the forward pass is cut "
                            "from the graph (torch.no_grad(), .detach() or numpy inside "
                            "forward?).")
    if unused:
        raise LabCheckError(f"{head} these parameters received no gradient: "
                            f"{', '.join(unused[:4])}. A layer defined in __init__ is not used "
                            "in forward, or the graph is cut (.detach(), numpy) after it.")
    first = next(p for p in model.parameters() if p.requires_grad)
    if not bool(first.grad.abs().sum() > 0):
        raise LabCheckError(f"{head} the first layer's gradient is zero: is the input "
                            "normalised, and does every block pass on its output?")
    losses = []
    for _ in range(10):  # sign-SGD (like Adam's first steps; no optimiser import needed)
        model.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        with torch.no_grad():
            for p in model.parameters():
                if p.grad is not None:
                    p -= 1e-2 * p.grad.sign()
        losses.append(loss.item())
    if not losses[-1] < 0.9 * losses[0]:
        raise LabCheckError(f"{head} 10 gradient steps on one batch did not lower the loss (from "
                            f"{losses[0]:.3f} to {losses[-1]:.3f}): can the model learn? "
                            "Check that the convolutions are followed by batch norm and ReLU "
                            "and that nothing freezes the weights.")


@exercise(LAB, "tagger")
def check_tagger(model_class, n_tags: int = 15, sr: int = 16000):
    """Check a tagger class ``model_class(n_tags=..., sr=...)``: a
    :class:`~mirlab.nn.models.Tagger` with a :class:`~mirlab.nn.models.LogMel` front end, logits
    ``(batch, n_tags)`` for inputs of several lengths (in eval and train mode), outputs that
    are logits (no sigmoid inside), a size in :data:`PARAMETER_RANGE`, gradients reaching
    every parameter, and a loss that falls when trained on one batch."""
    with torch_threads(1):  # one thread: much faster than two on a shared 2-core machine
        model, head = _build_student_model(model_class, n_tags, sr)
        _check_size(model, head)
        outputs = _check_outputs(model, head, n_tags, sr)
        _check_logits(model, outputs, head)
        _check_trainable(model, head, n_tags, sr)


# --- exercise 4: bag-of-chunks prediction ---------------------------------------------------

def probe_model(n_tags: int = 5, sr: int = 16000, random_state: int = 0) -> Tagger:
    """A small FCN with calibrated batch-norm statistics, in eval mode: the model the
    bag-of-chunks check predicts with (its logits stay within a few units, so averaging
    probabilities and averaging logits give different results)."""
    model = build("fcn", n_tags, sr=sr, scale=0.25, random_state=random_state)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None                                   # a cumulative average
    model.train()
    with torch.no_grad():
        model(_noise(8, 1.0, sr, seed=random_state + 100))
        model.head.weight.mul_(2.0)
    return model.eval()


def _chunk_logits(model, audio, sr, chunk_seconds, starts_fn=None, pad=False):
    """Logits of every chunk ``(n_clips, n_chunks, n_tags)`` (eval mode, no gradients)."""
    x = torch.as_tensor(np.asarray(audio, dtype=np.float32))
    n, chunk = x.shape[1], int(round(chunk_seconds * sr))
    if pad:
        n_chunks = -(-n // chunk)
        x = torch.nn.functional.pad(x, (0, n_chunks * chunk - n))
        starts = np.arange(n_chunks) * chunk
    else:
        starts = (starts_fn or (lambda: chunk_starts(n, chunk, chunk)))()
    model.eval()
    with torch.no_grad():
        return torch.stack([model(x[:, s:s + chunk]) for s in starts], dim=1).numpy()


def _chunk_mistakes(model, audio, sr, chunk_seconds) -> list[Mistake]:
    n, chunk = audio.shape[1], int(round(chunk_seconds * sr))
    logits = _chunk_logits(model, audio, sr, chunk_seconds)
    full = _chunk_logits(model, audio, sr, chunk_seconds,
                         lambda: np.arange(0, n - chunk + 1, chunk))
    middle = _chunk_logits(model, audio, sr, chunk_seconds, lambda: [(n - chunk) // 2])
    whole = _chunk_logits(model, audio, sr, n / sr)
    padded = _chunk_logits(model, audio, sr, chunk_seconds, pad=True)
    sig = expit
    mistakes = [
        Mistake(sig(logits.mean(axis=1)), "you averaged the logits and then applied the "
                "sigmoid; apply the sigmoid to each chunk's logits, then average the "
                "probabilities."),
        Mistake(logits.mean(axis=1), "you returned averaged logits: apply the sigmoid to "
                "each chunk's logits (torch.sigmoid) and average the probabilities."),
        Mistake(sig(logits).max(axis=1), "you took the maximum over the chunks; the bag of "
                "chunks averages the chunks' probabilities."),
        Mistake(sig(middle[:, 0]), "you scored a single chunk per clip; score every chunk "
                "and average."),
        Mistake(sig(logits[:, 0]), "you scored only the first chunk of each clip; score "
                "every chunk and average."),
        Mistake(sig(whole[:, 0]), "you tagged the whole clip in one pass; cut it into "
                "chunks of chunk_seconds, score each, and average."),
        Mistake(sig(padded).mean(axis=1), "you zero-padded the last chunk; take the last "
                "chunk so that it ends at the clip's end (it starts at n_samples - chunk, "
                "overlapping the previous one)."),
    ]
    if full.shape[1] < logits.shape[1]:
        mistakes.insert(0, Mistake(sig(full).mean(axis=1), "you dropped the last, "
                                   "incomplete chunk: the end of the clip was never heard. "
                                   "Add one more chunk ending at the clip's end (starting "
                                   "at n_samples - chunk)."))
    return mistakes


def _bag_cases(real=None):
    sr = 16000
    cases = [("3 clips of 2.5 s, chunks of 1 s (the last chunk overlaps the one before)",
              _noise(3, 2.5, sr, seed=30).numpy(), sr, 1.0),
             ("2 clips of 3 s, chunks of 0.75 s (4 chunks that fit exactly)",
              _noise(2, 3.0, sr, seed=31).numpy(), sr, 0.75)]
    if real is not None:
        audio, real_sr = real
        audio = np.asarray(audio, dtype=np.float32)
        cases.append((f"{len(audio)} real clips of {audio.shape[1] / real_sr:.1f} s, chunks "
                      "of 1.5 s", audio, int(real_sr), 1.5))
    return cases


def _as_numpy(got, head: str) -> np.ndarray:
    if isinstance(got, torch.Tensor):
        got = got.detach().cpu().numpy()
    if got is None:
        raise LabCheckError(f"{head} your function returned None (did you forget the "
                            "`return` statement?)")
    return np.asarray(got)


@exercise(LAB, "bag_of_chunks")
def check_bag_of_chunks(predict_fn, real=None):
    """Check ``predict_fn(model, audio, sr, chunk_seconds) -> (n_clips, n_tags)`` against
    :func:`mirlab.nn.training.predict` (chunks every ``chunk_seconds``, plus one ending at the
    clip's end when the hop leaves a remainder; sigmoid per chunk; mean per clip), run in
    eval mode without gradients. ``real=(audio, sr)`` adds real clips."""
    with torch_threads(1):
        for case, audio, sr, chunk_seconds in _bag_cases(real):
            _check_bag_case(predict_fn, case, audio, sr, chunk_seconds)


def _check_bag_case(predict_fn, case, audio, sr, chunk_seconds):
    """One case of :func:`check_bag_of_chunks`, with a fresh probe model."""
    model = probe_model(sr=sr)
    calls = []
    handle = model.register_forward_pre_hook(
        lambda m, inputs: calls.append((m.training, torch.is_grad_enabled())))
    head = f"predict_clips(model, audio, sr={sr}, chunk_seconds={chunk_seconds}) on {case}:"
    model.train()  # as a training loop leaves it: switching to eval is the student's job
    try:
        got = predict_fn(model, audio.copy(), sr, chunk_seconds)
    finally:
        handle.remove()
    if any(training for training, _ in calls):
        raise LabCheckError(f"{head} the model ran in training mode: call model.eval() "
                            "first (batch norm must use its stored statistics, and dropout "
                            "must keep every unit).")
    if any(grad for _, grad in calls):
        raise LabCheckError(f"{head} gradients were tracked: wrap the prediction in "
                            "`with torch.no_grad():` (it saves memory and time).")
    ref = reference_predict(model, audio, sr, chunk_seconds=chunk_seconds)
    compare(_as_numpy(got, head), ref, what=f"predict_clips(model, audio, sr={sr}, "
            f"chunk_seconds={chunk_seconds})", case=case,
            mistakes=_chunk_mistakes(model, audio, sr, chunk_seconds), atol=1e-5,
            layout="one row per clip, one column per tag",
            shape_hint=_bag_shape_hint(len(audio), model.n_tags))


def _bag_shape_hint(n_clips: int, n_tags: int):
    def hint(shape):
        if len(shape) == 3:
            return ("average over the chunks of each clip: one row of n_tags probabilities "
                    "per clip.")
        if len(shape) == 2 and shape[1] == n_tags and shape[0] != n_clips:
            return (f"one row per clip ({n_clips} clips), not one per chunk: average the "
                    "chunks of each clip.")
        return None
    return hint


# --- exercise 5: training -------------------------------------------------------------------

@exercise(LAB, "training")
def check_training(model, history, scores, data, chunk_seconds: float, *, quick=False,
                   min_roc_auc: float = 0.6):
    """Check the trained tagger: ``scores`` are ``model``'s bag-of-chunks probabilities on
    ``data`` (checked against :func:`mirlab.nn.training.predict` on a few clips), ``history``
    comes from :func:`mirlab.nn.training.train`, and (unless ``quick``) the macro ROC-AUC of
    ``scores`` exceeds ``min_roc_auc`` (chance is 0.5)."""
    if model is None or scores is None:
        raise NotImplementedError("train_tagger")
    if not isinstance(model, Tagger):
        raise LabCheckError(f"model must be your trained Tagger; got {type(model).__name__}")
    if not getattr(history, "epochs", None):
        raise LabCheckError("history must be the History that mirlab.nn.training.train returned "
                            "(it holds no epoch)")
    labels = np.asarray(data.labels)
    head = "scores of the test clips:"
    scores = _as_numpy(scores, head)
    if scores.shape != labels.shape:
        raise LabCheckError(f"{head} expected shape {labels.shape} (clips, tags), got "
                            f"{scores.shape}")
    if not np.all(np.isfinite(scores)) or scores.min() < 0 or scores.max() > 1:
        raise LabCheckError(f"{head} expected probabilities in [0, 1]; got values from "
                            f"{np.nanmin(scores):.3g} to {np.nanmax(scores):.3g}")
    few = slice(0, min(4, len(labels)))
    ref = reference_predict(model, data.audio[few], data.sr, chunk_seconds=chunk_seconds)
    if not np.allclose(scores[few], ref, atol=1e-4):
        raise LabCheckError(f"{head} they differ from mirlab.nn.training.predict(model, "
                            f"data.audio, chunk_seconds={chunk_seconds}) on the first clips: "
                            "score the test clips with your trained model and predict_clips.")
    if quick:
        print("(quick mode: the model trained only briefly, so its ROC-AUC is not checked)")
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingleClassWarning)
        value = reference_roc_auc(labels, scores)
    if not value > min_roc_auc:
        raise LabCheckError(f"the macro ROC-AUC of your model on the test clips is "
                            f"{value:.3f}, hardly better than chance (0.5; expected > "
                            f"{min_roc_auc}). Train for more epochs, try lr between 1e-3 and "
                            "1e-2, and check the exercises above.")
