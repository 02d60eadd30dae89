"""Training and evaluating taggers on bags of chunks, with a cache of trained checkpoints.

Bag-of-chunks training :cite:`Won2020evaluation`: every step draws a random short chunk (e.g.
2 s) from each clip of a batch, so one clip gives many different training examples; to tag a
whole clip, :func:`predict` scores all its chunks and averages (or max-pools) their
probabilities.

:func:`train` runs the loop a chapter needs: seeds, device selection, progress bar, validation
(macro ROC-AUC / PR-AUC) after each epoch, early stopping, the best weights kept, a time
budget, optional waveform augmentation, and a cache: the trained weights are saved under
``mirlab.cache_dir("models")`` with a key that hashes the model's configuration, the training
settings, the data, the seed and the code, so a rebuilt chapter loads them instead of training
again. Command line (larger models, e.g. on a GPU)::

    python -m mirlab.nn.training --model fcn --scale 4 --epochs 40

Taught in the music tagging chapter; needs PyTorch (``pip install mirlab[deep]``).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
import os
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from mirlab.core.checks import check_positive, check_positive_int, check_sr
from mirlab.core.env import cache_dir, progress_disabled
from mirlab.core.env import device as default_device
from mirlab.metrics import SingleClassWarning, pr_auc, roc_auc
from mirlab.nn.models.base import Tagger, pooled_over_chunks, torch_threads

__all__ = [
    "train",
    "predict",
    "evaluate",
    "History",
    "RandomGain",
    "AddNoise",
    "RandomSpeed",
    "Compose",
    "seed_everything",
    "fingerprint",
    "torch_threads",
    "RECIPES",
    "QUICK_RECIPE",
    "train_recipe",
    "train_recipes",
]


# ----------------------------------------------------------------------------------- seeds
def seed_everything(seed: int) -> None:
    """Seed torch's generators (CPU and GPU): initial weights, dropout.

    numpy is never seeded globally: the chunk sampler uses its own
    ``np.random.default_rng(seed)``.
    """
    seed = check_positive_int(seed, "seed", minimum=0)
    torch.manual_seed(seed)


# ---------------------------------------------------------------------------- augmentation
@dataclasses.dataclass(frozen=True)
class RandomGain:
    """Multiply each chunk by a random gain, uniform in decibels in ``[-max_db, max_db]``."""

    max_db: float = 6.0

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        db = (torch.rand(len(x), 1, generator=generator) * 2 - 1) * self.max_db
        return x * (10.0 ** (db / 20.0)).to(x.device)


@dataclasses.dataclass(frozen=True)
class AddNoise:
    """Add white noise at a random signal-to-noise ratio in ``[min_snr_db, max_snr_db]``."""

    min_snr_db: float = 10.0
    max_snr_db: float = 30.0

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        snr = self.min_snr_db + torch.rand(len(x), 1, generator=generator) * (
            self.max_snr_db - self.min_snr_db)
        noise = torch.randn(x.shape, generator=generator).to(x.device)
        power = x.pow(2).mean(dim=1, keepdim=True).clamp(min=1e-10)
        return x + noise * torch.sqrt(power / 10.0 ** (snr.to(x.device) / 10.0))


@dataclasses.dataclass(frozen=True)
class RandomSpeed:
    """Play each chunk faster or slower by up to ``max_semitones`` (resampling).

    Resampling by a factor ``r`` shifts the pitch by ``12 log2(r)`` semitones *and* changes
    the tempo by ``r`` (a tape-speed change: the cheap stand-in for pitch shifting and time
    stretching). The result is cropped, or zero-padded at the end, to the chunk's length.
    """

    max_semitones: float = 2.0

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        n = x.shape[1]
        out = torch.zeros_like(x)
        shifts = (torch.rand(len(x), generator=generator) * 2 - 1) * self.max_semitones
        for i, semitones in enumerate(shifts.tolist()):
            length = max(2, int(round(n / 2.0 ** (semitones / 12.0))))
            y = torch.nn.functional.interpolate(x[i][None, None], size=length, mode="linear",
                                                align_corners=False)[0, 0]
            out[i, : min(n, length)] = y[:n]
        return out


@dataclasses.dataclass(frozen=True)
class Compose:
    """Apply several augmentations in order: ``Compose((RandomGain(), AddNoise()))``."""

    steps: tuple = ()

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        for step in self.steps:
            x = step(x, generator)
        return x


# ----------------------------------------------------------------------------- the history
@dataclasses.dataclass
class History:
    """What :func:`train` did: one entry per epoch, the best epoch, and where it was cached.

    Attributes
    ----------
    epochs : list of int
        Epoch numbers (1-based).
    train_loss, valid_loss : list of float
        Mean training loss (binary cross-entropy on chunks) and validation loss (on clip
        probabilities) per epoch.
    valid_roc_auc, valid_pr_auc : list of float
        Macro ROC-AUC and PR-AUC on the validation clips after each epoch.
    seconds : list of float
        Time since the start of training at the end of each epoch.
    best_epoch : int
        Epoch whose weights the model holds.
    stopped : str
        ``'epochs'`` (all ran), ``'early'`` (no improvement for ``patience`` epochs) or
        ``'time'`` (``max_seconds`` reached).
    from_cache : bool
        True when the weights were loaded from the cache (nothing was trained).
    path : str or None
        The cached checkpoint.
    """

    name: str = ""
    epochs: list = dataclasses.field(default_factory=list)
    train_loss: list = dataclasses.field(default_factory=list)
    valid_loss: list = dataclasses.field(default_factory=list)
    valid_roc_auc: list = dataclasses.field(default_factory=list)
    valid_pr_auc: list = dataclasses.field(default_factory=list)
    seconds: list = dataclasses.field(default_factory=list)
    best_epoch: int = 0
    stopped: str = "epochs"
    from_cache: bool = False
    path: str | None = None

    @property
    def best_roc_auc(self) -> float:
        """Validation ROC-AUC of the kept weights."""
        return self.valid_roc_auc[self.best_epoch - 1] if self.best_epoch else float("nan")

    @property
    def best_pr_auc(self) -> float:
        """Validation PR-AUC of the kept weights."""
        return self.valid_pr_auc[self.best_epoch - 1] if self.best_epoch else float("nan")

    @property
    def total_seconds(self) -> float:
        """Training time (of the original run, when loaded from the cache)."""
        return self.seconds[-1] if self.seconds else 0.0

    def summary(self) -> str:
        """One line: epochs, time, best validation scores, why it stopped."""
        source = "loaded from cache" if self.from_cache else f"stopped: {self.stopped}"
        return (f"{self.name}: {len(self.epochs)} epochs in {self.total_seconds:.1f} s, best "
                f"valid ROC-AUC {self.best_roc_auc:.3f} / PR-AUC {self.best_pr_auc:.3f} "
                f"(epoch {self.best_epoch}); {source}")


# ------------------------------------------------------------------------ data and caching
def _check_dataset(data, name: str):
    for attribute in ("audio", "labels", "sr"):
        if not hasattr(data, attribute):
            raise ValueError(f"{name} must be a TaggingDataset-like object with .audio, "
                             f".labels and .sr; it has no .{attribute}")
    audio, labels = np.asarray(data.audio), np.asarray(data.labels)
    if audio.ndim != 2 or labels.ndim != 2 or len(audio) != len(labels) or len(audio) == 0:
        raise ValueError(f"{name}.audio must be (n_clips, n_samples) and {name}.labels "
                         f"(n_clips, n_tags) with the same n_clips > 0; got {audio.shape} and "
                         f"{labels.shape}")
    check_sr(data.sr, f"{name}.sr")
    return audio, labels


def fingerprint(data) -> str:
    """A hash of a dataset's audio, labels and sample rate (part of the checkpoint key)."""
    h = hashlib.blake2b(digest_size=16)
    for array in (np.asarray(data.audio), np.asarray(data.labels)):
        array = np.ascontiguousarray(array)
        h.update(str((array.shape, array.dtype.str)).encode())
        h.update(memoryview(array).cast("B"))
    h.update(str(int(data.sr)).encode())
    return h.hexdigest()


