"""Self-supervised contrastive learning of audio (SimCLR / CLMR) and its linear probe.

No labels: two *views* of every clip are made by a random chain of audio augmentations, and an
encoder with a projection head is trained so that the two views of a clip are each other's
nearest neighbours in a batch (the NT-Xent loss with a temperature) :cite:`Chen2020simclr`.
CLMR applies this to raw music with a chain of digital audio effects :cite:`Spijkervet2021clmr`;
CPC instead predicts the future of a sequence contrastively :cite:`Oord2018cpc`. The encoder is
then judged by a **linear probe**: a logistic regression per tag on its frozen features.

The pieces: augmentations (:class:`Polarity`, :class:`Filter`, :class:`Delay`,
:class:`Reverb`, and gain, noise and tape-speed pitch from :mod:`mirlab.nn.augment`, each with
a probability: :class:`RandomApply`, :func:`augmentation_chain`); :class:`TwoViewSampler`
(two cropped, augmented views per clip); :class:`TaggerEncoder` (the chapter-4 FCN up to its
last block, pooled); :class:`ContrastiveModel` (encoder + projection head, and room for a
probe); :class:`mirlab.nn.metric.NTXentLoss`; :func:`train_ssl` (the recipe, with
:func:`mirlab.nn.training.fit`); :func:`represent`, :func:`linear_probe`,
:func:`probe_encoder` (the probe; C chosen on valid clips); :func:`random_encoder` (the
untrained baseline); :func:`augmentation_ablation` (CLMR's Table 2 in small);
:func:`pretrained_ssl` (the shipped encoder, checked against its card).

Taught in ``notebooks/06_metric_learning.ipynb``; needs PyTorch and scikit-learn.
"""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from mirlab.core.checks import check_positive, check_positive_int
from mirlab.metrics import SingleClassWarning, pr_auc, roc_auc
from mirlab.nn.augment import AddNoise, Compose, RandomGain, RandomSpeed
from mirlab.nn.metric import NTXentLoss, nt_xent
from mirlab.nn.models import build
from mirlab.nn.models.base import chunked_apply, evaluating, pool_activation, torch_threads
from mirlab.nn.training import fit, random_chunks

__all__ = ["Polarity", "Filter", "Delay", "Reverb", "RandomApply", "AUGMENTATIONS",
           "CLMR_PROBABILITIES", "augmentation_chain", "TwoViewSampler", "TaggerEncoder",
           "build_encoder", "ContrastiveModel", "SSL_RECIPE",
           "ssl_recipe", "ssl_model", "ssl_data", "load_ssl_data", "train_ssl", "represent",
           "calibrate_batchnorm", "random_encoder", "supervised_encoder", "fit_probe",
           "linear_probe", "probe_encoder", "augmentation_ablation", "ship_ssl", "rescore_ssl",
           "pretrained_ssl", "ship_ablation", "read_ablation", "WEIGHTS"]

WEIGHTS = Path(__file__).resolve().parent / "weights"


# ------------------------------------------------------------------------- augmentations
def _uniform(n: int, low: float, high: float, generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator)


@dataclasses.dataclass(frozen=True)
class Polarity:
    """Invert the waveform (``-x``): the ear cannot hear it, a waveform network can."""

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return -x


@dataclasses.dataclass(frozen=True)
class Filter:
    """A random low-pass or high-pass filter (each half of the time), zero phase.

    The spectrum of each chunk is multiplied by a second-order Butterworth magnitude response,
    ``1 / sqrt(1 + (f / f_c) ** 4)`` (low-pass) or ``1 / sqrt(1 + (f_c / f) ** 4)``
    (high-pass), with the cut-off ``f_c`` drawn log-uniformly from ``lowpass_hz`` or
    ``highpass_hz`` (CLMR's ranges :cite:`Spijkervet2021clmr`).
    """

    sr: int = 16000
    lowpass_hz: tuple = (2200.0, 4000.0)
    highpass_hz: tuple = (200.0, 1200.0)

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        n = x.shape[1]
        low = torch.rand(len(x), generator=generator) < 0.5
        log_lo = _uniform(len(x), *np.log(self.lowpass_hz), generator)
        log_hi = _uniform(len(x), *np.log(self.highpass_hz), generator)
        cutoff = torch.exp(torch.where(low, log_lo, log_hi))[:, None]
        f = torch.fft.rfftfreq(n, 1.0 / self.sr)[None].clamp(min=1e-3)
        ratio = torch.where(low[:, None], f / cutoff, cutoff / f)
        gain = 1.0 / torch.sqrt(1.0 + ratio ** 4)
        return torch.fft.irfft(torch.fft.rfft(x) * gain.to(x.device), n=n)


