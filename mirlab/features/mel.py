"""Mel scale, mel filterbank, mel spectrogram and MFCC.

Taught in ``notebooks/01_audio_representations.ipynb``.
"""

from __future__ import annotations

import functools

import numpy as np

from mirlab.core.checks import (
    check_positive_int,
    check_real,
    check_spectrogram,
    check_sr,
)
from mirlab.features.spectrogram import (
    check_y_or_S,
    fft_frequencies,
    power_spectrogram_frames,
    power_to_db,
)

__all__ = [
    "hz_to_mel",
    "mel_to_hz",
    "mel_frequencies",
    "mel_filterbank",
    "melspectrogram",
    "mfcc",
    "delta",
]

# Slaney's mel scale: linear below 1 kHz (3 mels per 200 Hz), logarithmic above
# (27 mels per factor 6.4 in frequency), so that 1 kHz is 15 mels.
_F_SP = 200.0 / 3
_BREAK_HZ = 1000.0
_BREAK_MEL = _BREAK_HZ / _F_SP
_LOGSTEP = np.log(6.4) / 27.0


def hz_to_mel(frequencies, htk: bool = False):
    """Convert Hz to mels.

    ``htk=True``: ``m = 2595 * log10(1 + f / 700)``. Otherwise Slaney's scale (as the
    Auditory Toolbox and librosa): ``m = 3 f / 200`` below 1 kHz and
    ``m = 15 + 27 * log(f / 1000) / log(6.4)`` above.

    Parameters
    ----------
    frequencies : array_like
        Frequencies in Hz.
    htk : bool
        Use the HTK formula instead of Slaney's.

    Returns
    -------
    np.ndarray
        Mels, equal to ``librosa.hz_to_mel``.

    Examples
    --------
    >>> hz_to_mel([0.0, 1000.0, 6400.0])
    array([ 0., 15., 42.])

    References
    ----------
    :cite:`Stevens1937mel`, :cite:`Slaney1998auditory`.
    """
    f = check_real(frequencies, "frequencies").astype(float)
    if htk:
        return 2595.0 * np.log10(1.0 + f / 700.0)
    linear = f / _F_SP
    with np.errstate(divide="ignore", invalid="ignore"):
        logarithmic = _BREAK_MEL + np.log(f / _BREAK_HZ) / _LOGSTEP
    return np.where(f >= _BREAK_HZ, logarithmic, linear)


def mel_to_hz(mels, htk: bool = False):
    """Convert mels to Hz (the inverse of :func:`hz_to_mel`).

    Parameters
    ----------
    mels : array_like
    htk : bool

    Returns
    -------
    np.ndarray
        Frequencies in Hz, equal to ``librosa.mel_to_hz``.

    Examples
    --------
    >>> mel_to_hz([0.0, 15.0, 42.0])
    array([   0., 1000., 6400.])
    """
    m = check_real(mels, "mels").astype(float)
    if htk:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    linear = _F_SP * m
    logarithmic = _BREAK_HZ * np.exp(_LOGSTEP * (m - _BREAK_MEL))
    return np.where(m >= _BREAK_MEL, logarithmic, linear)


def mel_frequencies(n_mels: int = 128, fmin: float = 0.0, fmax: float = 11025.0,
                    htk: bool = False) -> np.ndarray:
    """``n_mels`` frequencies (Hz) equally spaced on the mel scale from ``fmin`` to ``fmax``.

    Parameters
    ----------
    n_mels : int > 0
    fmin, fmax : float
        Range in Hz, ``0 <= fmin < fmax``.
    htk : bool

    Returns
    -------
    np.ndarray, shape (n_mels,)
        Equal to ``librosa.mel_frequencies``.

    Examples
    --------
    >>> mel_frequencies(3, fmin=0.0, fmax=6400.0)
    array([   0.        , 1510.60565211, 6400.        ])
    """
    n_mels = check_positive_int(n_mels, "n_mels")
    fmin, fmax = _check_band(fmin, fmax)
    mels = np.linspace(hz_to_mel(fmin, htk=htk), hz_to_mel(fmax, htk=htk), n_mels)
    return mel_to_hz(mels, htk=htk)