def _source(obj, fallback: str = "") -> str:
    """The source code of a module, class or function (``fallback`` when there is none,
    e.g. for a class defined in a notebook)."""
    import inspect

    try:
        return inspect.getsource(obj)
    except (OSError, TypeError):
        return fallback


def _code_version(model) -> str:
    """A hash of the code that decides a trained model: the model's module, the shared
    layers and front end, and the training loop (new code, new checkpoints; edits elsewhere,
    e.g. to docstrings of other functions or to :data:`RECIPES`, keep the cache valid)."""
    import sys

    from mirlab.nn.models import base, frontend

    h = hashlib.blake2b(digest_size=8)
    for text in (_source(sys.modules[type(model).__module__], repr(model)), _source(base),
                 _source(frontend), _LOOP_SOURCE):
        h.update(text.encode())
    return h.hexdigest()


def _model_config(model: Tagger) -> dict:
    config = getattr(model, "config", None)
    return dict(config) if config else {"repr": repr(model)}


def _checkpoint_path(model, settings, train_data, valid_data) -> Path:
    record = {"model": _model_config(model), "settings": settings, "code": _code_version(model),
              "train": fingerprint(train_data), "valid": fingerprint(valid_data)}
    key = hashlib.blake2b(json.dumps(record, sort_keys=True, default=repr).encode(),
                          digest_size=10).hexdigest()
    name = str(_model_config(model).get("name", type(model).__name__))
    return cache_dir("models") / f"{name}-{key}.pt"


