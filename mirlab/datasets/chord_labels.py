"""Beat-level chord labels derived from a polyphonic score, in mir_eval syntax.

The labels are ground truth for the chord-recognition chapters. They are not an expert
analysis but the output of a fixed, documented rule applied to the score (and checked
against the expert Roman-numeral analyses shipped with music21, see
:func:`mirlab.datasets.expert.compare_with_expert_analyses`).

The rule
--------
1. Chordify the score (with repeats expanded, as it is rendered): every change of any voice
   starts a new *sonority*, the set of sounding pitches.
2. Each sonority is classified by its pitch-class set and its lowest pitch (the bass):

   ====================================================  ===================================
   pitch-class set (relative to a candidate root R)      label
   ====================================================  ===================================
   no pitch (a rest)                                     ``N``
   {0, 4, 7} / {0, 3, 7}                                 ``R:maj`` / ``R:min``
   {0, 4, 7, 10} / {0, 4, 7, 11} / {0, 3, 7, 10}         ``R:7`` / ``R:maj7`` / ``R:min7``
   the same sevenths without their fifth                 ``R:7`` / ``R:maj7`` / ``R:min7``
   {0, 3, 6}, {0, 3, 6, 10} (half-diminished seventh),   ``R:dim``
   {0, 3, 6, 9} (diminished seventh, R = the bass)
   {0, 4, 8} (R = the bass)                              ``R:aug``
   {0, 4} / {0, 3} with R in the bass                    ``R:maj`` / ``R:min``
   anything else (a single pitch class, an open fifth,   ``X``
   a suspension, a cluster ...)
   ====================================================  ===================================

   mir_eval's ``majmin`` comparison reduces the sevenths to their triads (``G:7`` counts as
   ``G:maj``), and excludes ``dim``, ``aug`` and ``X`` reference segments from the score.
3. Each beat (from the time signature) receives the label of the *longest classifiable*
   sonority sounding during the beat, i.e. the longest one whose label is neither ``X`` nor
   ``N``; a beat with no classifiable sonority is ``N`` when it holds only rests, else ``X``.
   Passing notes and suspensions that last less than the chord they decorate therefore do
   not change the label.

Measured over the 364 chorales of the collection (duration-weighted): 78 % of the time clean
triads, 12 % sevenths, 6 % diminished, 0.3 % augmented, 2 % ``X`` and 1 % ``N``, so mir_eval's
majmin comparison scores 90 % of the duration. Against the expert analyses (19 chorales,
1,057 beats) the rule agrees on the root of 92 % and on majmin of 93 % of the beats.

The chord-recognition chapter of the book uses these labels as its reference.
"""

from __future__ import annotations

import numpy as np

from mirlab.core.pitch import PITCH_NAMES, pitch_class

# (interval set relative to the root, quality) tried for every candidate root.
_SHAPES = (
    (frozenset({0, 4, 7}), "maj"),
    (frozenset({0, 3, 7}), "min"),
    (frozenset({0, 4, 7, 10}), "7"),
    (frozenset({0, 4, 7, 11}), "maj7"),
    (frozenset({0, 3, 7, 10}), "min7"),
    (frozenset({0, 4, 10}), "7"),
    (frozenset({0, 4, 11}), "maj7"),
    (frozenset({0, 3, 10}), "min7"),
    (frozenset({0, 3, 6}), "dim"),
    (frozenset({0, 3, 6, 10}), "dim"),
)
# Shapes whose root is ambiguous from the pitch classes alone: the root is the bass.
_BASS_SHAPES = (
    (frozenset({0, 3, 6, 9}), "dim"),
    (frozenset({0, 4, 8}), "aug"),
    (frozenset({0, 4}), "maj"),
    (frozenset({0, 3}), "min"),
)

CATEGORIES = ("triad", "seventh", "dim", "aug", "X", "N")


def _midi_pitches(sonority) -> list[int]:
    """MIDI numbers of a music21 Note/Chord/Rest or of a sequence of MIDI numbers."""
    if sonority is None:
        return []
    if hasattr(sonority, "isRest") and sonority.isRest:
        return []
    if hasattr(sonority, "pitches"):
        return [int(round(p.ps)) for p in sonority.pitches]
    if hasattr(sonority, "pitch"):
        return [int(round(sonority.pitch.ps))]
    return [int(p) for p in np.atleast_1d(np.asarray(sonority, dtype=float))]