@dataclasses.dataclass(frozen=True)
class Delay:
    """Add an echo: ``x[t] + g x[t - d]``, ``d`` in ``delay_ms``, ``g`` in ``gain``."""

    sr: int = 16000
    delay_ms: tuple = (200.0, 500.0)
    gain: tuple = (0.2, 0.5)

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        n = x.shape[1]
        d = (_uniform(len(x), *self.delay_ms, generator) * self.sr / 1000).long()[:, None]
        g = _uniform(len(x), *self.gain, generator)[:, None].to(x.device)
        source = torch.arange(n)[None] - d                      # sample t reads t - d
        echo = torch.gather(x, 1, source.clamp(min=0).to(x.device))
        return x + g * echo * (source >= 0).to(x.device)


@dataclasses.dataclass(frozen=True)
class Reverb:
    """Convolve with a synthetic room: exponentially decaying noise, reverberation time
    ``rt60`` (seconds, 60 dB of decay), mixed in with a wet share ``wet``.

    The impulse responses are drawn per chunk and applied by FFT convolution; the
    result is cut to the chunk's length.
    """

    sr: int = 16000
    rt60: tuple = (0.2, 1.0)
    wet: tuple = (0.1, 0.5)

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        batch, n = x.shape
        length = int(self.rt60[1] * self.sr)
        t = torch.arange(length) / self.sr
        rt60 = _uniform(batch, *self.rt60, generator)[:, None]
        ir = torch.randn(batch, length, generator=generator) * 10.0 ** (-3.0 * t / rt60)
        ir = ir / ir.norm(dim=1, keepdim=True)
        size = 2 ** math.ceil(math.log2(n + length))
        wet_signal = torch.fft.irfft(torch.fft.rfft(x, size) * torch.fft.rfft(ir.to(x.device),
                                                                             size), size)[:, :n]
        wet = _uniform(batch, *self.wet, generator)[:, None].to(x.device)
        return (1 - wet) * x + wet * wet_signal


@dataclasses.dataclass(frozen=True)
class RandomApply:
    """Apply ``transform`` to each chunk of the batch with probability ``p`` (else leave it)."""

    transform: object
    p: float = 0.5

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        chosen = torch.rand(len(x), generator=generator) < self.p
        if not bool(chosen.any()):
            return x
        out = x.clone()
        out[chosen.to(x.device)] = self.transform(x[chosen.to(x.device)], generator)
        return out


#: name -> the augmentation (with CLMR-like ranges), in the order of CLMR's chain
#: :cite:`Spijkervet2021clmr`. ``"pitch"`` is a tape-speed change (pitch *and* tempo by up
#: to 2 semitones, :class:`mirlab.nn.augment.RandomSpeed`), the cheap stand-in for a
#: pitch shift that keeps the tempo.
AUGMENTATIONS = {
    "polarity": Polarity(),
    "noise": AddNoise(min_snr_db=10.0, max_snr_db=30.0),
    "gain": RandomGain(max_db=10.0),
    "filter": Filter(),
    "delay": Delay(),
    "pitch": RandomSpeed(max_semitones=2.0),
    "reverb": Reverb(),
}
#: probability of each augmentation in the chain (CLMR's settings; noise is raised from
#: their 0.01 so that the ablation row "noise" changes something)
CLMR_PROBABILITIES = {"polarity": 0.8, "noise": 0.3, "gain": 0.3, "filter": 0.8, "delay": 0.3,
                      "pitch": 0.6, "reverb": 0.6}


def augmentation_chain(names=tuple(AUGMENTATIONS), probabilities=None) -> Compose:
    """CLMR's chain: each named augmentation with its probability, in :data:`AUGMENTATIONS`'s
    order (the random crop is made by :class:`TwoViewSampler`).

    Parameters
    ----------
    names : sequence of str
        Keys of :data:`AUGMENTATIONS` (empty: crop only).
    probabilities : dict or None
        name -> probability (None: :data:`CLMR_PROBABILITIES`).

    Returns
    -------
    mirlab.nn.augment.Compose
        Called as ``chain(x, generator)`` on a batch ``(batch, n_samples)``.

    Examples
    --------
    >>> chain = augmentation_chain(["polarity"], {"polarity": 1.0})
    >>> chain(torch.ones(2, 4), torch.Generator().manual_seed(0)).tolist()
    [[-1.0, -1.0, -1.0, -1.0], [-1.0, -1.0, -1.0, -1.0]]
    """
    names = [names] if isinstance(names, str) else list(names)
    unknown = [n for n in names if n not in AUGMENTATIONS]
    if unknown:
        raise ValueError(f"names must be keys of AUGMENTATIONS {list(AUGMENTATIONS)}; got "
                         f"{unknown}")
    p = dict(CLMR_PROBABILITIES, **(probabilities or {}))
    for name in names:
        if not 0.0 <= p[name] <= 1.0:
            raise ValueError(f"probabilities[{name!r}] must be in [0, 1]; got {p[name]}")
    return Compose(tuple(RandomApply(AUGMENTATIONS[n], p[n])
                         for n in AUGMENTATIONS if n in names))


