"""Checks for lab 5, a pre-trained tagger as a feature extractor (``labs/lab05_transfer_learning``).

Each ``check_*`` function calls a student's function on small inputs (tiny taggers built with
:func:`mirlab.nn.models.build` at ``scale=0.5`` and random audio, or a toy classification task
with random features), compares the result with the reference (:meth:`Tagger.embed`,
:func:`mirlab.nn.models.embed`, scikit-learn's ``StandardScaler`` and ``LogisticRegression``),
and raises :class:`~mirlab.labs.LabCheckError` naming the input and, when the result equals the
output of a typical mistake (pooling over channels, only the mean, only the last layer, the
model left in training mode, a scaler fitted on the test clips, training on the test clips,
no standardisation, ...), that mistake.

Use it in the lab as ``from mirlab.labs import transfer_learning as checks``.

References
----------
.. [1] K. Choi, G. Fazekas, M. Sandler, K. Cho, "Transfer learning for music classification
   and regression tasks", ISMIR 2017 (pooled all-layer features of a tagger + an SVM).
"""

from __future__ import annotations

import copy
from functools import partial

import numpy as np
import torch

from mirlab.core.checks import check_positive_int
from mirlab.datasets.tagging import TransferTask
from mirlab.labs.core import LabCheckError, Mistake, compare, exercise
from mirlab.nn.models import build
from mirlab.nn.models import embed as reference_embed
from mirlab.nn.models.base import chunk_starts, torch_threads

__all__ = [
    "chunk_starts",
    "subset_task",
    "toy_task",
    "few_shot_reference",
    "check_pooled_embedding",
    "check_clip_embeddings",
    "check_few_shot",
    "check_learning_curve",
]

LAB = "lab05"
_EMB_LAYOUT = "embeddings are shaped (n_clips, embedding_dim): one clip per row"


def _compare(got, expected, mistakes, **kwargs):
    """:func:`compare`, building the typical mistakes' outputs only when the result is wrong."""
    try:
        return compare(got, expected, **kwargs)
    except LabCheckError:
        pass
    return compare(got, expected, mistakes=mistakes(), **kwargs)


def _to_numpy(got):
    """A student's result as something :func:`compare` can read (tensors detached)."""
    if isinstance(got, torch.Tensor):
        return got.detach().cpu().numpy()
    return got


# --- tasks --------------------------------------------------------------------------------------

def subset_task(task: TransferTask, n_pool: int, n_test: int, random_state=0) -> TransferTask:
    """A smaller copy of ``task``: at most ``n_pool`` pool and ``n_test`` test clips per class.

    The lab's quick mode uses it to run in seconds on a few clips of each task.

    Parameters
    ----------
    task : TransferTask
    n_pool, n_test : int
        Clips per class kept in the labelled pool and in the test set.
    random_state : int or numpy.random.Generator
        Which clips are kept.

    Returns
    -------
    TransferTask
        The same classes, fewer clips (in their original order).

    Examples
    --------
    >>> X, task = toy_task()
    >>> small = subset_task(task, n_pool=3, n_test=5)
    >>> len(small), int((small.split == "pool").sum())
    (24, 9)
    """
    sizes = {"pool": check_positive_int(n_pool, "n_pool"),
             "test": check_positive_int(n_test, "n_test")}
    rng = np.random.default_rng(random_state)
    keep = []
    for part, n in sizes.items():
        for k in range(len(task.classes)):
            idx = np.flatnonzero((task.split == part) & (task.y == k))
            keep.append(rng.choice(idx, min(n, len(idx)), replace=False))
    keep = np.sort(np.concatenate(keep))
    return TransferTask(name=task.name, classes=list(task.classes), description=task.description,
                        audio=task.audio[keep], sr=task.sr, y=task.y[keep],
                        split=task.split[keep], meta=[task.meta[i] for i in keep])


