"""Transfer learning: a trained music tagger as a feature extractor for small target tasks.

A network trained on a large *source* task (multi-label tagging) has learned to detect
timbres, textures and rhythms. For a *target* task with only a few labelled clips, the network
is kept fixed: every clip is summarised by the pooled activations of its layers (the mean and
the maximum over time of every layer's output, concatenated: the *embedding*), and a shallow
classifier (logistic regression or a linear SVM on standardised features) is trained on these
embeddings :cite:`Choi2017transfer`. Learning curves over the number of labels per class
compare this with MFCC statistics (:mod:`mirlab.tagging.baselines`) and with the same network
trained
from scratch, or fine-tuned, on the few labelled clips.

=======================  ====================================================================
function                 what it does
=======================  ====================================================================
``pretrained_tagger``    the source model: :func:`mirlab.nn.training.train_recipe` (cached)
``extract_embeddings``   pooled activations of all (or some) layers, ``(n_clips, dim)``
``layer_slices``         which embedding columns come from which layer
``make_classifier``      ``StandardScaler`` + logistic regression or linear SVM
``learning_curve``       accuracy (mean, std over random draws) per number of labels per class
``train_from_scratch``   the same architecture, randomly initialised, trained on the few clips
``fine_tune``            the pretrained network with a new output layer, trained on them
``project_2d``           PCA or t-SNE of standardised features, for a scatter plot
=======================  ====================================================================

Taught in the transfer learning chapter (``notebooks/05_transfer_learning``); needs PyTorch.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from tqdm.auto import tqdm

from mirlab.core.checks import check_choice, check_positive, check_positive_int
from mirlab.core.env import progress_disabled
from mirlab.nn.models.base import Tagger, as_clips, evaluating, pooled_over_chunks, torch_threads

__all__ = [
    "SOURCE_MODEL",
    "CLASSIFIERS",
    "SCRATCH",
    "QUICK_SCRATCH",
    "pretrained_tagger",
    "layer_slices",
    "select_layers",
    "extract_embeddings",
    "make_classifier",
    "task_subset",
    "draw_seed",
    "accuracy_on_draw",
    "learning_curve",
    "network_curve",
    "fit_network",
    "predict_classes",
    "train_from_scratch",
    "fine_tune",
    "plot_learning_curves",
    "project_2d",
]

#: The source tagger of the transfer chapter (a key of :data:`mirlab.nn.training.RECIPES`).
SOURCE_MODEL = "fcn"

#: Shallow classifiers of :func:`make_classifier`, with their inverse regularisation ``C``,
#: fixed in advance and never tuned on test clips (checked once on pool clips only: training
#: on 10 clips per class and scoring the rest of the pool, C from 0.01 to 10 changed little).
CLASSIFIERS = {"logreg": 1.0, "svm": 1.0}

#: Training of the networks on a target task (:func:`fit_network`): gradient steps, clips per
#: step, peak learning rate of the one-cycle schedule as a fraction of the recipe's ``lr``
#: (fine-tuning uses a tenth of it), weight decay.
SCRATCH = {"steps": 60, "batch_size": 16, "lr_factor": 1.0, "weight_decay": 1e-4}

#: The quick test mode: a few steps of a small network.
QUICK_SCRATCH = {"steps": 3, "batch_size": 8, "scale": 0.5}


# ------------------------------------------------------------------------ the source model
def pretrained_tagger(name: str | None = None, *, quick: bool = False, seed: int = 0,
                      data=None, progress: bool = True, **overrides):
    """The source task: a tagger trained on the corpus tagging data (cached checkpoint).

    Calls :func:`mirlab.nn.training.train_recipe` on the ``train`` and ``valid`` splits of
    :func:`mirlab.datasets.tagging.load_tagging_dataset`, exactly as the music tagging chapter
    does, so both chapters share one cached checkpoint (nothing is trained the second time).

    Parameters
    ----------
    name : str or None
        A key of :data:`mirlab.nn.training.RECIPES`; None: :data:`SOURCE_MODEL`.
    quick : bool
        The recipe's quick test mode (a small model, seconds of training).
    seed : int
        Seed of the initial weights and of the training.
    data : TaggingDataset or None
        The source data (None: the default corpus tagging dataset).
    progress : bool
        Progress bars and a one-line training summary.
    **overrides
        Recipe settings to replace (e.g. ``epochs=3`` while developing).

    Returns
    -------
    model : Tagger
        The trained tagger, in evaluation mode.
    history : mirlab.nn.training.History

    References
    ----------
    :cite:`Choi2017transfer` (source task: tagging; target tasks: small classification tasks).
    """
    from mirlab.datasets.tagging import load_tagging_dataset
    from mirlab.nn.training import RECIPES, train_recipe

    name = SOURCE_MODEL if name is None else name
    check_choice(name, "name", RECIPES)
    data = load_tagging_dataset(progress=progress) if data is None else data
    return train_recipe(name, data.subset("train"), data.subset("valid"), quick=quick,
                        seed=seed, progress=progress, **overrides)


# ----------------------------------------------------------------------------- embeddings
def _check_model(model) -> Tagger:
    if not isinstance(model, Tagger):
        raise ValueError(f"model must be a mirlab.nn.models.Tagger; got {type(model).__name__}")
    return model


def layer_slices(model: Tagger) -> list[slice]:
    """Columns of :func:`mirlab.nn.models.embed`'s output that come from each hidden layer.

    Layer ``i`` with ``C`` channels contributes ``2 C`` columns (mean, then max over time).

    Examples
    --------
    >>> from mirlab.nn.models import build
    >>> model = build("fcn", 3)
    >>> slices = layer_slices(model)
    >>> slices[0].start, slices[-1].stop == model.embedding_dim
    (0, True)
    """
    _check_model(model)
    device = next(model.parameters()).device
    with evaluating(model), torch.no_grad():
        _, activations = model.forward_all(torch.zeros(1, max(model.min_samples, model.sr),
                                                       device=device))
    edges = np.cumsum([0, *(2 * a.shape[1] for a in activations)])
    return [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True)]


def _layer_list(layers, n_layers: int) -> list[int]:
    if isinstance(layers, str):
        check_choice(layers, "layers", ("all", "last"))
        return list(range(n_layers)) if layers == "all" else [n_layers - 1]
    single = isinstance(layers, (int, np.integer))
    chosen = [layers] if single else list(layers) if isinstance(layers, (list, tuple)) else []
    if not chosen or not all(isinstance(i, (int, np.integer)) and -n_layers <= i < n_layers
                             for i in chosen):
        raise ValueError(f"layers must be 'all', 'last', or layer indices in "
                         f"[{-n_layers}, {n_layers - 1}]; got {layers!r}")
    return [int(i) % n_layers for i in chosen]


def select_layers(embeddings, model: Tagger, layers="all") -> np.ndarray:
    """Keep the columns of the chosen layers from all-layer embeddings.

    Parameters
    ----------
    embeddings : np.ndarray, shape (n_clips, embedding_dim)
        From :func:`extract_embeddings` with ``layers="all"``.
    model : Tagger
        The model that produced them.
    layers : {'all', 'last'}, int or sequence of int
        Layer indices count from 0 (the first hidden layer); negative ones from the end.

    Returns
    -------
    np.ndarray, shape (n_clips, dim)
    """
    slices = layer_slices(model)
    E = np.asarray(embeddings)
    if E.ndim != 2 or E.shape[1] != slices[-1].stop:
        raise ValueError(f"embeddings must have shape (n_clips, {slices[-1].stop}) (the "
                         f"model's embedding_dim); got {E.shape}")
    return np.concatenate([E[:, slices[i]] for i in _layer_list(layers, len(slices))], axis=1)


def extract_embeddings(model: Tagger, audio, sr: int | None = None, *, layers="all",
                       chunk_seconds: float | None = None, hop_seconds: float | None = None,
                       aggregate: str = "mean", batch_size: int = 16,
                       progress: bool = True) -> np.ndarray:
    """Embeddings of clips: the pooled activations of a tagger's layers :cite:`Choi2017transfer`.

    Every hidden layer's output is reduced to its mean and its maximum over time (and
    frequency) per channel, and the layers are concatenated (:meth:`Tagger.embed`). A clip
    longer than ``chunk_seconds`` is cut into chunks whose vectors are averaged.

    Parameters
    ----------
    model : Tagger
        A trained tagger (its weights are not changed).
    audio : np.ndarray, shape (n_clips, n_samples)
    sr : int or None
        Sample rate of ``audio``; must equal ``model.sr`` (None: assume it does).
    layers : {'all', 'last'}, int or sequence of int
        Which layers to keep (see :func:`select_layers`).
    chunk_seconds, hop_seconds : float or None
        Chunks (None: each whole clip in one pass).
    aggregate : {'mean', 'max'}
        How the chunks of a clip are combined.
    batch_size : int
    progress : bool
        Show a progress bar over the clips.

    Returns
    -------
    np.ndarray, float32, shape (n_clips, dim)

    Examples
    --------
    >>> from mirlab.nn.models import build
    >>> model = build("fcn", n_tags=3)
    >>> x = np.random.default_rng(0).standard_normal((2, 16000)).astype(np.float32)
    >>> last = layer_slices(model)[-1]
    >>> extract_embeddings(model, x, layers="last", progress=False).shape == (2, last.stop -
    ...                                                                      last.start)
    True
    """
    _check_model(model)
    clips, _ = as_clips(audio)
    block = 8 * check_positive_int(batch_size, "batch_size")
    parts = []
    for begin in tqdm(range(0, len(clips), block), desc="embeddings",
                      disable=progress_disabled(progress)):
        parts.append(pooled_over_chunks(
            model, model.embed, clips[begin:begin + block], sr, aggregate,
            chunk_seconds=chunk_seconds, hop_seconds=hop_seconds, single_chunk=False,
            batch_size=batch_size, device=None, num_threads=1))
    return select_layers(np.concatenate(parts), model, layers).astype(np.float32)


# --------------------------------------------------------------------- shallow classifiers
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


def _check_task(task):
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

    _check_task(task)
    keep = []
    for part, n in (("pool", n_pool), ("test", n_test)):
        n = None if n is None else check_positive_int(n, f"n_{part}")
        for k in range(len(task.classes)):
            keep.extend(np.flatnonzero((task.split == part) & (task.y == k))[:n])
    keep = np.sort(np.array(keep, dtype=int))
    return dataclasses.replace(task, audio=task.audio[keep], y=task.y[keep],
                               split=task.split[keep], meta=[task.meta[i] for i in keep])


def draw_seed(random_state: int, n_per_class: int, draw: int) -> list[int]:
    """Seed of draw number ``draw`` at ``n_per_class`` labels per class.

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

    _check_task(task)
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