def _check_band(fmin, fmax):
    fmin = float(check_real(fmin, "fmin"))
    fmax = float(check_real(fmax, "fmax"))
    if fmin < 0 or fmax <= fmin:
        raise ValueError(f"need 0 <= fmin < fmax; got fmin={fmin}, fmax={fmax}")
    return fmin, fmax


@functools.lru_cache(maxsize=32)
def _mel_basis(sr, n_fft, n_mels, fmin, fmax, htk, norm):
    """The filterbank as a read-only float64 array (cached on its parameters)."""
    bins_hz = fft_frequencies(sr, n_fft)
    # n_mels + 2 edges: filter i rises from edge i to edge i + 1 and falls to edge i + 2
    edges = mel_frequencies(n_mels + 2, fmin, fmax, htk=htk)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins_hz - lower) / (centre - lower)
    falling = (upper - bins_hz) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    if norm == "slaney":
        # equal area: each triangle is divided by half its width in Hz
        weights *= 2.0 / (upper - lower)
    weights.setflags(write=False)
    return weights


def _checked_mel_basis(sr, n_fft, n_mels, fmin, fmax, htk, norm):
    """Validate the filterbank's parameters, then return the cached float64 filterbank.

    Raises when ``fmax`` lies above the Nyquist frequency ``sr / 2`` or when some filter
    covers no STFT bin at all (too many mel bands for ``n_fft``: an all-zero row).
    """
    sr = check_sr(sr)
    n_fft = check_positive_int(n_fft, "n_fft")
    n_mels = check_positive_int(n_mels, "n_mels")
    fmax = sr / 2.0 if fmax is None else fmax
    fmin, fmax = _check_band(fmin, fmax)
    if fmax > sr / 2.0:
        raise ValueError(f"fmax must be at most the Nyquist frequency sr / 2 = {sr / 2} Hz; "
                         f"got fmax={fmax} with sr={sr}")
    if norm not in ("slaney", None):
        raise ValueError(f"norm must be 'slaney' or None; got {norm!r}")
    basis = _mel_basis(sr, n_fft, n_mels, fmin, fmax, bool(htk), norm)
    empty = np.flatnonzero(basis.max(axis=1) <= 0)
    if len(empty):
        raise ValueError(
            f"n_mels={n_mels} is too many mel bands for n_fft={n_fft} at sr={sr} between "
            f"fmin={fmin} and fmax={fmax} Hz: {len(empty)} filter(s) (e.g. {int(empty[0])}) "
            "fall between two STFT bins and would be all zero; use fewer mel bands or a "
            "larger n_fft"
        )
    return basis


def mel_filterbank(sr: int, n_fft: int, n_mels: int = 128, fmin: float = 0.0,
                   fmax: float | None = None, htk: bool = False,
                   norm: str | None = "slaney", dtype=np.float32) -> np.ndarray:
    """Triangular mel filters that map an STFT's bins to ``n_mels`` mel bands.

    In words: place ``n_mels + 2`` edge frequencies equally spaced in mels between ``fmin``
    and ``fmax``; filter ``i`` is a triangle in Hz that is 0 at edge ``i``, 1 at edge ``i + 1``
    and 0 again at edge ``i + 2``, sampled at the STFT bin frequencies ``k * sr / n_fft``. With
    ``norm='slaney'`` each triangle is scaled by ``2 / (width in Hz)`` so all filters have the
    same area (wide high filters do not dominate).

    Parameters
    ----------
    sr : int > 0
    n_fft : int > 0
    n_mels : int > 0
    fmin, fmax : float
        Frequency range in Hz, ``0 <= fmin < fmax <= sr / 2`` (``fmax=None``: ``sr / 2``).
    htk : bool
        Use the HTK mel formula instead of Slaney's.
    norm : {'slaney', None}
    dtype : numpy dtype
        Output type (float32 by default, as librosa).

    Returns
    -------
    np.ndarray, shape (n_mels, 1 + n_fft // 2)
        Equal to ``librosa.filters.mel`` with the same arguments.

    Raises
    ------
    ValueError
        For an invalid argument, ``fmax > sr / 2``, or too many mel bands for ``n_fft``:
        when a triangle is narrower than the STFT's bin spacing ``sr / n_fft`` it can fall
        between two bins and be all zero. librosa only warns ("Empty filters detected") and
        returns such rows; here it is an error, since an all-zero band is never intended.

    Examples
    --------
    >>> mel_filterbank(22050, 2048, n_mels=40).shape
    (40, 1025)

    References
    ----------
    :cite:`Stevens1937mel`, :cite:`Slaney1998auditory`, :cite:`Davis1980mfcc`.
    """
    return _checked_mel_basis(sr, n_fft, n_mels, fmin, fmax, htk, norm).astype(dtype)


