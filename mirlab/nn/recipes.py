"""How every shipped network is trained: its recipe, its data, and parallel training.

A **recipe** names an architecture of :data:`mirlab.nn.models.MODELS` (``model``), its width
(``scale``) and the arguments of :func:`mirlab.nn.training.train`. :func:`train_recipe` builds
and trains one (cached); :func:`train_recipes` trains several at once in worker processes, one
torch thread each (on a 2-core machine two models train in the time of one). The shipped
checkpoints (:mod:`mirlab.nn.checkpoints`) are these recipes trained on :data:`TRAINING_DATA`
by ``python -m mirlab.nn.train RECIPE``.

Taught in the music tagging chapter (``notebooks/04_music_tagging``), whose benchmark table
ranks the recipes at their CPU budgets; the transfer learning chapter uses the ``fcn`` as its
source tagger. Needs PyTorch.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from mirlab.core.checks import check_positive_int
from mirlab.core.env import cache_dir, progress_disabled
from mirlab.core.env import device as default_device
from mirlab.nn.augment import AddNoise, Compose, RandomGain, RandomSpeed
from mirlab.nn.models import build
from mirlab.nn.training import History, is_cached, train, train_parameters

__all__ = ["RECIPES", "QUICK_RECIPE", "AUGMENTATION", "TRAINING_DATA", "recipe_settings",
           "recipe_model", "load_training_data", "train_recipe", "train_recipes"]

#: The data every recipe is trained on: arguments of
#: :func:`mirlab.datasets.tagging.load_tagging_dataset` (its ``train`` and ``valid`` splits;
#: the ``test`` split is scored once, for the checkpoint's card).
TRAINING_DATA = {"name": "corpus", "n_clips": 2400, "clip_seconds": 5.0, "sr": 16000,
                 "soundfont": "default", "random_state": 0}

#: The waveform augmentation of the ``fcn_augmented`` recipe (chapter 4, section 9).
AUGMENTATION = Compose((RandomSpeed(2.0), AddNoise(10.0, 30.0), RandomGain(6.0)))

_ONECYCLE = {"chunk_seconds": 3.0, "lr": 1e-2, "schedule": "onecycle", "batch_size": 16}

#: How the chapters train each network: the architecture (``model``), ``scale`` and
#: :func:`mirlab.nn.training.train` arguments. Sized for 2 CPU cores (one thread per model).
RECIPES = {
    "linear": {"model": "linear", "scale": 1.0, "epochs": 15, **_ONECYCLE, "patience": 15},
    "fcn": {"model": "fcn", "scale": 1.0, "epochs": 60, **_ONECYCLE, "patience": 60},
    "musicnn": {"model": "musicnn", "scale": 1.0, "epochs": 15, **_ONECYCLE, "patience": 15,
                "batch_size": 32},
    "samplecnn": {"model": "samplecnn", "scale": 0.5, "epochs": 12, **_ONECYCLE,
                  "patience": 12, "chunk_seconds": 2.0},
    "samplecnn_se": {"model": "samplecnn_se", "scale": 0.5, "epochs": 12, **_ONECYCLE,
                     "patience": 12, "chunk_seconds": 2.0},
    "crnn": {"model": "crnn", "scale": 1.0, "epochs": 20, **_ONECYCLE, "patience": 20,
             "batch_size": 32},
    "attention": {"model": "attention", "scale": 1.0, "epochs": 25, **_ONECYCLE,
                  "patience": 25},
    "fcn_augmented": {"model": "fcn", "scale": 1.0, "epochs": 60, **_ONECYCLE, "patience": 60,
                      "augment": AUGMENTATION},
}

#: The quick test mode of every recipe: a tiny model, one short epoch (seconds).
QUICK_RECIPE = {"scale": 0.5, "epochs": 1, "max_seconds": 3.0}


def recipe_settings(name: str, *, quick: bool = False, **overrides) -> dict:
    """The settings of recipe ``name`` (with :data:`QUICK_RECIPE` and ``overrides`` on top).

    Returns
    -------
    dict
        ``model``, ``scale`` and :func:`mirlab.nn.training.train` arguments.

    Examples
    --------
    >>> recipe_settings("fcn", quick=True)["epochs"]
    1
    """
    if name not in RECIPES:
        raise ValueError(f"name must be one of {sorted(RECIPES)}; got {name!r}")
    recipe = {**RECIPES[name], **(QUICK_RECIPE if quick else {}), **overrides}
    unknown = set(recipe) - {"model", "scale"} - set(train_parameters())
    if unknown:
        raise ValueError(f"unknown recipe settings {sorted(unknown)}; expected 'model', "
                         f"'scale' or arguments of train(): {sorted(train_parameters())}")
    return recipe


def recipe_model(name: str, n_tags: int, sr: int, *, quick: bool = False,
                 random_state: int = 0, **overrides):
    """The untrained model of recipe ``name`` and the :func:`~mirlab.nn.training.train`
    arguments that train it.

    Returns
    -------
    model : Tagger
    settings : dict
    """
    settings = recipe_settings(name, quick=quick, **overrides)
    model = build(settings.pop("model"), n_tags, sr=sr, scale=settings.pop("scale"),
                  random_state=random_state)
    model.config["recipe"] = name
    return model, settings


def load_training_data(design: dict | None = None, *, splits=("train", "valid", "test"),
                       progress: bool = True):
    """The tagging dataset of a data design (default :data:`TRAINING_DATA`).

    Parameters
    ----------
    design : dict or None
        Arguments of :func:`mirlab.datasets.tagging.load_tagging_dataset`.
    splits : str or sequence of str
        The splits to render or load (e.g. ``"test"`` to score shipped checkpoints: the same
        clips as in the whole dataset, since every clip is rendered on its own).
    progress : bool

    Returns
    -------
    TaggingDataset
        The splits asked for; ``data.subset("train")`` etc.
    """
    from mirlab.datasets.tagging import load_tagging_dataset

    design = dict(TRAINING_DATA if design is None else design)
    return load_tagging_dataset(design.pop("name"), splits=splits, progress=progress, **design)


def train_recipe(name: str, train_set, valid_set, *, quick: bool = False,
                 random_state: int = 0, cache: bool = True, progress: bool = True,
                 **overrides):
    """Build the model of recipe ``name`` and train it as :data:`RECIPES` says (cached).

    Parameters
    ----------
    name : str
        A key of :data:`RECIPES`.
    train_set, valid_set : TaggingDataset
        Training and validation clips (``train`` and ``valid`` of
        :func:`mirlab.nn.training.train`).
    quick : bool
        Apply :data:`QUICK_RECIPE` on top (the chapters' quick test mode).
    random_state : int
        Seeds the initial weights and the training.
    cache, progress : bool
        As in :func:`mirlab.nn.training.train`.
    **overrides
        Any :func:`mirlab.nn.training.train` argument or ``scale``, replacing the recipe's.

    Returns
    -------
    model : Tagger
        The trained model, in evaluation mode.
    history : History
    """
    n_tags = np.asarray(train_set.labels).shape[1]
    model, settings = recipe_model(name, n_tags, int(train_set.sr), quick=quick,
                                   random_state=random_state, **overrides)
    history = train(model, train_set, valid_set, random_state=random_state, cache=cache,
                    progress=progress, **settings)
    history.name = name
    return model, history


# ------------------------------------------------------------------- parallel training
def _exit_with_parent(parent: int) -> None:
    """Worker initialiser: end this process when its parent ends (e.g. a kernel restart),
    instead of training on as an orphan."""
    import threading

    def watch():
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _train_in_worker(name, folder, quick, random_state, overrides) -> float:
    """Worker process of :func:`train_recipes`: train one recipe into the weights cache."""
    import types

    def load(part):
        return types.SimpleNamespace(
            audio=np.load(Path(folder) / f"{part}-audio.npy", mmap_mode="r"),
            labels=np.load(Path(folder) / f"{part}-labels.npy"),
            sr=int(np.load(Path(folder) / "sr.npy")))

    _, history = train_recipe(name, load("train"), load("valid"), quick=quick,
                              random_state=random_state, progress=False, **overrides)
    return history.total_seconds


def _recipe_jobs(jobs, overrides: dict) -> dict:
    """``label -> (name, settings)`` from the ``jobs`` argument of :func:`train_recipes`."""
    if not isinstance(jobs, dict):
        jobs = {name: name for name in jobs}
    out = {}
    for label, job in jobs.items():
        name, settings = (job, {}) if isinstance(job, str) else job
        if name not in RECIPES:
            raise ValueError(f"jobs must name keys of RECIPES {sorted(RECIPES)}; got {name!r}")
        out[label] = (name, {**overrides, **settings})
    if not out:
        raise ValueError("jobs must name at least one recipe; got none")
    return out


def train_recipes(jobs, train_set, valid_set, *, quick: bool = False, random_state: int = 0,
                  workers: int | None = None, progress: bool = True,
                  **overrides) -> dict[str, tuple[object, History]]:
    """Train several :data:`RECIPES` at once, in parallel processes on a multi-core CPU.

    Each model trains in its own process with one torch thread; the weights come back through
    the weights cache, so a model trained before is loaded, not trained again. In a script,
    call it under ``if __name__ == "__main__":``, as for any ``multiprocessing`` code.

    Parameters
    ----------
    jobs : sequence of str, or dict
        Keys of :data:`RECIPES`, or a dict ``label -> name`` or ``label -> (name, settings)``
        with extra :func:`train_recipe` arguments for that job.
    train_set, valid_set : TaggingDataset
    quick, random_state, **overrides
        As in :func:`train_recipe` (for every job).
    workers : int or None
        Processes; None: one per CPU core (at most 4), or 1 when a GPU is present. With 1
        (or ``cache=False``) everything runs in this process.
    progress : bool
        One progress bar over the models (and each model's summary line).

    Returns
    -------
    dict
        ``label -> (model, History)``, in the order of ``jobs``.
    """
    jobs = _recipe_jobs(jobs, overrides)
    if workers is None:
        workers = 1 if default_device() != "cpu" else min(4, os.cpu_count() or 1)
    workers = min(check_positive_int(workers, "workers"), len(jobs))
    todo = [job for job in jobs.values()
            if not _is_cached(*job, train_set, valid_set, quick, random_state)]
    if workers > 1 and len(todo) > 1 and overrides.get("cache", True):  # via the cache
        _train_in_workers(todo, train_set, valid_set, quick, random_state, workers, progress)
    return {label: train_recipe(name, train_set, valid_set, quick=quick,
                                random_state=random_state, progress=progress, **settings)
            for label, (name, settings) in jobs.items()}


def _is_cached(name, settings, train_set, valid_set, quick, random_state) -> bool:
    """Whether :func:`train_recipe` would load recipe ``name`` from the weights cache."""
    settings = {k: v for k, v in settings.items() if k not in ("cache", "progress")}
    model, options = recipe_model(name, np.asarray(train_set.labels).shape[1],
                                  int(train_set.sr), quick=quick, random_state=random_state,
                                  **settings)
    return is_cached(model, train_set, valid_set, random_state=random_state, **options)


def _train_in_workers(todo, train_set, valid_set, quick, random_state, workers,
                      progress) -> None:
    """Train the ``(name, settings)`` jobs in ``workers`` processes (into the cache)."""
    import concurrent.futures
    import multiprocessing
    import tempfile

    with tempfile.TemporaryDirectory(dir=cache_dir("models")) as folder:
        for part, data in (("train", train_set), ("valid", valid_set)):
            np.save(Path(folder) / f"{part}-audio.npy", np.asarray(data.audio))
            np.save(Path(folder) / f"{part}-labels.npy", np.asarray(data.labels))
        np.save(Path(folder) / "sr.npy", np.asarray(int(train_set.sr)))
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(
                workers, mp_context=context, initializer=_exit_with_parent,
                initargs=(os.getpid(),)) as pool:
            futures = [pool.submit(_train_in_worker, name, folder, quick, random_state,
                                   settings) for name, settings in todo]
            for future in tqdm(concurrent.futures.as_completed(futures), total=len(futures),
                               desc=f"training {len(futures)} models in {workers} processes",
                               disable=progress_disabled(progress)):
                future.result()  # re-raises a worker's error here
