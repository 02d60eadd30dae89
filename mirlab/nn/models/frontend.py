"""Log-mel front end in PyTorch: the first layer of the spectrogram-based taggers.

The module computes exactly what :func:`mirlab.features.melspectrogram` followed by
:func:`mirlab.features.power_to_db` (or :func:`mirlab.features.log_compress`) computes with
numpy, but on a batch of waveforms, on the model's device, inside the autograd graph. The
tests hold it against ``mirlab.features`` and librosa.

Taught in the music tagging chapter.
"""

from __future__ import annotations

import torch
from torch import nn

from mirlab.core.checks import check_choice, check_positive, check_positive_int, check_sr
from mirlab.features import mel_filterbank

__all__ = ["LogMel", "check_waveform"]


def check_waveform(x, name: str = "x") -> torch.Tensor:
    """Validate a batch of waveforms: a finite float tensor shaped ``(batch, n_samples)``.

    Raises
    ------
    ValueError
        Naming ``name``, the expected shape and what was received.
    """
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of shape (batch, n_samples); "
                         f"got {type(x).__name__}")
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{name} must have shape (batch, n_samples) with batch, n_samples > 0; "
                         f"got shape {tuple(x.shape)} (use x[None] for a single clip)")
    if not torch.is_floating_point(x):
        raise ValueError(f"{name} must be floating point (float32); got dtype {x.dtype}")
    return x


class LogMel(nn.Module):
    """Waveforms ``(batch, n_samples)`` to log-mel spectrograms ``(batch, n_mels, n_frames)``.

    Steps: centred STFT (zero padding of ``n_fft // 2``, periodic Hann window), power
    ``|X| ** 2``, Slaney mel filterbank (:func:`mirlab.features.mel_filterbank`), then a
    logarithm: decibels ``10 log10(max(amin, M))`` (optionally clipped ``top_db`` below each
    example's maximum, as :func:`mirlab.features.power_to_db`), or ``log(1 + C M)`` as in
    Musicnn :cite:`Pons2018musicnn`.

    Parameters
    ----------
    sr : int
        Sample rate of the input waveforms.
    n_fft, hop_length : int
        STFT size and hop (samples).
    n_mels : int
        Number of mel bands.
    fmin, fmax : float
        Frequency range of the filterbank (``fmax=None``: ``sr / 2``).
    scale : {'db', 'log1p'}
        The compression.
    top_db : float or None
        With ``scale='db'``: clip each example at ``top_db`` below its maximum.
    log_c : float
        ``C`` of ``log(1 + C M)``.

    Examples
    --------
    >>> import torch
    >>> LogMel(sr=16000, n_fft=1024, hop_length=512, n_mels=48)(torch.zeros(2, 16000)).shape
    torch.Size([2, 48, 32])
    """

    def __init__(self, sr: int = 16000, n_fft: int = 1024, hop_length: int = 512,
                 n_mels: int = 64, fmin: float = 0.0, fmax: float | None = None,
                 scale: str = "db", top_db: float | None = None, log_c: float = 10000.0):
        super().__init__()
        self.sr = check_sr(sr)
        self.n_fft = check_positive_int(n_fft, "n_fft", minimum=2)
        self.hop_length = check_positive_int(hop_length, "hop_length")
        self.scale = check_choice(scale, "scale", {"db", "log1p"})
        self.top_db = None if top_db is None else check_positive(top_db, "top_db")
        self.log_c = check_positive(log_c, "log_c")
        basis = mel_filterbank(sr, n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
        self.register_buffer("mel_basis", torch.from_numpy(basis), persistent=False)
        self.register_buffer("window", torch.hann_window(n_fft, periodic=True),
                             persistent=False)

    @property
    def n_mels(self) -> int:
        """Number of mel bands (rows of the output)."""
        return self.mel_basis.shape[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_waveform(x)
        X = torch.stft(x, self.n_fft, hop_length=self.hop_length, window=self.window,
                       center=True, pad_mode="constant", return_complex=True)
        power = X.real ** 2 + X.imag ** 2                  # (batch, 1 + n_fft // 2, n_frames)
        mel = torch.matmul(self.mel_basis, power)          # (batch, n_mels, n_frames)
        if self.scale == "log1p":
            return torch.log1p(self.log_c * mel)
        db = 10.0 * torch.log10(torch.clamp(mel, min=1e-10))
        if self.top_db is not None:
            peak = db.amax(dim=(1, 2), keepdim=True)
            db = torch.maximum(db, peak - self.top_db)
        return db