def toy_task(seed: int = 0) -> tuple[np.ndarray, TransferTask]:
    """A toy 3-class task with random features, on which the checks of exercises 3 and 4 run.

    Features 0-3 carry the class (unit scale); features 4-7 are noise on scales from 5 to
    40, so a classifier that skips standardisation is misled by them. The test clips are
    shifted and spread a little (as clips of other pieces would be), so a scaler fitted on
    them differs from one fitted on the labelled clips.

    Parameters
    ----------
    seed : int
        Seed of the class means and the noise.

    Returns
    -------
    X : np.ndarray, shape (126, 8)
        Features: 12 pool and 30 test clips per class.
    task : TransferTask
        The labels and splits (``task.audio`` holds one silent sample per clip).

    Examples
    --------
    >>> X, task = toy_task()
    >>> X.shape, task.classes, len(task.test_index)
    ((126, 8), ['a', 'b', 'c'], 90)
    """
    rng = np.random.default_rng(seed)
    n_pool, n_test, n_classes = 12, 30, 3
    y = np.concatenate([np.repeat(np.arange(n_classes), n_pool),
                        np.repeat(np.arange(n_classes), n_test)])
    split = np.array(["pool"] * (n_pool * n_classes) + ["test"] * (n_test * n_classes))
    means = rng.normal(0.0, 1.0, (n_classes, 4))
    informative = means[y] + rng.normal(0.0, 1.0, (len(y), 4))
    noise = rng.normal(0.0, 1.0, (len(y), 4)) * np.array([5.0, 10.0, 20.0, 40.0])
    X = np.hstack([informative, noise + 10.0])
    test = split == "test"
    X[test, :4] = 1.5 * X[test, :4] + 0.8
    task = TransferTask(name="toy", classes=["a", "b", "c"], description="random features",
                        audio=np.zeros((len(y), 1), dtype=np.float32), sr=16000, y=y,
                        split=split, meta=[{} for _ in y])
    return X, task


# --- exercise 1: the pooled all-layer embedding ---------------------------------------------

def _pool(acts, stats=("mean", "max"), layers=None, axes="all", order="layer"):
    """Pooled activations with the pieces a student may get wrong replaced."""
    layers = acts if layers is None else layers
    per_layer = []
    for a in layers:
        if axes == "channels":
            rows = {"mean": a.mean(dim=1).flatten(1), "max": a.amax(dim=1).flatten(1)}
        elif axes == "time":
            rows = {"mean": a.mean(dim=-1).flatten(1), "max": a.amax(dim=-1).flatten(1)}
        else:
            rows = {"mean": a.flatten(2).mean(dim=2), "max": a.flatten(2).amax(dim=2)}
        per_layer.append([rows[s] for s in stats])
    if order == "stat":
        return torch.cat([p[i] for i in range(len(stats)) for p in per_layer], dim=1).numpy()
    return torch.cat([r for p in per_layer for r in p], dim=1).numpy()


def _activation_cases():
    """``(case, activations, reference)`` for three tiny taggers on random audio."""
    cases = []
    for name in ("fcn", "musicnn", "crnn"):
        model = build(name, 4, scale=0.5, random_state=5).eval()
        x = torch.from_numpy(np.random.default_rng(7).normal(0, 0.1, (3, 16000)).astype("f4"))
        with torch.no_grad():
            _, acts = model.forward_all(x)
            ref = model.embed(x)
        shapes = ", ".join(str(tuple(a.shape)) for a in acts)
        cases.append((f"the activations of a tiny {name!r} tagger on 3 random clips (layer "
                      f"shapes {shapes})", acts, ref))
    return cases


def _pooling_mistakes(acts) -> list[Mistake]:
    last = _pool(acts, layers=acts[-1:])
    return [
        Mistake(_pool(acts, axes="channels"), "you pooled over the channel axis: each layer "
                "must give one mean and one max PER CHANNEL, over all the other axes "
                "(a.flatten(start_dim=2).mean(dim=2)). The channels are the features."),
        Mistake(_pool(acts, stats=("mean",)), "you kept only the mean: concatenate the mean "
                "AND the max of each layer."),
        Mistake(_pool(acts, stats=("max",)), "you kept only the max: concatenate the mean "
                "AND the max of each layer."),
        Mistake(last, "you pooled only the last layer: the embedding concatenates the pooled "
                "activations of ALL layers (early layers carry timbre and texture)."),
        Mistake(_pool(acts, stats=("max", "mean")), "the order within a layer is mean first, "
                "then max: [mean(layer 1), max(layer 1), mean(layer 2), ...]."),
        Mistake(_pool(acts, order="stat"), "you concatenated all the means and then all the "
                "maxima; keep the layers together: [mean(layer 1), max(layer 1), "
                "mean(layer 2), max(layer 2), ...]."),
        Mistake(_pool(acts, layers=acts[::-1]), "your layers are in reverse order: start with "
                "the first layer (activations[0])."),
    ] + ([Mistake(_pool(acts, axes="time"), "you pooled over time only: a 2-D layer "
                  "(batch, channels, freq, time) must be pooled over frequency as well. "
                  "Flatten every axis after the channels first: a.flatten(start_dim=2).")]
         if any(a.dim() == 4 for a in acts) else [])