def melspectrogram(y=None, sr: int = 22050, S=None, n_fft: int | None = None,
                   hop_length: int = 512,
                   n_mels: int = 128, power: float = 2.0, fmin: float = 0.0,
                   fmax: float | None = None) -> np.ndarray:
    """Mel spectrogram: the STFT's ``|X| ** power`` summed through the mel filters.

    ``M[i, n] = sum_k F[i, k] * |X[k, n]| ** power`` with ``F`` from :func:`mel_filterbank`.

    Parameters
    ----------
    y : np.ndarray or None
        Signal (give ``y`` or ``S``).
    sr : int > 0
    S : np.ndarray or None, shape (1 + n_fft // 2, n_frames)
        A precomputed magnitude ** power spectrogram (real, non-negative).
    n_fft : int or None
        FFT size: 2048 when None and ``y`` is given; inferred from the height of ``S`` when
        None and ``S`` is given (if given with ``S``, ``S`` must have ``1 + n_fft // 2`` rows).
    hop_length : int
        STFT hop (Hann window, centred frames).
    n_mels : int
    power : float > 0
        Exponent of the magnitude (2: power, 1: magnitude).
    fmin, fmax : float
        Frequency range in Hz, ``0 <= fmin < fmax <= sr / 2`` (``fmax=None``: ``sr / 2``).

    Returns
    -------
    np.ndarray, shape (n_mels, n_frames)
        Equal to ``librosa.feature.melspectrogram`` with the same arguments.

    Raises
    ------
    ValueError
        For an invalid argument, as :func:`mel_filterbank` (``fmax > sr / 2``, too many mel
        bands for ``n_fft``), or an ``S`` that is complex, negative or does not have
        ``1 + n_fft // 2`` rows.

    Examples
    --------
    >>> import numpy as np
    >>> melspectrogram(y=np.ones(22050, dtype=np.float32), sr=22050).shape
    (128, 44)
    """
    P, n_fft = power_spectrogram_frames(y, S, n_fft, hop_length, power)
    basis = _checked_mel_basis(sr, n_fft, n_mels, fmin, fmax, False, "slaney")
    return (P @ basis.T.astype(P.dtype, copy=False)).T


@functools.lru_cache(maxsize=8)
def _dct_matrix(n_out, n_in):
    """Rows of the orthonormal DCT-II: ``D[q, i] = c_q cos(pi q (2 i + 1) / (2 n_in))``."""
    q = np.arange(n_out)[:, None]
    i = np.arange(n_in)[None, :]
    D = np.cos(np.pi * q * (2 * i + 1) / (2 * n_in)) * np.sqrt(2.0 / n_in)
    D[0] /= np.sqrt(2.0)
    D.setflags(write=False)
    return D


