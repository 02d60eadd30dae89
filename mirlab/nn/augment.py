"""Waveform augmentations for training on chunks: random gain, noise and speed.

Each augmentation is a frozen dataclass called as ``augment(x, generator) -> x`` on a batch of
chunks ``x`` ``(batch, n_samples)`` with a ``torch.Generator`` (so a seeded training run draws
the same augmentations every time). :func:`mirlab.nn.training.fit` applies one to every
training batch. Data augmentation for music tagging and its effect on robustness are studied
in :cite:`Won2020evaluation`; taught in the music tagging chapter
(``notebooks/04_music_tagging``, section 9).
"""

from __future__ import annotations

import dataclasses

import torch

__all__ = ["RandomGain", "AddNoise", "RandomSpeed", "Compose"]


@dataclasses.dataclass(frozen=True)
class RandomGain:
    """Multiply each chunk by a random gain, uniform in decibels in ``[-max_db, max_db]``."""

    max_db: float = 6.0

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        db = (torch.rand(len(x), 1, generator=generator) * 2 - 1) * self.max_db
        return x * (10.0 ** (db / 20.0)).to(x.device)


@dataclasses.dataclass(frozen=True)
class AddNoise:
    """Add white noise at a random signal-to-noise ratio in ``[min_snr_db, max_snr_db]``."""

    min_snr_db: float = 10.0
    max_snr_db: float = 30.0

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        snr = self.min_snr_db + torch.rand(len(x), 1, generator=generator) * (
            self.max_snr_db - self.min_snr_db)
        noise = torch.randn(x.shape, generator=generator).to(x.device)
        power = x.pow(2).mean(dim=1, keepdim=True).clamp(min=1e-10)
        return x + noise * torch.sqrt(power / 10.0 ** (snr.to(x.device) / 10.0))


@dataclasses.dataclass(frozen=True)
class RandomSpeed:
    """Play each chunk faster or slower by up to ``max_semitones`` (resampling).

    Resampling by a factor ``r`` shifts the pitch by ``12 log2(r)`` semitones *and* changes
    the tempo by ``r`` (a tape-speed change: the cheap stand-in for pitch shifting and time
    stretching). The result is cropped, or zero-padded at the end, to the chunk's length.
    """

    max_semitones: float = 2.0

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        n = x.shape[1]
        out = torch.zeros_like(x)
        shifts = (torch.rand(len(x), generator=generator) * 2 - 1) * self.max_semitones
        for i, semitones in enumerate(shifts.tolist()):
            length = max(2, int(round(n / 2.0 ** (semitones / 12.0))))
            y = torch.nn.functional.interpolate(x[i][None, None], size=length, mode="linear",
                                                align_corners=False)[0, 0]
            out[i, : min(n, length)] = y[:n]
        return out


@dataclasses.dataclass(frozen=True)
class Compose:
    """Apply several augmentations in order: ``Compose((RandomGain(), AddNoise()))``."""

    steps: tuple = ()

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        for step in self.steps:
            x = step(x, generator)
        return x
