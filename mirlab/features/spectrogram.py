"""Short-time Fourier transform from scratch, with its time/frequency helpers and decibels.

Taught in ``notebooks/01_audio_representations.ipynb``.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.fft

from mirlab.core.checks import (
    check_audio,
    check_choice,
    check_positive,
    check_positive_int,
    check_real,
    check_spectrogram,
)

__all__ = [
    "frame",
    "get_window",
    "stft",
    "fft_frequencies",
    "frames_to_time",
    "time_to_frames",
    "power_to_db",
    "amplitude_to_db",
    "log_compress",
    "stft_frames_major",
    "check_y_or_S",
    "power_spectrogram_frames",
]

# Periodic cosine-sum windows: w[m] = sum_j (-1)^j a_j cos(2 pi j m / n), m = 0..n-1.
_COSINE_WINDOWS = {
    "hann": (0.5, 0.5),
    "hamming": (0.54, 0.46),
    "blackman": (0.42, 0.5, 0.08),
    "boxcar": (1.0,),
    "rectangular": (1.0,),
}
_PAD_MODES = ("constant", "reflect", "edge")
_BLOCK = 256  # frames per FFT call in stft


def frame(y, frame_length: int, hop_length: int) -> np.ndarray:
    """Cut a signal into overlapping frames (a view, no copy, no padding).

    Frame ``n`` holds the samples ``y[n * hop_length : n * hop_length + frame_length]``; only
    complete frames are kept, so there are ``1 + (len(y) - frame_length) // hop_length``.

    Parameters
    ----------
    y : np.ndarray, shape (n_samples,)
        The signal.
    frame_length : int > 0
        Samples per frame.
    hop_length : int > 0
        Samples between the starts of consecutive frames.

    Returns
    -------
    np.ndarray, shape (frame_length, n_frames)
        A read-only strided view of ``y``: column ``n`` is frame ``n``.

    Raises
    ------
    ValueError
        If ``y`` is invalid, a length is not a positive integer, or ``y`` is shorter than one
        frame.

    Examples
    --------
    >>> import numpy as np
    >>> frame(np.arange(6.0), frame_length=4, hop_length=2)
    array([[0., 2.],
           [1., 3.],
           [2., 4.],
           [3., 5.]])

    References
    ----------
    Taught in ``notebooks/01_audio_representations.ipynb`` :cite:`Mueller2021FMP` (ch. 2).
    """
    y = check_audio(y)
    frame_length = check_positive_int(frame_length, "frame_length")
    hop_length = check_positive_int(hop_length, "hop_length")
    if len(y) < frame_length:
        raise ValueError(
            f"y must hold at least frame_length={frame_length} samples; got {len(y)} samples"
        )
    windows = np.lib.stride_tricks.sliding_window_view(y, frame_length)  # (n_starts, length)
    return windows[::hop_length].T


def get_window(window: str, n: int) -> np.ndarray:
    """A periodic window of length ``n`` (the form used for spectral analysis).

    The windows are cosine sums ``w[m] = a0 - a1 cos(2 pi m / n) + a2 cos(4 pi m / n)``,
    ``m = 0 .. n-1``: Hann (0.5, 0.5), Hamming (0.54, 0.46), Blackman (0.42, 0.5, 0.08) and the
    rectangular window (1). Dividing by ``n`` rather than ``n - 1`` makes the window periodic:
    shifted copies at hop ``n / 2`` (Hann) add up to a constant.

    Parameters
    ----------
    window : {'hann', 'hamming', 'blackman', 'boxcar', 'rectangular'}
        The window's name.
    n : int > 0
        Its length in samples.

    Returns
    -------
    np.ndarray, shape (n,), float64
        Equal to ``scipy.signal.get_window(window, n, fftbins=True)``.

    Examples
    --------
    >>> get_window("hann", 4)
    array([0. , 0.5, 1. , 0.5])

    References
    ----------
    :cite:`Harris1978windows`; taught in ``notebooks/01_audio_representations.ipynb``.
    """
    check_choice(window, "window", _COSINE_WINDOWS)
    n = check_positive_int(n, "n")
    if n == 1:
        return np.ones(1)  # a one-sample window passes the sample (as scipy)
    phase = 2.0 * np.pi * np.arange(n) / n
    w = np.zeros(n)
    for j, a in enumerate(_COSINE_WINDOWS[window]):
        w += (-1) ** j * a * np.cos(j * phase)
    return w


def _check_stft_args(y, n_fft, hop_length, win_length, window, center, pad_mode):
    y = check_audio(y)
    n_fft = check_positive_int(n_fft, "n_fft")
    hop_length = check_positive_int(hop_length, "hop_length")
    win_length = n_fft if win_length is None else check_positive_int(win_length, "win_length")
    if win_length > n_fft:
        raise ValueError(f"win_length must be <= n_fft={n_fft}; got win_length={win_length}")
    check_choice(window, "window", _COSINE_WINDOWS)
    check_choice(pad_mode, "pad_mode", _PAD_MODES)
    if not center and n_fft > len(y):
        raise ValueError(
            f"n_fft={n_fft} is longer than y ({len(y)} samples) and center=False leaves no "
            "complete frame; use a shorter n_fft or center=True"
        )
    return y, n_fft, hop_length, win_length


def _padded_window(window: str, win_length: int, n_fft: int, dtype) -> np.ndarray:
    """The analysis window, zero-padded on both sides to ``n_fft`` (centred)."""
    w = np.zeros(n_fft)
    start = (n_fft - win_length) // 2
    w[start : start + win_length] = get_window(window, win_length)
    return w.astype(dtype)


def stft_frames_major(y, n_fft: int = 2048, hop_length: int = 512,
                      win_length: int | None = None, window: str = "hann", center: bool = True,
                      pad_mode: str = "constant") -> np.ndarray:
    """The STFT with frames as rows (:func:`stft` returns its transpose, a view).

    Keeping frames as rows lets the FFT run along contiguous memory and lets the mel and
    chroma filterbanks (and the CQT's kernels) be applied by one matrix product.

    Parameters
    ----------
    y, n_fft, hop_length, win_length, window, center, pad_mode
        As :func:`stft`.

    Returns
    -------
    np.ndarray, complex, C-contiguous, shape (n_frames, 1 + n_fft // 2)

    Examples
    --------
    >>> stft_frames_major(np.zeros(2048), n_fft=512, hop_length=256).shape
    (9, 257)
    """
    y, n_fft, hop_length, win_length = _check_stft_args(
        y, n_fft, hop_length, win_length, window, center, pad_mode
    )
    if center:
        y = np.pad(y, n_fft // 2, mode=pad_mode)
    frames = frame(y, n_fft, hop_length).T  # (n_frames, n_fft), strided view
    w = _padded_window(window, win_length, n_fft, y.dtype)
    X = np.empty((len(frames), 1 + n_fft // 2), dtype=np.result_type(y.dtype, np.complex64))
    # window and transform a block of frames at a time: the windowed copy stays in the CPU
    # cache and long signals need no second full-size array
    for start in range(0, len(frames), _BLOCK):
        block = frames[start : start + _BLOCK] * w
        X[start : start + len(block)] = scipy.fft.rfft(block, axis=-1, workers=1)
    return X


def stft(y, n_fft: int = 2048, hop_length: int = 512, win_length: int | None = None,
         window: str = "hann", center: bool = True, pad_mode: str = "constant") -> np.ndarray:
    """Short-time Fourier transform: the spectrum of each windowed frame.

    In words: pad ``n_fft // 2`` samples on both sides of ``y`` (if ``center``), so that frame
    ``n`` is centred on sample ``n * hop_length``; cut frames of ``n_fft`` samples every
    ``hop_length`` samples; multiply each frame by the window ``w``; take the discrete Fourier
    transform of each windowed frame and keep the non-negative frequencies:

    ``X[k, n] = sum_m w[m] * y[n * hop_length + m] * exp(-2j * pi * k * m / n_fft)``,
    ``k = 0 .. n_fft // 2``.

    Parameters
    ----------
    y : np.ndarray, shape (n_samples,)
        The signal (float32 gives complex64, float64 gives complex128, as librosa).
    n_fft : int > 0
        Frame length and FFT size in samples.
    hop_length : int > 0
        Samples between frames.
    win_length : int <= n_fft or None
        Window length; the window is zero-padded (centred) to ``n_fft``. ``None``: ``n_fft``.
    window : {'hann', 'hamming', 'blackman', 'boxcar', 'rectangular'}
        Periodic window (see :func:`get_window`).
    center : bool
        Centre the frames on ``n * hop_length`` by padding the signal.
    pad_mode : {'constant', 'reflect', 'edge'}
        How to pad when ``center`` (zeros by default, as librosa 0.10+).

    Returns
    -------
    np.ndarray, complex, shape (1 + n_fft // 2, n_frames)
        Equal to ``librosa.stft`` with the same arguments. With ``center``,
        ``n_frames = 1 + len(y) // hop_length``.

    Raises
    ------
    ValueError
        For an empty or non-finite ``y``, a non-positive ``n_fft``/``hop_length``, a
        ``win_length`` above ``n_fft``, an unknown window or pad mode, or ``n_fft > len(y)``
        with ``center=False``.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.sin(2 * np.pi * 440 * np.arange(22050) / 22050)
    >>> X = stft(y, n_fft=2048, hop_length=512)
    >>> X.shape
    (1025, 44)
    >>> int(np.argmax(np.abs(X[:, 10])))  # 440 Hz is bin 440 * 2048 / 22050 = 40.9
    41

    References
    ----------
    :cite:`Allen1977stft`, :cite:`Harris1978windows`, :cite:`Mueller2021FMP` (sec. 2.5),
    :cite:`McFee2015librosa`; taught in ``notebooks/01_audio_representations.ipynb``.
    """
    return stft_frames_major(y, n_fft, hop_length, win_length, window, center, pad_mode).T


def fft_frequencies(sr: float = 22050, n_fft: int = 2048) -> np.ndarray:
    """Centre frequency in Hz of each STFT bin: ``k * sr / n_fft`` for ``k = 0 .. n_fft // 2``.

    Parameters
    ----------
    sr : float > 0
        Sample rate in Hz.
    n_fft : int > 0
        FFT size.

    Returns
    -------
    np.ndarray, shape (1 + n_fft // 2,)
        Equal to ``librosa.fft_frequencies(sr=sr, n_fft=n_fft)``.

    Examples
    --------
    >>> fft_frequencies(sr=8, n_fft=8)
    array([0., 1., 2., 3., 4.])
    """
    check_positive(sr, "sr")
    n_fft = check_positive_int(n_fft, "n_fft")
    return np.arange(1 + n_fft // 2) * (sr / n_fft)


def frames_to_time(frames, sr: float = 22050, hop_length: int = 512):
    """Time in seconds of frame indices: frame ``n`` is centred at ``n * hop_length / sr``.

    Parameters
    ----------
    frames : array_like of int or float
        Frame indices.
    sr : float > 0
    hop_length : int > 0

    Returns
    -------
    np.ndarray
        Times in seconds, equal to ``librosa.frames_to_time`` (centred frames, as
        :func:`stft` with ``center=True``).

    Examples
    --------
    >>> frames_to_time([0, 1, 43], sr=22050, hop_length=512)
    array([0.        , 0.02321995, 0.99845805])
    """
    frames = check_real(frames, "frames")
    check_positive(sr, "sr")
    hop_length = check_positive_int(hop_length, "hop_length")
    return frames * (hop_length / sr)


def time_to_frames(times, sr: float = 22050, hop_length: int = 512):
    """Index of the frame whose centre is nearest to each time (in seconds).

    Frames are centred: frame ``n`` covers ``[(n - 1/2) * hop, (n + 1/2) * hop)`` seconds with
    ``hop = hop_length / sr``, so ``n = floor(t / hop + 1/2)``. This is the inverse of
    :func:`frames_to_time`. (``librosa.time_to_frames`` instead floors ``t / hop``, which
    returns the last frame centred at or before ``t``; the two differ by half a hop.)

    Parameters
    ----------
    times : array_like
        Times in seconds.
    sr : float > 0
    hop_length : int > 0

    Returns
    -------
    np.ndarray of int
        Frame indices, same shape as ``times``.

    Examples
    --------
    >>> time_to_frames([0.0, 0.011, 0.013, 1.0], sr=22050, hop_length=512)
    array([ 0,  0,  1, 43])
    """
    times = check_real(times, "times")
    check_positive(sr, "sr")
    hop_length = check_positive_int(hop_length, "hop_length")
    return np.floor(times * (sr / hop_length) + 0.5).astype(int)


def power_to_db(S, ref=1.0, amin: float = 1e-10, top_db: float | None = 80.0) -> np.ndarray:
    """Convert a power spectrogram to decibels.

    ``S_db = 10 * log10(max(amin, S)) - 10 * log10(max(amin, ref))``, then every value below
    ``max(S_db) - top_db`` is raised to that floor (unless ``top_db`` is None).

    Parameters
    ----------
    S : np.ndarray, real, non-negative
        Power values (e.g. ``np.abs(X) ** 2``).
    ref : float or callable
        Reference power (0 dB); a callable such as ``np.max`` is applied to ``S``.
    amin : float > 0
        Floor that avoids ``log(0)``.
    top_db : float > 0 or None
        Dynamic range kept below the peak.

    Returns
    -------
    np.ndarray
        Same shape as ``S``; equal to ``librosa.power_to_db``.

    Examples
    --------
    >>> power_to_db(np.array([1.0, 0.1, 1e-12]))
    array([  0., -10., -80.])
    """
    S = check_spectrogram(S, ndim=None)
    amin = check_positive(amin, "amin")
    ref_value = _reference(ref, S)
    if top_db is not None:
        top_db = check_positive(top_db, "top_db")
    S_db = 10.0 * np.log10(np.maximum(amin, S))
    S_db -= 10.0 * np.log10(max(amin, ref_value))
    if top_db is not None:
        S_db = np.maximum(S_db, S_db.max() - top_db)
    return S_db


def amplitude_to_db(S, ref=1.0, amin: float = 1e-5, top_db: float | None = 80.0) -> np.ndarray:
    """Convert magnitudes to decibels: ``20 * log10(|S| / ref)`` with floor ``amin``.

    Complex input is allowed (its magnitude is used). Equivalent to
    ``power_to_db(|S| ** 2, ref ** 2, amin ** 2, top_db)`` and equal to
    ``librosa.amplitude_to_db``.

    Parameters
    ----------
    S : np.ndarray
        Magnitudes (or a complex STFT).
    ref : float or callable
        Reference magnitude (0 dB), or a callable such as ``np.max`` applied to ``|S|``.
    amin : float > 0
        Floor on the magnitude.
    top_db : float > 0 or None
        Dynamic range kept below the peak.

    Returns
    -------
    np.ndarray
        Decibels, same shape as ``S``.

    Examples
    --------
    >>> amplitude_to_db(np.array([1.0, 0.1, 0.0]))
    array([  0., -20., -80.])
    """
    S = np.asarray(S)
    if S.dtype != object and np.issubdtype(S.dtype, np.number):
        S = np.abs(S)
    S = check_spectrogram(S, ndim=None)
    amin = check_positive(amin, "amin")
    ref_value = _reference(ref, S)
    return power_to_db(np.square(S), ref=ref_value**2, amin=amin**2, top_db=top_db)


def _reference(ref, S) -> float:
    """The reference value: ``ref(S)`` for a callable such as ``np.max``, else ``|ref|``."""
    value = ref(S) if callable(ref) else ref
    if not isinstance(value, numbers.Real | np.number) or not np.isfinite(value):
        raise ValueError(f"ref must be a finite number or a callable; got {value!r}")
    return float(abs(value))


def log_compress(S, gamma: float = 1.0) -> np.ndarray:
    """Logarithmic compression ``log(1 + gamma * S)`` of a magnitude or power spectrogram.

    Small values grow roughly linearly (``gamma * S``), large ones logarithmically, so a large
    ``gamma`` brings out weak partials; unlike decibels it maps 0 to 0 without a floor.

    Parameters
    ----------
    S : np.ndarray, real, non-negative
    gamma : float > 0
        Compression strength.

    Returns
    -------
    np.ndarray
        Same shape as ``S``, non-negative.

    Examples
    --------
    >>> log_compress(np.array([0.0, 1.0]), gamma=np.e - 1)
    array([0., 1.])

    References
    ----------
    :cite:`Mueller2021FMP` (sec. 3.1.2); taught in ``notebooks/01_audio_representations.ipynb``.
    """
    S = check_spectrogram(S, ndim=None)
    gamma = check_positive(gamma, "gamma")
    return np.log1p(gamma * S)


# ------------------------------------------------- shared input handling of the features


def check_y_or_S(y, S, name: str = "S", what: str = "a spectrogram") -> None:
    """Raise unless exactly one of ``y`` (a signal) and ``S`` (a precomputed input) is given.

    The features accept either the signal or what they would compute from it (as librosa's
    ``y=None, S=None``); :mod:`~mirlab.features.mel`, :mod:`~mirlab.features.pitch` and
    :mod:`~mirlab.features.chroma` share this check.

    Parameters
    ----------
    y, S : np.ndarray or None
    name, what : str
        How the error message calls ``S`` (e.g. ``"C"``, ``"a CQT"``).

    Raises
    ------
    ValueError
        If both or neither are given.

    Examples
    --------
    >>> check_y_or_S(None, None)
    Traceback (most recent call last):
    ...
    ValueError: give exactly one of y (a signal) or S (a spectrogram); got neither
    """
    if (y is None) == (S is None):
        raise ValueError(f"give exactly one of y (a signal) or {name} ({what}); got "
                         f"{'both' if y is not None else 'neither'}")


def power_spectrogram_frames(y=None, S=None, n_fft: int | None = None, hop_length: int = 512,
                             power: float = 2.0, default_n_fft: int = 2048):
    """A power spectrogram with frames as rows, from a signal or from a given spectrogram.

    The input step of :func:`~mirlab.features.melspectrogram`,
    :func:`~mirlab.features.chroma_stft` and :func:`~mirlab.features.log_frequency_spectrogram`:
    from ``y``, ``|X| ** power`` of the Hann-windowed centred :func:`stft` with ``n_fft``
    (``default_n_fft`` when None); from ``S``, ``S`` itself, whose height ``1 + n_fft // 2``
    gives ``n_fft`` (when ``n_fft`` is given too, the two must agree).

    Parameters
    ----------
    y : np.ndarray or None
        Signal (give ``y`` or ``S``).
    S : np.ndarray or None, shape (1 + n_fft // 2, n_frames)
        A power spectrogram (real, non-negative).
    n_fft : int or None
    hop_length : int
        Samples between frames (``y`` only).
    power : float > 0
        Exponent of the magnitude (``y`` only).
    default_n_fft : int
        ``n_fft`` when None and ``y`` is given.

    Returns
    -------
    P : np.ndarray, shape (n_frames, 1 + n_fft // 2)
        Frames-major (the transpose of a librosa spectrogram), so that a filterbank ``W`` of
        shape ``(n_features, 1 + n_fft // 2)`` applies as ``(P @ W.T).T``.
    n_fft : int

    Examples
    --------
    >>> P, n_fft = power_spectrogram_frames(y=np.ones(4096), n_fft=1024, hop_length=512)
    >>> P.shape, n_fft
    ((9, 513), 1024)
    """
    check_y_or_S(y, S)
    if S is not None:
        S = check_spectrogram(S, "S", min_rows=2)
        if n_fft is None:
            return S.T, 2 * (S.shape[0] - 1)
        n_fft = check_positive_int(n_fft, "n_fft")
        if S.shape[0] != 1 + n_fft // 2:
            raise ValueError(
                f"S must have 1 + n_fft // 2 = {1 + n_fft // 2} rows for n_fft={n_fft}; got "
                f"shape {S.shape} (omit n_fft to infer it from S)"
            )
        return S.T, n_fft
    n_fft = default_n_fft if n_fft is None else n_fft
    power = check_positive(power, "power")
    X = stft_frames_major(y, n_fft, hop_length)
    P = np.square(X.real) + np.square(X.imag)  # |X|^2 without a square root
    if power != 2.0:
        P **= power / 2.0
    return P, n_fft