# ------------------------------------------------------------------------------- batches
class TwoViewSampler:
    """Batches of two views of each clip, for :func:`mirlab.nn.training.fit` (no labels).

    Each view is an independent random crop of ``chunk`` samples of the clip, then
    ``augment(view, generator)``. A batch is ``((v1, v2), index)``: the views, each
    ``(batch, chunk)``, and the clips' indices (the loss ignores them).

    Parameters
    ----------
    audio : np.ndarray, shape (n_clips, n_samples)
    chunk : int
        Crop length in samples.
    batch_size : int
        Clips per batch (``2 * batch_size`` views).
    augment : callable or None
        ``augment(x, generator) -> x`` (e.g. :func:`augmentation_chain`); None: crop only.

    Examples
    --------
    >>> s = TwoViewSampler(np.zeros((5, 100), np.float32), chunk=40, batch_size=2)
    >>> (v1, v2), index = next(s.batches(np.random.default_rng(0)))
    >>> len(s), tuple(v1.shape), tuple(index.shape)
    (2, (2, 40), (2,))
    """

    def __init__(self, audio, chunk: int, batch_size: int = 32, augment=None):
        if getattr(audio, "ndim", None) != 2 or len(audio) < 2:
            raise ValueError(f"audio must be (n_clips, n_samples) with at least 2 clips; got "
                             f"shape {getattr(audio, 'shape', None)}")
        self.audio = audio
        self.chunk = check_positive_int(chunk, "chunk")
        if self.chunk > audio.shape[1]:
            raise ValueError(f"chunk must be at most the clip length {audio.shape[1]}; got "
                             f"{self.chunk}")
        self.batch_size = check_positive_int(batch_size, "batch_size", minimum=2)
        if augment is not None and not callable(augment):
            raise ValueError(f"augment must be None or callable (x, generator) -> x; got "
                             f"{augment!r}")
        self.augment = augment

    def __len__(self) -> int:
        return len(self.audio) // self.batch_size  # full batches only: NT-Xent needs negatives

    def batches(self, rng):
        """Yield ``((v1, v2), index)`` for one epoch (clips in a random order)."""
        generator = torch.Generator().manual_seed(int(rng.integers(2**31)))
        order = rng.permutation(len(self.audio))
        for b in range(len(self)):
            index = np.sort(order[b * self.batch_size:(b + 1) * self.batch_size])
            views = []
            for _ in range(2):
                v = torch.from_numpy(random_chunks(self.audio, index, self.chunk, rng))
                views.append(v if self.augment is None else self.augment(v, generator))
            yield tuple(views), torch.from_numpy(index)


# -------------------------------------------------------------------------------- models
class TaggerEncoder(nn.Module):
    """A tagger's convolutional part as an encoder: waveforms -> ``h`` ``(batch, 2 C)``.

    ``h`` is the mean and maximum over frequency and time of the tagger's *last* hidden
    activation (for the FCN, its fourth block: ``C = 128``): what a linear head would read.
    The tagger's own head is not used.

    Parameters
    ----------
    tagger : mirlab.nn.models.Tagger
    """

    def __init__(self, tagger):
        super().__init__()
        self.tagger = tagger
        self.sr = tagger.sr
        self.min_samples = tagger.min_samples

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, activations = self.tagger.forward_all(self.tagger.check_input(x))
        return pool_activation(activations[-1])


def build_encoder(model: str = "fcn", *, sr: int = 16000, scale: float = 1.0,
                  random_state: int = 0) -> TaggerEncoder:
    """The encoder of a tagger of :data:`mirlab.nn.models.MODELS` (random initial weights).

    Examples
    --------
    >>> build_encoder()(torch.zeros(2, 32000)).shape
    torch.Size([2, 256])
    """
    return TaggerEncoder(build(model, 1, sr=sr, scale=scale, random_state=random_state))


