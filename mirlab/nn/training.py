"""The one training loop of mirlab (:func:`fit`), and taggers trained on bags of chunks.

:func:`fit` trains any ``nn.Module`` from three pieces a chapter chooses:

- a **batch sampler**: an object with ``len(sampler)`` (batches per epoch) and
  ``sampler.batches(rng)`` yielding ``(x, y)`` tensors; :class:`ChunkSampler` draws random
  chunks of clips (bag-of-chunks training :cite:`Won2020evaluation`: a clip gives a new example
  at every epoch);
- a **loss** ``loss(outputs, y) -> scalar tensor``: ``torch.nn.BCEWithLogitsLoss()`` for tags,
  ``torch.nn.CrossEntropyLoss()`` for classes, or a metric-learning, CTC or soft-DTW loss;
- an optional **validation** ``validate(model) -> dict`` of scores, one of which (``monitor``,
  higher is better) picks the epoch whose weights are kept and stops training early.

Around them :func:`fit` does what every chapter needs: seeds (``random_state``), Adam with an
optional one-cycle schedule :cite:`Smith2019superconvergence`, a progress bar, a time budget,
the GPU when present (:func:`mirlab.core.env.device`), and CPU results that are reproducible.

For taggers, :func:`train` builds these pieces (random chunks, binary cross-entropy, macro
ROC-AUC on the validation clips) and caches the trained weights; :func:`predict` tags whole
clips from their chunks; :func:`evaluate_tagger` scores them. Recipes, shipped checkpoints and
the command line live in :mod:`mirlab.nn.recipes`, :mod:`mirlab.nn.checkpoints` and
:mod:`mirlab.nn.train`.

Taught in the music tagging chapter (``notebooks/04_music_tagging``); the transfer learning
chapter trains on target tasks with the same loop. Needs PyTorch (``pip install mirlab[deep]``).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import io
import math
import sys
import time
import warnings

import numpy as np
import torch
from tqdm.auto import tqdm

from mirlab.core.cache import Cache, Entry, code_sha256
from mirlab.core.checks import check_positive, check_positive_int, check_sr
from mirlab.core.env import device as default_device
from mirlab.core.env import progress_disabled
from mirlab.metrics import SingleClassWarning, pr_auc, roc_auc
from mirlab.nn.models import base, frontend
from mirlab.nn.models.base import Tagger, pooled_over_chunks, torch_threads

__all__ = [
    "fit",
    "to_device",
    "History",
    "ChunkSampler",
    "random_chunks",
    "seed_everything",
    "TaggingValidation",
    "train",
    "predict",
    "evaluate_tagger",
    "fingerprint",
    "code_version",
    "train_parameters",
    "training_key",
    "is_cached",
    "torch_threads",
]

SCHEDULES = ("constant", "onecycle")


# ----------------------------------------------------------------------------------- seeds
def seed_everything(random_state: int) -> None:
    """Seed torch's generators (CPU and GPU): initial weights, dropout.

    numpy is never seeded globally: samplers draw from their own
    ``np.random.default_rng(random_state)``.
    """
    torch.manual_seed(check_positive_int(random_state, "random_state", minimum=0))


# ----------------------------------------------------------------------------- the history
@dataclasses.dataclass
class History:
    """What :func:`fit` did: one entry per epoch, the kept epoch, and where it came from.

    Attributes
    ----------
    name : str
    epochs : list of int
        Epoch numbers (1-based).
    train_loss : list of float
        Mean training loss per epoch.
    step_loss : list of float
        The training loss of every step (the fine-grained loss curve).
    valid : list of dict
        The validation scores after each epoch (empty without validation).
    monitor : str or None
        The key of ``valid`` that picks the kept epoch (higher is better).
    seconds : list of float
        Time since the start of training at the end of each epoch.
    best_epoch : int
        Epoch whose weights the model holds.
    stopped : str
        ``'epochs'`` (all ran), ``'early'`` (no improvement for ``patience`` epochs) or
        ``'time'`` (``max_seconds`` reached).
    from_cache : bool
        True when the weights were loaded (from the cache or a shipped checkpoint).
    path : str or None
        Where the weights were loaded from or saved to.
    """

    name: str = ""
    epochs: list = dataclasses.field(default_factory=list)
    train_loss: list = dataclasses.field(default_factory=list)
    step_loss: list = dataclasses.field(default_factory=list)
    valid: list = dataclasses.field(default_factory=list)
    monitor: str | None = None
    seconds: list = dataclasses.field(default_factory=list)
    best_epoch: int = 0
    stopped: str = "epochs"
    from_cache: bool = False
    path: str | None = None

    def metric(self, key: str) -> list:
        """The validation score ``key`` of every epoch (e.g. ``history.metric("roc_auc")``)."""
        if self.valid and key not in self.valid[0]:
            raise ValueError(f"key must be one of the validation scores "
                             f"{sorted(self.valid[0])}; got {key!r}")
        return [float(v[key]) for v in self.valid]

    @property
    def best(self) -> dict:
        """The validation scores of the kept weights (empty without validation)."""
        return dict(self.valid[self.best_epoch - 1]) if self.valid and self.best_epoch else {}

    @property
    def total_seconds(self) -> float:
        """Training time (of the original run, when the weights were loaded)."""
        return self.seconds[-1] if self.seconds else 0.0

    def summary(self) -> str:
        """One line: epochs, time, the kept epoch's validation scores, why it stopped."""
        source = "loaded, not trained" if self.from_cache else f"stopped: {self.stopped}"
        scores = ", ".join(f"{k} {v:.3f}" for k, v in self.best.items())
        kept = f"; best valid {scores} (epoch {self.best_epoch})" if scores else ""
        return (f"{self.name}: {len(self.epochs)} epochs in {self.total_seconds:.1f} s"
                f"{kept}; {source}")

    def to_dict(self, steps: bool = True) -> dict:
        """Plain data (JSON-ready; NaN becomes None), without ``from_cache`` and ``path``."""
        record = dataclasses.asdict(self)
        record.update(from_cache=False, path=None)
        if not steps:
            record["step_loss"] = []
        return _finite_or_none(record)


