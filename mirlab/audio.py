"""Digital audio I/O: loading, mono mixdown, resampling, peak normalisation, quantisation, players.

Conventions follow librosa: a signal ``y`` is a float array of shape ``(n_samples,)`` (or
``(n_channels, n_samples)`` before mixdown) with values in [-1, 1], ``sr`` its sample rate in Hz.
Taught in ``notebooks/01_audio_representations.ipynb``. Notes are turned into audio by the one
synthesiser, :mod:`mirlab.datasets.synth`.
"""

from __future__ import annotations

import numbers
from pathlib import Path

import numpy as np

from mirlab.core.checks import (
    check_audio,
    check_positive,
    check_same_sr,
    check_sr,
)
from mirlab.core.pitch import midi_to_hz

__all__ = [
    "load",
    "to_mono",
    "resample",
    "normalize_peak",
    "quantize",
    "player",
    "mix",
    "midi_to_hz",
]


def load(path, sr: int | None = 22050, mono: bool = True, offset: float = 0.0,
         duration: float | None = None):
    """Load an audio file as floating-point samples.

    Any format that libsndfile reads (WAV, FLAC, OGG, MP3 with libsndfile >= 1.1, ...) is read
    with soundfile; other formats (AAC/M4A, ...) are decoded with audioread, which uses the
    system's decoders (FFmpeg, GStreamer or Core Audio).

    Parameters
    ----------
    path : str or Path
        The file.
    sr : int or None
        Target sample rate; ``None`` keeps the file's own rate.
    mono : bool
        Mix the channels down to one.
    offset : float
        Start in seconds (>= 0).
    duration : float or None
        Length in seconds (> 0); ``None`` reads to the end.

    Returns
    -------
    y : np.ndarray, float32
        Shape ``(n_samples,)`` when ``mono``, else ``(n_channels, n_samples)``.
    sr : int
        The sample rate of ``y``.

    Raises
    ------
    ValueError
        If an argument is invalid, or the file does not exist, cannot be decoded, or holds no
        samples in the requested range.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"path must name an existing audio file; got {str(path)!r} (not found)")
    if sr is not None:
        sr = check_sr(sr)
    if not (isinstance(offset, numbers.Real) and np.isfinite(offset) and offset >= 0):
        raise ValueError(f"offset must be a finite number of seconds >= 0; got {offset!r}")
    if duration is not None:
        check_positive(duration, "duration")
    data, native_sr = _read(path, offset, duration)
    if data.shape[-1] == 0:
        raise ValueError(f"path {str(path)!r} holds no samples in the requested range")
    y = to_mono(data) if mono else data
    if sr is not None and sr != native_sr:
        y = resample(y, native_sr, sr)
    return y.astype(np.float32, copy=False), int(sr if sr is not None else native_sr)


def _read(path: Path, offset: float, duration: float | None):
    """Decode ``(n_channels, n_samples)`` float32 samples and the file's sample rate."""
    import soundfile as sf

    try:
        with sf.SoundFile(path) as f:
            start = min(int(round(offset * f.samplerate)), f.frames)
            frames = -1 if duration is None else int(round(duration * f.samplerate))
            f.seek(start)
            return f.read(frames, dtype="float32", always_2d=True).T, f.samplerate
    except (sf.LibsndfileError, RuntimeError, TypeError):
        pass
    try:
        import audioread

        with audioread.audio_open(str(path)) as f:
            native_sr, channels = f.samplerate, f.channels
            pcm = b"".join(f)
    except Exception as exc:  # noqa: BLE001 - every decoder failure gets the same message
        raise ValueError(f"path {str(path)!r} could not be decoded as audio: {exc}") from exc
    data = np.frombuffer(pcm, dtype="<i2").reshape(-1, channels).T / np.float32(32768)
    start = int(round(offset * native_sr))
    stop = None if duration is None else start + int(round(duration * native_sr))
    return data[:, start:stop].astype(np.float32), native_sr


def to_mono(y) -> np.ndarray:
    """Average the channels of ``y`` (shape ``(n_channels, n_samples)``); mono input is returned.

    Examples
    --------
    >>> to_mono(np.array([[1.0, 0.0], [0.0, 1.0]]))
    array([0.5, 0.5])
    """
    y = check_audio(y, mono=False)
    return y if y.ndim == 1 else y.mean(axis=0)


