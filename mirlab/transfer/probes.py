"""Transfer learning, step 2: shallow classifiers on embeddings, and learning curves.

A shallow classifier (logistic regression or a linear SVM on standardised features) is trained
on the embeddings of a few labelled clips per class; learning curves over the number of labels
per class compare embeddings with MFCC statistics (:mod:`mirlab.tagging.baselines`) and with
networks trained on the target task (:mod:`mirlab.transfer.networks`), draw by draw on the
same labelled clips :cite:`Choi2017transfer`.

Taught in the transfer learning chapter (``notebooks/05_transfer_learning``) and lab 5.
"""

from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from mirlab.core.checks import check_choice, check_positive, check_positive_int
from mirlab.core.env import progress_disabled

__all__ = ["CLASSIFIERS", "make_classifier", "check_task", "task_subset", "draw_random_state",
           "accuracy_on_draw", "curve_over_draws", "learning_curve", "plot_learning_curves"]

#: Shallow classifiers of :func:`make_classifier`, with their inverse regularisation ``C``,
#: fixed in advance and never tuned on test clips (checked once on pool clips only: training
#: on 10 clips per class and scoring the rest of the pool, C from 0.01 to 10 changed little).
CLASSIFIERS = {"logreg": 1.0, "svm": 1.0}


def make_classifier(kind: str = "logreg", *, C: float | None = None, random_state: int = 0):
    """A scikit-learn pipeline: standardise every feature, then a linear classifier.

    Parameters
    ----------
    kind : {'logreg', 'svm'}
        Multinomial logistic regression, or a support vector machine with a linear kernel
        (one-vs-one for several classes).
    C : float or None
        Inverse regularisation strength (None: the value in :data:`CLASSIFIERS`).
    random_state : int

    Returns
    -------
    sklearn.pipeline.Pipeline

    Examples
    --------
    >>> make_classifier("svm").steps[-1][0]
    'svc'
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    check_choice(kind, "kind", CLASSIFIERS)
    C = CLASSIFIERS[kind] if C is None else check_positive(C, "C")
    if kind == "logreg":
        clf = LogisticRegression(C=C, max_iter=5000, random_state=random_state)
    else:
        clf = SVC(kernel="linear", C=C, random_state=random_state)
    return make_pipeline(StandardScaler(), clf)


def check_task(task):
    """``task`` if it is a :class:`~mirlab.datasets.tagging.TransferTask`, else a ValueError."""
    for attribute in ("y", "split", "draw", "test_index", "classes"):
        if not hasattr(task, attribute):
            raise ValueError(f"task must be a TransferTask (from load_transfer_task); it has "
                             f"no .{attribute}")
    return task


def _check_features(features, task) -> np.ndarray:
    X = np.asarray(features, dtype=np.float64)
    if X.ndim != 2 or len(X) != len(task.y):
        raise ValueError(f"features must have shape (n_clips, dim) with n_clips = {len(task.y)}"
                         f" (the task's clips); got {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("features must be finite; got NaN or infinite values")
    return X


def task_subset(task, n_pool: int | None = None, n_test: int | None = None):
    """A smaller copy of a transfer task: the first ``n_pool`` pool and ``n_test`` test clips
    of every class (None: all of them). Used by the quick test mode of the chapter.

    Returns
    -------
    TransferTask
    """
    import dataclasses

    check_task(task)
    keep = []
    for part, n in (("pool", n_pool), ("test", n_test)):
        n = None if n is None else check_positive_int(n, f"n_{part}")
        for k in range(len(task.classes)):
            keep.extend(np.flatnonzero((task.split == part) & (task.y == k))[:n])
    keep = np.sort(np.array(keep, dtype=int))
    return dataclasses.replace(task, audio=task.audio[keep], y=task.y[keep],
                               split=task.split[keep], meta=[task.meta[i] for i in keep])


def draw_random_state(random_state: int, n_per_class: int, draw: int) -> list[int]:
    """The ``random_state`` of draw number ``draw`` at ``n_per_class`` labels per class.

    Every method of a learning curve gets the *same* labelled clips for the same
    ``(random_state, n_per_class, draw)``, so their accuracies are compared draw by draw.
    """
    return [int(random_state), int(n_per_class), int(draw)]


def accuracy_on_draw(features, task, index, classifier="logreg", *,
                     random_state: int = 0) -> float:
    """Train a classifier on the clips ``index`` and return its accuracy on the test clips.

    Parameters
    ----------
    features : np.ndarray, shape (n_clips, dim)
        One row per clip of ``task``.
    task : TransferTask
    index : np.ndarray of int
        Labelled clips (e.g. ``task.draw(10, random_state=0)``).
    classifier : {'logreg', 'svm'} or scikit-learn estimator
        A name for :func:`make_classifier`, or an estimator that is cloned.
    random_state : int

    Returns
    -------
    float
        Fraction of ``task.test_index`` clips classified correctly.
    """
    from sklearn.base import clone
    from threadpoolctl import threadpool_limits

    check_task(task)
    X = _check_features(features, task)
    index = np.asarray(index, dtype=int)
    if index.ndim != 1 or len(np.unique(task.y[index])) < 2:
        raise ValueError("index must be a 1-D array of clips from at least two classes; got "
                         f"{len(index)} clips of classes {np.unique(task.y[index]).tolist()}")
    if isinstance(classifier, str):
        clf = make_classifier(classifier, random_state=random_state)
    else:
        clf = clone(classifier)
    test = task.test_index
    # one BLAS thread: on small problems and shared CPUs, threads cost more than they give
    with threadpool_limits(1):
        clf.fit(X[index], task.y[index])
        return float(np.mean(clf.predict(X[test]) == task.y[test]))


def curve_over_draws(score, task, n_per_class, n_draws, random_state, desc="",
                     progress=True):
    """A learning curve of any method: ``score(index, draw) -> accuracy`` on the labelled
    clips ``index`` of every draw (:func:`draw_random_state`), mean and std per size.

    The shared body of :func:`learning_curve` and
    :func:`mirlab.transfer.networks.network_curve`; returns the same DataFrame.
    """
    import pandas as pd

    check_task(task)
    sizes = [check_positive_int(n, "n_per_class") for n in np.atleast_1d(n_per_class)]
    n_draws = check_positive_int(n_draws, "n_draws")
    rows = []
    with tqdm(total=len(sizes) * n_draws, desc=desc, disable=progress_disabled(progress)) as bar:
        for n in sizes:
            accuracies = []
            for d in range(n_draws):
                index = task.draw(n, random_state=draw_random_state(random_state, n, d))
                accuracies.append(score(index, d))
                bar.update()
            rows.append({"n_per_class": n, "n_train": n * len(task.classes),
                         "accuracy": float(np.mean(accuracies)),
                         "std": float(np.std(accuracies)), "n_draws": n_draws})
    return pd.DataFrame(rows)


def learning_curve(features, task, n_per_class=(2, 5, 10, 20, 40), n_draws: int = 5,
                   classifier="logreg", random_state: int = 0, progress: bool = True):
    """Test accuracy of a shallow classifier against the number of labelled clips per class.

    For each ``n`` in ``n_per_class``, ``n_draws`` random sets of ``n`` labelled clips per
    class are drawn from the task's pool (:meth:`TransferTask.draw` with
    :func:`draw_random_state`); a classifier is trained on each and scored on the fixed test clips.

    Parameters
    ----------
    features : np.ndarray, shape (n_clips, dim)
        One row per clip of ``task`` (embeddings, MFCC statistics, ...).
    task : TransferTask
    n_per_class : sequence of int
        Labels per class (each at most the pool size of the rarest class).
    n_draws : int
        Random draws per point.
    classifier : {'logreg', 'svm'} or scikit-learn estimator
    random_state : int
        Seeds the draws (and the classifier).
    progress : bool

    Returns
    -------
    pandas.DataFrame
        One row per ``n_per_class``: ``n_per_class, n_train, accuracy`` (mean over draws),
        ``std`` (over draws), ``n_draws``.

    References
    ----------
    Learning curves of transferred features against MFCCs :cite:`Choi2017transfer`.
    """
    X = _check_features(features, check_task(task))
    name = classifier if isinstance(classifier, str) else type(classifier).__name__
    return curve_over_draws(lambda index, _: accuracy_on_draw(X, task, index, classifier,
                                                    random_state=random_state),
                  task, n_per_class, n_draws, random_state, f"{task.name}: {name}", progress)


def plot_learning_curves(curves, ax=None, chance: float | None = None, title: str = ""):
    """Accuracy against labels per class, one line (mean) and band (+- std) per method.

    Parameters
    ----------
    curves : pandas.DataFrame
        Rows of :func:`learning_curve` with a ``method`` column (one task).
    ax : matplotlib Axes or None
    chance : float or None
        Draw the accuracy of guessing as a dotted line.
    title : str

    Returns
    -------
    matplotlib Axes
    """
    import matplotlib.pyplot as plt

    missing = {"method", "n_per_class", "accuracy", "std"} - set(getattr(curves, "columns", []))
    if missing:
        raise ValueError(f"curves must be a DataFrame with columns method, n_per_class, "
                         f"accuracy, std; missing {sorted(missing)}")
    ax = plt.subplots(figsize=(5, 3.5))[1] if ax is None else ax
    for method, rows in curves.groupby("method", sort=False):
        rows = rows.sort_values("n_per_class")
        line = ax.plot(rows["n_per_class"], rows["accuracy"], "o-", label=method)[0]
        ax.fill_between(rows["n_per_class"], rows["accuracy"] - rows["std"],
                        rows["accuracy"] + rows["std"], color=line.get_color(), alpha=0.15)
    if chance is not None:
        ax.axhline(chance, color="gray", linestyle=":", label="chance")
    ax.set(xscale="log", xlabel="labelled clips per class", ylabel="test accuracy", title=title)
    ax.minorticks_off()
    sizes = sorted(curves["n_per_class"].unique())
    ax.set_xticks(sizes, [str(n) for n in sizes])
    return ax
