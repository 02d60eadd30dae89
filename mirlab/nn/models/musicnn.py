"""Musicnn-style tagger: musically motivated filter shapes on a log-mel spectrogram.

Taught in the music tagging chapter.
"""

from __future__ import annotations

import torch
from torch import nn

from mirlab.nn.models.base import Tagger, scaled
from mirlab.nn.models.frontend import LogMel

__all__ = ["Musicnn"]


class _ShapedFilters(nn.Module):
    """Convolutions of one shape ``(height, width)`` followed by a max over frequency.

    ``average=True`` first averages the spectrogram over frequency (an energy envelope), as
    the temporal filters of musicnn do.
    """

    def __init__(self, channels: int, height: int, width: int, average: bool = False):
        super().__init__()
        self.average = average
        self.conv = nn.Conv2d(1, channels, (height, width), padding=(0, width // 2), bias=False)
        self.norm = nn.BatchNorm2d(channels)

    def forward(self, spec, n_frames):
        if self.average:
            spec = spec.mean(dim=2, keepdim=True)
        h = torch.relu(self.norm(self.conv(spec)))[..., :n_frames]
        return h.amax(dim=2)                                 # (batch, channels, n_frames)


class Musicnn(Tagger):
    """Front end with musically shaped filters, 1-D mid end, temporal pooling back end.

    Following Pons et al. :cite:`Pons2018musicnn`: *vertical* (timbral) filters span a large
    part of the mel axis and a few frames, so they respond to spectral envelopes wherever
    they sit in pitch; *horizontal* (temporal) filters span one band and many frames, so they
    respond to rhythm and onsets (applied, as in musicnn, to the spectrogram averaged over
    frequency). Each branch is max-pooled over frequency, the branches
    are stacked as channels and processed by residual 1-D convolutions over time; the back
    end pools mean and max over time and applies two dense layers. Input: ``log(1 + 10^4 M)``
    mel spectrogram, as in the paper.

    Parameters
    ----------
    n_tags : int
    sr : int
    scale : float
        Width multiplier (1: 16 filters per front-end shape, 32-channel mid end).
    n_mels : int
    dropout : float
    n_fft, hop_length : int
        STFT of the log-mel front end (1024 / 512: 64 ms windows every 32 ms at 16 kHz).

    Examples
    --------
    >>> import torch
    >>> Musicnn(n_tags=5)(torch.zeros(2, 32000)).shape
    torch.Size([2, 5])
    """

    def __init__(self, n_tags: int, sr: int = 16000, scale: float = 1.0, n_mels: int = 64,
                 dropout: float = 0.3, n_fft: int = 1024, hop_length: int = 512):
        super().__init__(n_tags, sr)
        self.melspec = LogMel(sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels,
                              scale="log1p")
        self.input_norm = nn.BatchNorm2d(1)
        f, m = scaled(16, scale), scaled(32, scale)
        self.front = nn.ModuleList([
            _ShapedFilters(f, int(0.9 * n_mels), 7),   # timbral: most of the mel axis
            _ShapedFilters(f, int(0.4 * n_mels), 3),   # timbral: narrower envelopes
            _ShapedFilters(f, 1, 17, average=True),    # temporal: ~0.5 s at hop 512, 16 kHz
            _ShapedFilters(f, 1, 33, average=True),    # temporal: ~1 s
        ])
        self.mid = nn.ModuleList([
            nn.Sequential(nn.Conv1d(c_in, m, 7, padding=3), nn.BatchNorm1d(m), nn.ReLU())
            for c_in in (4 * f, m, m)])
        features = 4 * f + 3 * m
        self.back = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * features, m), nn.ReLU(),
                                  nn.Dropout(dropout))
        self.head = nn.Linear(m, n_tags)
        self.min_samples = 2 * self.melspec.hop_length

    def forward_all(self, x):
        spec = self.input_norm(self.melspec(x)[:, None])
        n_frames = spec.shape[-1]
        h = torch.cat([branch(spec, n_frames) for branch in self.front], dim=1)
        stages = [h]
        for i, layer in enumerate(self.mid):
            h = layer(h) + (h if i > 0 else 0)              # residual after the first layer
            stages.append(h)
        stacked = torch.cat(stages, dim=1)                  # all mid-end outputs, as musicnn
        pooled = torch.cat([stacked.mean(dim=2), stacked.amax(dim=2)], dim=1)
        dense = self.back(pooled)
        return self.head(dense), [*stages, dense[:, :, None]]
