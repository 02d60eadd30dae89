"""Sample-level CNN on raw waveforms, with optional squeeze-and-excitation blocks.

Taught in the music tagging chapter.
"""

from __future__ import annotations

from torch import nn

from mirlab.nn.models.base import Tagger, scaled

__all__ = ["SampleCNN", "SqueezeExcitation"]


class SqueezeExcitation(nn.Module):
    """Re-weight channels by a gate computed from their means over time :cite:`Kim2018samplese`.

    ``s = sigmoid(W2 relu(W1 mean_t(x)))``, output ``x * s``; ``W1`` maps the ``C``
    channels to ``ratio * C`` hidden units.
    """

    def __init__(self, channels: int, ratio: float = 2.0):
        super().__init__()
        hidden = max(1, int(channels * ratio))
        self.gate = nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(),
                                  nn.Linear(hidden, channels), nn.Sigmoid())

    def forward(self, x):
        return x * self.gate(x.mean(dim=2))[:, :, None]


class _SampleBlock(nn.Module):
    """Conv1d (size 3), batch norm, ReLU, optional squeeze-excitation, max pool by 3."""

    def __init__(self, c_in: int, c_out: int, se: bool):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv1d(c_in, c_out, 3, padding=1, bias=False),
                                  nn.BatchNorm1d(c_out), nn.ReLU())
        self.se = SqueezeExcitation(c_out) if se else nn.Identity()
        self.pool = nn.MaxPool1d(3)

    def forward(self, x):
        return self.pool(self.se(self.conv(x)))


class SampleCNN(Tagger):
    """Sample-level CNN: tiny filters on the raw waveform :cite:`Lee2017samplecnn`.

    A strided convolution of 3 samples (hop 3) replaces the spectrogram; then blocks of
    (convolution of size 3, batch norm, ReLU, max pool by 3) each divide the time resolution
    by 3 so the receptive field grows geometrically. With ``se=True`` every block re-weights
    its channels with a squeeze-and-excitation gate :cite:`Kim2018samplese`. A global max
    pool and a linear layer give the logits. The paper uses 9 blocks on 59,049 samples
    (2.7 s at 22 kHz); here 7 blocks accept inputs of at least 3^8 = 6,561 samples.

    Parameters
    ----------
    n_tags : int
    sr : int
    scale : float
        Width multiplier (1: 16 channels, doubling twice to 64).
    se : bool
        Add squeeze-and-excitation gates.
    n_blocks : int
    dropout : float

    Examples
    --------
    >>> import torch
    >>> SampleCNN(n_tags=5)(torch.zeros(2, 32000)).shape
    torch.Size([2, 5])
    """

    def __init__(self, n_tags: int, sr: int = 16000, scale: float = 1.0, se: bool = False,
                 n_blocks: int = 7, dropout: float = 0.3):
        super().__init__(n_tags, sr)
        base = scaled(16, scale)
        widths = [base * (1 if i < 2 else 2 if i < 5 else 4) for i in range(n_blocks)]
        self.stem = nn.Sequential(nn.Conv1d(1, base, 3, stride=3, bias=False),
                                  nn.BatchNorm1d(base), nn.ReLU())
        self.blocks = nn.ModuleList(
            _SampleBlock(c_in, c_out, se)
            for c_in, c_out in zip([base, *widths[:-1]], widths, strict=True))
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(widths[-1], n_tags)
        self.min_samples = 3 ** (n_blocks + 1)

    def forward_all(self, x):
        h = self.stem(x[:, None])                           # (batch, channels, n_samples / 3)
        activations = [h]
        for block in self.blocks:
            h = block(h)
            activations.append(h)
        pooled = h.amax(dim=2)
        return self.head(self.dropout(pooled)), activations


def samplecnn_se(n_tags: int, sr: int = 16000, scale: float = 1.0, **kwargs) -> SampleCNN:
    """A :class:`SampleCNN` with squeeze-and-excitation blocks :cite:`Kim2018samplese`."""
    return SampleCNN(n_tags, sr=sr, scale=scale, se=True, **kwargs)