@exercise(LAB, "pooled_embedding")
def check_pooled_embedding(pool_fn):
    """Check ``pool_fn(activations) -> (batch, dim)`` against :meth:`Tagger.embed`.

    ``activations`` is the list ``model.forward_all(x)[1]``: tensors shaped
    ``(batch, channels, freq, time)`` or ``(batch, channels, time)``. Each is reduced to its
    mean and max over every axis but batch and channels, and the layers are concatenated:
    ``[mean_1, max_1, mean_2, max_2, ...]``.
    """
    with torch_threads(1):  # tiny models: one thread is fastest on a shared CPU
        for case, acts, ref in _activation_cases():
            got = _to_numpy(pool_fn([a.clone() for a in acts]))
            _compare(got, ref.numpy(), lambda acts=acts: _pooling_mistakes(acts),
                     what="pooled_embedding(activations)", case=case, layout=_EMB_LAYOUT,
                    shape_hint=lambda s, ref=ref: _embedding_shape_hint(s, ref.shape))


def _embedding_shape_hint(shape, expected) -> str | None:
    if len(shape) != 2:
        return ("return one row per clip: concatenate the pooled layers along dim=1 "
                "(torch.cat(parts, dim=1)), giving (batch, embedding_dim).")
    if shape[0] != expected[0]:
        return "the first axis is the batch: one row per clip."
    return None


# --- exercise 2: whole-clip embeddings ------------------------------------------------------

def _toy_model(seed: int = 2):
    """A tiny FCN whose batch norms have non-trivial running statistics (in training mode)."""
    model = build("fcn", 4, scale=0.5, random_state=seed)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(4, 16000, generator=gen) * 0.3 + 0.05)
    return model.train()


def _chunks(audio, sr, chunk_seconds, hop_seconds, end_chunk=True):
    chunk, hop = int(round(chunk_seconds * sr)), int(round(hop_seconds * sr))
    n = audio.shape[1]
    starts = chunk_starts(n, chunk, hop) if end_chunk else np.arange(0, n - chunk + 1, hop)
    return audio[:, np.arange(chunk)[None, :] + starts[:, None]]   # (n_clips, n_chunks, chunk)


def _embed_chunks(model, chunks, train_mode=False, per_clip=True, pool=np.mean):
    m = copy.deepcopy(model).train(train_mode)
    with torch.no_grad():
        if per_clip:
            rows = [m.embed(torch.from_numpy(np.ascontiguousarray(c))).numpy() for c in chunks]
        else:
            flat = torch.from_numpy(np.ascontiguousarray(chunks.reshape(-1, chunks.shape[2])))
            rows = list(m.embed(flat).numpy().reshape(chunks.shape[0], chunks.shape[1], -1))
    return np.stack([pool(r, axis=0) for r in rows])


