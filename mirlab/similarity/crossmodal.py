"""Cross-modal retrieval: audio excerpts and their score excerpts in one embedding space.

Two networks (*towers*) map each modality to the unit sphere: an audio encoder (waveform ->
log-pitch spectrogram -> CNN) and a score encoder (piano roll -> CNN). They are trained
together with InfoNCE on pairs (an excerpt's audio, the notes it plays): in a batch of ``N``
pairs, the audio of pair ``i`` must pick its own score among the ``N`` scores, and the score
its own audio (the symmetric loss of CLIP :cite:`Radford2021clip`; InfoNCE,
:func:`mirlab.nn.metric.info_nce` with ``symmetric=True``,
:cite:`Oord2018cpc`). Audio–sheet-music retrieval with such two-tower embeddings is studied
by Dorfer et al. :cite:`Dorfer2018cca`.

Retrieval is measured on the excerpts of held-out pieces (the test split of
:func:`mirlab.datasets.similarity.load_similarity_data`): recall@k is the share of queries
whose partner is among the first ``k`` results, in both directions (audio -> score, score ->
audio), against chance (``k / n``) and a chroma baseline (audio chroma against the piano
roll's pitch-class profile, cosine :cite:`Mueller2021FMP`).

=================================  ==============================================================
:class:`ScoreEncoder`              piano roll -> unit vector
:class:`AudioEncoder`              waveform -> unit vector (log-pitch front end)
:class:`TwoTower`                  both: ``(audio, roll) -> (z_audio, z_score)``
:class:`PairSampler`               batches of pairs, cropped together in time
:func:`cross_modal_recall`         recall@k of queries against a gallery (partner: same row)
:func:`retrieval_table`            recall@1/@10 both ways, with chance, for any two feature sets
:func:`chroma_features`            the chroma baseline's features of audio and piano rolls
:func:`train_crossmodal`           the recipe with :func:`mirlab.nn.training.fit`
:func:`evaluate_crossmodal`        learned vs chroma vs chance on a split
:func:`pretrained_crossmodal`      the shipped model, checked against its card
=================================  ==============================================================

Taught in ``notebooks/06_metric_learning.ipynb``; needs PyTorch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from mirlab.core.checks import check_positive, check_positive_int, check_sr
from mirlab.datasets.similarity import ROLL_FPS, SIZES, load_similarity_data
from mirlab.metrics import recall_at_k
from mirlab.nn.metric import InfoNCELoss, info_nce
from mirlab.nn.models.base import conv2d_block, evaluating, torch_threads
from mirlab.nn.training import fit
from mirlab.similarity.embedding import LogPitch

__all__ = ["PITCHES", "ScoreEncoder", "AudioEncoder", "TwoTower", "PairSampler",
           "embed_pairs", "cross_modal_recall", "retrieval_table",
           "chroma_features", "CROSSMODAL_RECIPE", "crossmodal_recipe", "train_crossmodal",
           "evaluate_crossmodal", "ship_crossmodal", "pretrained_crossmodal", "WEIGHTS"]

WEIGHTS = Path(__file__).resolve().parent / "weights"
#: MIDI pitches both towers see (the default range of :class:`LogPitch`)
PITCHES = (36, 107)


class _PitchTimeCNN(nn.Module):
    """Three blocks of (3x3 convolution, batch norm, ReLU, 2x2 max pooling) on a (pitch,
    time) picture; then over time either the mean and max (``segments=1``) or the max in
    each of ``segments`` equal parts (which keeps the order of events); the pitch axis is
    kept (which notes sound matters); one linear layer; unit length."""

    def __init__(self, n_pitches: int, dim: int, width: int, segments: int = 1):
        super().__init__()
        widths = [width, 2 * width, 4 * width]
        self.segments = check_positive_int(segments, "segments")
        self.input_norm = nn.BatchNorm2d(1)
        self.blocks = nn.Sequential(*[conv2d_block(a, b, (2, 2))
                                      for a, b in zip([1, *widths[:-1]], widths, strict=True)])
        per_pitch = 2 if self.segments == 1 else self.segments
        self.head = nn.Linear(per_pitch * widths[-1] * (n_pitches // 8), dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(self.input_norm(x[:, None]))            # (batch, C, pitch, time)
        if self.segments == 1:
            h = torch.cat([h.mean(dim=3), h.amax(dim=3)], dim=1)  # (batch, 2C, pitch)
        else:
            h = nn.functional.adaptive_max_pool2d(h, (h.shape[2], self.segments))
        return nn.functional.normalize(self.head(h.flatten(1)), dim=1)


class ScoreEncoder(nn.Module):
    """Piano rolls ``(batch, 128, n_frames)`` -> unit vectors ``(batch, dim)``.

    Examples
    --------
    >>> ScoreEncoder(dim=8)(torch.zeros(2, 128, 75)).shape
    torch.Size([2, 8])
    """

    def __init__(self, dim: int = 64, width: int = 16, pitches=PITCHES, segments: int = 1):
        super().__init__()
        self.pitches = tuple(int(p) for p in pitches)
        self.cnn = _PitchTimeCNN(self.pitches[1] - self.pitches[0] + 1,
                                 check_positive_int(dim, "dim"),
                                 check_positive_int(width, "width"), segments)

    def forward(self, roll: torch.Tensor) -> torch.Tensor:
        lo, hi = self.pitches
        if roll.ndim != 3 or roll.shape[1] != 128:
            raise ValueError(f"roll must have shape (batch, 128, n_frames); got "
                             f"{tuple(roll.shape)}")
        return self.cnn(roll[:, lo:hi + 1].float())


class AudioEncoder(nn.Module):
    """Waveforms ``(batch, n_samples)`` -> unit vectors ``(batch, dim)``, through the
    semitone-resolution :class:`~mirlab.similarity.embedding.LogPitch` front end.

    Examples
    --------
    >>> AudioEncoder(dim=8)(torch.zeros(2, 16000)).shape
    torch.Size([2, 8])
    """

    def __init__(self, dim: int = 64, width: int = 16, sr: int = 16000, pitches=PITCHES,
                 segments: int = 1):
        super().__init__()
        self.sr = check_sr(sr)
        self.front = LogPitch(sr, pitches=pitches)
        self.cnn = _PitchTimeCNN(pitches[1] - pitches[0] + 1, check_positive_int(dim, "dim"),
                                 check_positive_int(width, "width"), segments)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cnn(self.front(x))


class TwoTower(nn.Module):
    """An audio tower and a score tower: ``model((audio, roll)) -> (z_audio, z_score)``.

    Parameters
    ----------
    dim : int
        Size of the shared embedding.
    width : int
        Channels of each tower's first block.
    sr : int
    segments : int
        1: pool each tower over time (mean and max); more: keep the maximum of each of
        ``segments`` equal parts of the excerpt, in order.

    Examples
    --------
    >>> za, zs = TwoTower(dim=8)((torch.zeros(2, 16000), torch.zeros(2, 128, 25)))
    >>> tuple(za.shape), tuple(zs.shape)
    ((2, 8), (2, 8))
    """

    def __init__(self, dim: int = 64, width: int = 16, sr: int = 16000, segments: int = 1):
        super().__init__()
        self.audio = AudioEncoder(dim, width, sr, segments=segments)
        self.score = ScoreEncoder(dim, width, segments=segments)
        self.sr = self.audio.sr

    def forward(self, pair):
        audio, roll = pair
        return self.audio(audio), self.score(roll)


class PairSampler:
    """Batches of (audio, piano roll) pairs for :func:`mirlab.nn.training.fit`.

    Each pair is cropped to the same ``crop_seconds`` of its excerpt (a random start, the
    same in both modalities, on the roll's frame grid): the pairs stay aligned and the
    network sees a new window at every epoch. A batch is ``((audio, roll), index)``.

    Parameters
    ----------
    audio : np.ndarray, shape (n, n_samples)
    piano_roll : np.ndarray, shape (n, 128, n_frames)
    sr : int
    crop_seconds : float or None
        None: whole excerpts.
    batch_size : int

    Examples
    --------
    >>> s = PairSampler(np.zeros((4, 16000), np.float32), np.zeros((4, 128, 25), np.uint8),
    ...                 16000, crop_seconds=0.4, batch_size=2)
    >>> (a, r), i = next(s.batches(np.random.default_rng(0)))
    >>> tuple(a.shape), tuple(r.shape)
    ((2, 6400), (2, 128, 10))
    """

    def __init__(self, audio, piano_roll, sr: int, *, crop_seconds: float | None = 2.4,
                 batch_size: int = 32, fps: int = ROLL_FPS):
        audio, piano_roll = np.asarray(audio), np.asarray(piano_roll)
        if audio.ndim != 2 or piano_roll.ndim != 3 or len(audio) != len(piano_roll):
            raise ValueError(f"audio (n, n_samples) and piano_roll (n, 128, n_frames) must "
                             f"hold the same n; got {audio.shape} and {piano_roll.shape}")
        self.audio, self.roll, self.sr, self.fps = audio, piano_roll, check_sr(sr), int(fps)
        self.batch_size = check_positive_int(batch_size, "batch_size", minimum=2)
        if len(audio) < self.batch_size:
            raise ValueError(f"batch_size must be at most the number of pairs {len(audio)}; "
                             f"got {self.batch_size}")
        n_frames = piano_roll.shape[2]
        self.frames = n_frames if crop_seconds is None else int(round(
            check_positive(crop_seconds, "crop_seconds") * self.fps))
        if self.frames > n_frames:
            raise ValueError(f"crop_seconds must be at most the excerpt length "
                             f"{n_frames / self.fps} s; got {crop_seconds}")

    def __len__(self) -> int:
        return len(self.audio) // self.batch_size

    def batches(self, rng):
        """Yield ``((audio, roll), index)`` for one epoch (pairs in a random order)."""
        order = rng.permutation(len(self.audio))
        samples = int(round(self.frames * self.sr / self.fps))
        for b in range(len(self)):
            index = np.sort(order[b * self.batch_size:(b + 1) * self.batch_size])
            start = rng.integers(0, self.roll.shape[2] - self.frames + 1, len(index))
            s0 = np.minimum(np.round(start * self.sr / self.fps).astype(int),
                            self.audio.shape[1] - samples)
            a = self.audio[index[:, None], s0[:, None] + np.arange(samples)]
            r = self.roll[index[:, None, None], np.arange(128)[None, :, None],
                          start[:, None, None] + np.arange(self.frames)]
            yield ((torch.from_numpy(np.asarray(a, np.float32)),
                    torch.from_numpy(np.asarray(r, np.float32))), torch.from_numpy(index))


def embed_pairs(model: TwoTower, audio, piano_roll, *, batch_size: int = 64,
                num_threads: int | None = 1) -> tuple[np.ndarray, np.ndarray]:
    """The embeddings of whole excerpts in both towers: ``(A, S)``, each ``(n, dim)``."""
    audio = np.asarray(audio, np.float32)
    roll = np.asarray(piano_roll, np.float32)
    model = model.cpu()
    A, S = [], []
    with evaluating(model), torch.no_grad(), torch_threads(num_threads):
        for b in range(0, len(audio), batch_size):
            za, zs = model((torch.from_numpy(audio[b:b + batch_size]),
                            torch.from_numpy(roll[b:b + batch_size])))
            A.append(za.numpy())
            S.append(zs.numpy())
    return np.concatenate(A), np.concatenate(S)


# ------------------------------------------------------------------------------ retrieval
def cross_modal_recall(queries, gallery, k: int = 1, labels=None) -> float:
    """Recall@k of queries in one modality against a gallery in the other (cosine).

    A query's relevant items are the gallery rows with its label: by default ``labels`` is
    ``arange(n)``, so the one relevant item of query ``i`` is gallery row ``i``, its partner;
    pass the passages to count every version of the same passage. Computed by
    :func:`mirlab.metrics.recall_at_k` (a hit if a relevant item is among the first ``k``;
    ties ordered at random, in expectation).

    Examples
    --------
    >>> cross_modal_recall(np.eye(3), np.eye(3), k=1)
    1.0
    >>> cross_modal_recall(np.eye(3), np.eye(3)[[1, 0, 2]], k=1)
    0.3333333333333333
    """
    Q, G = (np.asarray(v, dtype=np.float64) for v in (queries, gallery))
    if Q.ndim != 2 or G.ndim != 2 or Q.shape != G.shape:
        raise ValueError(f"queries and gallery must both be (n, dim), row i of each the same "
                         f"excerpt; got {Q.shape} and {G.shape}")
    labels = np.arange(len(Q)) if labels is None else np.asarray(labels)
    Q = Q / np.maximum(np.linalg.norm(Q, axis=1, keepdims=True), 1e-12)
    G = G / np.maximum(np.linalg.norm(G, axis=1, keepdims=True), 1e-12)
    return float(recall_at_k(1.0 - Q @ G.T, labels, labels, check_positive_int(k, "k"),
                             ties="average"))


def retrieval_table(A, S, passage=None, ks=(1, 10)) -> dict:
    """Recall@k in both directions for paired features ``A`` (audio) and ``S`` (score).

    Parameters
    ----------
    A, S : np.ndarray, shape (n, dim_a) and (n, dim_s)
        Row ``i`` of each is excerpt ``i`` (the dims must agree).
    passage : np.ndarray or None
        The passage of each excerpt: also report recall when any excerpt of the same
        passage counts (another version of the same notes, transposed or re-timed).
    ks : sequence of int

    Returns
    -------
    dict
        ``{"audio->score": {"r@1", "r@10", ...}, "score->audio": {...}, "chance": {"r@1",
        ...}, "n": n}``; with ``passage`` also ``"audio->score (passage)"`` and
        ``"score->audio (passage)"`` with their chance.
    """
    n = len(A)
    out = {"n": n, "chance": {f"r@{k}": min(1.0, k / n) for k in ks}}
    for name, Q, G in (("audio->score", A, S), ("score->audio", S, A)):
        out[name] = {f"r@{k}": cross_modal_recall(Q, G, k) for k in ks}
        if passage is not None:
            out[f"{name} (passage)"] = {f"r@{k}": cross_modal_recall(Q, G, k, passage)
                                        for k in ks}
    if passage is not None:
        m = np.mean(np.sum(np.asarray(passage)[:, None] == np.asarray(passage)[None], axis=1))
        out["chance (passage)"] = {f"r@{k}": float(min(1.0, 1 - np.prod(
            [(n - m - j) / (n - j) for j in range(k)]))) for k in ks}
    return out


def chroma_features(audio, piano_roll, sr: int = 16000, *, n_segments: int = 1,
                    n_fft: int = 2048, hop_length: int = 512):
    """The chroma baseline: STFT chroma of the audio and the piano roll's pitch classes.

    Both are cut into ``n_segments`` equal parts of the excerpt; each part is summed over
    time to a 12-dimensional profile (so ``n_segments=1`` compares the excerpts' pitch-class
    profiles, and more segments keep some of their order); the profiles are concatenated
    per excerpt and compared by cosine similarity (:func:`cross_modal_recall`).

    Returns
    -------
    A, S : np.ndarray, shape (n, 12 * n_segments)
    """
    from mirlab.features import chroma_stft

    n_segments = check_positive_int(n_segments, "n_segments")
    roll = np.asarray(piano_roll, np.float64)
    A, S = [], []
    for y, r in zip(np.asarray(audio, np.float32), roll, strict=True):
        C = chroma_stft(y=y, sr=sr, n_fft=n_fft, hop_length=hop_length)
        P = np.zeros((12, r.shape[1]))
        for pc in range(12):
            P[pc] = r[pc::12].sum(axis=0)
        A.append(np.concatenate([c.sum(axis=1) for c in np.array_split(C, n_segments, 1)]))
        S.append(np.concatenate([p.sum(axis=1) for p in np.array_split(P, n_segments, 1)]))
    return np.array(A), np.array(S)


# ---------------------------------------------------------------------------- the recipe
#: How the shipped two-tower model is trained (``python -m mirlab.similarity.train
#: crossmodal``) on the train pieces of the similarity data; the epoch with the best valid
#: recall@1 (mean of both directions) is kept.
CROSSMODAL_RECIPE = dict(dim=48, width=12, segments=4, temperature=0.1, crop_seconds=2.4,
                         batch_size=32, epochs=20, lr=3e-3, weight_decay=1e-4, schedule="onecycle",
                         patience=20, random_state=0)
CROSSMODAL_QUICK = dict(dim=8, width=4, epochs=2, batch_size=8)


def crossmodal_recipe(quick: bool = False, **overrides) -> dict:
    """:data:`CROSSMODAL_RECIPE` (``quick``: tiny, for tests), with ``overrides``."""
    unknown = sorted(set(overrides) - set(CROSSMODAL_RECIPE))
    if unknown:
        raise ValueError(f"overrides must be settings of CROSSMODAL_RECIPE "
                         f"{sorted(CROSSMODAL_RECIPE)}; got {unknown}")
    return dict(CROSSMODAL_RECIPE, **(CROSSMODAL_QUICK if quick else {}), **overrides)


def crossmodal_data(quick: bool = False) -> dict:
    """The data design: :func:`load_similarity_data`'s size and settings."""
    size = "quick" if quick else "default"
    return {"loader": "load_similarity_data", "size": size, **SIZES[size],
            "clip_seconds": 3.0, "sr": 16000, "random_state": 0}


def _validator(data):
    def validate(model) -> dict:
        A, S = embed_pairs(model, data.audio, data.piano_roll, num_threads=None)
        r1 = {"a2s_r1": cross_modal_recall(A, S, 1), "s2a_r1": cross_modal_recall(S, A, 1)}
        return {**r1, "r1": 0.5 * (r1["a2s_r1"] + r1["s2a_r1"])}
    return validate


def _build(recipe: dict, sr: int) -> TwoTower:
    torch.manual_seed(recipe["random_state"])
    return TwoTower(recipe["dim"], recipe["width"], sr, recipe["segments"])


def train_crossmodal(data=None, *, quick: bool = False, progress: bool = True,
                     verbose: bool = False, **overrides):
    """Train the two towers with InfoNCE on the train pieces; keep the best valid recall@1.

    Parameters
    ----------
    data : SimilarityData or None
        None: :func:`~mirlab.datasets.similarity.load_similarity_data` of the recipe's size.
    quick : bool
        Tiny towers, two epochs (tests).
    **overrides
        Settings that replace :data:`CROSSMODAL_RECIPE`'s.

    Returns
    -------
    model : TwoTower
    history : mirlab.nn.training.History
    """
    r = crossmodal_recipe(quick, **overrides)
    if data is None:
        data = load_similarity_data("quick" if quick else "default", progress=progress)
    train, valid = data.subset("train"), data.subset("valid")
    model = _build(r, data.sr)
    sampler = PairSampler(train.audio, train.piano_roll, data.sr, crop_seconds=r["crop_seconds"],
                          batch_size=min(r["batch_size"], len(train.audio)))
    history = fit(model, sampler, InfoNCELoss(r["temperature"], symmetric=True),
                  epochs=r["epochs"], lr=r["lr"], weight_decay=r["weight_decay"],
                  schedule=r["schedule"],
                  validate=_validator(valid), monitor="r1", patience=r["patience"],
                  random_state=r["random_state"], progress=progress, verbose=verbose,
                  name="audio-score two towers")
    return model.cpu().eval(), history


def _rounded(d):
    if isinstance(d, dict):
        return {k: _rounded(v) for k, v in d.items()}
    return round(float(d), 4) if isinstance(d, float) else d


def evaluate_crossmodal(model: TwoTower | None, data, split: str = "test",
                        n_segments=(1, 4)) -> dict:
    """Recall@1 and @10 both ways on one split: the model, the chroma baseline(s), chance.

    Parameters
    ----------
    model : TwoTower or None
        None: the baselines only.
    data : SimilarityData
    split : str
    n_segments : sequence of int
        The chroma baselines (:func:`chroma_features`): 1 is the pitch-class profile of the
        whole excerpt, 4 keeps the order of its four quarters.

    Returns
    -------
    dict
        ``{"two_tower": table, "chroma": table, "chroma_4": table, ...}`` of
        :func:`retrieval_table` (each with its chance).
    """
    part = data.subset(split)
    passage = part.notion("passage")
    out = {}
    if model is not None:
        out["two_tower"] = retrieval_table(*embed_pairs(model, part.audio, part.piano_roll),
                                           passage)
    for n in n_segments:
        name = "chroma" if n == 1 else f"chroma_{n}"
        out[name] = retrieval_table(*chroma_features(part.audio, part.piano_roll, data.sr,
                                                     n_segments=n), passage)
    return _rounded(out)


# ------------------------------------------------------------------------------ shipping
CROSSMODAL_NAME = "crossmodal"
#: the code whose hash is on the card
CROSSMODAL_CODE = (LogPitch, _PitchTimeCNN, ScoreEncoder, AudioEncoder, TwoTower,
                   info_nce, InfoNCELoss, PairSampler, embed_pairs, cross_modal_recall, _build)


def ship_crossmodal(*, quick: bool = False, progress: bool = True, folder=WEIGHTS,
                    **overrides) -> dict:
    """Train :data:`CROSSMODAL_RECIPE` (with ``overrides``), score it on valid and test with
    its baselines, and write ``<folder>/crossmodal.pt`` and its card."""
    from mirlab.nn.shipping import save_shipped

    data = load_similarity_data("quick" if quick else "default", progress=progress)
    model, history = train_crossmodal(data, quick=quick, progress=progress, verbose=progress,
                                      **overrides)
    scores = {"valid": evaluate_crossmodal(model, data, "valid"),
              "test": evaluate_crossmodal(model, data, "test"),
              "measured": "recall@k of whole excerpts by cosine similarity, the partner in "
                          "the other modality as the one relevant item (passage: any version "
                          "of the same passage) (mirlab.similarity.crossmodal.retrieval_table)"}
    name = CROSSMODAL_NAME + ("_quick" if quick else "")
    return save_shipped(model, name, folder, recipe=crossmodal_recipe(quick, **overrides),
                        data=crossmodal_data(quick), scores=scores, history=history,
                        retrain=f"python -m mirlab.similarity.train {CROSSMODAL_NAME}"
                        + (" --quick" if quick else ""),
                        code=CROSSMODAL_CODE)


def pretrained_crossmodal(*, quick: bool = False, folder=WEIGHTS):
    """The shipped two-tower model, its weights checked against its card.

    Returns
    -------
    model : TwoTower
    card : dict
        ``card["scores"]["test"]`` holds what :func:`evaluate_crossmodal` measured.
    """
    from mirlab.nn.shipping import load_shipped

    recipe = crossmodal_recipe(quick)
    model = _build(recipe, crossmodal_data(quick)["sr"])
    card = load_shipped(model, CROSSMODAL_NAME + ("_quick" if quick else ""), folder,
                        recipe=recipe, data=crossmodal_data(quick), code=CROSSMODAL_CODE)
    return model, card
