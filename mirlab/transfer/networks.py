"""Transfer learning, step 3: networks trained on the few labelled clips of a target task.

The baselines a transferred embedding must beat with few labels: the same architecture trained
from scratch on them (:func:`train_from_scratch`), and the pretrained tagger fine-tuned with a
new output layer (:func:`fine_tune`) :cite:`Choi2017transfer`. Both train with
:func:`fit_network`, which is :func:`mirlab.nn.training.fit` (the one training loop) with a
:class:`~mirlab.nn.training.ChunkSampler` drawing clips with replacement and a cross-entropy
loss; there is no validation and no early stopping, as a target task with a few labels has no
clips to spare.

Taught in the transfer learning chapter (``notebooks/05_transfer_learning``); needs PyTorch.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from mirlab.core.checks import check_choice, check_positive, check_positive_int
from mirlab.nn.models import build
from mirlab.nn.models.base import Tagger, as_clips, pooled_over_chunks
from mirlab.nn.recipes import RECIPES
from mirlab.nn.training import ChunkSampler, History, fit
from mirlab.transfer.embeddings import SOURCE_MODEL, check_model
from mirlab.transfer.probes import check_task, curve_over_draws

__all__ = ["SCRATCH", "QUICK_SCRATCH", "fit_network", "predict_classes", "train_from_scratch",
           "fine_tune", "network_curve"]

#: Training of the networks on a target task (:func:`fit_network`): gradient steps, clips per
#: step, peak learning rate of the one-cycle schedule as a fraction of the recipe's ``lr``
#: (fine-tuning uses a tenth of it), weight decay.
SCRATCH = {"steps": 60, "batch_size": 16, "lr_factor": 1.0, "weight_decay": 1e-4}

#: The quick test mode: a few steps of a small network.
QUICK_SCRATCH = {"steps": 3, "batch_size": 8, "scale": 0.5}


def fit_network(model: Tagger, audio, y, *, steps: int, batch_size: int = 16,
                chunk_seconds: float = 3.0, lr: float = 1e-2, weight_decay: float = 1e-4,
                random_state: int = 0, device=None, num_threads: int | None = 1,
                progress: bool = False) -> History:
    """Train a network's outputs as classes: cross-entropy on random chunks, fixed steps.

    :func:`mirlab.nn.training.fit` for one epoch of ``steps`` batches: each draws
    ``batch_size`` clips (with replacement) and a random chunk of each, and takes one Adam step
    with a one-cycle learning rate (peak ``lr``).

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
    random_state : int
        Seeds the chunks and dropout: the same value gives the same weights (on the CPU).
    device : str or None
        None: :func:`mirlab.core.env.device` (the GPU when there is one).
    num_threads : int or None
        Torch CPU threads (see :func:`mirlab.nn.training.fit`).
    progress : bool

    Returns
    -------
    History
        ``history.step_loss`` holds the training loss of every step.
    """
    check_model(model)
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
    sampler = ChunkSampler(clips, y, chunk, batch_size, steps=check_positive_int(steps, "steps"))
    return fit(model, sampler, torch.nn.CrossEntropyLoss(), epochs=1, lr=lr,
               weight_decay=weight_decay, schedule="onecycle", random_state=random_state,
               device=device, num_threads=num_threads, progress=progress,
               name="target task")


def predict_classes(model: Tagger, audio, sr: int | None = None, *,
                    chunk_seconds: float | None = 3.0) -> np.ndarray:
    """Class of every clip: the softmax over classes, averaged over the clip's chunks.

    Returns
    -------
    np.ndarray of int, shape (n_clips,)
    """
    check_model(model)
    probabilities = pooled_over_chunks(
        model, lambda x: torch.softmax(model(x), dim=1), audio, sr, "mean",
        chunk_seconds=chunk_seconds, hop_seconds=None, single_chunk=False, batch_size=32,
        device=None, num_threads=1)
    return np.atleast_2d(probabilities).argmax(axis=1)


def _network_settings(name: str, quick: bool, **given) -> dict:
    recipe = RECIPES[name]
    settings = {**SCRATCH, "scale": recipe["scale"], "chunk_seconds": recipe["chunk_seconds"],
                **(QUICK_SCRATCH if quick else {})}
    settings.update({k: v for k, v in given.items() if v is not None})
    settings["lr"] = recipe["lr"] * settings.pop("lr_factor")
    return settings


def _train_and_score(model, task, index, settings, random_state, progress) -> float:
    index = np.asarray(index, dtype=int)
    chunk = min(settings["chunk_seconds"], task.audio.shape[1] / task.sr)
    fit_network(model, task.audio[index], task.y[index], steps=settings["steps"],
                batch_size=settings["batch_size"], chunk_seconds=chunk, lr=settings["lr"],
                weight_decay=settings["weight_decay"], random_state=random_state,
                progress=progress)
    test = task.test_index
    predicted = predict_classes(model, task.audio[test], task.sr, chunk_seconds=chunk)
    return float(np.mean(predicted == task.y[test]))


def train_from_scratch(name: str, task, index, *, quick: bool = False, random_state: int = 0,
                       steps: int | None = None, scale: float | None = None,
                       lr_factor: float | None = None, progress: bool = False) -> float:
    """The same architecture, randomly initialised, trained on the labelled clips only.

    Parameters
    ----------
    name : str
        A key of :data:`mirlab.nn.recipes.RECIPES` (its ``scale``, ``lr`` and
        ``chunk_seconds`` are used).
    task : TransferTask
    index : np.ndarray of int
        The labelled clips.
    quick : bool
        :data:`QUICK_SCRATCH`: a small network, a few steps.
    random_state : int
        Seeds the initial weights and the training.
    steps, scale, lr_factor : optional
        Replace the values of :data:`SCRATCH` (``lr_factor`` times the recipe's ``lr``).
    progress : bool

    Returns
    -------
    float
        Accuracy on ``task.test_index``.
    """
    check_choice(name, "name", RECIPES)
    check_task(task)
    settings = _network_settings(name, quick, steps=steps, scale=scale, lr_factor=lr_factor)
    model = build(RECIPES[name]["model"], len(task.classes), sr=task.sr, scale=settings["scale"],
                  random_state=random_state)
    return _train_and_score(model, task, index, settings, random_state, progress)


def fine_tune(model: Tagger, task, index, *, quick: bool = False, random_state: int = 0,
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
    random_state : int
        Seeds the new output layer and the training.
    steps, lr_factor : optional
        Replace :data:`SCRATCH`'s values (default ``lr_factor``: a tenth of it).
    progress : bool

    Returns
    -------
    float
        Accuracy on ``task.test_index``.
    """
    check_model(model)
    check_task(task)
    if not isinstance(getattr(model, "head", None), torch.nn.Linear):
        raise ValueError(f"model must have a linear output layer .head to replace; "
                         f"{type(model).__name__} has none")
    name = model.config.get("recipe", model.config.get("name", SOURCE_MODEL))
    default = SCRATCH["lr_factor"] / 10
    settings = _network_settings(name, quick, steps=steps,
                                 lr_factor=default if lr_factor is None else lr_factor)
    torch.manual_seed(random_state)
    net = copy.deepcopy(model).cpu()
    net.head = torch.nn.Linear(net.head.in_features, len(task.classes))
    net.n_tags = len(task.classes)
    return _train_and_score(net, task, index, settings, random_state, progress)


def network_curve(method, task, n_per_class=(2, 10, 40), n_draws: int = 1,
                  random_state: int = 0, progress: bool = True, **kwargs):
    """A learning curve of a network trained on the target task (as
    :func:`mirlab.transfer.probes.learning_curve`).

    Parameters
    ----------
    method : callable
        :func:`train_from_scratch` (with ``name=...`` in ``kwargs``) or :func:`fine_tune`
        (with ``model=...``): called as
        ``method(task=task, index=index, random_state=draw, **kwargs)``
        where ``draw`` is the draw number (0, 1, ...): the same network seed at every size.
    task, n_per_class, n_draws, random_state, progress
        As in :func:`mirlab.transfer.probes.learning_curve` (the same draws).
    **kwargs
        Passed to ``method``.

    Returns
    -------
    pandas.DataFrame
        As :func:`mirlab.transfer.probes.learning_curve`.
    """
    if not callable(method):
        raise ValueError(f"method must be callable (train_from_scratch or fine_tune); got "
                         f"{method!r}")
    return curve_over_draws(
        lambda index, draw: method(task=task, index=index, random_state=draw, **kwargs),
        task, n_per_class, n_draws, random_state,
        f"{task.name}: {getattr(method, '__name__', 'network')}", progress)