def _curve(score, task, n_per_class, n_draws, random_state, desc, progress):
    import pandas as pd

    _check_task(task)
    sizes = [check_positive_int(n, "n_per_class") for n in np.atleast_1d(n_per_class)]
    n_draws = check_positive_int(n_draws, "n_draws")
    rows = []
    with tqdm(total=len(sizes) * n_draws, desc=desc, disable=progress_disabled(progress)) as bar:
        for n in sizes:
            accuracies = []
            for d in range(n_draws):
                index = task.draw(n, random_state=draw_seed(random_state, n, d))
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
    :func:`draw_seed`); a classifier is trained on each and scored on the fixed test clips.

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
    X = _check_features(features, _check_task(task))
    name = classifier if isinstance(classifier, str) else type(classifier).__name__
    return _curve(lambda index, _: accuracy_on_draw(X, task, index, classifier,
                                                    random_state=random_state),
                  task, n_per_class, n_draws, random_state, f"{task.name}: {name}", progress)


# ---------------------------------------------------------------- networks on the target task
def fit_network(model: Tagger, audio, y, *, steps: int, batch_size: int = 16,
                chunk_seconds: float = 3.0, lr: float = 1e-2, weight_decay: float = 1e-4,
                seed: int = 0, num_threads: int | None = 1, progress: bool = False) -> list:
    """Train a network's outputs as classes: cross-entropy on random chunks, fixed steps.

    Each step draws ``batch_size`` clips (with replacement) and a random chunk of each, and
    takes one Adam step with a one-cycle learning rate (peak ``lr``). There is no validation
    and no early stopping: a target task with a few labels has no clips to spare.

    Parameters
    ----------
    model : Tagger
        Trained in place; ``model.n_tags`` must equal the number of classes.
    audio : np.ndarray, shape (n_clips, n_samples)
    y : np.ndarray of int, shape (n_clips,)
        Class indices in ``[0, model.n_tags)``.
    steps, batch_size : int
    chunk_seconds : float
        Chunk length (at most the clip length).
    lr, weight_decay : float
    seed : int
        Seeds the chunks and dropout: the same seed gives the same weights.
    num_threads : int or None
        Torch CPU threads (see :func:`mirlab.nn.training.train`).
    progress : bool

    Returns
    -------
    list of float
        The training loss of every step.
    """
    _check_model(model)
    clips, _ = as_clips(audio)
    y = np.asarray(y)
    if y.shape != (len(clips),) or not np.issubdtype(y.dtype, np.integer) or y.min() < 0 \
            or y.max() >= model.n_tags:
        raise ValueError(f"y must be {len(clips)} class indices in [0, {model.n_tags}); got "
                         f"shape {y.shape}, dtype {y.dtype}")
    chunk = int(round(check_positive(chunk_seconds, "chunk_seconds") * model.sr))
    if not model.min_samples <= chunk <= clips.shape[1]:
        raise ValueError(f"chunk_seconds must give between {model.min_samples} and "
                         f"{clips.shape[1]} samples; got {chunk}")
    steps, batch_size = check_positive_int(steps, "steps"), check_positive_int(batch_size,
                                                                                "batch_size")
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, lr, total_steps=steps)
    loss_fn, losses = torch.nn.CrossEntropyLoss(), []
    model.cpu().train()
    with torch_threads(num_threads):
        for _ in tqdm(range(steps), desc="training", leave=False,
                      disable=progress_disabled(progress)):
            pick = rng.integers(0, len(clips), batch_size)
            starts = rng.integers(0, clips.shape[1] - chunk + 1, batch_size)
            x = clips[pick[:, None], starts[:, None] + np.arange(chunk)]
            loss = loss_fn(model(torch.from_numpy(x)), torch.from_numpy(y[pick]).long())
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            losses.append(loss.item())
    model.eval()
    return losses