def _load_checkpoint(model, path: Path) -> History | None:
    """Load cached weights into ``model``; None (with a warning) if the file is unusable."""
    if not path.is_file():
        return None
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        state = saved["state_dict"]
        if not all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point()):
            raise ValueError("non-finite weights")
        model.load_state_dict(state)
        history = History(**saved["history"])
    except Exception as err:  # a truncated, foreign or stale file: train again
        warnings.warn(f"cached checkpoint {path.name} is unusable ({type(err).__name__}: "
                      f"{err}); training again", RuntimeWarning, stacklevel=3)
        return None
    history.from_cache, history.path = True, str(path)
    return history


def _save_checkpoint(model, history: History, path: Path) -> None:
    """Write the checkpoint atomically (a temporary file renamed into place)."""
    record = dataclasses.asdict(history)
    record.update(from_cache=False, path=None)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    torch.save({"state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                "history": record}, tmp)
    os.replace(tmp, path)
    history.path = str(path)


# ------------------------------------------------------------------------------ prediction
def predict(model: Tagger, audio, sr: int | None = None, *, chunk_seconds: float | None = 2.0,
            hop_seconds: float | None = None, aggregate: str = "mean",
            single_chunk: bool = False, batch_size: int = 32, device=None,
            num_threads: int | None = 1) -> np.ndarray:
    """Tag probabilities of whole clips from the chunks' probabilities (bag of chunks).

    Parameters
    ----------
    model : Tagger
    audio : np.ndarray, shape (n_clips, n_samples) or (n_samples,)
    sr : int or None
        Sample rate of ``audio``; must equal ``model.sr`` (None: assume it does).
    chunk_seconds : float or None
        Chunk length (as in training); None: the whole clip in one pass.
    hop_seconds : float or None
        Hop between chunk starts (None: ``chunk_seconds``, no overlap). A last chunk ending
        at the clip's end is added when the hop leaves a remainder.
    aggregate : {'mean', 'max'}
        How the chunks' sigmoid probabilities are combined per clip.
    single_chunk : bool
        Score only the chunk in the middle of each clip (the baseline bag-of-chunks beats).
    batch_size : int
    device : str or None
        None: :func:`mirlab.device`.
    num_threads : int or None
        Torch CPU threads (see :func:`train`).

    Returns
    -------
    np.ndarray, shape (n_clips, n_tags) or (n_tags,) for one clip
        Probabilities in [0, 1].

    Examples
    --------
    >>> from mirlab.nn.models import build
    >>> predict(build("linear", 3), np.zeros((2, 32000), np.float32), chunk_seconds=1.0).shape
    (2, 3)
    """
    return pooled_over_chunks(model, lambda x: torch.sigmoid(model(x)), audio, sr, aggregate,
                              chunk_seconds=chunk_seconds, hop_seconds=hop_seconds,
                              single_chunk=single_chunk, batch_size=batch_size, device=device,
                              num_threads=num_threads)


def evaluate(model: Tagger, data, **predict_kwargs) -> dict:
    """Macro ROC-AUC and PR-AUC of ``model`` on a dataset (tags with one class skipped).

    Returns
    -------
    dict
        ``{"roc_auc": float, "pr_auc": float, "scores": (n_clips, n_tags) probabilities}``.
    """
    audio, labels = _check_dataset(data, "data")
    scores = predict(model, audio, data.sr, **predict_kwargs)
    tags = getattr(data, "tags", None)
    return {"roc_auc": roc_auc(labels, scores, tags=tags),
            "pr_auc": pr_auc(labels, scores, tags=tags), "scores": scores}


# -------------------------------------------------------------------------------- training
def _random_chunks(audio, labels, index, chunk, rng):
    starts = rng.integers(0, audio.shape[1] - chunk + 1, size=len(index))
    x = audio[index[:, None], starts[:, None] + np.arange(chunk)[None, :]]
    return torch.from_numpy(x.astype(np.float32)), torch.from_numpy(labels[index].astype(
        np.float32))


def _validate(model, audio, labels, sr, chunk_seconds, batch_size, device):
    scores = predict(model, audio, sr, chunk_seconds=chunk_seconds, batch_size=batch_size,
                     device=device, num_threads=None)
    if not np.all(np.isfinite(scores)):
        raise RuntimeError("the model's outputs became NaN or infinite: training diverged; "
                           "try a smaller lr")
    p = np.clip(scores, 1e-7, 1 - 1e-7)
    loss = float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingleClassWarning)
        return loss, roc_auc(labels, scores), pr_auc(labels, scores)


def _check_train_args(model, chunk_seconds, sr, n_samples, epochs, batch_size, lr, patience,
                      max_seconds, augment, schedule="constant"):
    if not isinstance(model, Tagger):
        raise ValueError(f"model must be a mirlab.nn.models.Tagger; got {type(model).__name__}")
    if sr != model.sr:
        raise ValueError(f"train.sr={sr} differs from the model's sample rate {model.sr}")
    chunk = int(round(check_positive(chunk_seconds, "chunk_seconds") * sr))
    if not model.min_samples <= chunk <= n_samples:
        raise ValueError(f"chunk_seconds must give between {model.min_samples} (the model's "
                         f"minimum) and {n_samples} (the clip length) samples; got "
                         f"{chunk_seconds} s = {chunk} samples")
    check_positive_int(epochs, "epochs")
    check_positive_int(batch_size, "batch_size")
    check_positive(lr, "lr")
    check_positive_int(patience, "patience")
    if schedule not in ("constant", "onecycle"):
        raise ValueError(f"schedule must be 'constant' or 'onecycle'; got {schedule!r}")
    if max_seconds is not None:
        check_positive(max_seconds, "max_seconds")
    if augment is not None and not callable(augment):
        raise ValueError(f"augment must be a callable (x, generator) -> x; got {augment!r}")
    return chunk


def train(model: Tagger, train, valid, *, epochs: int = 20, chunk_seconds: float = 2.0,
          batch_size: int = 16, lr: float = 3e-3, weight_decay: float = 1e-4,
          patience: int = 4, max_seconds: float | None = None, seed: int = 0,
          schedule: str = "constant", augment=None, device=None,
          num_threads: int | None = 1, cache: bool = True,
          progress: bool = True, verbose: bool = False) -> History:
    """Train a tagger on random chunks of the training clips; keep the best validated weights.

    Each epoch draws one random chunk of ``chunk_seconds`` from every training clip (in a
    random order, ``batch_size`` clips per step), minimises the binary cross-entropy of the
    logits with Adam, then tags the validation clips chunk by chunk (:func:`predict`) and
    measures macro ROC-AUC. The weights of the best epoch are kept; training stops after
    ``epochs``, after ``patience`` epochs without improvement, or when ``max_seconds`` have
    passed (checked after every step; validation then runs once more).

    Parameters
    ----------
    model : Tagger
        From :func:`mirlab.nn.models.build` (its ``config`` is part of the cache key).
        Trained in place: on return it holds the best weights, in eval mode.
    train, valid : TaggingDataset
        Objects with ``audio`` ``(n_clips, n_samples)``, ``labels`` ``(n_clips, n_tags)``
        and ``sr`` (:class:`mirlab.datasets.tagging.TaggingDataset`).
    epochs : int
        Maximum number of epochs.
    chunk_seconds : float
        Length of the training (and validation) chunks.
    batch_size : int
    lr, weight_decay : float
        Adam's learning rate (the peak one with ``schedule="onecycle"``) and L2 penalty.
    patience : int
        Epochs without a better validation ROC-AUC before stopping.
    max_seconds : float or None
        Time budget (quick mode). With a budget the result depends on the machine's speed.
    seed : int
        Seeds torch and the chunk sampler: the same seed, data and settings give the same
        weights on the same machine (without ``max_seconds``).
    schedule : {'constant', 'onecycle'}
        Learning rate over training: constant ``lr``, or the one-cycle policy
        :cite:`Smith2019superconvergence` (warm up to ``lr`` over the first 30 % of the
        ``epochs``, then anneal to almost zero), which reaches a better model in few epochs.
    augment : callable or None
        ``augment(x, generator) -> x`` on each training batch, e.g.
        ``Compose((RandomGain(6), AddNoise(10, 30), RandomSpeed(2)))``.
    device : str or None
        None: :func:`mirlab.device` (the GPU when there is one).
    num_threads : int or None
        Torch CPU threads while training (restored afterwards; None: leave torch's setting).
        One thread by default: on shared or two-vCPU machines (Colab, CI) a second thread
        often made each step several times *slower* (a CRNN step measured 89 ms with one
        thread and 754 ms with two on a loaded 2-core machine), and a fixed thread count
        keeps results reproducible.
    cache : bool
        Load the weights from ``mirlab.cache_dir("models")`` when this exact training ran
        before (nothing is trained then); save them afterwards. An unreadable checkpoint is
        reported with a warning and trained again.
    progress : bool
        Show a progress bar over epochs and print a one-line summary.
    verbose : bool
        Also print one line per epoch.

    Returns
    -------
    History
        Per-epoch losses and validation scores, the best epoch, why it stopped, whether it
        came from the cache. The trained model is ``model`` itself.

    References
    ----------
    Bag-of-chunks training and its evaluation :cite:`Won2020evaluation`.
    """
    train_audio, train_labels = _check_dataset(train, "train")
    valid_audio, valid_labels = _check_dataset(valid, "valid")
    if train_labels.shape[1] != model.n_tags or valid_labels.shape[1] != model.n_tags:
        raise ValueError(f"train.labels and valid.labels must have model.n_tags="
                         f"{model.n_tags} columns; got {train_labels.shape[1]} and "
                         f"{valid_labels.shape[1]}")
    chunk = _check_train_args(model, chunk_seconds, int(train.sr), train_audio.shape[1],
                              epochs, batch_size, lr, patience, max_seconds, augment,
                              schedule)
    settings = _train_settings(epochs=epochs, chunk_seconds=chunk_seconds,
                               batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                               patience=patience, max_seconds=max_seconds, seed=seed,
                               schedule=schedule, augment=augment)
    name = str(_model_config(model).get("name", type(model).__name__))
    path = _checkpoint_path(model, settings, train, valid) if cache else None
    if cache:
        history = _load_checkpoint(model, path)
        if history is not None:
            model.eval()
            if progress:
                print(history.summary())
            return history
    with torch_threads(num_threads):
        history = _fit(model, name, train_audio, train_labels, valid_audio, valid_labels,
                       int(train.sr), chunk, settings, augment, device, progress, verbose)
    if cache:
        _save_checkpoint(model, history, path)
    if progress:
        print(history.summary())
    return history


_SETTINGS = ("epochs", "chunk_seconds", "batch_size", "lr", "weight_decay", "patience",
             "max_seconds", "seed", "schedule", "augment")


def _train_settings(**kwargs) -> dict:
    """The settings of a :func:`train` call that decide its result (part of the cache key);
    arguments not given take :func:`train`'s defaults."""
    import inspect

    defaults = {k: p.default for k, p in inspect.signature(train).parameters.items()}
    settings = {key: kwargs.get(key, defaults[key]) for key in _SETTINGS}
    settings["augment"] = repr(settings["augment"])
    return settings


def _fit(model, name, train_audio, train_labels, valid_audio, valid_labels, sr, chunk,
         settings, augment, device, progress, verbose) -> History:
    """The training loop of :func:`train` (no caching)."""
    seed_everything(settings["seed"])
    rng = np.random.default_rng(settings["seed"])
    generator = torch.Generator().manual_seed(settings["seed"])
    device = default_device() if device is None else device
    model.to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=settings["lr"],
                                 weight_decay=settings["weight_decay"])
    steps = settings["epochs"] * math.ceil(len(train_audio) / settings["batch_size"])
    scheduler = (torch.optim.lr_scheduler.OneCycleLR(optimiser, settings["lr"], steps)
                 if settings["schedule"] == "onecycle" else None)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    history, best_state, best = History(name=name), None, -math.inf
    start, bs = time.perf_counter(), settings["batch_size"]
    max_seconds = settings["max_seconds"]
    bar = tqdm(range(1, settings["epochs"] + 1), desc=name, leave=False,
               disable=progress_disabled(progress))
    for epoch in bar:
        model.train()
        losses, out_of_time = [], False
        order = rng.permutation(len(train_audio))
        for begin in range(0, len(order), bs):
            x, y = _random_chunks(train_audio, train_labels, order[begin:begin + bs], chunk,
                                  rng)
            if augment is not None:
                x = augment(x, generator)
            loss = loss_fn(model(x.to(device)), y.to(device))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            if scheduler is not None:
                scheduler.step()
            losses.append(loss.item())
            if max_seconds is not None and time.perf_counter() - start > max_seconds:
                out_of_time = True
                break
        valid_loss, auc, ap = _validate(model, valid_audio, valid_labels, sr, chunk / sr, 64,
                                        device)
        for key, value in (("epochs", epoch), ("train_loss", float(np.mean(losses))),
                           ("valid_loss", valid_loss), ("valid_roc_auc", float(auc)),
                           ("valid_pr_auc", float(ap)),
                           ("seconds", time.perf_counter() - start)):
            getattr(history, key).append(value)
        bar.set_postfix(loss=f"{np.mean(losses):.3f}", roc_auc=f"{auc:.3f}")
        if verbose:
            print(f"epoch {epoch}: loss {np.mean(losses):.4f}, valid ROC-AUC {auc:.3f}, "
                  f"PR-AUC {ap:.3f} ({history.seconds[-1]:.1f} s)")
        if auc > best:
            best, history.best_epoch = auc, epoch
            best_state = copy.deepcopy(model.state_dict())
        if out_of_time:
            history.stopped = "time"
            break
        if epoch - history.best_epoch >= settings["patience"]:
            history.stopped = "early"
            break
    bar.close()
    model.load_state_dict(best_state)
    model.eval()
    return history