def resample(y, orig_sr: int, target_sr: int) -> np.ndarray:
    """Change the sample rate of ``y`` with a band-limited (polyphase) resampler.

    Parameters
    ----------
    y : np.ndarray
        Signal, shape ``(n_samples,)`` or ``(n_channels, n_samples)``.
    orig_sr, target_sr : int
        The current and the wanted sample rate in Hz.

    Returns
    -------
    np.ndarray
        ``round(n_samples * target_sr / orig_sr)`` samples per channel.
    """
    from math import gcd

    from scipy.signal import resample_poly

    y = check_audio(y, mono=False)
    orig_sr, target_sr = check_sr(orig_sr, "orig_sr"), check_sr(target_sr, "target_sr")
    if orig_sr == target_sr:
        return y
    n_out = int(round(y.shape[-1] * target_sr / orig_sr))
    if n_out == 0:
        raise ValueError(f"y is too short to resample: {y.shape[-1]} sample(s) at {orig_sr} Hz "
                         f"give none at {target_sr} Hz")
    g = gcd(orig_sr, target_sr)
    out = resample_poly(y, target_sr // g, orig_sr // g, axis=-1)
    return out[..., :n_out].astype(y.dtype, copy=False)


def normalize_peak(y, peak: float = 1.0) -> np.ndarray:
    """Scale ``y`` so that its largest absolute value is ``peak`` (silence stays silent).

    Not to be confused with :func:`mirlab.features.normalize`, which normalises the columns
    of a feature array. :func:`player` does the same with ``normalize_peak=True``.

    Examples
    --------
    >>> normalize_peak(np.array([0.1, -0.2]))
    array([ 0.5, -1. ])
    """
    y = check_audio(y, mono=False)
    m = np.max(np.abs(y))
    return y if m == 0 else y * (check_positive(peak, "peak") / m)


def quantize(y, n_bits: int) -> np.ndarray:
    """Round ``y`` (in [-1, 1]) to a uniform grid of ``2**n_bits`` levels, as a PCM encoder does.

    Returns floats on the quantised grid, so the quantisation error ``quantize(y, b) - y`` can
    be studied directly (its power falls by about 6 dB per bit).
    """
    y = check_audio(y, mono=False)
    is_int = isinstance(n_bits, (int, np.integer)) and not isinstance(n_bits, bool)
    if not is_int or not 1 <= n_bits <= 32:
        raise ValueError(f"n_bits must be an integer between 1 and 32; got {n_bits!r}")
    step = 2.0 / 2 ** n_bits
    return np.clip(np.round(y / step) * step, -1.0, 1.0 - step).astype(y.dtype, copy=False)


def player(y, sr: int, normalize_peak: bool = True):
    """Return an audio player for a notebook (an ``IPython.display.Audio`` object).

    Parameters
    ----------
    y : np.ndarray
        Mono signal, or ``(n_channels, n_samples)`` for stereo.
    sr : int
        Sample rate in Hz.
    normalize_peak : bool
        Let the player scale the signal to full range, as :func:`normalize_peak` does
        (``False`` keeps relative loudness).
    """
    from IPython.display import Audio

    y = check_audio(y, mono=False)
    silent = not np.any(y)  # IPython cannot scale silence to full range
    return Audio(y, rate=check_sr(sr), normalize=normalize_peak and not silent)


def mix(*tracks, gains_db=None) -> tuple[np.ndarray, int]:
    """Mix signals of the same sample rate, each with its gain, and return ``(y, sr)``.

    Parameters
    ----------
    *tracks : tuple of (np.ndarray, int)
        ``(y, sr)`` pairs; shorter signals are padded with silence at the end.
    gains_db : sequence of float, optional
        Gain of each track in dB (default 0 dB for all).

    Returns
    -------
    y : np.ndarray, float32
        The sum (not normalised: scale it with :func:`normalize_peak` if it may clip).
    sr : int
        The common sample rate.

    Examples
    --------
    >>> y, sr = mix((np.ones(3), 8000), (np.ones(2), 8000), gains_db=[0, -6.0206])
    >>> np.round(y, 3), sr
    (array([1.5, 1.5, 1. ], dtype=float32), 8000)
    """
    if not tracks:
        raise ValueError("tracks must hold at least one (y, sr) pair; got none")
    gains_db = np.zeros(len(tracks)) if gains_db is None else np.asarray(gains_db, float)
    if gains_db.shape != (len(tracks),):
        raise ValueError(f"gains_db must have one gain per track ({len(tracks)}); "
                         f"got shape {gains_db.shape}")
    sr = check_sr(tracks[0][1], "sr of track 0")
    signals = []
    for i, (y, track_sr) in enumerate(tracks):
        check_same_sr(sr, check_sr(track_sr, f"sr of track {i}"), ("track 0", f"track {i}"))
        signals.append(check_audio(y, f"y of track {i}"))
    out = np.zeros(max(len(y) for y in signals))
    for y, gain in zip(signals, gains_db, strict=True):
        out[: len(y)] += y * 10 ** (gain / 20)
    return out.astype(np.float32), sr