def _finite_or_none(value):
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite_or_none(v) for v in value]
    return value


# -------------------------------------------------------------------------------- sampling
def random_chunks(audio, index, chunk: int, rng) -> np.ndarray:
    """One random chunk of ``chunk`` samples from each clip ``audio[index]``: float32
    ``(len(index), chunk)``; the starts are drawn from ``rng``."""
    starts = rng.integers(0, audio.shape[1] - chunk + 1, size=len(index))
    x = audio[np.asarray(index)[:, None], starts[:, None] + np.arange(chunk)[None, :]]
    return np.asarray(x, dtype=np.float32)


class ChunkSampler:
    """Batches of random chunks of clips, with the clips' targets: a batch sampler for :func:`fit`.

    Parameters
    ----------
    audio : np.ndarray, shape (n_clips, n_samples)
        The clips (an array or a memory map).
    targets : np.ndarray, shape (n_clips, ...)
        One target per clip: tag labels (float, for a BCE loss) or class indices (int, for a
        cross-entropy loss); floats are passed on as float32, integers as int64.
    chunk : int
        Chunk length in samples (at most ``n_samples``).
    batch_size : int
    steps : int or None
        None: an epoch visits every clip once, in a random order, ``batch_size`` clips per
        batch (the last batch may be smaller). An int: an epoch is ``steps`` batches of
        ``batch_size`` clips drawn with replacement (a few labelled clips, many steps).

    Examples
    --------
    >>> sampler = ChunkSampler(np.zeros((5, 100), np.float32), np.arange(5), chunk=10,
    ...                        batch_size=2)
    >>> len(sampler), [tuple(x.shape) for x, _ in sampler.batches(np.random.default_rng(0))]
    (3, [(2, 10), (2, 10), (1, 10)])
    """

    def __init__(self, audio, targets, chunk: int, batch_size: int = 16, *,
                 steps: int | None = None):
        if getattr(audio, "ndim", None) != 2 or len(audio) == 0:
            raise ValueError(f"audio must be an array (n_clips, n_samples) with n_clips > 0; "
                             f"got shape {getattr(audio, 'shape', None)}")
        targets = np.asarray(targets)
        if len(targets) != len(audio):
            raise ValueError(f"targets must have one row per clip ({len(audio)}); got "
                             f"{len(targets)}")
        self.audio = audio
        self.targets = (targets.astype(np.int64) if np.issubdtype(targets.dtype, np.integer)
                        else targets.astype(np.float32))
        self.chunk = check_positive_int(chunk, "chunk")
        if self.chunk > audio.shape[1]:
            raise ValueError(f"chunk must be at most the clip length {audio.shape[1]} samples; "
                             f"got {self.chunk}")
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.steps = None if steps is None else check_positive_int(steps, "steps")

    def __len__(self) -> int:
        if self.steps is not None:
            return self.steps
        return math.ceil(len(self.audio) / self.batch_size)

    def batches(self, rng):
        """Yield the ``(x, y)`` tensors of one epoch, drawing clips and starts from ``rng``."""
        n, bs = len(self.audio), self.batch_size
        if self.steps is None:
            order = rng.permutation(n)
            picks = (order[begin:begin + bs] for begin in range(0, n, bs))
        else:
            picks = (rng.integers(0, n, bs) for _ in range(self.steps))
        for index in picks:
            x = random_chunks(self.audio, index, self.chunk, rng)
            yield torch.from_numpy(x), torch.from_numpy(self.targets[index])


