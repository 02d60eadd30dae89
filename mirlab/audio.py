"""Digital audio: loading, mono mixdown, resampling, validation, players and a fallback synthesiser.

Conventions follow librosa: a signal ``y`` is a float array of shape ``(n_samples,)`` (or
``(n_channels, n_samples)`` before mixdown) with values in [-1, 1], ``sr`` its sample rate in Hz.
Taught in ``notebooks/01_audio_representations.ipynb``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mirlab._checks import (
    check_audio,
    check_matrix,
    check_positive,
    check_sr,
)

__all__ = [
    "load",
    "to_mono",
    "resample",
    "normalize",
    "quantize",
    "player",
    "synthesize_notes",
    "midi_to_hz",
]


def load(path, sr: int | None = 22050, mono: bool = True, offset: float = 0.0,
         duration: float | None = None):
    """Load an audio file as floating-point samples.

    Any format that soundfile reads (WAV, FLAC, OGG, ...) is read directly; other formats
    (MP3, ...) go through librosa's fallback decoders.

    Parameters
    ----------
    path : str or Path
        The file.
    sr : int or None
        Target sample rate; ``None`` keeps the file's own rate.
    mono : bool
        Mix the channels down to one.
    offset, duration : float
        Start and length in seconds (``duration=None`` reads to the end).

    Returns
    -------
    y : np.ndarray, float32
        Shape ``(n_samples,)`` when ``mono``, else ``(n_channels, n_samples)``.
    sr : int
        The sample rate of ``y``.

    Raises
    ------
    ValueError
        If the file does not exist, cannot be decoded, or is empty.
    """
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"path must name an existing audio file; got {str(path)!r} (not found)")
    if sr is not None:
        sr = check_sr(sr)
    try:
        with sf.SoundFile(path) as f:
            native_sr = f.samplerate
            start = int(round(offset * native_sr))
            frames = -1 if duration is None else int(round(duration * native_sr))
            f.seek(min(start, f.frames))
            data = f.read(frames, dtype="float32", always_2d=True).T
    except (sf.LibsndfileError, RuntimeError, TypeError):
        import warnings

        import librosa

        try:
            with warnings.catch_warnings():  # we already know soundfile could not read it
                warnings.filterwarnings("ignore", message="PySoundFile failed")
                data, native_sr = librosa.load(path, sr=None, mono=False, offset=offset,
                                               duration=duration)
        except Exception as exc:  # noqa: BLE001 - report any decoder failure the same way
            raise ValueError(f"path {str(path)!r} could not be decoded as audio: {exc}") from exc
        data = np.atleast_2d(data).astype(np.float32)
    if data.shape[-1] == 0:
        raise ValueError(f"path {str(path)!r} holds no samples in the requested range")
    y = to_mono(data) if mono else data
    if sr is not None and sr != native_sr:
        y = resample(y, native_sr, sr)
    return y.astype(np.float32, copy=False), int(sr if sr is not None else native_sr)


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
    g = gcd(orig_sr, target_sr)
    out = resample_poly(y, target_sr // g, orig_sr // g, axis=-1)
    n_out = int(round(y.shape[-1] * target_sr / orig_sr))
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


def midi_to_hz(pitch) -> np.ndarray:
    """Equal-temperament frequency of MIDI pitch numbers (A4 = 69 = 440 Hz)."""
    return 440.0 * 2.0 ** ((np.asarray(pitch, dtype=float) - 69.0) / 12.0)


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
    organ sustains). It is far from a sampled instrument, but keeps onsets, pitches and
    chords exact, so every chapter still runs.

    Parameters
    ----------
    onsets, offsets : array_like, shape (n_notes,)
        Note start and end times in seconds.
    pitches : array_like, shape (n_notes,)
        MIDI pitch numbers.
    velocities : array_like, optional
        MIDI velocities 1..127 (default 90).
    programs : array_like, optional
        General-MIDI program numbers 0..127 (default 0, piano).
    sr : int
        Sample rate in Hz.
    n_partials : int
        Number of harmonics per note (those above the Nyquist frequency are dropped).
    duration : float, optional
        Length of the output in seconds (default: last offset plus the release).

    Returns
    -------
    np.ndarray, float32, shape (n_samples,)
        The mix, peak-normalised to 0.9 (silence if there are no notes).
    """
    sr = check_sr(sr)
    onsets = np.atleast_1d(np.asarray(onsets, dtype=float))
    offsets = np.atleast_1d(np.asarray(offsets, dtype=float))
    pitches = np.atleast_1d(np.asarray(pitches, dtype=float))
    n = len(onsets)
    if not (len(offsets) == len(pitches) == n):
        raise ValueError(
            "onsets, offsets and pitches must have the same length; got "
            f"{len(onsets)}, {len(offsets)} and {len(pitches)}"
        )
    if n and np.any(offsets < onsets):
        raise ValueError("offsets must not precede onsets; got a note with offset < onset")
    velocities = np.full(n, 90.0) if velocities is None else np.asarray(velocities, float)
    programs = np.zeros(n, int) if programs is None else np.asarray(programs, int)
    if len(velocities) != n or len(programs) != n:
        raise ValueError(
            f"velocities and programs must have one entry per note ({n}); got "
            f"{len(velocities)} and {len(programs)}"
        )
    check_matrix(np.c_[onsets, offsets, pitches, velocities, programs] if n else np.zeros((1, 5)),
                 "notes")
    end = (offsets.max() + 0.3) if n else 0.0
    total = int(np.ceil((duration if duration is not None else end) * sr))
    out = np.zeros(max(total, 1), dtype=np.float64)
    k = np.arange(1, n_partials + 1)
    for on, off, p, v, prog in zip(onsets, offsets, pitches, velocities, programs, strict=True):
        attack, decay, release, rolloff = _FAMILY_SOUND.get(int(prog) // 8, _FAMILY_SOUND[0])
        start = int(round(on * sr))
        if start >= len(out):
            continue
        n_on = max(int(round((off - on) * sr)), 1)
        n_tot = min(n_on + int(release * sr), len(out) - start)
        t = np.arange(n_tot) / sr
        env = np.minimum(t / attack, 1.0)
        if decay is not None:
            env = env * np.exp(-np.maximum(t - attack, 0) / decay)
        tail = t > (off - on)
        env[tail] *= np.exp(-(t[tail] - (off - on)) / (release / 4))
        f0 = midi_to_hz(p)
        keep = k * f0 < sr / 2
        amps = k[keep] ** -rolloff
        phase = 2 * np.pi * f0 * np.outer(k[keep], t)
        out[start:start + n_tot] += (v / 127.0) * env * (amps @ np.sin(phase)) / amps.sum()
    peak = np.max(np.abs(out))
    return (out * (0.9 / peak) if peak > 0 else out).astype(np.float32)