def predict_classes(model: Tagger, audio, sr: int | None = None, *,
                    chunk_seconds: float | None = 3.0) -> np.ndarray:
    """Class of every clip: the softmax over classes, averaged over the clip's chunks.

    Returns
    -------
    np.ndarray of int, shape (n_clips,)
    """
    _check_model(model)
    probabilities = pooled_over_chunks(
        model, lambda x: torch.softmax(model(x), dim=1), audio, sr, "mean",
        chunk_seconds=chunk_seconds, hop_seconds=None, single_chunk=False, batch_size=32,
        device="cpu", num_threads=1)
    return np.atleast_2d(probabilities).argmax(axis=1)


def _network_settings(name: str, quick: bool, **given) -> dict:
    from mirlab.nn.training import RECIPES

    recipe = RECIPES[name]
    settings = {**SCRATCH, "scale": recipe["scale"], "chunk_seconds": recipe["chunk_seconds"],
                **(QUICK_SCRATCH if quick else {})}
    settings.update({k: v for k, v in given.items() if v is not None})
    settings["lr"] = recipe["lr"] * settings.pop("lr_factor")
    return settings


def _train_and_score(model, task, index, settings, seed, progress) -> float:
    index = np.asarray(index, dtype=int)
    chunk = min(settings["chunk_seconds"], task.audio.shape[1] / task.sr)
    fit_network(model, task.audio[index], task.y[index], steps=settings["steps"],
                batch_size=settings["batch_size"], chunk_seconds=chunk, lr=settings["lr"],
                weight_decay=settings["weight_decay"], seed=seed, progress=progress)
    test = task.test_index
    predicted = predict_classes(model, task.audio[test], task.sr, chunk_seconds=chunk)
    return float(np.mean(predicted == task.y[test]))