# --------------------------------------------------------------------------------- recipes
_ONECYCLE = {"chunk_seconds": 3.0, "lr": 1e-2, "schedule": "onecycle", "batch_size": 16}

#: How the chapters train each model on the corpus tagging data: ``build`` arguments
#: (``scale``) and :func:`train` arguments. Sized for 2 CPU cores (one thread per model).
RECIPES = {
    "linear": {"scale": 1.0, "epochs": 15, **_ONECYCLE, "patience": 15},
    "fcn": {"scale": 1.0, "epochs": 60, **_ONECYCLE, "patience": 60},
    "musicnn": {"scale": 1.0, "epochs": 15, **_ONECYCLE, "patience": 15, "batch_size": 32},
    "samplecnn": {"scale": 0.5, "epochs": 12, **_ONECYCLE, "patience": 12,
                  "chunk_seconds": 2.0},
    "samplecnn_se": {"scale": 0.5, "epochs": 12, **_ONECYCLE, "patience": 12,
                     "chunk_seconds": 2.0},
    "crnn": {"scale": 1.0, "epochs": 20, **_ONECYCLE, "patience": 20, "batch_size": 32},
    "attention": {"scale": 1.0, "epochs": 25, **_ONECYCLE, "patience": 25},
}

#: The quick test mode of every recipe: a tiny model, one short epoch (seconds).
QUICK_RECIPE = {"scale": 0.5, "epochs": 1, "max_seconds": 3.0}