class ContrastiveModel(nn.Module):
    """Encoder + projection head (SimCLR :cite:`Chen2020simclr`): ``z = g(f(x))``.

    The loss sees ``z``; downstream tasks use ``h = f(x)`` (``model.encoder``), which keeps
    more information than the projection :cite:`Chen2020simclr`.

    Parameters
    ----------
    encoder : nn.Module
        Waveforms ``(batch, n)`` -> ``(batch, dim_h)``.
    dim_h : int
        Size of the encoder's output.
    dim : int
        Size of the projection.
    hidden : int
        Width of the head's hidden layer (a two-layer MLP, as in CLMR).
    n_tags : int or None
        Room for a linear probe of ``n_tags`` outputs (:meth:`set_probe`, :meth:`tag`), so
        a shipped encoder carries the probe its card was scored with.

    Examples
    --------
    >>> m = ContrastiveModel(build_encoder(), dim_h=256, dim=16)
    >>> z1, z2 = m((torch.zeros(3, 32000), torch.zeros(3, 32000)))
    >>> tuple(z1.shape)
    (3, 16)
    """

    def __init__(self, encoder: nn.Module, dim_h: int = 256, dim: int = 64, hidden: int = 256,
                 n_tags: int | None = None):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Sequential(nn.Linear(dim_h, hidden), nn.ReLU(), nn.Linear(hidden, dim))
        self.probe = None if n_tags is None else nn.Linear(dim_h, check_positive_int(
            n_tags, "n_tags"))

    def set_probe(self, W, b) -> ContrastiveModel:
        """Store a linear probe (:func:`fit_probe`'s ``W``, ``b``) with the encoder."""
        W = torch.as_tensor(np.asarray(W), dtype=torch.float32)
        self.probe = nn.Linear(W.shape[1], W.shape[0])
        with torch.no_grad():
            self.probe.weight.copy_(W)
            self.probe.bias.copy_(torch.as_tensor(np.asarray(b), dtype=torch.float32))
        return self

    def tag(self, x: torch.Tensor) -> torch.Tensor:
        """Tag logits of the stored probe on the encoder's features ``(batch, n_tags)``."""
        if self.probe is None:
            raise ValueError("this model holds no probe: fit one (fit_probe) and set_probe it")
        return self.probe(self.encoder(x))

    def forward(self, x):
        """Projections of one batch, or a tuple of projections of a tuple of views."""
        if isinstance(x, (tuple, list)):
            n = [len(v) for v in x]
            z = self.head(self.encoder(torch.cat(list(x))))  # one pass: shared batch norm
            return tuple(torch.split(z, n))
        return self.head(self.encoder(x))


# ---------------------------------------------------------------------------- the recipe
#: How the shipped encoder is trained (``python -m mirlab.similarity.train ssl``): the
#: chapter-4 FCN's convolutional part, two 2-second crops per clip of the tagging training
#: clips (no labels), the full augmentation chain, NT-Xent with temperature 0.1.
SSL_RECIPE = dict(model="fcn", scale=1.0, dim=64, hidden=256, chunk_seconds=2.0, batch_size=32,
                  temperature=0.1, augmentations=list(AUGMENTATIONS), epochs=5, lr=3e-3,
                  weight_decay=1e-4, schedule="onecycle", random_state=0)
#: the tagging data of the recipe (:func:`mirlab.datasets.tagging.load_tagging_dataset`)
SSL_DATA = dict(name="corpus", n_clips=2400, clip_seconds=5.0, sr=16000, random_state=0,
                n_tags=15)
#: tiny settings for tests
SSL_QUICK = dict(epochs=1, batch_size=8, chunk_seconds=1.0, scale=0.25)


def ssl_recipe(quick: bool = False, **overrides) -> dict:
    """:data:`SSL_RECIPE` (``quick``: with :data:`SSL_QUICK`), with ``overrides``."""
    unknown = sorted(set(overrides) - set(SSL_RECIPE))
    if unknown:
        raise ValueError(f"overrides must be settings of SSL_RECIPE {sorted(SSL_RECIPE)}; got "
                         f"{unknown}")
    return dict(SSL_RECIPE, **(SSL_QUICK if quick else {}), **overrides)