# ---------------------------------------------------------------------------- the loop
def to_device(batch, device):
    """A tensor, or a tuple/list of tensors (e.g. two views, or audio and a score), on ``device``.

    Examples
    --------
    >>> a, b = to_device((torch.zeros(2), torch.ones(3)), "cpu")
    >>> a.shape, b.shape
    (torch.Size([2]), torch.Size([3]))
    """
    if isinstance(batch, (tuple, list)):
        return type(batch)(to_device(b, device) for b in batch)
    if not isinstance(batch, torch.Tensor):
        raise ValueError(f"a batch must be a tensor or a tuple/list of tensors; got "
                         f"{type(batch).__name__}")
    return batch.to(device)


def _check_fit_args(model, sampler, loss, epochs, lr, weight_decay, schedule, validate,
                    monitor, patience, max_seconds, augment):
    if not isinstance(model, torch.nn.Module):
        raise ValueError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    if not (hasattr(sampler, "batches") and hasattr(sampler, "__len__")):
        raise ValueError(f"sampler must have len(sampler) and sampler.batches(rng) (e.g. a "
                         f"ChunkSampler); got {type(sampler).__name__}")
    if not callable(loss):
        raise ValueError(f"loss must be callable (outputs, y) -> scalar tensor; got {loss!r}")
    check_positive_int(epochs, "epochs")
    check_positive(lr, "lr")
    if not weight_decay >= 0:
        raise ValueError(f"weight_decay must be >= 0; got {weight_decay}")
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}; got {schedule!r}")
    if validate is not None and not callable(validate):
        raise ValueError(f"validate must be None or callable model -> dict; got {validate!r}")
    if validate is not None and not isinstance(monitor, str):
        raise ValueError(f"monitor must name the validation score to maximise (a str) when "
                         f"validate is given; got {monitor!r}")
    if patience is not None:
        check_positive_int(patience, "patience")
    if max_seconds is not None:
        check_positive(max_seconds, "max_seconds")
    if augment is not None and not callable(augment):
        raise ValueError(f"augment must be a callable (x, generator) -> x; got {augment!r}")