def train_recipe(name: str, train_set, valid_set, *, quick: bool = False, seed: int = 0,
                 augment=None, cache: bool = True, progress: bool = True, **overrides):
    """Build model ``name`` and train it with its :data:`RECIPES` entry (cached).

    Parameters
    ----------
    name : str
        A key of :data:`RECIPES` (one of :data:`mirlab.nn.models.MODELS`).
    train_set, valid_set : TaggingDataset
        Training and validation clips, as ``train`` and ``valid`` in :func:`train`.
    quick : bool
        Apply :data:`QUICK_RECIPE` on top (the chapters' quick test mode).
    seed : int
        Seeds the initial weights and the training.
    augment : callable or None
        Waveform augmentation (see :func:`train`).
    cache, progress : bool
        As in :func:`train`.
    **overrides
        Any :func:`train` argument or ``scale``, replacing the recipe's value.

    Returns
    -------
    model : Tagger
        The trained model, in evaluation mode.
    history : History
    """
    model, recipe = _recipe_model(name, train_set, quick, seed, overrides)
    history = train(model, train_set, valid_set, seed=seed, augment=augment, cache=cache,
                    progress=progress, **recipe)
    return model, history


def _recipe_model(name, train_set, quick, seed, overrides):
    """The untrained model of a recipe and the :func:`train` arguments to train it with."""
    from mirlab.nn.models import build

    if name not in RECIPES:
        raise ValueError(f"name must be one of {sorted(RECIPES)}; got {name!r}")
    recipe = {**RECIPES[name], **(QUICK_RECIPE if quick else {}), **overrides}
    unknown = set(recipe) - {"scale"} - set(train_parameters())
    if unknown:
        raise ValueError(f"unknown recipe settings {sorted(unknown)}; expected 'scale' or "
                         f"arguments of train(): {sorted(train_parameters())}")
    scale = recipe.pop("scale")
    n_tags = np.asarray(train_set.labels).shape[1]
    return build(name, n_tags, sr=int(train_set.sr), scale=scale, seed=seed), recipe