def ssl_model(recipe: dict, sr: int, n_tags: int | None = None) -> ContrastiveModel:
    """The untrained :class:`ContrastiveModel` of a recipe (``n_tags``: room for a probe)."""
    encoder = build_encoder(recipe["model"], sr=sr, scale=recipe["scale"],
                            random_state=recipe["random_state"])
    with torch.no_grad():
        dim_h = encoder(torch.zeros(1, int(recipe["chunk_seconds"] * sr))).shape[1]
    return ContrastiveModel(encoder, dim_h, recipe["dim"], recipe["hidden"], n_tags)


def train_ssl(audio, *, quick: bool = False, progress: bool = True, verbose: bool = False,
              sr: int = 16000, **overrides):
    """Train an encoder self-supervised (SimCLR / CLMR) on unlabelled clips.

    :func:`mirlab.nn.training.fit` with a :class:`TwoViewSampler` (two random crops per clip,
    each through :func:`augmentation_chain`), a :class:`ContrastiveModel` and
    :class:`mirlab.nn.metric.NTXentLoss` (:func:`mirlab.nn.metric.nt_xent`). No validation:
    the last weights are kept.

    Parameters
    ----------
    audio : np.ndarray, shape (n_clips, n_samples)
        Unlabelled clips at ``sr`` (e.g. ``load_ssl_data().subset("train").audio``).
    quick : bool
        A tiny, one-epoch run (tests).
    **overrides
        Settings that replace :data:`SSL_RECIPE`'s (e.g. ``augmentations=["filter"]``).

    Returns
    -------
    model : ContrastiveModel
        ``model.encoder`` is the trained encoder (eval mode, CPU).
    history : mirlab.nn.training.History
    """
    r = ssl_recipe(quick, **overrides)
    model = ssl_model(r, sr)
    sampler = TwoViewSampler(audio, int(r["chunk_seconds"] * sr), r["batch_size"],
                             augmentation_chain(r["augmentations"]))
    history = fit(model, sampler, NTXentLoss(r["temperature"]), epochs=r["epochs"],
                  lr=r["lr"], weight_decay=r["weight_decay"], schedule=r["schedule"],
                  random_state=r["random_state"], progress=progress, verbose=verbose,
                  name="ssl " + "+".join(["crop", *r["augmentations"]]))
    return model.cpu().eval(), history


# ------------------------------------------------------------------- features and probes
def represent(encoder: nn.Module, audio, *, chunk_seconds: float = 2.0,
              hop_seconds: float = 1.0, batch_size: int = 64,
              num_threads: int | None = 1) -> np.ndarray:
    """Frozen features of whole clips: ``encoder`` on chunks, averaged per clip.

    ``encoder`` maps waveforms ``(batch, n)`` to ``(batch, dim)`` and has an ``sr``; ``audio``
    is ``(n_clips, n_samples)``; chunks as in training. Returns ``(n_clips, dim)``.
    """
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 2 or len(audio) == 0:
        raise ValueError(f"audio must have shape (n_clips, n_samples); got {audio.shape}")
    encoder = encoder.cpu()
    with evaluating(encoder), torch.no_grad(), torch_threads(num_threads):
        per_clip = chunked_apply(encoder, audio, encoder.sr, chunk_seconds, hop_seconds,
                                 False, batch_size, "cpu")
    return np.stack([v.mean(axis=0) for v in per_clip])


def calibrate_batchnorm(encoder: nn.Module, audio, *, chunk_seconds: float = 2.0,
                        batch_size: int = 64, n_batches: int = 10,
                        random_state: int = 0) -> nn.Module:
    """Set the batch-norm statistics of ``encoder`` from random chunks of ``audio``.

    Forward passes in training mode, without gradients, with a cumulative average
    (``momentum=None``): the weights stay as they are. A random-initialised network with
    fitted normalisation is a fairer "no learning" baseline than one whose input is not even
    normalised.

    Returns
    -------
    nn.Module
        ``encoder`` itself, in eval mode.
    """
    rng = np.random.default_rng(random_state)
    chunk = int(round(check_positive(chunk_seconds, "chunk_seconds") * encoder.sr))
    norms = [m for m in encoder.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    encoder.train()
    with torch.no_grad(), torch_threads(1):
        for _ in range(check_positive_int(n_batches, "n_batches")):
            index = rng.integers(0, len(audio), batch_size)
            encoder(torch.from_numpy(random_chunks(audio, index, chunk, rng)))
    for m in norms:
        m.momentum = 0.1
    return encoder.eval()


def random_encoder(audio=None, *, model: str = "fcn", sr: int = 16000, scale: float = 1.0,
                   random_state: int = 0) -> TaggerEncoder:
    """The encoder of :func:`build_encoder` with random weights; its batch-norm statistics
    fitted on ``audio`` (:func:`calibrate_batchnorm`) unless ``audio`` is None."""
    encoder = build_encoder(model, sr=sr, scale=scale, random_state=random_state)
    if audio is not None:
        calibrate_batchnorm(encoder, audio, random_state=random_state)
    return encoder.eval()


def supervised_encoder(name: str = "fcn") -> TaggerEncoder:
    """The shipped, supervised chapter-4 tagger ``name`` as an encoder (checked checkpoint)."""
    from mirlab.nn.checkpoints import load_checkpoint

    tagger, _ = load_checkpoint(name)
    return TaggerEncoder(tagger).eval()


def _tag_scores(Y, S) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingleClassWarning)
        return {"roc_auc": float(roc_auc(Y, S)), "pr_auc": float(pr_auc(Y, S))}