def mfcc(y=None, sr: int = 22050, S=None, n_mfcc: int = 20, n_mels: int = 128,
         n_fft: int = 2048, hop_length: int = 512) -> np.ndarray:
    """Mel-frequency cepstral coefficients.

    In words: take the mel power spectrogram in decibels (:func:`power_to_db`, ref 1, top_db 80)
    and apply the orthonormal type-II discrete cosine transform along frequency to each frame;
    keep the first ``n_mfcc`` coefficients. Coefficient 0 is the overall level, the next ones
    describe the coarse shape of the spectral envelope (timbre).

    ``mfcc[q, n] = c_q * sum_i S_db[i, n] * cos(pi * q * (2 i + 1) / (2 * n_mels))`` with
    ``c_0 = sqrt(1 / n_mels)`` and ``c_q = sqrt(2 / n_mels)`` otherwise.

    Parameters
    ----------
    y : np.ndarray or None
    sr : int
    S : np.ndarray or None, shape (n_mels, n_frames)
        A log-power mel spectrogram in dB (real; give ``y`` or ``S``).
    n_mfcc : int
    n_mels, n_fft, hop_length : int
        Parameters of the mel spectrogram computed from ``y`` (not used with ``S``).

    Returns
    -------
    np.ndarray, shape (n_mfcc, n_frames)
        Equal to ``librosa.feature.mfcc`` with the same arguments.

    Examples
    --------
    >>> import numpy as np
    >>> mfcc(y=np.random.default_rng(0).standard_normal(22050), sr=22050).shape
    (20, 44)

    References
    ----------
    :cite:`Davis1980mfcc`, :cite:`Logan2000mfcc`; taught in
    ``notebooks/01_audio_representations.ipynb``.
    """
    n_mfcc = check_positive_int(n_mfcc, "n_mfcc")
    check_y_or_S(y, S, what="a dB mel spectrogram")
    if S is None:
        S = power_to_db(melspectrogram(y=y, sr=sr, n_fft=n_fft, hop_length=hop_length,
                                       n_mels=n_mels))
    S = check_spectrogram(S, "S", nonnegative=False)
    if n_mfcc > S.shape[0]:
        raise ValueError(f"n_mfcc must be <= the number of mel bands {S.shape[0]}; got {n_mfcc}")
    D = _dct_matrix(n_mfcc, S.shape[0]).astype(S.dtype, copy=False)
    return D @ S


def delta(M, width: int = 9) -> np.ndarray:
    """First-order deltas: the local slope of each feature over ``width`` frames.

    In words: fit a straight line by least squares to the ``width`` frames centred on frame
    ``n``; its slope is ``sum_k k * M[..., n + k] / sum_k k**2`` for ``k = -h .. h``,
    ``h = width // 2``. The first and last ``h`` frames have no centred window: they take the
    slope of the first (last) complete window, which is what a line fitted to that window
    gives there (librosa's ``mode='interp'``).

    Parameters
    ----------
    M : np.ndarray, shape (..., n_frames)
        Features over time (e.g. MFCCs ``(n_mfcc, n_frames)`` or a batch of them).
    width : int
        Odd number of frames, ``3 <= width <= n_frames``.

    Returns
    -------
    np.ndarray
        Same shape and dtype as ``M``; equal to ``librosa.feature.delta(M, width=width)``
        (tested).

    Examples
    --------
    >>> delta(np.array([0.0, 1.0, 4.0, 9.0, 16.0]), width=3)
    array([2., 2., 4., 6., 6.])
    """
    M = np.asarray(M)
    width = check_positive_int(width, "width", minimum=3)
    if width % 2 == 0 or M.ndim == 0 or width > M.shape[-1]:
        raise ValueError(f"width must be odd and at most the number of frames "
                         f"({M.shape[-1] if M.ndim else 0}); got width={width}")
    h = width // 2
    k = np.arange(-h, h + 1, dtype=M.dtype)
    windows = np.lib.stride_tricks.sliding_window_view(M, width, axis=-1)
    slope = windows @ (k / (k @ k))  # one slope per complete window
    first, last = slope[..., :1], slope[..., -1:]
    return np.concatenate([np.repeat(first, h, axis=-1), slope,
                           np.repeat(last, h, axis=-1)], axis=-1)