def classify_sonority(sonority) -> str:
    """Label one sonority with the rule of this module (see the module docstring).

    Parameters
    ----------
    sonority : music21 Chord, Note or Rest, or sequence of int
        The sounding pitches; a sequence holds MIDI numbers (the lowest is the bass).
        An empty sequence or a rest is silence.

    Returns
    -------
    str
        A mir_eval chord label: ``N``, ``X``, or ``R:quality`` with quality in
        ``maj, min, 7, maj7, min7, dim, aug``.

    Examples
    --------
    >>> classify_sonority([60, 64, 67])
    'C:maj'
    >>> classify_sonority([55, 59, 62, 65])
    'G:7'
    >>> classify_sonority([60, 61, 62])
    'X'
    """
    pitches = _midi_pitches(sonority)
    if not pitches:
        return "N"
    bass = min(pitches) % 12
    pcs = {p % 12 for p in pitches}
    for root in sorted(pcs, key=lambda r: (r != bass, r)):
        rel = frozenset((p - root) % 12 for p in pcs)
        for shape, quality in _SHAPES:
            if rel == shape:
                return f"{PITCH_NAMES[root]}:{quality}"
    rel = frozenset((p - bass) % 12 for p in pcs)
    for shape, quality in _BASS_SHAPES:
        if rel == shape:
            return f"{PITCH_NAMES[bass]}:{quality}"
    return "X"


def label_category(label: str) -> str:
    """Category of a label: ``triad``, ``seventh``, ``dim``, ``aug``, ``X`` or ``N``."""
    if label in ("N", "X"):
        return label
    quality = label.split(":", 1)[1] if ":" in label else "maj"
    if quality in ("maj", "min"):
        return "triad"
    if quality in ("7", "maj7", "min7"):
        return "seventh"
    if quality in ("dim", "aug"):
        return quality
    return "X"


def transpose_label(label: str, semitones: int) -> str:
    """Transpose the root of a mir_eval label by ``semitones`` (``N`` and ``X`` unchanged).

    Examples
    --------
    >>> transpose_label("A:min", 3)
    'C:min'
    """
    if label in ("N", "X"):
        return label
    root, rest = (label.split(":", 1) + [""])[:2]
    new = PITCH_NAMES[(pitch_class(root, "root") + int(semitones)) % 12]
    return f"{new}:{rest}" if rest else new


def beat_grid(part) -> list[tuple[int, float, float, float]]:
    """Beats of a music21 part: (measure, beat number, start, measure end) in quarter notes."""
    from music21 import meter

    beats = []
    ts = None
    for m in part.getElementsByClass("Measure"):
        ts = m.timeSignature or ts or m.getContextByClass(meter.TimeSignature)
        beat_ql = float(ts.beatDuration.quarterLength) if ts else 1.0
        pad = float(m.paddingLeft or 0.0)
        length = float(m.duration.quarterLength)
        k = int(np.ceil(pad / beat_ql - 1e-9))
        while k * beat_ql - pad < length - 1e-6:
            x = k * beat_ql - pad
            beats.append((int(m.number), 1.0 + k, float(m.offset) + x, float(m.offset) + length))
            k += 1
    return beats


def beat_chord_labels(score) -> list[dict]:
    """Apply the rule of this module to every beat of a music21 score.

    Parameters
    ----------
    score : music21.stream.Score
        A polyphonic score (expand its repeats first to match a rendering).

    Returns
    -------
    list of dict
        One dict per beat with ``measure`` (measure number), ``beat`` (1-based beat number),
        ``start`` and ``end`` (quarter notes from the start of the score) and ``label``.
    """
    grid = beat_grid(score.parts[0])
    if not grid:
        return []
    chords = score.chordify().flatten().notesAndRests
    sons = [(float(c.offset), float(c.offset + c.quarterLength), classify_sonority(c))
            for c in chords if c.quarterLength > 0]
    starts = np.array([s[0] for s in sons])
    ends = np.array([s[1] for s in sons])
    end_all = max(float(score.highestTime), grid[-1][3])
    out = []
    for i, (mnum, beat, start, _) in enumerate(grid):
        stop = grid[i + 1][2] if i + 1 < len(grid) else end_all
        overlap = np.minimum(ends, stop) - np.maximum(starts, start)
        best, best_len, any_sound = "N", 0.0, False
        for j in np.flatnonzero(overlap > 1e-9):
            label = sons[j][2]
            any_sound = any_sound or label != "N"
            if label not in ("N", "X") and overlap[j] > best_len + 1e-9:
                best, best_len = label, overlap[j]
        if best_len == 0.0:
            best = "X" if any_sound else "N"
        out.append({"measure": mnum, "beat": beat, "start": start, "end": stop, "label": best})
    return out