def train_parameters() -> list[str]:
    """The keyword arguments :func:`train` accepts (what a recipe may set)."""
    import inspect

    return [p for p in inspect.signature(train).parameters if p not in ("model", "train",
                                                                      "valid")]


def _exit_with_parent(parent: int) -> None:
    """Worker initialiser: end this process when its parent ends (e.g. a kernel restart),
    instead of training on as an orphan."""
    import threading

    def watch():
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _train_in_worker(name, folder, quick, seed, overrides):
    """Worker process of :func:`train_recipes`: train one recipe into the checkpoint cache."""
    import types

    def load(part):
        return types.SimpleNamespace(
            audio=np.load(Path(folder) / f"{part}-audio.npy", mmap_mode="r"),
            labels=np.load(Path(folder) / f"{part}-labels.npy"),
            sr=int(np.load(Path(folder) / "sr.npy")))

    _, history = train_recipe(name, load("train"), load("valid"), quick=quick, seed=seed,
                              progress=False, **overrides)
    return history.total_seconds


def train_recipes(jobs, train_set, valid_set, *, quick: bool = False, seed: int = 0,
                  workers: int | None = None, progress: bool = True, **overrides) -> dict:
    """Train several :data:`RECIPES` at once, in parallel processes on a multi-core CPU.

    Each model trains in its own process with one torch thread (on a 2-core machine two
    models train in the time of one); the weights pass through the checkpoint cache, so
    a model trained before is loaded, not trained again. In a script (not in a notebook),
    call it under ``if __name__ == "__main__":``, as for any ``multiprocessing`` code.

    Parameters
    ----------
    jobs : sequence of str, or dict
        Keys of :data:`RECIPES`, or a dict ``label -> name`` or ``label -> (name, settings)``
        where ``settings`` are extra :func:`train_recipe` arguments for that job (e.g.
        ``{"fcn + augmentation": ("fcn", {"augment": ...})}``).
    train_set, valid_set : TaggingDataset
    quick, seed, **overrides
        As in :func:`train_recipe` (for every job).
    workers : int or None
        Processes to use; None: one per CPU core (at most 4), or 1 when a GPU is present.
        With 1 (or ``cache=False``) everything runs in this process.
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
            if not _is_cached(*job, train_set, valid_set, quick, seed)]
    if workers > 1 and len(todo) > 1 and overrides.get("cache", True):  # via the cache
        _train_in_workers(todo, train_set, valid_set, quick, seed, workers, progress)
    return {label: train_recipe(name, train_set, valid_set, quick=quick, seed=seed,
                                progress=progress, **settings)
            for label, (name, settings) in jobs.items()}


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


def _train_in_workers(todo, train_set, valid_set, quick, seed, workers, progress) -> None:
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
            futures = [pool.submit(_train_in_worker, name, folder, quick, seed, settings)
                       for name, settings in todo]
            for future in tqdm(concurrent.futures.as_completed(futures), total=len(futures),
                               desc=f"training {len(futures)} models in {workers} processes",
                               disable=progress_disabled(progress)):
                future.result()  # re-raises a worker's error here


def _is_cached(name, overrides, train_set, valid_set, quick, seed) -> bool:
    """Whether :func:`train_recipe` would load ``name`` from the checkpoint cache."""
    model, recipe = _recipe_model(name, train_set, quick, seed, overrides)
    settings = _train_settings(seed=seed, **recipe)
    return _checkpoint_path(model, settings, train_set, valid_set).is_file()


#: Source of the training loop, read once at import (part of every checkpoint's key).
_LOOP_SOURCE = "".join(_source(f) for f in (_fit, _random_chunks, _validate, predict))


# ---------------------------------------------------------------------------- command line
def _parser():
    import argparse

    from mirlab.nn.models import MODELS

    p = argparse.ArgumentParser(
        prog="python -m mirlab.nn.training",
        description="Train a tagger on the rendered corpus (cached) and report test scores.")
    p.add_argument("--model", choices=sorted(MODELS), default="fcn")
    p.add_argument("--scale", type=float, default=1.0, help="width multiplier (4-8 on a GPU)")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--n-clips", type=int, default=2400)
    p.add_argument("--clip-seconds", type=float, default=5.0)
    p.add_argument("--chunk-seconds", type=float, default=2.0)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--patience", type=int, default=5)
    p.add_argument("--max-seconds", type=float, default=None)
    p.add_argument("--schedule", choices=["constant", "onecycle"], default="onecycle")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda if present)")
    p.add_argument("--no-cache", action="store_true", help="train even if cached")
    return p


def main(argv=None) -> dict:
    """Command line: train one model with :func:`train`, print its test scores.

    Returns the test scores (``{"roc_auc": ..., "pr_auc": ...}``).
    """
    from mirlab.datasets.tagging import load_tagging_dataset
    from mirlab.nn.models import build, count_parameters

    args = _parser().parse_args(argv)
    data = load_tagging_dataset(n_clips=args.n_clips, clip_seconds=args.clip_seconds,
                                seed=args.seed)
    train_set, valid_set, test_set = (data.subset(s) for s in ("train", "valid", "test"))
    model = build(args.model, len(data.tags), sr=data.sr, scale=args.scale, seed=args.seed)
    print(f"{args.model} (scale {args.scale}): {count_parameters(model):,} parameters; "
          f"{len(train_set.audio)} training clips")
    train(model, train_set, valid_set, epochs=args.epochs, chunk_seconds=args.chunk_seconds,
          batch_size=args.batch_size, lr=args.lr, patience=args.patience,
          max_seconds=args.max_seconds, seed=args.seed, schedule=args.schedule,
          device=args.device,
          cache=not args.no_cache, verbose=True)
    scores = evaluate(model, test_set, chunk_seconds=args.chunk_seconds, device=args.device)
    print(f"test ROC-AUC {scores['roc_auc']:.3f}, PR-AUC {scores['pr_auc']:.3f}")
    return {"roc_auc": scores["roc_auc"], "pr_auc": scores["pr_auc"]}


if __name__ == "__main__":
    main()
