"""Spectrogram taggers with plain 2-D convolutions: a linear baseline and the FCN.

Taught in the music tagging chapter.
"""

from __future__ import annotations

import torch
from torch import nn

from mirlab.nn.models.base import Tagger, conv2d_block, scaled
from mirlab.nn.models.frontend import LogMel

__all__ = ["LinearTagger", "FCN"]


class LinearTagger(Tagger):
    """Baseline: logistic regression on the mean and maximum of each log-mel band over time.

    A bag-of-frames model with no learned features: what the deep models must beat.

    Parameters
    ----------
    n_tags : int
    sr : int
    scale : float
        Unused (kept so every model takes ``n_tags, sr, scale`` first).
    n_mels : int
    n_fft, hop_length : int
        STFT of the log-mel front end (1024 / 512: 64 ms windows every 32 ms at 16 kHz).

    Examples
    --------
    >>> import torch
    >>> LinearTagger(n_tags=5)(torch.zeros(2, 16000)).shape
    torch.Size([2, 5])
    """

    def __init__(self, n_tags: int, sr: int = 16000, scale: float = 1.0, n_mels: int = 64,
                 n_fft: int = 1024, hop_length: int = 512):
        super().__init__(n_tags, sr)
        self.melspec = LogMel(sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels)
        self.norm = nn.BatchNorm1d(2 * n_mels)
        self.head = nn.Linear(2 * n_mels, n_tags)

    def forward_all(self, x):
        mel = self.melspec(x)
        stats = torch.cat([mel.mean(dim=2), mel.amax(dim=2)], dim=1)
        normed = self.norm(stats)
        return self.head(normed), [mel, normed[:, :, None]]


class FCN(Tagger):
    """Fully convolutional network on a log-mel spectrogram :cite:`Choi2016fcn`.

    Four blocks of (3x3 convolution, batch norm, ReLU, 2x2 max pooling) shrink the
    spectrogram while the channels grow; a global max pool over what is left of frequency and
    time and one linear layer give the tag logits. Choi et al. use five blocks on 96 mel bands
    of 29 s clips; this version is sized for 1-3 s chunks on a CPU.

    Parameters
    ----------
    n_tags : int
    sr : int
    scale : float
        Width multiplier (1: 16-32-64-128 channels; 4 for a GPU).
    n_mels : int
    dropout : float
    n_fft, hop_length : int
        STFT of the log-mel front end (1024 / 512: 64 ms windows every 32 ms at 16 kHz).

    Examples
    --------
    >>> import torch
    >>> FCN(n_tags=5)(torch.zeros(2, 32000)).shape
    torch.Size([2, 5])
    """

    def __init__(self, n_tags: int, sr: int = 16000, scale: float = 1.0, n_mels: int = 64,
                 dropout: float = 0.3, n_fft: int = 1024, hop_length: int = 512):
        super().__init__(n_tags, sr)
        self.melspec = LogMel(sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels)
        self.input_norm = nn.BatchNorm2d(1)
        widths = [scaled(w, scale) for w in (16, 32, 64, 128)]
        self.blocks = nn.ModuleList(
            conv2d_block(c_in, c_out, (2, 2))
            for c_in, c_out in zip([1, *widths[:-1]], widths, strict=True))
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(widths[-1], n_tags)
        self.min_samples = 15 * self.melspec.hop_length  # 16 frames

    def forward_all(self, x):
        h = self.input_norm(self.melspec(x)[:, None])     # (batch, 1, n_mels, n_frames)
        activations = []
        for block in self.blocks:
            h = block(h)
            activations.append(h)
        pooled = h.amax(dim=(2, 3))                        # global max pool
        return self.head(self.dropout(pooled)), activations
