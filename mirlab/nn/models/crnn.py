"""Convolutional recurrent network: a CNN front end and a GRU back end.

Taught in the music tagging chapter.
"""

from __future__ import annotations

from torch import nn

from mirlab.nn.models.base import Tagger, conv2d_block, scaled
from mirlab.nn.models.frontend import LogMel

__all__ = ["CRNN", "ConvFrontEnd"]


class ConvFrontEnd(nn.Module):
    """2-D conv blocks that pool the mel axis down to 1: ``(batch, C, n_frames / 4)``.

    Four blocks pool (frequency, time) by (2, 2), (4, 2), (4, 1), (2, 1): 64 mel bands
    become one row; the time resolution drops by 4 (128 ms per step at hop 512, 16 kHz).
    """

    def __init__(self, widths, n_mels: int = 64):
        super().__init__()
        if n_mels != 64:
            raise ValueError(f"n_mels must be 64 for this front end; got {n_mels}")
        pools = [(2, 2), (4, 2), (4, 1), (2, 1)]
        self.blocks = nn.ModuleList(
            conv2d_block(c_in, c_out, pool)
            for c_in, c_out, pool in zip([1, *widths[:-1]], widths, pools, strict=True))

    def forward(self, spec):
        activations = []
        h = spec
        for block in self.blocks:
            h = block(h)
            activations.append(h)
        return h.squeeze(2), activations                    # (batch, C, n_steps)


class CRNN(Tagger):
    """CNN front end + recurrent (GRU) back end :cite:`Choi2017crnn`.

    The convolutions learn local spectro-temporal patterns and pool the mel axis away;
    a two-layer GRU reads the resulting sequence and its last hidden state summarises
    the chunk, so the model can use the order of events in time.

    Parameters
    ----------
    n_tags : int
    sr : int
    scale : float
        Width multiplier (1: 16-32-32-32 channels, 32 GRU units).
    dropout : float
    n_fft, hop_length : int
        STFT of the log-mel front end (1024 / 512: 64 ms windows every 32 ms at 16 kHz).

    Examples
    --------
    >>> import torch
    >>> CRNN(n_tags=5)(torch.zeros(2, 32000)).shape
    torch.Size([2, 5])
    """

    def __init__(self, n_tags: int, sr: int = 16000, scale: float = 1.0, dropout: float = 0.3,
                 n_fft: int = 1024, hop_length: int = 512):
        super().__init__(n_tags, sr)
        self.melspec = LogMel(sr, n_fft=n_fft, hop_length=hop_length, n_mels=64)
        self.input_norm = nn.BatchNorm2d(1)
        widths = [scaled(w, scale) for w in (16, 32, 32, 32)]
        self.front = ConvFrontEnd(widths)
        hidden = scaled(32, scale)
        self.gru = nn.GRU(widths[-1], hidden, num_layers=2, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, n_tags)
        self.min_samples = 3 * self.melspec.hop_length  # 4 frames

    def forward_all(self, x):
        spec = self.input_norm(self.melspec(x)[:, None])
        seq, activations = self.front(spec)
        out, _ = self.gru(seq.transpose(1, 2))              # (batch, n_steps, hidden)
        last = out[:, -1]
        return self.head(self.dropout(last)), [*activations, out.transpose(1, 2)]
