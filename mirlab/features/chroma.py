"""Chroma features (from STFT, pitch pooling and CQT), CENS, and column normalisation.

Taught in ``notebooks/01_audio_representations.ipynb``.
"""

from __future__ import annotations

import functools
import numbers

import numpy as np
import scipy.ndimage

from mirlab.core.checks import (
    check_finite_number,
    check_matrix,
    check_positive,
    check_positive_int,
    check_spectrogram,
    check_sr,
)
from mirlab.features.pitch import C1_HZ, cqt, cqt_cutoff, cqt_frequencies, hz_to_midi
from mirlab.features.spectrogram import check_y_or_S, power_spectrogram_frames

__all__ = [
    "normalize",
    "chroma_from_pitch",
    "chroma_filterbank",
    "chroma_stft",
    "cq_to_chroma",
    "chroma_cqt",
    "chroma_cens",
]

_CENS_STEPS = (0.4, 0.2, 0.1, 0.05)  # quantisation thresholds of Mueller et al. (2005)


def normalize(X, norm=2, axis: int = 0, threshold: float | None = None) -> np.ndarray:
    """Scale each column (``axis=0``) of ``X`` to unit norm.

    The norm is ``max |x|`` (``norm=np.inf``), ``sum |x|`` (1), ``sqrt(sum x^2)`` (2) or
    ``(sum |x|^p)^(1/p)``; ``norm=None`` returns ``X`` unchanged. Columns whose norm is below
    ``threshold`` (default: the smallest positive float of ``X``'s type) are left as they are
    (silence stays silence).

    Parameters
    ----------
    X : np.ndarray
        Finite values, e.g. a chromagram ``(12, n_frames)``.
    norm : float or None
        ``np.inf``, a positive number or None.
    axis : int
        The axis along which the norm is taken (0: each column).
    threshold : float > 0 or None
        Smallest norm that is scaled.

    Returns
    -------
    np.ndarray
        Equal to ``librosa.util.normalize(X, norm=norm, axis=axis)``.

    Examples
    --------
    >>> normalize(np.array([[3.0, 0.0], [4.0, 0.0]]))
    array([[0.6, 0. ],
           [0.8, 0. ]])
    """
    X = check_matrix(X, "X", ndim=max(np.ndim(X), 1))
    if (isinstance(axis, bool) or not isinstance(axis, int | np.integer)
            or not -X.ndim <= axis < X.ndim):
        raise ValueError(f"axis must be an integer in [{-X.ndim}, {X.ndim - 1}] for X of shape "
                         f"{X.shape}; got {axis!r}")
    if norm is None:
        return X
    if not isinstance(norm, numbers.Real) or isinstance(norm, bool) or not norm > 0:
        raise ValueError(f"norm must be np.inf, a positive number or None; got {norm!r}")
    if not np.issubdtype(X.dtype, np.floating):
        X = X.astype(float)
    if threshold is None:
        threshold = np.finfo(X.dtype).tiny
    threshold = check_positive(threshold, "threshold")
    mag = np.abs(X)
    if norm == np.inf:
        length = mag.max(axis=axis, keepdims=True)
    elif norm == 1:
        length = mag.sum(axis=axis, keepdims=True)
    elif norm == 2:
        length = np.sqrt(np.sum(mag**2, axis=axis, keepdims=True))
    else:
        length = np.sum(mag**norm, axis=axis, keepdims=True) ** (1.0 / norm)
    length = np.where(length < threshold, 1.0, length).astype(X.dtype)
    return X / length


def chroma_from_pitch(S_pitch) -> np.ndarray:
    """Chroma by pitch pooling: add up all pitches of the same pitch class.

    ``chroma[c, n] = sum of S_pitch[p, n] over p = 0..127 with p mod 12 == c`` (``c = 0`` is
    C, as MIDI pitch 60 is C4).

    Parameters
    ----------
    S_pitch : np.ndarray, shape (128, n_frames)
        Energy per MIDI pitch, e.g. :func:`~mirlab.features.log_frequency_spectrogram`.

    Returns
    -------
    np.ndarray, shape (12, n_frames)
        Equal to ``libfmp.c3.compute_chromagram(S_pitch)`` (no normalisation).

    Examples
    --------
    >>> S = np.zeros((128, 1))
    >>> S[[48, 60, 64], 0] = 1.0  # C3, C4, E4
    >>> chroma_from_pitch(S)[:, 0]
    array([2., 0., 0., 0., 1., 0., 0., 0., 0., 0., 0., 0.])

    References
    ----------
    :cite:`Mueller2021FMP` (sec. 3.1.2), :cite:`Bartsch2005chroma`.
    """
    S_pitch = check_matrix(S_pitch, "S_pitch")
    if S_pitch.shape[0] != 128:
        raise ValueError(
            f"S_pitch must have shape (128, n_frames) (one row per MIDI pitch); "
            f"got shape {S_pitch.shape}"
        )
    # pad to 132 rows = 11 octaves of 12, then sum the octaves
    padded = np.concatenate([S_pitch, np.zeros((4, S_pitch.shape[1]), S_pitch.dtype)])
    return padded.reshape(11, 12, -1).sum(axis=0)


