"""Embeddings for musical similarity: a small CNN, masks per notion, batches of classes.

A metric-learning encoder maps a clip to a point on the unit sphere so that clips that are
"the same" (in one notion: passage, instrumentation, collection) lie close together
:cite:`Schroff2015facenet`. One embedding can serve several notions at once when each notion
reads it through its own *mask* (conditional similarity networks :cite:`Veit2017csn`); the
masks can be learned, or fixed to disjoint blocks of dimensions, one per notion, as in the
disentangled multidimensional metric learning of Lee et al. :cite:`Lee2020disentangled`.

=============================  ==================================================================
:class:`LogPitch`              waveforms to a log-frequency spectrogram on a semitone grid (a
                               transposition is a shift along the pitch axis)
:class:`Encoder`               front end, four convolution blocks, pooling, a linear layer: an
                               L2-normalised embedding ``(batch, dim)``
:class:`ConditionalEncoder`    one encoder and a mask per notion (``"learned"``, ``"fixed"``
                               or ``"none"``): embeddings ``(batch, n_notions, dim)``
:class:`NotionSampler`         batches of ``m`` clips from each of ``p`` classes of one notion,
                               cycling through the notions (for :func:`mirlab.nn.training.fit`)
:class:`NotionTripletLoss`     the triplet loss of the batch's notion, with its mining
=============================  ==================================================================

Taught in ``notebooks/06_metric_learning.ipynb``; needs PyTorch.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from mirlab.core.checks import check_choice, check_positive, check_positive_int, check_sr
from mirlab.features import pitch_pooling_matrix
from mirlab.nn.models.base import conv2d_block, evaluating
from mirlab.nn.models.frontend import check_waveform
from mirlab.nn.training import random_chunks
from mirlab.similarity.triplet import batch_hard_triplet_loss, semi_hard_triplet_loss

__all__ = ["LogPitch", "Encoder", "ConditionalEncoder", "NotionSampler", "NotionTripletLoss",
           "MASKS", "MINING", "embed"]

MASKS = ("learned", "fixed", "none")
MINING = ("batch_hard", "semi_hard")


class LogPitch(nn.Module):
    """Waveforms ``(batch, n_samples)`` to ``log(1 + C Y)`` on MIDI pitches ``(batch, n_pitches,
    n_frames)``.

    ``Y`` is the power spectrogram pooled into semitone bands
    (:func:`mirlab.features.pitch_pooling_matrix`, the log-frequency spectrogram of
    :func:`mirlab.features.log_frequency_spectrogram`), so a transposition by ``k`` semitones
    moves the picture by ``k`` rows: a convolution sees the same pattern.

    Parameters
    ----------
    sr : int
    n_fft, hop_length : int
        STFT (2048 / 512: 128 ms windows every 32 ms at 16 kHz; the long window resolves
        semitones down to about MIDI 40).
    pitches : (int, int)
        First and last MIDI pitch kept.
    log_c : float
        ``C`` of the compression.
    """

    def __init__(self, sr: int = 16000, n_fft: int = 2048, hop_length: int = 512,
                 pitches=(36, 107), log_c: float = 1000.0):
        super().__init__()
        self.sr = check_sr(sr)
        self.n_fft = check_positive_int(n_fft, "n_fft", minimum=2)
        self.hop_length = check_positive_int(hop_length, "hop_length")
        self.log_c = check_positive(log_c, "log_c")
        lo, hi = (int(p) for p in pitches)
        if not 0 <= lo < hi <= 127:
            raise ValueError(f"pitches must be (low, high) MIDI pitches, 0 <= low < high <= 127; "
                             f"got {pitches!r}")
        basis = pitch_pooling_matrix(sr, n_fft)[lo: hi + 1].astype(np.float32)
        self.register_buffer("basis", torch.from_numpy(basis), persistent=False)
        self.register_buffer("window", torch.hann_window(n_fft, periodic=True),
                             persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_waveform(x)
        X = torch.stft(x, self.n_fft, hop_length=self.hop_length, window=self.window,
                       center=True, pad_mode="constant", return_complex=True)
        power = X.real ** 2 + X.imag ** 2
        return torch.log1p(self.log_c * torch.matmul(self.basis, power))


class Encoder(nn.Module):
    """A small CNN that maps waveforms to L2-normalised embeddings ``(batch, dim)``.

    :class:`LogPitch` front end, batch norm, four blocks of (3x3 convolution, batch norm, ReLU,
    2x2 max pooling), then the maximum over pitch and the mean and maximum over time (so the
    embedding does not depend on where, in pitch or time, a pattern occurs), one linear layer.

    Parameters
    ----------
    dim : int
        Size of the embedding.
    sr : int
    width : int
        Channels of the first block (doubling up to ``4 * width``).
    normalise : bool
        Return unit vectors (True) or the raw outputs of the last layer.

    Examples
    --------
    >>> Encoder(dim=8)(torch.zeros(2, 16000)).shape
    torch.Size([2, 8])
    """

    def __init__(self, dim: int = 64, sr: int = 16000, width: int = 16,
                 normalise: bool = True):
        super().__init__()
        self.dim = check_positive_int(dim, "dim")
        self.sr = check_sr(sr)
        width = check_positive_int(width, "width")
        self.normalise = bool(normalise)
        self.config = {"name": "Encoder", "dim": self.dim, "sr": self.sr, "width": width}
        self.front = LogPitch(sr)
        self.input_norm = nn.BatchNorm2d(1)
        widths = [width, 2 * width, 4 * width, 4 * width]
        self.blocks = nn.Sequential(*[conv2d_block(a, b, (2, 2))
                                      for a, b in zip([1, *widths[:-1]], widths, strict=True)])
        self.head = nn.Linear(2 * widths[-1], self.dim)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The pooled convolutional features ``(batch, 2 * channels)`` (before the head)."""
        h = self.blocks(self.input_norm(self.front(x)[:, None]))  # (batch, C, pitch, time)
        h = h.amax(dim=2)
        return torch.cat([h.mean(dim=2), h.amax(dim=2)], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.head(self.features(x))
        return nn.functional.normalize(z, dim=1) if self.normalise else z


class ConditionalEncoder(nn.Module):
    """One embedding, read through a mask per notion :cite:`Veit2017csn`.

    The encoder gives ``z`` (``dim`` values, not normalised); notion ``k`` sees
    ``normalise(z * relu(m_k))``. Masks:

    - ``"learned"``: ``m_k`` are parameters (initialised near 1 with noise) trained with the
      triplets of notion ``k``, as in conditional similarity networks :cite:`Veit2017csn`;
    - ``"fixed"``: disjoint blocks of ``dim // n_notions`` dimensions, one per notion, as in
      disentangled metric learning for music :cite:`Lee2020disentangled`;
    - ``"none"``: every notion sees all of ``z`` (the unmasked embedding trained on all notions).

    Parameters
    ----------
    notions : sequence of str
        The notions' names (their order is the mask index).
    dim : int
    mask : {"learned", "fixed", "none"}
    sr, width : int
        As for :class:`Encoder`.
    random_state : int
        Seeds the masks' initial values.

    Examples
    --------
    >>> net = ConditionalEncoder(("a", "b", "c"), dim=6, mask="fixed")
    >>> net(torch.zeros(2, 16000)).shape
    torch.Size([2, 3, 6])
    >>> net.masks()[1].tolist()
    [0.0, 0.0, 1.0, 1.0, 0.0, 0.0]
    """

    def __init__(self, notions, dim: int = 64, mask: str = "learned", sr: int = 16000,
                 width: int = 16, random_state: int = 0):
        super().__init__()
        self.notions = tuple(str(n) for n in notions)
        if not self.notions:
            raise ValueError("notions must name at least one notion; got none")
        self.mask_kind = check_choice(mask, "mask", MASKS)
        self.encoder = Encoder(dim, sr, width, normalise=False)
        self.dim, self.sr = self.encoder.dim, self.encoder.sr
        self.config = {"name": "ConditionalEncoder", "notions": list(self.notions),
                       "dim": self.dim, "mask": mask, "sr": self.sr, "width": width}
        k = len(self.notions)
        if mask == "learned":
            g = torch.Generator().manual_seed(int(random_state))
            init = 0.9 + 0.1 * torch.randn(k, self.dim, generator=g)
            self.mask_weights = nn.Parameter(init)
        elif mask == "fixed":
            if self.dim < k:
                raise ValueError(f"dim must be at least the number of notions ({k}) for fixed "
                                 f"masks; got {self.dim}")
            block = torch.zeros(k, self.dim)
            edges = np.linspace(0, self.dim, k + 1).astype(int)
            for i in range(k):
                block[i, edges[i]: edges[i + 1]] = 1.0
            self.register_buffer("mask_weights", block)
        else:
            self.register_buffer("mask_weights", torch.ones(k, self.dim))

    def masks(self) -> torch.Tensor:
        """The masks ``(n_notions, dim)``, non-negative."""
        return torch.relu(self.mask_weights)

    def notion_index(self, notion) -> int:
        if isinstance(notion, str):
            if notion not in self.notions:
                raise ValueError(f"notion must be one of {self.notions}; got {notion!r}")
            return self.notions.index(notion)
        if not 0 <= int(notion) < len(self.notions):
            raise ValueError(f"notion must be an index below {len(self.notions)}; got {notion}")
        return int(notion)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.encoder(x)                                   # (batch, dim)
        masked = z[:, None, :] * self.masks()[None]           # (batch, n_notions, dim)
        return nn.functional.normalize(masked, dim=2)

    def embed_notion(self, x: torch.Tensor, notion) -> torch.Tensor:
        """The embedding of one notion (name or index), ``(batch, dim)``."""
        return self.forward(x)[:, self.notion_index(notion)]


# --- batches and loss ------------------------------------------------------------------------

class NotionSampler:
    """Batches of ``m`` clips from each of ``p`` classes, one notion per batch.

    Each batch draws a notion (in turn), ``p`` of its classes that have at least ``m`` clips,
    and ``m`` clips of each, then one random chunk of every clip; it yields
    ``(x, (labels, notion))``: the chunks, the clips' labels in that notion and the notion's
    index (a 0-d tensor). Every anchor thus has ``m - 1`` positives in its batch, as batch-hard
    mining needs :cite:`Hermans2017defense`.

    Parameters
    ----------
    audio : np.ndarray, shape (n_clips, n_samples)
    labels : dict of str -> np.ndarray, or np.ndarray
        Integer labels per notion (a single array: one notion, named ``"passage"``).
    chunk : int
        Chunk length in samples.
    p, m : int or dict of str -> int
        Classes per batch and clips per class (per notion when a dict).
    steps : int
        Batches per epoch.

    Examples
    --------
    >>> s = NotionSampler(np.zeros((12, 100), np.float32), {"a": np.arange(12) % 3}, chunk=50,
    ...                   p=2, m=3, steps=2)
    >>> x, (y, k) = next(s.batches(np.random.default_rng(0)))
    >>> tuple(x.shape), int(k), sorted(np.bincount(y.numpy()).tolist())
    ((6, 50), 0, [0, 3, 3])
    """

    def __init__(self, audio, labels, chunk: int, p=8, m=4, steps: int = 30):
        if getattr(audio, "ndim", None) != 2 or len(audio) == 0:
            raise ValueError(f"audio must be an array (n_clips, n_samples); got shape "
                             f"{getattr(audio, 'shape', None)}")
        if not isinstance(labels, dict):
            labels = {"passage": labels}
        self.audio, self.notions = audio, tuple(labels)
        self.labels = {k: np.asarray(v, dtype=np.int64) for k, v in labels.items()}
        self.chunk = check_positive_int(chunk, "chunk")
        if self.chunk > audio.shape[1]:
            raise ValueError(f"chunk must be at most {audio.shape[1]} samples; got {chunk}")
        self.steps = check_positive_int(steps, "steps")
        self.p = {k: check_positive_int(p[k] if isinstance(p, dict) else p, "p", minimum=2)
                  for k in self.notions}
        self.m = {k: check_positive_int(m[k] if isinstance(m, dict) else m, "m", minimum=2)
                  for k in self.notions}
        self.groups = {}
        for k, y in self.labels.items():
            if len(y) != len(audio):
                raise ValueError(f"labels[{k!r}] must hold one label per clip ({len(audio)}); "
                                 f"got {len(y)}")
            members = [np.flatnonzero(y == c) for c in np.unique(y)]
            self.groups[k] = [g for g in members if len(g) >= self.m[k]]
            if len(self.groups[k]) < self.p[k]:
                raise ValueError(f"p must be at most the number of classes of {k!r} with at "
                                 f"least m={self.m[k]} clips ({len(self.groups[k])}); got "
                                 f"{self.p[k]}")

    def __len__(self) -> int:
        return self.steps

    def batches(self, rng):
        for step in range(self.steps):
            k = step % len(self.notions)
            name = self.notions[k]
            groups = self.groups[name]
            chosen = rng.choice(len(groups), self.p[name], replace=False)
            index = np.concatenate([rng.choice(groups[c], self.m[name], replace=False)
                                    for c in chosen])
            x = random_chunks(self.audio, index, self.chunk, rng)
            yield (torch.from_numpy(x),
                   (torch.from_numpy(self.labels[name][index]), torch.tensor(k)))


class NotionTripletLoss(nn.Module):
    """The triplet loss of the batch's notion :cite:`Schroff2015facenet`, on its masked embedding.

    ``loss(out, (labels, notion))``: ``out`` is ``(batch, dim)`` (one embedding) or
    ``(batch, n_notions, dim)`` (:class:`ConditionalEncoder`), of which the notion's slice is
    taken. Triplets are mined in the batch: ``"batch_hard"`` (for every anchor its farthest
    positive and nearest negative :cite:`Hermans2017defense`) or ``"semi_hard"`` (negatives
    farther than the positive but within the margin :cite:`Schroff2015facenet`), on Euclidean
    distances between unit vectors. With learned masks, ``mask_l1`` times the masks' mean
    absolute value is added, as in :cite:`Veit2017csn`.

    Parameters
    ----------
    margin : float
    mining : {"batch_hard", "semi_hard"}
    model : ConditionalEncoder or None
        Whose learned masks the L1 penalty reads.
    mask_l1 : float
    """

    def __init__(self, margin: float = 0.2, mining: str = "batch_hard", model=None,
                 mask_l1: float = 0.0):
        super().__init__()
        self.margin = check_positive(margin, "margin")
        self.mining = check_choice(mining, "mining", MINING)
        self.model = [model]  # a list: not registered as a sub-module
        self.mask_l1 = float(mask_l1)

    def forward(self, out: torch.Tensor, y) -> torch.Tensor:
        labels, notion = y if isinstance(y, (tuple, list)) else (y, None)
        if out.ndim == 3:
            out = out[:, int(notion)]
        mine = batch_hard_triplet_loss if self.mining == "batch_hard" else semi_hard_triplet_loss
        loss = mine(out, labels, margin=self.margin)
        model = self.model[0]
        if self.mask_l1 > 0 and model is not None and getattr(model, "mask_kind", "") == "learned":
            loss = loss + self.mask_l1 * model.masks().abs().mean()
        return loss


# --- embedding clips -------------------------------------------------------------------------

def embed(model: nn.Module, audio, notion=None, *, batch_size: int = 64,
          device: str = "cpu") -> np.ndarray:
    """Embeddings of clips, float32 ``(n_clips, dim)`` (a notion's masked one for a
    :class:`ConditionalEncoder`).

    Parameters
    ----------
    model : Encoder or ConditionalEncoder
    audio : np.ndarray, shape (n_clips, n_samples)
    notion : str or int, optional
        Required for a :class:`ConditionalEncoder`; ``"all"`` returns every notion's
        embedding, ``(n_clips, n_notions, dim)``.
    batch_size : int
    device : str
    """
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 2:
        raise ValueError(f"audio must have shape (n_clips, n_samples); got {audio.shape}")
    if isinstance(model, ConditionalEncoder) and notion is None:
        raise ValueError(f"notion must name one of {model.notions} for a ConditionalEncoder")
    out = []
    model.to(device)
    with evaluating(model), torch.no_grad():
        for i in range(0, len(audio), batch_size):
            x = torch.from_numpy(audio[i: i + batch_size]).to(device)
            if isinstance(model, ConditionalEncoder):
                e = model(x) if notion == "all" else model.embed_notion(x, notion)
            else:
                e = model(x)
            out.append(e.cpu().numpy())
    return np.concatenate(out).astype(np.float32)
