"""Chroma enhancement: a small network from a harmonic CQT to a melody chroma plus blank.

The network of Zalkow & Müller :cite:`Zalkow2021ctc`, made small: it maps each frame of a
harmonic CQT (:func:`mirlab.datasets.themes.hcqt`) to 13 log-probabilities, the 12 pitch
classes of the *melody* and a blank ("no melody onset here", index :data:`BLANK`). The 12
pitch-class probabilities, pooled and normalised (:func:`enhanced_chroma`), replace the chroma
of the recording in theme retrieval (:mod:`mirlab.alignment.themes`), where a monophonic query
must match a polyphonic recording.

One network, four ways to train it from an excerpt (a run of melody notes whose start and end
in the recording are known, as the theme occurrences of the MTD :cite:`Zalkow2020mtd`):

==========  ===========================================================================
``ctc``     the excerpt's pitch-class sequence without any timing; CTC sums over all its
            alignments to the frames (:func:`torch.nn.functional.ctc_loss`,
            :cite:`Graves2006ctc`; our :mod:`mirlab.sequence.ctc` computes the same)
``strong``  frame-wise targets from the score, exactly aligned (each frame: the pitch class
            of the melody note sounding, blank where none sounds); cross-entropy
``linear``  the score's note times stretched linearly onto the excerpt (right at both ends,
            wrong in between when the tempo varies); cross-entropy
``softdtw`` the unaligned sequence as one-hot columns and the soft-DTW loss between it and
            the network's probabilities (:mod:`mirlab.nn.softdtw`, :cite:`Cuturi2017softdtw`);
            the paper did not try it
==========  ===========================================================================

The network (:class:`ChromaNet`): three 2-D convolutions over (pitch, time) give a salience for
each of the 60 pitches and frame; a softmax over the 60 pitches and the blank, then summing the
probabilities of the pitches of each pitch class, gives the 13 classes. Summing over octaves
builds octave invariance in, which a network trained on a few hundred pieces cannot learn.

Taught in ``notebooks/07_alignment.ipynb``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from mirlab.datasets.themes import HARMONIC_SHIFTS, PITCH_RANGE, frame_labels
from mirlab.nn.softdtw import soft_dtw_loss

__all__ = ["BLANK", "N_CLASSES", "TARGETS", "ChromaNet", "excerpt_targets", "ExcerptSampler",
           "make_loss", "enhanced_chroma", "pool_chroma", "log_probabilities"]

BLANK = 12
N_CLASSES = 13
TARGETS = ("ctc", "strong", "linear", "softdtw")
SOFTDTW_GAMMA = 0.1


class ChromaNet(torch.nn.Module):
    """Harmonic CQT ``(batch, n_harmonics, n_bins, n_frames)`` -> log-probabilities
    ``(batch, 13, n_frames)`` over the 12 melody pitch classes and the blank (index 12).

    Parameters
    ----------
    n_harmonics, n_bins : int
        Input channels and pitch bins (:func:`mirlab.datasets.themes.hcqt`: 4 and 60, bin 0
        at pitch class C).
    width : int
        Channels of the convolutions.

    Examples
    --------
    >>> net = ChromaNet()
    >>> net(torch.zeros(2, 4, 60, 50)).shape
    torch.Size([2, 13, 50])
    """

    def __init__(self, n_harmonics: int = len(HARMONIC_SHIFTS),
                 n_bins: int = PITCH_RANGE[1] - PITCH_RANGE[0], width: int = 12):
        super().__init__()
        if n_bins % 12:
            raise ValueError(f"n_bins must be a multiple of 12 (whole octaves from C); got "
                             f"{n_bins}")
        self.n_bins = n_bins
        self.body = torch.nn.Sequential(
            torch.nn.Conv2d(n_harmonics, width, (5, 5), padding=2), torch.nn.ReLU(),
            torch.nn.Conv2d(width, width, (5, 5), padding=2), torch.nn.ReLU(),
            torch.nn.Conv2d(width, width, (3, 3), padding=1), torch.nn.ReLU(),
        )
        self.salience = torch.nn.Conv2d(width, 1, 1)
        self.blank = torch.nn.Conv2d(width, 1, (n_bins, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[2] != self.n_bins:
            raise ValueError(f"x must be shaped (batch, n_harmonics, {self.n_bins}, n_frames); "
                             f"got {tuple(x.shape)}")
        h = self.body(x)
        pitch = self.salience(h)[:, 0]                       # (B, n_bins, T)
        blank = self.blank(h)[:, 0]                          # (B, 1, T)
        logits = torch.cat([pitch, blank], dim=1)
        logp = torch.log_softmax(logits, dim=1)
        B, _, T = pitch.shape
        octaves = logp[:, :-1].reshape(B, self.n_bins // 12, 12, T)
        return torch.cat([torch.logsumexp(octaves, dim=1), logp[:, -1:]], dim=1)


# --- targets --------------------------------------------------------------------------------------

def excerpt_targets(excerpt: dict, kind: str) -> np.ndarray:
    """The training target of an excerpt for one way of training (see the module table).

    Parameters
    ----------
    excerpt : dict
        From :func:`mirlab.datasets.themes.training_excerpts`: ``n_frames``, ``pitch``,
        ``onset``/``offset`` (seconds from the excerpt's start, in the recording) and
        ``score_onset``/``score_offset`` (seconds from the excerpt's first note, in the score).
    kind : {"ctc", "strong", "linear", "softdtw"}

    Returns
    -------
    np.ndarray
        ``ctc``: the pitch classes, shape ``(n_notes,)``; ``strong``/``linear``: a class per
        frame (0-11, :data:`BLANK` where no melody note sounds), shape ``(n_frames,)``;
        ``softdtw``: one-hot columns, shape ``(13, n_notes)``.
    """
    if kind not in TARGETS:
        raise ValueError(f"kind must be one of {TARGETS}; got {kind!r}")
    pc = np.asarray(excerpt["pitch"], dtype=np.int64) % 12
    n = int(excerpt["n_frames"])
    if kind == "ctc":
        return pc
    if kind == "softdtw":
        out = np.zeros((N_CLASSES, len(pc)), dtype=np.float32)
        out[pc, np.arange(len(pc))] = 1.0
        return out
    if kind == "strong":
        on, off = np.asarray(excerpt["onset"]), np.asarray(excerpt["offset"])
    else:  # linear: score times stretched onto [first onset, last offset] of the recording
        s_on, s_off = np.asarray(excerpt["score_onset"]), np.asarray(excerpt["score_offset"])
        a, b = float(excerpt["onset"][0]), float(excerpt["offset"][-1])
        scale = (b - a) / max(float(s_off[-1] - s_on[0]), 1e-9)
        on, off = a + (s_on - s_on[0]) * scale, a + (s_off - s_on[0]) * scale
    return frame_labels(on, pc, n, excerpt["frame_rate"], offset=off, none=BLANK)


class ExcerptSampler:
    """Batches of excerpts for :func:`mirlab.nn.training.fit`.

    ``x``: the excerpts' harmonic CQTs, zero-padded to the longest, ``(B, H, F, T)``.
    ``y``: ``(targets, x_lengths, target_lengths)``, tensors; ``targets`` padded with -100
    (frame targets), concatenated (CTC) or zero-padded one-hot columns (soft-DTW).

    Parameters
    ----------
    features : list of np.ndarray
        Harmonic CQT of each recording, ``(H, F, n_frames)``.
    excerpts : list of dict
        Each with ``recording`` (index into ``features``), ``start`` (first frame),
        ``n_frames`` and what :func:`excerpt_targets` needs.
    kind : str
        One of :data:`TARGETS`.
    batch_size : int
    """

    def __init__(self, features, excerpts, kind: str, batch_size: int = 16):
        if kind not in TARGETS:
            raise ValueError(f"kind must be one of {TARGETS}; got {kind!r}")
        if not excerpts:
            raise ValueError("excerpts must not be empty")
        self.features, self.excerpts, self.kind = features, list(excerpts), kind
        self.batch_size = int(batch_size)
        self.targets = [excerpt_targets(e, kind) for e in self.excerpts]

    def __len__(self) -> int:
        return -(-len(self.excerpts) // self.batch_size)

    def batch(self, index) -> tuple:
        """The ``(x, y)`` of the excerpts at ``index``."""
        ex = [self.excerpts[i] for i in index]
        T = max(e["n_frames"] for e in ex)
        H, Fb = self.features[0].shape[:2]
        x = np.zeros((len(ex), H, Fb, T), dtype=np.float32)
        for j, e in enumerate(ex):
            x[j, :, :, :e["n_frames"]] = self.features[e["recording"]][
                :, :, e["start"]:e["start"] + e["n_frames"]]
        lengths = torch.tensor([e["n_frames"] for e in ex])
        tg = [self.targets[i] for i in index]
        t_len = torch.tensor([t.shape[-1] for t in tg])
        if self.kind == "ctc":
            y = torch.from_numpy(np.concatenate(tg))
        elif self.kind == "softdtw":
            y = torch.zeros(len(tg), N_CLASSES, int(t_len.max()))
            for j, t in enumerate(tg):
                y[j, :, :t.shape[1]] = torch.from_numpy(t)
        else:
            y = torch.full((len(tg), T), -100, dtype=torch.long)
            for j, t in enumerate(tg):
                y[j, :len(t)] = torch.from_numpy(t)
        return torch.from_numpy(x), (y, lengths, t_len)

    def batches(self, rng):
        order = rng.permutation(len(self.excerpts))
        for i in range(len(self)):
            yield self.batch(order[i * self.batch_size:(i + 1) * self.batch_size])


def make_loss(kind: str, gamma: float = SOFTDTW_GAMMA):
    """``loss(log_probs, y)`` for :func:`mirlab.nn.training.fit` with an :class:`ExcerptSampler`.

    ``ctc``: :func:`torch.nn.functional.ctc_loss` (blank 12, mean over the batch of the loss
    divided by the target length); ``strong``/``linear``: frame-wise negative log-likelihood;
    ``softdtw``: :func:`mirlab.nn.softdtw.soft_dtw_loss` between the probabilities and the
    one-hot sequence (squared Euclidean cost), divided by the excerpt's number of frames.
    """
    if kind not in TARGETS:
        raise ValueError(f"kind must be one of {TARGETS}; got {kind!r}")

    def ctc(logp, y):
        target, lengths, t_len = y
        return F.ctc_loss(logp.permute(2, 0, 1), target, lengths, t_len, blank=BLANK,
                          zero_infinity=True)

    def frames(logp, y):
        return F.nll_loss(logp, y[0], ignore_index=-100)

    def softdtw(logp, y):
        target, lengths, t_len = y
        values = soft_dtw_loss(logp.exp(), target, gamma, x_lengths=lengths.tolist(),
                               y_lengths=t_len.tolist(), reduction="none")
        return (values / lengths.to(values.dtype)).mean()

    return {"ctc": ctc, "strong": frames, "linear": frames, "softdtw": softdtw}[kind]


# --- from the network to a chroma ---------------------------------------------------------------

def log_probabilities(model: ChromaNet, H: np.ndarray, chunk: int = 2000) -> np.ndarray:
    """The network's log-probabilities for a whole recording, shape ``(13, n_frames)``."""
    H = np.asarray(H, dtype=np.float32)
    if H.ndim != 3:
        raise ValueError(f"H must be a harmonic CQT shaped (n_harmonics, n_bins, n_frames); "
                         f"got shape {H.shape}")
    model.eval()
    with torch.no_grad():
        parts = [model(torch.from_numpy(H[None, :, :, i:i + chunk]))[0]
                 for i in range(0, H.shape[2], chunk)]
    return torch.cat(parts, dim=1).numpy()


def pool_chroma(X: np.ndarray, factor: int = 2, floor: float = 1e-3) -> np.ndarray:
    """Average every ``factor`` frames, then scale each frame to unit length (L2).

    Frames whose norm is below ``floor`` become zero (count as "no information").
    """
    X = np.asarray(X, dtype=float)
    n = X.shape[1] // factor * factor
    if n == 0:
        raise ValueError(f"X must have at least factor={factor} frames; got {X.shape[1]}")
    P = X[:, :n].reshape(X.shape[0], -1, factor).mean(axis=2)
    norm = np.linalg.norm(P, axis=0)
    return np.where(norm > floor, P / np.maximum(norm, floor), 0.0)


def enhanced_chroma(model: ChromaNet, H: np.ndarray, factor: int = 2) -> np.ndarray:
    """The enhanced chroma of a recording: the 12 pitch-class probabilities (blank dropped),
    pooled over ``factor`` frames and normalised (:func:`pool_chroma`), shape (12, n)."""
    P = np.exp(log_probabilities(model, H))[:12]
    return pool_chroma(P, factor)