#: inverse regularisation strengths the probe chooses from (on the valid clips)
PROBE_C = (0.01, 0.1, 1.0)


def fit_probe(X_train, Y_train, C: float = 0.1, random_state: int = 0):
    """Logistic regressions (scikit-learn, inverse regularisation ``C``), one per column of
    the 0/1 tags ``Y_train`` ``(n, n_tags)``, on standardised ``X_train`` ``(n, dim)``, folded
    into one linear map of the raw features: logits ``X @ W.T + b``. Returns ``(W, b)``."""
    from sklearn.linear_model import LogisticRegression

    X, Y = np.asarray(X_train, float), np.asarray(Y_train)
    if X.ndim != 2 or Y.ndim != 2 or len(X) != len(Y):
        raise ValueError(f"X_train (n, dim) and Y_train (n, n_tags) must have the same n; got "
                         f"{X.shape} and {Y.shape}")
    mu, sd = X.mean(axis=0), X.std(axis=0)
    sd = np.where(sd > 1e-9, sd, 1.0)
    W, b = np.zeros((Y.shape[1], X.shape[1])), np.zeros(Y.shape[1])
    for t in range(Y.shape[1]):
        clf = LogisticRegression(C=check_positive(C, "C"), max_iter=2000,
                                 random_state=random_state)
        clf.fit((X - mu) / sd, Y[:, t])
        W[t] = clf.coef_[0] / sd
        b[t] = clf.intercept_[0] - np.sum(clf.coef_[0] * mu / sd)
    return W, b


def linear_probe(features: dict, labels: dict, *, Cs=PROBE_C, random_state: int = 0) -> dict:
    """A linear probe: one logistic regression per tag on standardised frozen features.

    Each ``C`` of ``Cs`` is fitted on the ``"train"`` features (:func:`fit_probe`) and scored
    on ``"valid"`` (macro ROC-AUC); the best is scored on ``"test"`` once. The encoder is never
    changed: the probe measures what its features already make linearly separable
    :cite:`Spijkervet2021clmr`.

    Parameters
    ----------
    features, labels : dict
        ``{"train": X, "valid": X, "test": X}``, each ``(n_clips, dim)``, and the same keys
        with 0/1 tag matrices ``(n_clips, n_tags)``.
    Cs : sequence of float

    Returns
    -------
    dict
        ``{"C", "valid": {"roc_auc", "pr_auc"}, "test": {...}, "by_C": {C: valid scores},
        "W", "b"}``: the chosen probe's linear map (:func:`fit_probe`).
    """
    for part in ("train", "valid", "test"):
        if part not in features or part not in labels:
            raise ValueError(f"features and labels must have the keys 'train', 'valid', 'test';"
                             f" got {sorted(features)} and {sorted(labels)}")
        if len(features[part]) != len(labels[part]):
            raise ValueError(f"features[{part!r}] and labels[{part!r}] must have as many rows; "
                             f"got {len(features[part])} and {len(labels[part])}")
    X = {k: np.asarray(v, float) for k, v in features.items()}
    Y = {k: np.asarray(v) for k, v in labels.items()}
    probes = {float(C): fit_probe(X["train"], Y["train"], C, random_state) for C in Cs}
    by_c = {C: _tag_scores(Y["valid"], X["valid"] @ W.T + b) for C, (W, b) in probes.items()}
    best = max(by_c, key=lambda c: by_c[c]["roc_auc"])
    W, b = probes[best]
    return {"C": best, "valid": by_c[best], "test": _tag_scores(Y["test"], X["test"] @ W.T + b),
            "by_C": by_c, "W": W, "b": b}