def _clip_mistakes(model, audio, sr, chunk_s, hop_s) -> list[Mistake]:
    chunks = _chunks(audio, sr, chunk_s, hop_s)
    eval_mode = ("call model.eval() before embedding (and use torch.no_grad()): in training "
                 "mode batch normalisation uses the statistics of the current batch, not the "
                 "learned ones.")
    mistakes = [
        Mistake(_embed_chunks(model, chunks, train_mode=True), "the model is in training mode: "
                + eval_mode),
        Mistake(_embed_chunks(model, chunks, train_mode=True, per_clip=False), "the model is "
                "in training mode: " + eval_mode),
        Mistake(reference_embed(model, audio, sr=sr), "you embedded each whole clip at once; "
                "cut it into chunks of chunk_seconds (the length the tagger was trained on) and "
                "average the chunks' embeddings."),
        Mistake(_embed_chunks(model, chunks, pool=np.max), "you took the maximum over the "
                "chunks; average them (np.mean over the chunk axis)."),
        Mistake(_embed_chunks(model, chunks[:, :1]), "you embedded only the first chunk of "
                "each clip; average over all of them."),
    ]
    no_end = _chunks(audio, sr, chunk_s, hop_s, end_chunk=False)
    if no_end.shape != chunks.shape:  # the hop leaves the end of the clip uncovered
        mistakes.append(Mistake(_embed_chunks(model, no_end), "you dropped the last chunk: "
                                "when the chunks stop before the end of the clip, add one more "
                                "that ends at the end (checks.chunk_starts does this)."))
    if hop_s != chunk_s:
        mistakes.append(Mistake(_embed_chunks(model, _chunks(audio, sr, chunk_s, chunk_s)),
                                "your chunks do not overlap: chunk k starts at k * hop_seconds, "
                                "not k * chunk_seconds."))
    return mistakes


@exercise(LAB, "clip_embeddings")
def check_clip_embeddings(clip_fn):
    """Check ``clip_fn(model, audio, sr, chunk_seconds, hop_seconds) -> (n_clips, dim)``.

    The reference is :func:`mirlab.nn.models.embed` with the same chunks (starts from
    :func:`chunk_starts`) and ``aggregate="mean"``; the model must be in evaluation mode.
    """
    with torch_threads(1):
        sr = 16000
        audio = np.random.default_rng(4).normal(0.0, 0.1, (3, 40000)).astype(np.float32)
        for chunk_s, hop_s in ((1.0, 1.0), (1.0, 0.5)):
            model = _toy_model()
            ref = reference_embed(model, audio, sr=sr, chunk_seconds=chunk_s, hop_seconds=hop_s)
            mine = copy.deepcopy(model)
            what = (f"clip_embeddings(model, audio, sr={sr}, chunk_seconds={chunk_s}, "
                    f"hop_seconds={hop_s})")
            case = ("3 clips of random audio (2.5 s) and a tiny 'fcn' tagger, handed over in "
                    "training mode")
            got = _to_numpy(clip_fn(mine, audio.copy(), sr, chunk_s, hop_s))
            try:
                _compare(got, ref, partial(_clip_mistakes, model, audio, sr, chunk_s, hop_s),
                         what=what, case=case, layout=_EMB_LAYOUT)
            except LabCheckError as err:
                if mine.training and "call model.eval()" not in str(err):
                    raise LabCheckError(f"{err}\n  The model was still in training mode after "
                                        "your function ran: call model.eval() first.") from None
                raise


# --- exercise 3: a few-shot classifier ------------------------------------------------------