def fit(model: torch.nn.Module, sampler, loss, *, epochs: int = 20, lr: float = 3e-3,
        weight_decay: float = 1e-4, schedule: str = "constant", validate=None,
        monitor: str | None = None, patience: int | None = None,
        max_seconds: float | None = None, random_state: int = 0, augment=None, device=None,
        num_threads: int | None = 1, progress: bool = True, verbose: bool = False,
        name: str = "") -> History:
    """Train ``model`` with Adam on the batches of ``sampler``; keep the best validated weights.

    Every epoch runs the batches of ``sampler.batches(rng)``: ``augment`` (if any) changes the
    inputs, ``loss(model(x), y)`` is minimised with one Adam step per batch. Then
    ``validate(model)`` (if given) scores the model; the weights of the epoch with the highest
    ``validate(model)[monitor]`` are kept, and training stops after ``patience`` epochs without
    improvement. Without ``validate`` the last weights are kept. A time budget
    (``max_seconds``) is checked after every step.

    Parameters
    ----------
    model : torch.nn.Module
        Trained in place: on return it holds the kept weights, in eval mode, on ``device``.
    sampler : ChunkSampler or any batch sampler
        ``len(sampler)`` batches per epoch; ``sampler.batches(rng)`` yields ``(x, y)``, each
        a tensor or a tuple of tensors (two views of a clip, audio and its score, a
        target with its lengths): ``model`` receives ``x`` and ``loss`` receives ``y`` as
        they come, moved to ``device``.
    loss : callable
        ``loss(model(x), y) -> scalar tensor``, e.g. ``torch.nn.BCEWithLogitsLoss()``.
    epochs : int
        Maximum number of epochs.
    lr, weight_decay : float
        Adam's learning rate (the peak one with ``schedule="onecycle"``) and L2 penalty.
    schedule : {'constant', 'onecycle'}
        Constant ``lr``, or the one-cycle policy :cite:`Smith2019superconvergence` over all
        ``epochs * len(sampler)`` steps (warm-up over the first 30 %, then annealing to
        almost zero), which reaches a good model in few epochs.
    validate : callable or None
        ``validate(model) -> dict`` of validation scores, called after every epoch.
    monitor : str or None
        The key of ``validate``'s dict to maximise (required with ``validate``).
    patience : int or None
        Epochs without a better ``monitor`` before stopping (None: never stop early).
    max_seconds : float or None
        Time budget; with a budget the result depends on the machine's speed.
    random_state : int
        Seeds torch (dropout, augmentations) and the sampler's generator: the same value,
        data and settings give the same weights on the same machine (without ``max_seconds``).
    augment : callable or None
        ``augment(x, generator) -> x`` on each training batch (:mod:`mirlab.nn.augment`).
    device : str or None
        None: :func:`mirlab.core.env.device` (the GPU when there is one).
    num_threads : int or None
        Torch CPU threads while training (restored afterwards; None: leave torch's setting).
        One by default: on shared or two-vCPU machines (Colab, CI) a second thread often made
        each step several times *slower* (a CRNN step measured 89 ms with one thread and
        754 ms with two on a loaded 2-core machine), and a fixed count keeps CPU results
        reproducible.
    progress : bool
        A progress bar over the epochs (it obeys ``TQDM_DISABLE``).
    verbose : bool
        Print one line per epoch.
    name : str
        Shown on the progress bar and in the history.

    Returns
    -------
    History

    Examples
    --------
    >>> net = torch.nn.Sequential(torch.nn.Linear(20, 2))
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((40, 20)).astype(np.float32)
    >>> y = (x[:, 0] > 0).astype(int)
    >>> h = fit(net, ChunkSampler(x, y, chunk=20, batch_size=8), torch.nn.CrossEntropyLoss(),
    ...         epochs=30, lr=0.05, progress=False)
    >>> h.train_loss[-1] < h.train_loss[0]
    True
    """
    _check_fit_args(model, sampler, loss, epochs, lr, weight_decay, schedule, validate,
                    monitor, patience, max_seconds, augment)
    seed_everything(random_state)
    rng = np.random.default_rng(random_state)
    generator = torch.Generator().manual_seed(random_state)
    device = default_device() if device is None else device
    with torch_threads(num_threads):
        return _loop(model, sampler, loss, epochs, lr, weight_decay, schedule, validate,
                     monitor, patience, max_seconds, rng, generator, augment, device,
                     progress, verbose, name)