def probe_encoder(encoder: nn.Module, data, *, chunk_seconds: float = 2.0,
                  hop_seconds: float = 1.0, Cs=PROBE_C) -> dict:
    """:func:`linear_probe` of ``encoder``'s features (:func:`represent`) on a tagging dataset.

    ``data`` is a :class:`~mirlab.datasets.tagging.TaggingDataset` (its three splits are
    used). Returns what :func:`linear_probe` returns, plus ``"seconds"``.
    """
    start = time.perf_counter()
    feats, labels = {}, {}
    for part in ("train", "valid", "test"):
        sub = data.subset(part)
        feats[part] = represent(encoder, sub.audio, chunk_seconds=chunk_seconds,
                                hop_seconds=hop_seconds)
        labels[part] = sub.labels
    out = linear_probe(feats, labels, Cs=Cs)
    out["seconds"] = round(time.perf_counter() - start, 1)
    return out


# ------------------------------------------------------------------------------ ablation
#: the rows of :func:`augmentation_ablation`: crop alone, then crop + one augmentation
ABLATION_ROWS = ("crop", *AUGMENTATIONS)
#: its small, fast training settings (replacing the recipe's) and the probe's chunk hop
ABLATION = dict(epochs=2, chunk_seconds=1.0, scale=0.5)
ABLATION_HOP = 2.0


def augmentation_ablation(data, rows=ABLATION_ROWS, *, quick: bool = False,
                          progress: bool = True, **overrides) -> list[dict]:
    """CLMR's Table 2 in small :cite:`Spijkervet2021clmr`: train with a random crop plus one
    other augmentation each (:data:`ABLATION` settings, then ``overrides``; the same seed;
    each augmentation with its probability of :data:`CLMR_PROBABILITIES`: with probability 1
    a polarity inversion would hit both views and change nothing), and probe each encoder.

    Parameters
    ----------
    data : TaggingDataset
        Trains on its ``"train"`` clips (no labels); the probe uses all three splits.
    rows : sequence of str
        ``"crop"`` (crop only) or keys of :data:`AUGMENTATIONS`.

    Returns
    -------
    list of dict
        Per row: ``augmentation``, ``valid_roc_auc``, ``valid_pr_auc``, ``test_roc_auc``,
        ``test_pr_auc``, ``seconds`` (training).
    """
    out = []
    for row in rows:
        settings = dict(ABLATION, **overrides, augmentations=[] if row == "crop" else [row])
        model, history = train_ssl(data.subset("train").audio, quick=quick, progress=progress,
                                   sr=data.sr, **settings)
        probe = probe_encoder(model.encoder, data, hop_seconds=ABLATION_HOP,
                              chunk_seconds=ssl_recipe(quick, **settings)["chunk_seconds"])
        out.append({"augmentation": row, **{f"{part}_{k}": round(probe[part][k], 4) for part in
                                            ("valid", "test") for k in ("roc_auc", "pr_auc")},
                    "seconds": round(history.total_seconds, 1)})
    return out


# ------------------------------------------------------------------------------ shipping
def ssl_data(quick: bool = False) -> dict:
    """The data design of the shipped encoder (the tagging design and its key)."""
    from mirlab.datasets.tagging import design_key

    d = dict(SSL_DATA, n_clips=240) if quick else dict(SSL_DATA)
    return {**d, "design_key": design_key(d["n_clips"], d["clip_seconds"], d["random_state"],
                                          "default", d["sr"])}


def load_ssl_data(quick: bool = False, progress: bool = True):
    """The tagging data of :func:`ssl_data` (``quick``: 240 clips)."""
    from mirlab.datasets.tagging import load_tagging_dataset

    d = ssl_data(quick)
    return load_tagging_dataset(d["name"], n_clips=d["n_clips"], clip_seconds=d["clip_seconds"],
                                sr=d["sr"], random_state=d["random_state"], progress=progress)


#: the code whose hash is on the card
SSL_CODE = (Polarity, Filter, Delay, Reverb, RandomApply, augmentation_chain, TwoViewSampler,
            TaggerEncoder, build_encoder, ContrastiveModel, nt_xent, NTXentLoss, train_ssl,
            represent, fit_probe, linear_probe, probe_encoder)
SSL_NAME = "ssl_fcn"


