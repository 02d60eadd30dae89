"""Pitch: MIDI numbers and frequencies, and the one table of pitch-class names.

Used by every layer above (features, the synthesiser, chord labels, plots). Taught in
``notebooks/01_audio_representations.ipynb``.
"""

from __future__ import annotations

import numpy as np

from mirlab.core.checks import check_real

__all__ = ["PITCH_NAMES", "SHARP_NAMES", "midi_to_hz", "hz_to_midi", "pitch_class",
           "pitch_name", "note_name"]

#: The names of the 12 pitch classes as the course spells them (mir_eval accepts them all):
#: sharps for C#, F#, flats for Eb, Ab, Bb, the spelling most common in tonal music.
PITCH_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
#: The same pitch classes spelled with sharps only, as libfmp's chord labels spell them.
SHARP_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")

_A4_HZ, _A4_MIDI = 440.0, 69.0  # concert pitch: MIDI 69 (A4) sounds at 440 Hz
_LETTERS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def pitch_class(name: str, argument: str = "name") -> int:
    """Pitch class (0 = C, ..., 11 = B) of a name spelled as in mir_eval: a letter, then any
    number of ``#`` and ``b``.

    Same result as ``mir_eval.chord.pitch_class_to_semitone``, without importing mir_eval.
    ``argument`` is the name an error message gives the value (e.g. ``"root"``).

    Examples
    --------
    >>> pitch_class("Eb"), pitch_class("D#"), pitch_class("Cb")
    (3, 3, 11)
    """
    if (not isinstance(name, str) or not name or name[0] not in _LETTERS
            or set(name[1:]) - {"#", "b"}):
        raise ValueError(f"{argument} must be a pitch class like 'C', 'F#' or 'Bb'; "
                         f"got {name!r}")
    return (_LETTERS[name[0]] + name.count("#") - name.count("b")) % 12


def pitch_name(k: int, *, sharps: bool = False) -> str:
    """Name of pitch class ``k`` (taken modulo 12) from :data:`PITCH_NAMES` (or
    :data:`SHARP_NAMES` with ``sharps=True``).

    Examples
    --------
    >>> pitch_name(3), pitch_name(15, sharps=True)
    ('Eb', 'D#')
    """
    return (SHARP_NAMES if sharps else PITCH_NAMES)[int(k) % 12]


def note_name(midi: int) -> str:
    """Scientific pitch name of a MIDI note number (60 -> ``'C4'``).

    Examples
    --------
    >>> note_name(60), note_name(70)
    ('C4', 'Bb4')
    """
    midi = int(round(midi))
    return f"{pitch_name(midi)}{midi // 12 - 1}"


# ------------------------------------------------------------------------ MIDI pitch <-> Hz


def midi_to_hz(pitch):
    """Equal-temperament frequency of MIDI pitch numbers: ``440 * 2 ** ((pitch - 69) / 12)``.

    Each semitone multiplies the frequency by ``2 ** (1 / 12)``; A4 (69) is 440 Hz and
    C4 (60) about 261.63 Hz. Fractional pitches (cents) are allowed.

    Parameters
    ----------
    pitch : array_like
        MIDI pitch numbers (finite real numbers).

    Returns
    -------
    np.ndarray or float
        Frequencies in Hz, same shape as ``pitch``; equal to ``librosa.midi_to_hz``.

    Examples
    --------
    >>> midi_to_hz([57, 69, 81])
    array([220., 440., 880.])
    """
    pitch = check_real(pitch, "pitch")
    return _A4_HZ * 2.0 ** ((pitch - _A4_MIDI) / 12.0)


def hz_to_midi(f):
    """MIDI pitch number of frequencies in Hz: ``69 + 12 * log2(f / 440)`` (the inverse of
    :func:`midi_to_hz`; not rounded, so 450 Hz gives 69.39).

    Parameters
    ----------
    f : array_like
        Frequencies in Hz (finite, positive).

    Returns
    -------
    np.ndarray or float
        MIDI pitch numbers, same shape as ``f``; equal to ``librosa.hz_to_midi``.

    Examples
    --------
    >>> hz_to_midi([220.0, 440.0, 880.0])
    array([57., 69., 81.])
    """
    f = check_real(f, "f")
    if np.any(f <= 0):
        raise ValueError(f"f must be positive frequencies in Hz; got minimum {np.min(f):.3g}")
    return _A4_MIDI + 12.0 * np.log2(f / _A4_HZ)
