"""Digital audio: loading, mono mixdown, resampling, validation, players and a fallback synthesiser.

Conventions follow librosa: a signal ``y`` is a float array of shape ``(n_samples,)`` (or
``(n_channels, n_samples)`` before mixdown) with values in [-1, 1], ``sr`` its sample rate in Hz.
Taught in ``notebooks/01_audio_representations.ipynb``.
"""

from __future__ import annotations

import numbers
from pathlib import Path

import numpy as np

from mirlab.core.checks import (
    check_audio,
    check_positive,
    check_positive_int,
    check_same_sr,
    check_sr,
)
from mirlab.core.pitch import midi_to_hz

__all__ = [
    "load",
    "to_mono",
    "resample",
    "normalize",
    "quantize",
    "player",
    "synthesize_notes",
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


def normalize(y, peak: float = 1.0) -> np.ndarray:
    """Scale ``y`` so that its largest absolute value is ``peak`` (silence stays silent)."""
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
        Let the player scale the signal to full range (``False`` keeps relative loudness).
    """
    from IPython.display import Audio

    y = check_audio(y, mono=False)
    silent = not np.any(y)  # IPython cannot scale silence to full range
    return Audio(y, rate=check_sr(sr), normalize=normalize_peak and not silent)


# --- fallback synthesiser -------------------------------------------------------------------
# Envelope (attack s, decay time constant s or None for sustain, release s) and the exponent of
# the partial amplitudes k**-rolloff per General-MIDI family (program // 8).
_FAMILY_SOUND = {
    0: (0.005, 0.6, 0.08, 1.5),   # piano: percussive, decaying
    1: (0.002, 0.3, 0.05, 1.8),   # chromatic percussion
    2: (0.01, None, 0.05, 1.0),   # organ: sustained, bright
    3: (0.005, 0.8, 0.10, 1.6),   # guitar
    4: (0.02, 1.0, 0.10, 2.0),    # bass
    5: (0.08, None, 0.15, 1.2),   # strings: slow bow attack
    6: (0.10, None, 0.20, 1.4),   # ensemble / choir
    7: (0.04, None, 0.08, 0.9),   # brass
    8: (0.03, None, 0.08, 1.1),   # reed
    9: (0.04, None, 0.08, 2.5),   # pipe / flute: few partials
}


def synthesize_notes(onsets, offsets, pitches, velocities=None, programs=None, sr: int = 22050,
                     n_partials: int = 12, duration: float | None = None) -> np.ndarray:
    """Render notes with harmonic partials and a per-instrument-family envelope.

    This is the documented fallback when FluidSynth is not installed: each note is a sum of
    ``n_partials`` harmonics with amplitudes ``k**-rolloff`` and an attack / decay / release
    envelope chosen by the General-MIDI family of its program (piano decays, strings swell,
    organ sustains; families without an entry sound like the piano). It is far from a sampled
    instrument, but keeps onsets, pitches and chords exact, so every chapter still runs.

    Parameters
    ----------
    onsets, offsets : array_like, shape (n_notes,)
        Note start and end times in seconds (onsets >= 0, offsets >= onsets).
    pitches : array_like, shape (n_notes,)
        MIDI pitch numbers.
    velocities : array_like, optional
        MIDI velocities 1..127 (default 90).
    programs : array_like, optional
        General-MIDI program numbers 0..127 (default 0, piano).
    sr : int
        Sample rate in Hz.
    n_partials : int
        Number of harmonics per note (those at or above the Nyquist frequency are dropped; a
        note with none left is silent).
    duration : float, optional
        Length of the output in seconds (default: last offset plus 0.3 s for the release).

    Returns
    -------
    np.ndarray, float32, shape (n_samples,)
        The mix, peak-normalised to 0.9 (silence if no note is audible).

    Examples
    --------
    >>> y = synthesize_notes([0.0, 0.5], [0.5, 1.0], [60, 64], programs=[0, 40], sr=8000)
    >>> y.shape, round(float(abs(y).max()), 6)
    ((10400,), 0.9)
    """
    sr = check_sr(sr)
    n_partials = check_positive_int(n_partials, "n_partials")
    notes = _check_notes(onsets, offsets, pitches, velocities, programs)
    if duration is None:
        duration = notes[1].max() + 0.3 if len(notes[0]) else 0.0
    elif not (isinstance(duration, numbers.Real) and np.isfinite(duration) and duration >= 0):
        raise ValueError(f"duration must be a finite number of seconds >= 0; got {duration!r}")
    out = np.zeros(max(int(np.ceil(duration * sr)), 1))
    for note in zip(*notes, strict=True):
        _add_note(out, *note, sr=sr, n_partials=n_partials)
    peak = np.max(np.abs(out))
    return (out * (0.9 / peak) if peak > 0 else out).astype(np.float32)


def _check_notes(onsets, offsets, pitches, velocities, programs):
    """Validate note arrays; return them as five equal-length float/int arrays."""
    cols = {"onsets": onsets, "offsets": offsets, "pitches": pitches}
    cols = {k: np.atleast_1d(np.asarray(v, dtype=float)) for k, v in cols.items()}
    n = len(cols["onsets"])
    cols["velocities"] = np.full(n, 90.0) if velocities is None else velocities
    cols["programs"] = np.zeros(n) if programs is None else programs
    for name, values in cols.items():
        values = np.atleast_1d(np.asarray(values, dtype=float))
        if values.ndim != 1 or len(values) != n:
            raise ValueError(f"{name} must have one entry per note ({n}); got shape {values.shape}")
        if not np.all(np.isfinite(values)):
            raise ValueError(f"{name} must be finite; got NaN or infinite values")
        cols[name] = values
    if np.any(cols["onsets"] < 0):
        raise ValueError(f"onsets must be >= 0 s; got minimum {cols['onsets'].min():.3g}")
    if np.any(cols["offsets"] < cols["onsets"]):
        raise ValueError("offsets must not precede onsets; got a note with offset < onset")
    if np.any((cols["programs"] < 0) | (cols["programs"] > 127)):
        raise ValueError("programs must be General-MIDI program numbers in 0..127")
    cols["programs"] = cols["programs"].astype(int)
    return tuple(cols.values())


def _add_note(out, onset, offset, pitch, velocity, program, sr, n_partials):
    """Add one synthesised note to ``out`` in place."""
    attack, decay, release, rolloff = _FAMILY_SOUND.get(program // 8, _FAMILY_SOUND[0])
    f0 = midi_to_hz(pitch)
    k = np.arange(1, n_partials + 1)
    k = k[k * f0 < sr / 2]
    start = int(round(onset * sr))
    if len(k) == 0 or start >= len(out):
        return  # inaudible at this sample rate, or after the end
    length = offset - onset
    n = min(int(round((length + release) * sr)), len(out) - start)
    t = np.arange(n) / sr
    env = np.minimum(t / attack, 1.0)
    if decay is not None:
        env *= np.exp(-np.maximum(t - attack, 0) / decay)
    tail = t > length
    env[tail] *= np.exp(-(t[tail] - length) / (release / 4))
    amps = k ** -rolloff
    partials = amps @ np.sin(2 * np.pi * f0 * np.outer(k, t)) / amps.sum()
    out[start:start + n] += (velocity / 127.0) * env * partials


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
        The sum (not normalised: scale it with :func:`normalize` if it may clip).
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