def _loop(model, sampler, loss_fn, epochs, lr, weight_decay, schedule, validate, monitor,
          patience, max_seconds, rng, generator, augment, device, progress, verbose, name):
    """The body of :func:`fit` (arguments checked, generators seeded)."""
    model.to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    scheduler = (torch.optim.lr_scheduler.OneCycleLR(optimiser, lr, epochs * len(sampler))
                 if schedule == "onecycle" else None)
    history, best_state, best = History(name=name, monitor=monitor), None, -math.inf
    start = time.perf_counter()
    bar = tqdm(range(1, epochs + 1), desc=name or "training", leave=False,
               disable=progress_disabled(progress))
    for epoch in bar:
        model.train()
        losses, out_of_time = [], False
        for x, y in sampler.batches(rng):
            if augment is not None:
                x = augment(x, generator)
            loss = loss_fn(model(to_device(x, device)), to_device(y, device))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            if scheduler is not None:
                scheduler.step()
            losses.append(loss.item())
            if max_seconds is not None and time.perf_counter() - start > max_seconds:
                out_of_time = True
                break
        scores = {} if validate is None else {k: float(v) for k, v in validate(model).items()}
        history.epochs.append(epoch)
        history.train_loss.append(float(np.mean(losses)))
        history.step_loss.extend(losses)
        history.seconds.append(time.perf_counter() - start)
        if validate is not None:
            if monitor not in scores:
                raise ValueError(f"monitor={monitor!r} is not a key of validate's scores "
                                 f"{sorted(scores)}")
            history.valid.append(scores)
        shown = {"loss": f"{np.mean(losses):.3f}", **{
            k: f"{v:.3f}" for k, v in scores.items() if k == monitor}}
        bar.set_postfix(shown)
        if verbose:
            print(f"epoch {epoch}: " + ", ".join(f"{k} {v}" for k, v in shown.items())
                  + f" ({history.seconds[-1]:.1f} s)")
        if validate is None or scores[monitor] > best:
            best, history.best_epoch = scores.get(monitor, best), epoch
            best_state = copy.deepcopy(model.state_dict()) if validate is not None else None
        if out_of_time:
            history.stopped = "time"
            break
        if patience is not None and epoch - history.best_epoch >= patience:
            history.stopped = "early"
            break
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return history


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
        None: :func:`mirlab.core.env.device`.
    num_threads : int or None
        Torch CPU threads (see :func:`fit`).

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


def _check_dataset(data, name: str):
    for attribute in ("audio", "labels", "sr"):
        if not hasattr(data, attribute):
            raise ValueError(f"{name} must be a TaggingDataset-like object with .audio, "
                             f".labels and .sr; it has no .{attribute}")
    audio, labels = data.audio, np.asarray(data.labels)
    if audio.ndim != 2 or labels.ndim != 2 or len(audio) != len(labels) or len(audio) == 0:
        raise ValueError(f"{name}.audio must be (n_clips, n_samples) and {name}.labels "
                         f"(n_clips, n_tags) with the same n_clips > 0; got {audio.shape} and "
                         f"{labels.shape}")
    check_sr(data.sr, f"{name}.sr")
    return audio, labels


def evaluate_tagger(model: Tagger, data, **predict_kwargs) -> dict:
    """Macro ROC-AUC and PR-AUC of a tagger on a dataset (tags with one class skipped).

    Parameters
    ----------
    model : Tagger
    data : TaggingDataset
        ``audio``, ``labels``, ``sr`` (and optionally ``tags``).
    **predict_kwargs
        Passed to :func:`predict` (``chunk_seconds``, ``hop_seconds``, ...).

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


class TaggingValidation:
    """The validation of a tagger for :func:`fit`: loss, macro ROC-AUC and PR-AUC on clips.

    Calling it tags the clips chunk by chunk (:func:`predict`) and returns
    ``{"loss", "roc_auc", "pr_auc"}`` (the loss is the binary cross-entropy of the clips'
    probabilities); tags with one class in ``data`` are left out of the averages.
    """

    def __init__(self, data, chunk_seconds: float, batch_size: int = 64, device=None):
        self.audio, self.labels = _check_dataset(data, "valid")
        self.sr, self.chunk_seconds = int(data.sr), chunk_seconds
        self.batch_size, self.device = batch_size, device

    def __call__(self, model) -> dict:
        scores = predict(model, self.audio, self.sr, chunk_seconds=self.chunk_seconds,
                         batch_size=self.batch_size, device=self.device, num_threads=None)
        if not np.all(np.isfinite(scores)):
            raise RuntimeError("the model's outputs became NaN or infinite: training diverged; "
                               "try a smaller lr")
        p = np.clip(scores, 1e-7, 1 - 1e-7)
        y = self.labels
        loss = float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SingleClassWarning)
            return {"loss": loss, "roc_auc": roc_auc(y, scores), "pr_auc": pr_auc(y, scores)}


# ------------------------------------------------------------------- the tagging wrapper
def fingerprint(data) -> str:
    """A hash of a dataset's audio, labels and sample rate (part of the training cache key)."""
    h = hashlib.blake2b(digest_size=16)
    for array in (data.audio, np.asarray(data.labels)):
        h.update(str((array.shape, np.dtype(array.dtype).str)).encode())
        for begin in range(0, len(array), 256):  # block by block: a memory map stays on disk
            h.update(memoryview(np.ascontiguousarray(array[begin:begin + 256])).cast("B"))
    h.update(str(int(data.sr)).encode())
    return h.hexdigest()