def ship_ssl(*, quick: bool = False, progress: bool = True, folder=WEIGHTS) -> dict:
    """Train the encoder of :data:`SSL_RECIPE`, probe it and a random-initialised one, and
    write its weights (with its probe) and card (``<folder>/ssl_fcn.pt`` / ``.json``).

    Returns
    -------
    dict
        The card; ``scores`` hold the probe of the trained encoder (``"probe"``), of the
        random-initialised one (``"random_probe"``) and the training time.
    """
    from mirlab.nn.shipping import save_shipped

    data = load_ssl_data(quick, progress)
    recipe = ssl_recipe(quick)
    train_audio = data.subset("train").audio
    model, history = train_ssl(train_audio, quick=quick, progress=progress, verbose=progress,
                               sr=data.sr)
    chunk = recipe["chunk_seconds"]
    probe = probe_encoder(model.encoder, data, chunk_seconds=chunk)
    model.set_probe(probe["W"], probe["b"])
    rand = random_encoder(train_audio, model=recipe["model"], sr=data.sr, scale=recipe["scale"],
                          random_state=recipe["random_state"])
    plain = lambda r: {k: v for k, v in r.items() if k not in ("W", "b")}  # noqa: E731
    scores = {"probe": plain(probe),
              "random_probe": plain(probe_encoder(rand, data, chunk_seconds=chunk)),
              "rescored": rescore_ssl(model, data, chunk_seconds=chunk),
              "measured": "linear probe (mirlab.similarity.ssl.probe_encoder): logistic "
                          "regression per tag on the encoder's features, C chosen on valid; "
                          "'rescored': the shipped probe on the test clips (rescore_ssl)"}
    name = SSL_NAME + ("_quick" if quick else "")
    return save_shipped(model, name, folder, recipe=recipe, data=ssl_data(quick),
                        scores=scores, history=history,
                        retrain=f"python -m mirlab.similarity.train {SSL_NAME}"
                        + (" --quick" if quick else ""), code=SSL_CODE)


def rescore_ssl(model: ContrastiveModel, data, *, chunk_seconds: float = 2.0,
                hop_seconds: float = 1.0) -> dict:
    """Macro ROC-AUC and PR-AUC of a model's stored probe on the ``"test"`` clips of ``data``
    (what the test of the shipped encoder compares with its card)."""
    test = data.subset("test")
    if model.probe is None:
        raise ValueError("model must hold a probe (ContrastiveModel.set_probe)")
    h = represent(model.encoder, test.audio, chunk_seconds=chunk_seconds,
                  hop_seconds=hop_seconds)
    with torch.no_grad():
        logits = model.probe(torch.from_numpy(h.astype(np.float32))).numpy()
    return _tag_scores(test.labels, logits)


def pretrained_ssl(*, quick: bool = False, folder=WEIGHTS):
    """The shipped self-supervised model (encoder, projection head, probe), checked against
    its card.

    Returns
    -------
    model : ContrastiveModel
        ``model.encoder`` gives the features a probe reads; ``model.tag`` the shipped probe.
    card : dict
        ``card["scores"]["probe"]["test"]`` is its linear probe on the tagging test split,
        ``card["scores"]["random_probe"]["test"]`` the random-initialised encoder's.
    """
    from mirlab.nn.shipping import load_shipped

    recipe = ssl_recipe(quick)
    data = ssl_data(quick)
    model = ssl_model(recipe, data["sr"], data["n_tags"])
    card = load_shipped(model, SSL_NAME + ("_quick" if quick else ""), folder, recipe=recipe,
                        data=data, code=SSL_CODE)
    return model, card


ABLATION_NAME = "ssl_ablation"


def ship_ablation(*, progress: bool = True, folder=WEIGHTS) -> dict:
    """Run :func:`augmentation_ablation` on the recipe's data and write its table to
    ``<folder>/ssl_ablation.json`` (with the settings and the command that made it)."""
    import json

    rows = augmentation_ablation(load_ssl_data(False, progress), progress=progress)
    record = {"rows": rows, "settings": ssl_recipe(**ABLATION), "probe_hop": ABLATION_HOP,
              "data": ssl_data(), "command": f"python -m mirlab.similarity.train {ABLATION_NAME}"}
    (Path(folder) / f"{ABLATION_NAME}.json").write_text(json.dumps(record, indent=1) + "\n")
    return record


def read_ablation(folder=WEIGHTS) -> dict:
    """The table written by :func:`ship_ablation` (``record["rows"]``: one dict per row)."""
    import json

    path = Path(folder) / f"{ABLATION_NAME}.json"
    if not path.is_file():
        raise ValueError(f"no ablation table at {path}; make it with python -m "
                         f"mirlab.similarity.train {ABLATION_NAME}")
    return json.loads(path.read_text())
