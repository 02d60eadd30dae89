"""Harmonic templates of piano notes and score- or onset-informed initial activations for
NMF transcription (steps 1-3 of :mod:`mirlab.transcription`).

Taught in ``notebooks/03_nmf_transcription.ipynb``.
"""

from __future__ import annotations

import numpy as np

from mirlab import features
from mirlab.core.checks import (
    check_audio,
    check_nonnegative,
    check_positive,
    check_positive_int,
    check_real,
    check_sr,
)
from mirlab.core.music import Notes

__all__ = [
    "PIANO_PITCHES",
    "spectrogram",
    "hann_lobe",
    "harmonic_templates",
    "score_informed_activations",
    "onset_informed_activations",
]

PIANO_PITCHES = np.arange(21, 109)  # the 88 keys of the piano, A0 to C8


def check_pitches(pitches) -> np.ndarray:
    """MIDI pitches as a non-empty 1-D float array."""
    pitches = np.atleast_1d(check_real(pitches, "pitches"))
    if pitches.ndim != 1 or len(pitches) == 0:
        raise ValueError(f"pitches must be a non-empty 1-D array; got shape {pitches.shape}")
    return pitches


def spectrogram(y, sr: int = 22050, n_fft: int = 4096, hop_length: int = 512) -> np.ndarray:
    """The magnitude STFT ``|X|`` used as ``V`` (Hann window, centred frames).

    Parameters
    ----------
    y : np.ndarray
        Mono signal.
    sr : int
        Sample rate in Hz (only validated: the STFT does not depend on it).
    n_fft, hop_length : int
        Window length and hop in samples. A long window (4096 samples, 186 ms at 22,050 Hz)
        resolves the partials of low notes.

    Returns
    -------
    np.ndarray, float32, shape (1 + n_fft // 2, n_frames)
    """
    y = check_audio(y)
    check_sr(sr)
    return np.abs(features.stft(y, n_fft=n_fft, hop_length=hop_length)).astype(np.float32)


def hann_lobe(x) -> np.ndarray:
    """The main lobe of the Hann window's magnitude spectrum, ``x`` bins from its centre.

    ``|sinc(x) / (1 - x**2)|`` for ``|x| < 2`` (1 at the centre, 0.5 one bin away) and 0
    beyond: the shape a steady sinusoid takes in a Hann-windowed STFT, used to draw each
    partial of :func:`harmonic_templates`.

    Parameters
    ----------
    x : array_like
        Distances from the centre of the lobe, in (fractional) bins.

    Returns
    -------
    np.ndarray
        Same shape as ``x``, between 0 and 1.

    Examples
    --------
    >>> hann_lobe(np.array([0.0, 1.0, 2.5])).tolist()
    [1.0, 0.5, 0.0]
    """
    x = check_real(x, "x").astype(float)
    x = np.abs(x)
    near_one = np.isclose(x, 1.0)
    safe = np.where(near_one, 0.5, x)
    lobe = np.abs(np.sinc(safe) / (1.0 - safe ** 2))
    return np.where(x < 2.0, np.where(near_one, 0.5, lobe), 0.0)