def train_from_scratch(name: str, task, index, *, quick: bool = False, seed: int = 0,
                       steps: int | None = None, scale: float | None = None,
                       lr_factor: float | None = None, progress: bool = False) -> float:
    """The same architecture, randomly initialised, trained on the labelled clips only.

    Parameters
    ----------
    name : str
        A key of :data:`mirlab.nn.training.RECIPES` (its ``scale``, ``lr`` and
        ``chunk_seconds`` are used).
    task : TransferTask
    index : np.ndarray of int
        The labelled clips.
    quick : bool
        :data:`QUICK_SCRATCH`: a small network, a few steps.
    seed : int
        Seeds the initial weights and the training.
    steps, scale, lr_factor : optional
        Replace the values of :data:`SCRATCH` (``lr_factor`` times the recipe's ``lr``).
    progress : bool

    Returns
    -------
    float
        Accuracy on ``task.test_index``.
    """
    from mirlab.nn.models import build
    from mirlab.nn.training import RECIPES

    check_choice(name, "name", RECIPES)
    _check_task(task)
    settings = _network_settings(name, quick, steps=steps, scale=scale, lr_factor=lr_factor)
    model = build(name, len(task.classes), sr=task.sr, scale=settings["scale"], seed=seed)
    return _train_and_score(model, task, index, settings, seed, progress)