def code_version(model) -> str:
    """sha256 of the code that decides a trained tagger: the model's module, the shared
    layers and front end, and the training loop (new code, new weights; edits elsewhere keep
    cached and shipped weights valid)."""
    return code_sha256(sys.modules[type(model).__module__], LOOP_SHA256)


def _model_config(model) -> dict:
    config = getattr(model, "config", None)
    return dict(config) if config else {"name": type(model).__name__, "repr": repr(model)}


#: Trained weights of :func:`train` (``mirlab.core.env.cache_dir("models")``).
WEIGHTS_CACHE = Cache("models", what="trained weights")


def _load_cached(model, name: str, params: dict) -> History | None:
    entry = WEIGHTS_CACHE.load(name, params)
    if entry is None:
        return None
    try:
        state = torch.load(io.BytesIO(entry.blobs["weights"]), map_location="cpu",
                           weights_only=True)
        model.load_state_dict(state)
    except Exception as err:  # noqa: BLE001 - a foreign or stale file: train again
        warnings.warn(f"cached weights of {name} are unusable ({type(err).__name__}: {err}); "
                      "training again", RuntimeWarning, stacklevel=3)
        return None
    history = History(**entry.data["history"])
    history.from_cache, history.path = True, str(WEIGHTS_CACHE.manifest_path(name, params))
    return history


def _save_cached(model, history: History, name: str, params: dict) -> None:
    buf = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, buf)
    WEIGHTS_CACHE.save(name, params, Entry(data={"history": history.to_dict()},
                                           blobs={"weights": buf.getvalue()}))
    history.path = str(WEIGHTS_CACHE.manifest_path(name, params))


def train_parameters() -> list[str]:
    """The keyword arguments :func:`train` accepts (what a recipe may set)."""
    import inspect

    return [p for p in inspect.signature(train).parameters if p not in ("model", "train",
                                                                      "valid")]


#: The arguments of :func:`train` that decide its result (part of the cache key).
RESULT_SETTINGS = ("epochs", "chunk_seconds", "batch_size", "lr", "weight_decay", "patience",
                   "max_seconds", "random_state", "schedule", "augment")


def training_key(model, train, valid, **settings) -> dict:
    """The parameters of :func:`train`'s cache entry: the model's configuration, the settings
    that decide the result (those not given take :func:`train`'s defaults), the code
    (:func:`code_version`) and the data (:func:`fingerprint`)."""
    import inspect

    defaults = {k: p.default for k, p in inspect.signature(globals()["train"]).parameters.items()}
    options = {key: settings.get(key, defaults[key]) for key in RESULT_SETTINGS}
    options["augment"] = repr(options["augment"])
    return {"model": _model_config(model), "settings": options, "code": code_version(model),
            "train": fingerprint(train), "valid": fingerprint(valid)}


def is_cached(model, train, valid, **settings) -> bool:
    """Whether :func:`train` would load ``model``'s weights from the cache."""
    params = training_key(model, train, valid, **settings)
    return WEIGHTS_CACHE.manifest_path(str(_model_config(model).get("name")), params).is_file()