@functools.lru_cache(maxsize=16)
def _chroma_basis(sr, n_fft, tuning, ctroct, octwidth):
    # position of every FFT bin k = 1 .. n_fft - 1 (as librosa, beyond sr / 2 too; cut below)
    # in semitones above A0 (MIDI 21, 27.5 Hz), shifted by the tuning
    semis = hz_to_midi(np.arange(1, n_fft) * (sr / n_fft)) - 21.0 - tuning
    semis = np.concatenate([[semis[0] - 18.0], semis])  # DC: 1.5 octaves below bin 1
    width = np.append(np.maximum(np.diff(semis), 1.0), 1.0)  # bin width in semitones
    # signed distance (wrapped to [-6, 6)) from each bin to each pitch class, A = 0
    dist = np.remainder(semis[None, :] - np.arange(12)[:, None] + 6.0 + 120.0, 12.0) - 6.0
    W = np.exp(-0.5 * (2.0 * dist / width) ** 2)
    W /= np.sqrt(np.sum(W**2, axis=0, keepdims=True))
    if octwidth is not None:
        W *= np.exp(-0.5 * ((semis / 12.0 - ctroct) / octwidth) ** 2)
    W = np.roll(W, -3, axis=0)[:, : 1 + n_fft // 2]  # start at C instead of A
    W = np.ascontiguousarray(W)
    W.setflags(write=False)
    return W


def chroma_filterbank(sr: int, n_fft: int, tuning: float = 0.0, ctroct: float = 5.0,
                      octwidth: float | None = 2.0) -> np.ndarray:
    """Soft assignment of STFT bins to the 12 pitch classes (C, C#, ..., B).

    In words: bin ``k`` sits ``s_k = 12 log2(k sr / (n_fft * 27.5 Hz))`` semitones above A0.
    Its weight for pitch class ``c`` is a Gaussian of the circular distance ``d`` (in
    semitones, wrapped to [-6, 6)) between ``s_k`` and ``c``, with a standard deviation of half
    the bin's width in semitones (at least half a semitone), so low bins that span several
    semitones spread over several classes. Each bin's weights are scaled to unit L2 norm, then
    multiplied by a Gaussian over octaves centred at octave ``ctroct`` above A0 (A5 = 880 Hz)
    with width ``octwidth`` octaves, which de-emphasises very low and very high bins.

    Parameters
    ----------
    sr : int
    n_fft : int >= 2
    tuning : float
        Deviation from A440 in fractions of a semitone.
    ctroct, octwidth : float
        Centre (octaves above A0) and width (octaves) of the octave weighting; ``octwidth=None``
        weights all octaves equally.

    Returns
    -------
    np.ndarray, shape (12, 1 + n_fft // 2)
        Equal to ``librosa.filters.chroma(sr=sr, n_fft=n_fft, tuning=tuning)``.

    Examples
    --------
    >>> W = chroma_filterbank(22050, 4096)
    >>> k = round(261.63 * 4096 / 22050)  # the bin of C4
    >>> int(np.argmax(W[:, k]))
    0

    References
    ----------
    :cite:`Fujishima1999chroma`, :cite:`Bartsch2005chroma`, :cite:`McFee2015librosa`.
    """
    sr = check_sr(sr)
    n_fft = check_positive_int(n_fft, "n_fft", minimum=2)
    tuning = check_finite_number(tuning, "tuning")
    ctroct = check_finite_number(ctroct, "ctroct")
    if octwidth is not None:
        octwidth = check_finite_number(check_positive(octwidth, "octwidth"), "octwidth")
    return _chroma_basis(sr, n_fft, tuning, ctroct, octwidth).copy()


def chroma_stft(y=None, sr: int = 22050, S=None, n_fft: int | None = None,
                hop_length: int = 512, tuning: float = 0.0, norm=np.inf) -> np.ndarray:
    """Chromagram from the power spectrogram through :func:`chroma_filterbank`.

    ``chroma[c, n] = sum_k W[c, k] * |X[k, n]| ** 2``, then each frame is normalised
    (:func:`normalize`, by default to a maximum of 1).

    Parameters
    ----------
    y : np.ndarray or None
        Signal (give ``y`` or ``S``).
    sr : int
    S : np.ndarray or None, shape (1 + n_fft // 2, n_frames)
        A power spectrogram (real, non-negative).
    n_fft : int or None
        FFT size: 2048 when None and ``y`` is given; inferred from the height of ``S`` when
        None and ``S`` is given (if given with ``S``, ``S`` must have ``1 + n_fft // 2`` rows).
    hop_length : int
    tuning : float
        Deviation from A440 in fractions of a semitone (librosa estimates it when given None;
        here it is always explicit).
    norm : float or None
        Column norm (see :func:`normalize`).

    Returns
    -------
    np.ndarray, shape (12, n_frames)
        Equal to ``librosa.feature.chroma_stft(..., tuning=tuning)``.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.sin(2 * np.pi * 261.63 * np.arange(22050) / 22050)  # C4
    >>> int(np.argmax(chroma_stft(y=y, sr=22050)[:, 20]))
    0

    References
    ----------
    :cite:`Fujishima1999chroma`, :cite:`Bartsch2005chroma`, :cite:`Mueller2021FMP`
    (sec. 3.1.2); taught in ``notebooks/01_audio_representations.ipynb``.
    """
    sr = check_sr(sr)
    tuning = check_finite_number(tuning, "tuning")
    P, n_fft = power_spectrogram_frames(y, S, n_fft, hop_length, 2.0)
    W = _chroma_basis(sr, n_fft, tuning, 5.0, 2.0)
    raw = (P @ W.T.astype(P.dtype, copy=False)).T
    return normalize(raw, norm=norm, axis=0)


@functools.lru_cache(maxsize=16)
def _cq_to_chroma(n_input, bins_per_octave, fmin):
    per_class = bins_per_octave // 12
    # one octave: class c collects the per_class bins centred on it (half of them below)
    octave = np.repeat(np.eye(12), per_class, axis=1)
    octave = np.roll(octave, -(per_class // 2), axis=1)
    n_octaves = -(-n_input // bins_per_octave)
    M = np.tile(octave, n_octaves)[:, :n_input]
    # rotate rows so that row 0 is C whatever pitch class fmin has
    M = np.roll(M, int(np.round(np.mod(hz_to_midi(fmin), 12))), axis=0)
    M.setflags(write=False)
    return M


def cq_to_chroma(n_input: int, bins_per_octave: int = 12, fmin: float | None = None):
    """0/1 matrix that adds up the CQT bins of each pitch class (C first).

    With ``bins_per_octave = 12 b``, pitch class ``c`` collects in every octave the ``b`` bins
    centred on it.

    Parameters
    ----------
    n_input : int > 0
        Number of CQT bins.
    bins_per_octave : int
        A multiple of 12.
    fmin : float or None
        Frequency of the first CQT bin (default C1); its pitch class decides the rotation.

    Returns
    -------
    np.ndarray, shape (12, n_input)
        Equal to ``librosa.filters.cq_to_chroma(n_input, bins_per_octave=..., fmin=...)``.

    Examples
    --------
    >>> M = cq_to_chroma(36, bins_per_octave=36)
    >>> [int(j) for j in np.flatnonzero(M[0])]  # C takes C and the bins 1/3 semitone around it
    [0, 1, 35]
    """
    n_input = check_positive_int(n_input, "n_input")
    bins_per_octave = _check_bins_per_octave(bins_per_octave)
    return _cq_to_chroma(n_input, bins_per_octave, _check_fmin(fmin)).copy()


def _check_bins_per_octave(bins_per_octave):
    bins_per_octave = check_positive_int(bins_per_octave, "bins_per_octave")
    if bins_per_octave % 12:
        raise ValueError(f"bins_per_octave must be a multiple of 12; got {bins_per_octave}")
    return bins_per_octave


def _check_fmin(fmin):
    """The lowest CQT frequency: C1 when None, else a finite positive number."""
    if fmin is None:
        return C1_HZ
    return check_finite_number(check_positive(fmin, "fmin"), "fmin")


def chroma_cqt(y=None, sr: int = 22050, C=None, hop_length: int = 512, fmin: float | None = None,
               n_octaves: int = 7, bins_per_octave: int = 36, norm=np.inf) -> np.ndarray:
    """Chromagram from a constant-Q magnitude spectrogram.

    ``chroma[c, n] = sum of |C[k, n]| over the CQT bins k of pitch class c``
    (:func:`cq_to_chroma`), then each frame is normalised.

    Parameters
    ----------
    y : np.ndarray or None
        Signal (give ``y`` or ``C``).
    sr : int
    C : np.ndarray or None, shape (n_bins, n_frames)
        A CQT magnitude (or complex CQT) starting at ``fmin`` with ``bins_per_octave`` bins.
    hop_length : int
    fmin : float or None
        Lowest CQT frequency (default C1).
    n_octaves, bins_per_octave : int
        The CQT computed from ``y`` has ``n_octaves * bins_per_octave`` bins.
    norm : float or None

    Returns
    -------
    np.ndarray, shape (12, n_frames)
        Close to ``librosa.feature.chroma_cqt(..., tuning=0.0)`` (see the tests).

    Raises
    ------
    ValueError
        For invalid arguments, or when the CQT computed from ``y`` would reach above the
        Nyquist frequency ``sr / 2`` (at low sample rates: reduce ``n_octaves`` or ``fmin``).

    Examples
    --------
    >>> t = np.arange(22050) / 22050
    >>> y = sum(np.sin(2 * np.pi * f * t) for f in (261.63, 329.63, 392.00))  # C major
    >>> chroma = chroma_cqt(y=y, sr=22050)
    >>> [int(c) for c in np.sort(np.argsort(chroma[:, 20])[-3:])]
    [0, 4, 7]

    References
    ----------
    :cite:`Bartsch2005chroma`, :cite:`Brown1991cqt`, :cite:`Mueller2021FMP` (sec. 3.1.2).
    """
    bins_per_octave = _check_bins_per_octave(bins_per_octave)
    fmin = _check_fmin(fmin)
    check_y_or_S(y, C, "C", "a CQT")
    if C is None:
        sr = check_sr(sr)
        n_octaves = check_positive_int(n_octaves, "n_octaves")
        n_bins = n_octaves * bins_per_octave
        cqt_cutoff(cqt_frequencies(n_bins, fmin, bins_per_octave), sr, bins_per_octave,
                   remedy="reduce n_octaves or fmin")
        C = np.abs(cqt(y, sr=sr, hop_length=hop_length, fmin=fmin, n_bins=n_bins,
                       bins_per_octave=bins_per_octave))
    else:
        C = np.asarray(C)
        C = check_spectrogram(np.abs(C) if np.iscomplexobj(C) else C, "C")
    M = _cq_to_chroma(C.shape[0], bins_per_octave, fmin).astype(C.dtype)
    return normalize(M @ C, norm=norm, axis=0)


def chroma_cens(y=None, sr: int = 22050, C=None, hop_length: int = 512,
                win_len_smooth: int | None = 41, fmin: float | None = None, n_octaves: int = 7,
                bins_per_octave: int = 36, norm=2, downsample: int = 1) -> np.ndarray:
    """Chroma Energy Normalised Statistics (CENS): coarse, robust chroma for matching.

    In words: take the CQT chroma (:func:`chroma_cqt`, no normalisation) and scale each frame
    to sum 1; quantise every value ``v`` to ``0.25 * #{t in (0.4, 0.2, 0.1, 0.05) : v > t}``
    (a rough logarithmic scale from 0 to 1); smooth each pitch class over time with a Hann
    window of ``win_len_smooth`` frames; keep every ``downsample``-th frame; and normalise
    each frame (L2 by default).

    Parameters
    ----------
    y, sr, C, hop_length, fmin, n_octaves, bins_per_octave
        As :func:`chroma_cqt`.
    win_len_smooth : int > 0 or None
        Smoothing length in frames (None: no smoothing).
    norm : float or None
        Final column norm.
    downsample : int > 0
        Keep every ``downsample``-th frame after smoothing (the feature rate divided by
        ``downsample``, as Müller et al.; 1 keeps all frames, as librosa).

    Returns
    -------
    np.ndarray, shape (12, ceil(n_frames / downsample))
        With ``downsample=1``, close to ``librosa.feature.chroma_cens(..., tuning=0.0)``.

    Examples
    --------
    >>> y = np.random.default_rng(0).standard_normal(44100)
    >>> chroma_cens(y=y, sr=22050, downsample=10).shape
    (12, 9)

    References
    ----------
    :cite:`Mueller2005cens`, :cite:`Mueller2021FMP` (sec. 7.2.2); taught in
    ``notebooks/01_audio_representations.ipynb``.
    """
    downsample = check_positive_int(downsample, "downsample")
    if win_len_smooth is not None:
        win_len_smooth = check_positive_int(win_len_smooth, "win_len_smooth")
    chroma = chroma_cqt(y=y, sr=sr, C=C, hop_length=hop_length, fmin=fmin, n_octaves=n_octaves,
                        bins_per_octave=bins_per_octave, norm=None)
    chroma = normalize(chroma, norm=1, axis=0)
    quantised = sum(0.25 * (chroma > step) for step in _CENS_STEPS).astype(chroma.dtype)
    if win_len_smooth:
        # symmetric Hann window with win_len_smooth non-zero taps (zeros at both ends)
        n = win_len_smooth + 2
        win = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / (n - 1))
        win /= win.sum()
        quantised = scipy.ndimage.convolve1d(quantised, win, axis=1, mode="constant")
    return normalize(quantised[:, ::downsample], norm=norm, axis=0)