def few_shot_reference(X, task: TransferTask, n_per_class: int, random_state=None,
                       C: float = 1.0, *, scaler_on: str = "train", fit_on: str = "train",
                       score_on: str = "test", standardise: bool = True) -> float:
    """Test accuracy of a logistic regression on ``n_per_class`` drawn clips per class.

    The reference of exercise 3 (and, through its keyword arguments, of the typical
    mistakes): ``task.draw(n_per_class, random_state)`` picks the labelled clips, a
    ``StandardScaler`` is fitted on their features only, a ``LogisticRegression(C=C)`` on the
    scaled features, and the accuracy is measured on ``task.test_index``.

    Parameters
    ----------
    X : np.ndarray, shape (n_clips, n_features)
        Features of every clip of ``task`` (rows aligned with ``task.y``).
    task : TransferTask
    n_per_class : int
    random_state : int or None
        Passed to :meth:`TransferTask.draw`.
    C : float
        Inverse L2 regularisation strength.
    scaler_on, fit_on, score_on : {"train", "test", "all", "pool"}
        Which clips the scaler is fitted on, the classifier is trained on and the accuracy
        is measured on (anything but the defaults is a mistake).
    standardise : bool
        Scale the features (False is a mistake).

    Returns
    -------
    float
        Accuracy in [0, 1].

    References
    ----------
    .. [1] Choi et al., "Transfer learning for music classification and regression tasks",
       ISMIR 2017.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    X = np.asarray(X, dtype=float)
    sets = {"train": task.draw(n_per_class, random_state=random_state),
            "test": task.test_index, "all": np.arange(len(task)),
            "pool": np.flatnonzero(task.split == "pool")}
    scaler = StandardScaler(with_mean=standardise, with_std=standardise).fit(X[sets[scaler_on]])
    fit, score = sets[fit_on], sets[score_on]
    with threadpool_limits(1):  # tiny fits: one BLAS/OpenMP thread is fastest
        clf = LogisticRegression(C=C, max_iter=5000).fit(scaler.transform(X[fit]),
                                                         task.y[fit])
    return float(clf.score(scaler.transform(X[score]), task.y[score]))


_FEW_SHOT_CASES = ((2, 0, 1.0), (5, 1, 1.0), (5, 2, 0.01), (10, 3, 1.0))


def _accuracies(fn, X, task, **kwargs) -> np.ndarray:
    return np.array([fn(X.copy(), task, n, seed, C, **kwargs) for n, seed, C in _FEW_SHOT_CASES])


def _as_accuracy(value, what: str) -> float:
    if value is None:
        raise LabCheckError(f"{what}: your function returned None (did you forget `return`?)")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise LabCheckError(f"{what}: return one number, the accuracy on the test clips; got "
                            f"{type(value).__name__}") from None


def _few_shot_mistakes(X, task) -> list[Mistake]:
    ref = _accuracies(few_shot_reference, X, task)

    def acc(**kwargs):
        return _accuracies(few_shot_reference, X, task, **kwargs)

    cases = [(n, seed, 1.0) for n, seed, _ in _FEW_SHOT_CASES]
    default_c = np.array([few_shot_reference(X, task, n, s, c) for n, s, c in cases])
    return [
        Mistake(acc(scaler_on="test"), "you fitted the StandardScaler on the test clips: that "
                "leaks the test set into training. Fit it on the labelled (drawn) clips only, "
                "then transform both."),
        Mistake(acc(scaler_on="all"), "you fitted the StandardScaler on all clips, test clips "
                "included: that leaks the test set. Fit it on the labelled clips only."),
        Mistake(acc(fit_on="test"), "you trained the classifier on the test clips: train on the "
                "drawn clips (task.draw) and only score on task.test_index."),
        Mistake(acc(standardise=False), "the features are not standardised: put a "
                "StandardScaler (fitted on the labelled clips) before the logistic regression; "
                "without it the large-valued features dominate the regularised fit."),
        Mistake(acc(score_on="train"), "you measured the accuracy on the labelled clips you "
                "trained on; score on the test clips, task.test_index."),
        Mistake(acc(fit_on="pool", scaler_on="pool"), "you trained on the whole pool: train "
                "on n_per_class clips per class drawn with task.draw(n_per_class, "
                "random_state=random_state)."),
        Mistake(100 * ref, "return a fraction in [0, 1], not a percentage."),
        Mistake(1 - ref, "you returned the error rate; return the accuracy."),
        Mistake(default_c, "you ignored C: pass LogisticRegression(C=C, ...)."),
    ]


@exercise(LAB, "few_shot")
def check_few_shot(few_shot_fn):
    """Check ``few_shot_fn(X, task, n_per_class, random_state, C) -> accuracy`` against
    :func:`few_shot_reference` on :func:`toy_task` (several sizes, seeds and ``C``)."""
    X, task = toy_task()
    what = "few_shot_accuracy(X, task, n_per_class, random_state, C)"
    got = np.array([_as_accuracy(few_shot_fn(X.copy(), task, n, seed, C),
                                 f"{what} with n_per_class={n}, random_state={seed}, C={C}")
                    for n, seed, C in _FEW_SHOT_CASES])
    # Repeated calls with the same random_state must agree. Four calls, not two: two
    # independent random draws of a small toy task can give the same accuracy by chance.
    for _ in range(4):
        again = _as_accuracy(few_shot_fn(X.copy(), task, *_FEW_SHOT_CASES[0]), what)
        if again != got[0]:
            raise LabCheckError(f"{what}: two calls with the same random_state gave "
                                f"{got[0]:.4f} and {again:.4f}. Pass random_state to task.draw "
                                "so that a draw can be repeated.")
    cases = "; ".join(f"n_per_class={n}, random_state={s}, C={c}" for n, s, c in _FEW_SHOT_CASES)
    _compare(got, _accuracies(few_shot_reference, X, task), lambda: _few_shot_mistakes(X, task),
             what=f"{what} for ({cases})", layout="one accuracy per case", atol=1e-9,
             case="a toy 3-class task with random features (checks.toy_task())")


# --- exercise 4: learning curves ------------------------------------------------------------

def _curve(X, task, sizes, n_draws, C, seed=lambda j: j) -> np.ndarray:
    return np.array([[few_shot_reference(X, task, n, seed(j), C) for j in range(n_draws)]
                     for n in sizes])


def _check_results(results, sizes, n_draws, require_gain: bool) -> None:
    """The learning curves of the lab: format, range and (full mode) the transfer gain."""
    head = "results"
    if not isinstance(results, dict) or not results:
        raise LabCheckError(f"{head}: expected a dict task name -> {{'embedding': curve, "
                            f"'mfcc': curve}}; got {type(results).__name__}")
    for name, curves in results.items():
        for kind in ("embedding", "mfcc"):
            if not isinstance(curves, dict) or kind not in curves:
                raise LabCheckError(f"{head}[{name!r}] must hold a {kind!r} curve")
            c = np.asarray(curves[kind], dtype=float)
            if c.shape != (len(sizes), n_draws):
                raise LabCheckError(f"{head}[{name!r}][{kind!r}] has shape {c.shape}; expected "
                                    f"(len(SIZES), N_DRAWS) = {(len(sizes), n_draws)}")
            if not np.all((c >= 0) & (c <= 1)):
                raise LabCheckError(f"{head}[{name!r}][{kind!r}]: accuracies must lie in "
                                    "[0, 1]")
    if require_gain:
        _check_gain(results, list(sizes))


def _check_gain(results, sizes, n: int = 10) -> None:
    if n not in sizes:
        raise LabCheckError(f"the learning curve must include {n} labelled clips per class "
                            f"(SIZES = {tuple(sizes)})")
    i = sizes.index(n)
    gains = {name: float(np.mean(c["embedding"][i]) - np.mean(c["mfcc"][i]))
             for name, c in results.items()}
    if max(gains.values()) <= 0:
        listed = ", ".join(f"{k}: {v:+.3f}" for k, v in gains.items())
        raise LabCheckError(f"with {n} labelled clips per class the embedding does not beat the "
                            f"MFCC statistics on any task (mean accuracy differences {listed}). "
                            "Check that the features' rows follow task.y, that the tagger is "
                            "the trained one, and that both features go through the same "
                            "classifier.")


@exercise(LAB, "learning_curve")
def check_learning_curve(curve_fn, results=None, sizes=None, n_draws=None,
                         require_gain: bool = False):
    """Check ``curve_fn(X, task, sizes, n_draws, C) -> (len(sizes), n_draws)`` accuracies.

    Entry ``[i, j]`` is the few-shot accuracy with ``sizes[i]`` clips per class and
    ``random_state=j``. With ``results`` (``{task: {"embedding": curve, "mfcc": curve}}``),
    also check their format and, if ``require_gain``, that the embedding beats MFCC with 10
    labelled clips per class on at least one task.
    """
    X, task = toy_task(1)
    toy_sizes, toy_draws, C = (2, 5), 3, 0.5
    what = f"learning_curve(X, task, sizes={toy_sizes}, n_draws={toy_draws}, C={C})"
    got = curve_fn(X.copy(), task, toy_sizes, toy_draws, C)
    def mistakes():
        return [
            Mistake(_curve(X, task, toy_sizes, toy_draws, C, seed=lambda j: 0), "every draw "
                    "used the same labelled clips: use random_state=j for draw j."),
            Mistake(_curve(X, task, toy_sizes, toy_draws, C, seed=lambda j: j + 1), "draw j "
                    "must use random_state=j (j = 0, 1, ..., n_draws - 1)."),
        ]

    _compare(got, _curve(X, task, toy_sizes, toy_draws, C), mistakes, what=what,
             case="a toy 3-class task (checks.toy_task(1))", atol=1e-9,
             layout="curves are shaped (len(sizes), n_draws): one row per size")
    if results is not None:
        _check_results(results, sizes, n_draws, require_gain)
