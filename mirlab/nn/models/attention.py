"""CNN front end + self-attention (transformer encoder) back end.

Taught in the music tagging chapter.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from mirlab.nn.models.base import Tagger, scaled
from mirlab.nn.models.crnn import ConvFrontEnd
from mirlab.nn.models.frontend import LogMel

__all__ = ["AttentionTagger", "sinusoidal_positions"]


def sinusoidal_positions(n_steps: int, dim: int) -> torch.Tensor:
    """Sinusoidal position codes ``(n_steps, dim)``: sin/cos at geometric frequencies.

    ``P[t, 2i] = sin(t / 10000^(2i/dim))``, ``P[t, 2i+1] = cos(...)``.
    """
    t = torch.arange(n_steps, dtype=torch.float32)[:, None]
    freqs = torch.exp(-math.log(10000.0) * torch.arange(0, dim, 2, dtype=torch.float32) / dim)
    P = torch.zeros(n_steps, dim)
    P[:, 0::2] = torch.sin(t * freqs)
    P[:, 1::2] = torch.cos(t * freqs)[:, : dim // 2]
    return P


class AttentionTagger(Tagger):
    """Short-chunk CNN front end + transformer encoder back end :cite:`Won2019attention`.

    The CNN turns the chunk into a sequence of feature vectors (one per 128 ms); a learned
    ``[CLS]`` vector is prepended, position codes are added, and self-attention layers let
    every step look at every other one. The output at the ``[CLS]`` position is the
    summary that the linear head classifies; its attention weights show which moments
    mattered, the interpretability argument of Won et al.

    Parameters
    ----------
    n_tags : int
    sr : int
    scale : float
        Width multiplier (1: 16-32-32-32 CNN channels, model dimension 32, 2 layers, 4 heads).
    n_layers, n_heads : int
    dropout : float
    n_fft, hop_length : int
        STFT of the log-mel front end (1024 / 512: 64 ms windows every 32 ms at 16 kHz).

    Examples
    --------
    >>> import torch
    >>> AttentionTagger(n_tags=5)(torch.zeros(2, 32000)).shape
    torch.Size([2, 5])
    """

    def __init__(self, n_tags: int, sr: int = 16000, scale: float = 1.0, n_layers: int = 2,
                 n_heads: int = 4, dropout: float = 0.1, n_fft: int = 1024,
                 hop_length: int = 512):
        super().__init__(n_tags, sr)
        self.melspec = LogMel(sr, n_fft=n_fft, hop_length=hop_length, n_mels=64)
        self.input_norm = nn.BatchNorm2d(1)
        widths = [scaled(w, scale) for w in (16, 32, 32, 32)]
        self.front = ConvFrontEnd(widths)
        dim = n_heads * scaled(8, scale)
        self.project = nn.Linear(widths[-1], dim)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(dim, n_heads, dim_feedforward=2 * dim, dropout=dropout,
                                       batch_first=True)
            for _ in range(n_layers))
        self.head = nn.Linear(dim, n_tags)
        self.min_samples = 3 * self.melspec.hop_length  # 4 frames

    def _tokens(self, x):
        spec = self.input_norm(self.melspec(x)[:, None])
        seq, activations = self.front(spec)
        h = self.project(seq.transpose(1, 2))               # (batch, n_steps, dim)
        h = torch.cat([self.cls.expand(len(h), -1, -1), h], dim=1)
        return h + sinusoidal_positions(h.shape[1], h.shape[2]).to(h.device), activations

    def forward_all(self, x):
        h, activations = self._tokens(x)
        for layer in self.layers:
            h = layer(h)
            activations.append(h.transpose(1, 2))
        return self.head(h[:, 0]), activations

    def attention_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Self-attention weights of every layer, averaged over heads.

        Returns
        -------
        list of torch.Tensor, each (batch, 1 + n_steps, 1 + n_steps)
            Row ``i`` says how much position ``i`` attends to each position; position 0 is
            ``[CLS]``, so ``maps[-1][:, 0, 1:]`` shows which moments (128 ms steps) the
            summary used. Rows sum to 1.
        """
        h, _ = self._tokens(self.check_input(x))
        maps = []
        for layer in self.layers:                           # post-norm layers: attention
            _, weights = layer.self_attn(h, h, h, need_weights=True,  # reads the raw input
                                         average_attn_weights=True)
            maps.append(weights)
            h = layer(h)
        return maps