def train(model: Tagger, train, valid, *, epochs: int = 20, chunk_seconds: float = 2.0,
          batch_size: int = 16, lr: float = 3e-3, weight_decay: float = 1e-4,
          patience: int = 4, max_seconds: float | None = None, random_state: int = 0,
          schedule: str = "constant", augment=None, device=None,
          num_threads: int | None = 1, cache: bool = True,
          progress: bool = True, verbose: bool = False) -> History:
    """Train a tagger on random chunks of the training clips; keep the best validated weights.

    :func:`fit` with the pieces of tagging: a :class:`ChunkSampler` that draws one random
    chunk of ``chunk_seconds`` from every training clip per epoch (in a random order), the
    binary cross-entropy of the logits, and :class:`TaggingValidation` (macro ROC-AUC of the
    validation clips, tagged chunk by chunk, picks the kept epoch). The weights are cached.

    Parameters
    ----------
    model : Tagger
        From :func:`mirlab.nn.models.build` (its ``config`` is part of the cache key).
        Trained in place: on return it holds the best weights, in eval mode.
    train, valid : TaggingDataset
        Objects with ``audio`` ``(n_clips, n_samples)``, ``labels`` ``(n_clips, n_tags)``
        and ``sr`` (:class:`mirlab.datasets.tagging.TaggingDataset`).
    epochs, batch_size, lr, weight_decay, patience, max_seconds, random_state, schedule
        As in :func:`fit`.
    chunk_seconds : float
        Length of the training (and validation) chunks.
    augment, device, num_threads, progress, verbose
        As in :func:`fit`.
    cache : bool
        Load the weights from ``mirlab.core.env.cache_dir("models")`` when this exact
        training ran before (same model configuration, settings, data and code; nothing is
        trained then); save them afterwards. A bad entry is reported and trained again.

    Returns
    -------
    History
        Validation scores ``"loss"``, ``"roc_auc"``, ``"pr_auc"`` per epoch; the trained model
        is ``model`` itself.

    References
    ----------
    Bag-of-chunks training and its evaluation :cite:`Won2020evaluation`.
    """
    train_audio, train_labels = _check_dataset(train, "train")
    _, valid_labels = _check_dataset(valid, "valid")
    if not isinstance(model, Tagger):
        raise ValueError(f"model must be a mirlab.nn.models.Tagger; got {type(model).__name__}")
    if train_labels.shape[1] != model.n_tags or valid_labels.shape[1] != model.n_tags:
        raise ValueError(f"train.labels and valid.labels must have model.n_tags="
                         f"{model.n_tags} columns; got {train_labels.shape[1]} and "
                         f"{valid_labels.shape[1]}")
    if int(train.sr) != model.sr or int(valid.sr) != model.sr:
        raise ValueError(f"train.sr={train.sr} and valid.sr={valid.sr} must equal the "
                         f"model's sample rate {model.sr}")
    chunk = int(round(check_positive(chunk_seconds, "chunk_seconds") * model.sr))
    if not model.min_samples <= chunk <= train_audio.shape[1]:
        raise ValueError(f"chunk_seconds must give between {model.min_samples} (the model's "
                         f"minimum) and {train_audio.shape[1]} (the clip length) samples; got "
                         f"{chunk_seconds} s = {chunk} samples")
    name = str(_model_config(model).get("name"))
    params = training_key(model, train, valid, epochs=epochs, chunk_seconds=chunk_seconds,
                          batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                          patience=patience, max_seconds=max_seconds,
                          random_state=random_state, schedule=schedule,
                          augment=augment) if cache else None
    history = _load_cached(model, name, params) if cache else None
    if history is None:
        sampler = ChunkSampler(train_audio, train_labels, chunk, batch_size)
        history = fit(model, sampler, torch.nn.BCEWithLogitsLoss(), epochs=epochs, lr=lr,
                      weight_decay=weight_decay, schedule=schedule,
                      validate=TaggingValidation(valid, chunk_seconds, device=device),
                      monitor="roc_auc", patience=patience, max_seconds=max_seconds,
                      random_state=random_state, augment=augment, device=device,
                      num_threads=num_threads, progress=progress, verbose=verbose, name=name)
        if cache:
            _save_cached(model, history, name, params)
    model.eval()
    if progress:
        print(history.summary())
    return history


#: sha256 of the loop's code and of what every tagger shares (read once, at import).
LOOP_SHA256 = code_sha256(base, frontend, fit, _loop, ChunkSampler, random_chunks,
                          TaggingValidation, predict, pooled_over_chunks, train)