def harmonic_templates(sr: int = 22050, n_fft: int = 4096, pitches=PIANO_PITCHES,
                       n_partials: int = 20, decay: float = 1.5, width: float = 1.0,
                       inharmonicity: float = 0.0, tuning: float = 0.0) -> np.ndarray:
    """Pitch-informed harmonic templates: one spectrum per pitch, columns normalised to sum 1.

    Partial ``k`` of pitch ``p`` lies at ``f_k = k * f0 * sqrt(1 + B * k**2)`` Hz, with
    ``f0 = midi_to_hz(p + tuning)`` and ``B = inharmonicity`` (0 for an ideal string; a piano
    string has B around 1e-4), and has amplitude ``k ** -decay``. It is drawn as the main
    lobe of the Hann window's spectrum (four bins wide), widened by the factor ``width`` to
    tolerate mistuning or vibrato. Partials at or above the Nyquist frequency are dropped.

    Parameters
    ----------
    sr : int
    n_fft : int
        Must match the spectrogram the templates are used with.
    pitches : array_like
        MIDI pitches, one template each (default: the 88 piano keys).
    n_partials : int
    decay : float >= 0
        How fast the partials' amplitudes fall: ``k ** -decay``. The decisive parameter.
    width : float > 0
        Width of each partial, in multiples of the Hann main lobe.
    inharmonicity : float >= 0
        The coefficient ``B``.
    tuning : float
        Offset in semitones (fractions allowed) of every pitch.

    Returns
    -------
    np.ndarray, float32, shape (1 + n_fft // 2, len(pitches))

    Examples
    --------
    >>> W = harmonic_templates(sr=8000, n_fft=512, pitches=[69], n_partials=3, decay=1.0)
    >>> W.shape, int(W[:, 0].argmax()), round(float(W.sum()), 4)  # 440 Hz is bin 28.2
    ((257, 1), 28, 1.0)

    References
    ----------
    E. Vincent, N. Bertin and R. Badeau, "Adaptive harmonic spectral decomposition for multiple
    pitch estimation," IEEE TASLP 18(3), 2010 {cite}`Vincent2010harmonic`.
    """
    sr = check_sr(sr)
    n_fft = check_positive_int(n_fft, "n_fft", minimum=2)
    pitches = check_pitches(pitches)
    n_partials = check_positive_int(n_partials, "n_partials")
    decay = check_nonnegative(decay, "decay")
    width = check_positive(width, "width")
    B = check_nonnegative(inharmonicity, "inharmonicity")
    tuning = float(check_real(tuning, "tuning"))
    k = np.arange(1, n_partials + 1)
    f0 = features.midi_to_hz(pitches + tuning)
    freqs = f0[None, :] * k[:, None] * np.sqrt(1.0 + B * k[:, None] ** 2)  # (n_partials, n_p)
    amps = np.where(freqs < sr / 2, k[:, None] ** -decay, 0.0)
    bins = np.arange(1 + n_fft // 2)[:, None, None]
    lobes = hann_lobe((bins - freqs[None] * n_fft / sr) / width)  # (n_bins, n_partials, n_p)
    W = np.einsum("bkp,kp->bp", lobes, amps)
    total = W.sum(axis=0)
    return (W / np.where(total > 0, total, 1.0)).astype(np.float32)


def _frames_of(times, sr, hop_length, n_frames):
    return np.clip(features.time_to_frames(times, sr=sr, hop_length=hop_length), 0, n_frames)


def _note_pitch_rows(pitch, pitches):
    row = {int(p): i for i, p in enumerate(np.round(pitches).astype(int))}
    return np.array([row.get(int(round(p)), -1) for p in pitch])


def score_informed_activations(notes: Notes, n_frames: int, sr: int = 22050,
                               hop_length: int = 512, pitches=PIANO_PITCHES,
                               tolerance: float = 0.1) -> np.ndarray:
    """Initial activations from a score: 1 around each note, 0 elsewhere.

    The activation of a note's pitch may be non-zero from ``tolerance`` seconds before its
    onset to ``tolerance`` after its offset. Multiplicative updates keep zeros at zero, so NMF
    started from this ``H`` only refines what the score allows (Ewert & Müller 2012).

    Parameters
    ----------
    notes : mirlab.core.music.Notes
        The score's notes (``onset``, ``offset``, ``pitch``); pitches outside ``pitches`` are
        ignored.
    n_frames : int
        Number of frames of the spectrogram.
    sr, hop_length : int
    pitches : array_like
        The pitch of each row of ``H``.
    tolerance : float >= 0
        Seconds allowed on each side of a note (the score's timing is approximate).

    Returns
    -------
    np.ndarray, float32, shape (len(pitches), n_frames)

    References
    ----------
    S. Ewert and M. Müller, "Using score-informed constraints for NMF-based source separation,"
    ICASSP 2012 {cite}`Ewert2012scoreinformed`.
    """
    n_frames = check_positive_int(n_frames, "n_frames")
    pitches = check_pitches(pitches)
    tolerance = check_nonnegative(tolerance, "tolerance")
    H = np.zeros((len(pitches), n_frames), dtype=np.float32)
    rows = _note_pitch_rows(notes.pitch, pitches)
    start = _frames_of(np.asarray(notes.onset) - tolerance, sr, hop_length, n_frames)
    end = _frames_of(np.asarray(notes.offset) + tolerance, sr, hop_length, n_frames)
    for r, a, b in zip(rows, start, end, strict=True):
        if r >= 0:
            H[r, a:max(b, a + 1)] = 1.0
    return H


def onset_informed_activations(onset, pitch, n_frames: int, sr: int = 22050,
                               hop_length: int = 512, pitches=PIANO_PITCHES,
                               tolerance: float = 0.05, max_duration: float = 4.0) -> np.ndarray:
    """Initial activations when each note's onset and pitch are known but not its end.

    The activation of a note's pitch may be non-zero from ``tolerance`` seconds before its
    onset until the next onset of the same pitch (or ``max_duration`` seconds later): NMF has
    to find where the note ends.

    Parameters
    ----------
    onset, pitch : array_like, shape (n_notes,)
        Onset times (s) and MIDI pitches of the notes (the fields of
        :class:`~mirlab.core.music.Notes` of the same names).
    n_frames : int
    sr, hop_length : int
    pitches : array_like
        The pitch of each row of ``H``.
    tolerance : float >= 0
    max_duration : float > 0

    Returns
    -------
    np.ndarray, float32, shape (len(pitches), n_frames)
    """
    onset = np.atleast_1d(check_real(onset, "onset")).astype(float)
    pitch = np.atleast_1d(check_real(pitch, "pitch"))
    if onset.shape != pitch.shape:
        raise ValueError(f"onset and pitch must have the same shape; got {onset.shape} and "
                         f"{pitch.shape}")
    max_duration = check_positive(max_duration, "max_duration")
    ends = onset + max_duration
    for p in np.unique(pitch):
        idx = np.flatnonzero(pitch == p)
        idx = idx[np.argsort(onset[idx])]
        ends[idx[:-1]] = np.minimum(ends[idx[:-1]], onset[idx[1:]] - tolerance)
    notes = Notes(onset=onset, offset=np.maximum(ends - tolerance, onset), pitch=pitch,
                  velocity=np.zeros(len(pitch)), program=np.zeros(len(pitch), dtype=int),
                  part=np.zeros(len(pitch), dtype=int))
    return score_informed_activations(notes, n_frames, sr, hop_length, pitches, tolerance)