def fine_tune(model: Tagger, task, index, *, quick: bool = False, seed: int = 0,
              steps: int | None = None, lr_factor: float | None = None,
              progress: bool = False) -> float:
    """Fine-tuning: a copy of the pretrained tagger with a new output layer, trained on the clips.

    The tag layer (``model.head``) is replaced by a randomly initialised linear layer with
    one output per class; then every weight is trained with :func:`fit_network` at a tenth
    of the scratch learning rate (by default), so the pretrained features move only a little.

    Parameters
    ----------
    model : Tagger
        The pretrained tagger (not changed: a copy is trained). Needs a linear ``head``.
    task : TransferTask
    index : np.ndarray of int
    quick : bool
        A few steps only.
    seed : int
    steps, lr_factor : optional
        Replace :data:`SCRATCH`'s values (default ``lr_factor``: a tenth of it).
    progress : bool

    Returns
    -------
    float
        Accuracy on ``task.test_index``.
    """
    _check_model(model)
    _check_task(task)
    if not isinstance(getattr(model, "head", None), torch.nn.Linear):
        raise ValueError(f"model must have a linear output layer .head to replace; "
                         f"{type(model).__name__} has none")
    name = model.config.get("name", SOURCE_MODEL)
    default = SCRATCH["lr_factor"] / 10
    settings = _network_settings(name, quick, steps=steps,
                                 lr_factor=default if lr_factor is None else lr_factor)
    torch.manual_seed(seed)
    net = copy.deepcopy(model).cpu()
    net.head = torch.nn.Linear(net.head.in_features, len(task.classes))
    net.n_tags = len(task.classes)
    return _train_and_score(net, task, index, settings, seed, progress)


def network_curve(method, task, n_per_class=(2, 10, 40), n_draws: int = 1,
                  random_state: int = 0, progress: bool = True, **kwargs):
    """A learning curve of a network trained on the target task (as :func:`learning_curve`).

    Parameters
    ----------
    method : callable
        :func:`train_from_scratch` (with ``name=...`` in ``kwargs``) or :func:`fine_tune`
        (with ``model=...``): called as ``method(task=task, index=index, seed=draw, **kwargs)``
        where ``draw`` is the draw number (0, 1, ...): the same network seed at every size.
    task, n_per_class, n_draws, random_state, progress
        As in :func:`learning_curve` (the same draws).
    **kwargs
        Passed to ``method``.

    Returns
    -------
    pandas.DataFrame
        As :func:`learning_curve`.
    """
    if not callable(method):
        raise ValueError(f"method must be callable (train_from_scratch or fine_tune); got "
                         f"{method!r}")
    return _curve(lambda index, draw: method(task=task, index=index, seed=draw, **kwargs),
                  task, n_per_class, n_draws, random_state,
                  f"{task.name}: {getattr(method, '__name__', 'network')}", progress)


# -------------------------------------------------------------------------------- pictures
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


def project_2d(features, method: str = "tsne", *, random_state: int = 0) -> np.ndarray:
    """Two coordinates per clip for a scatter plot: PCA or t-SNE of standardised features.

    Parameters
    ----------
    features : np.ndarray, shape (n_clips, dim)
    method : {'tsne', 'pca'}
        t-SNE keeps neighbourhoods (clusters), PCA the directions of largest variance.
    random_state : int

    Returns
    -------
    np.ndarray, shape (n_clips, 2)
    """
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    check_choice(method, "method", ("tsne", "pca"))
    X = np.asarray(features, dtype=np.float64)
    if X.ndim != 2 or len(X) < 5 or not np.all(np.isfinite(X)):
        raise ValueError(f"features must be a finite (n_clips, dim) array with n_clips >= 5; "
                         f"got shape {X.shape}")
    with threadpool_limits(1):  # t-SNE of a few hundred points: threads only slow it down
        X = StandardScaler().fit_transform(X)
        if method == "pca":
            return PCA(n_components=2, random_state=random_state).fit_transform(X)
        X = PCA(n_components=min(50, *X.shape), random_state=random_state).fit_transform(X)
        return TSNE(n_components=2, perplexity=min(30.0, (len(X) - 1) / 3), init="pca",
                    random_state=random_state).fit_transform(X)
