"""The chord vocabulary: 24 major/minor triads plus ``N``, labels and chord templates.

Labels follow mir_eval's syntax :cite:`Harte2005chords`: ``C:maj``, ``A:min``, ``N`` (no chord).
State ``k`` of every model in :mod:`mirlab.chords` is ``LABELS[k]``: the 12 major triads from C,
then the 12 minor triads from C, then ``N`` (the order of libfmp, whose labels are ``C``, ``C#``,
``Cm``, ...).

Taught in ``notebooks/02_chord_recognition.ipynb``.
"""

from __future__ import annotations

import numbers

import numpy as np

from mirlab.core.checks import check_positive, check_positive_int
from mirlab.core.pitch import PITCH_NAMES, SHARP_NAMES, pitch_class

__all__ = [
    "LABELS",
    "N_CHORDS",
    "label_to_index",
    "index_to_label",
    "from_libfmp",
    "to_libfmp",
    "chord_pitch_classes",
    "chord_templates",
]

N_CHORDS = 24
LABELS = tuple([f"{p}:maj" for p in PITCH_NAMES] + [f"{p}:min" for p in PITCH_NAMES] + ["N"])
# qualities that mir_eval's majmin comparison reduces to a major or a minor triad
_MAJOR = {"maj", "7", "maj7", "maj6", "9", "maj9", "11", "13", ""}
_MINOR = {"min", "min7", "min6", "min9", "minmaj7", "min11", "min13"}


def label_to_index(label: str, *, strict: bool = True) -> int:
    """State index of a mir_eval chord label (reduced to its triad).

    ``R:maj`` -> ``root``, ``R:min`` -> ``12 + root``, ``N`` -> 24. Sevenths and other chords
    built on a major or minor triad (``G:7``, ``A:min7``, a bass inversion ``C:maj/3``) map to
    that triad, as mir_eval's majmin comparison does.

    Parameters
    ----------
    label : str
        A mir_eval label.
    strict : bool
        When False, labels outside the vocabulary (``X``, ``B:dim``, ``C:aug``) return -1;
        when True they raise.

    Returns
    -------
    int
        0..24, or -1.

    Raises
    ------
    ValueError
        If ``label`` is not a string, or (``strict``) has no major/minor triad.

    Examples
    --------
    >>> label_to_index("A:min"), label_to_index("G:7"), label_to_index("N")
    (21, 7, 24)
    """
    if not isinstance(label, str):
        raise ValueError(f"label must be a chord label string like 'C:maj'; got {label!r}")
    if label == "N":
        return N_CHORDS
    root, _, quality = label.partition(":")
    quality = quality.split("/")[0].split("(")[0]
    try:
        pc = pitch_class(root)
    except ValueError:
        if strict:
            raise ValueError(f"label must be 'N' or 'root:quality' with a root like 'C', 'F#' "
                             f"or 'Bb'; got {label!r}") from None
        return -1
    if quality in _MAJOR:
        return pc
    if quality in _MINOR:
        return 12 + pc
    if strict:
        raise ValueError(f"label must be a major or minor chord (or 'N') to be in the 25-chord "
                         f"vocabulary; got {label!r}")
    return -1


def index_to_label(index) -> str:
    """mir_eval label of state ``index`` (0..24).

    Examples
    --------
    >>> index_to_label(0), index_to_label(21), index_to_label(24)
    ('C:maj', 'A:min', 'N')
    """
    if (isinstance(index, bool) or not isinstance(index, numbers.Integral)
            or not 0 <= index <= N_CHORDS):
        raise ValueError(f"index must be an integer in 0..{N_CHORDS}; got {index!r}")
    return LABELS[int(index)]


def from_libfmp(label: str) -> str:
    """Convert a libfmp label (``C``, ``C#``, ``Cm``, ``N``) to mir_eval syntax.

    Examples
    --------
    >>> from_libfmp("C#"), from_libfmp("Am"), from_libfmp("N")
    ('C#:maj', 'A:min', 'N')
    """
    if not isinstance(label, str) or not label:
        raise ValueError(f"label must be a libfmp chord label like 'C', 'C#' or 'Cm'; "
                         f"got {label!r}")
    if label == "N":
        return "N"
    minor = label.endswith("m")
    root = label[:-1] if minor else label
    try:
        pc = pitch_class(root)
    except ValueError:
        raise ValueError(f"label must be a libfmp chord label like 'C', 'C#' or 'Cm'; "
                         f"got {label!r}") from None
    return LABELS[pc + 12 * minor]


def to_libfmp(label: str) -> str:
    """Convert a mir_eval label of the vocabulary to libfmp's syntax (sharps, ``m`` for minor).

    Examples
    --------
    >>> to_libfmp("Bb:maj"), to_libfmp("A:min")
    ('A#', 'Am')
    """
    k = label_to_index(label)
    if k == N_CHORDS:
        return "N"
    return SHARP_NAMES[k % 12] + ("m" if k >= 12 else "")


def chord_pitch_classes(index: int) -> tuple[int, int, int]:
    """Pitch classes (root, third, fifth) of triad ``index`` (0..23).

    Examples
    --------
    >>> chord_pitch_classes(21)  # A minor: A, C, E
    (9, 0, 4)
    """
    index_to_label(index)
    if index == N_CHORDS:
        raise ValueError("index must be a triad (0..23); 24 is 'N', which has no pitch classes")
    root, third = index % 12, (3 if index >= 12 else 4)
    return root, (root + third) % 12, (root + 7) % 12


def chord_templates(kind: str = "binary", n_harmonics: int = 4, decay: float = 0.6,
                    nonchord: bool = False) -> np.ndarray:
    """Chord templates: what the chroma vector of each triad should look like.

    ``binary``: 1 on the three pitch classes of the triad, 0 elsewhere :cite:`Fujishima1999chroma`.
    ``harmonics``: every chord note also contributes its harmonics ``h = 1 .. n_harmonics`` with
    weight ``decay ** (h - 1)`` at pitch class ``(p + round(12 log2 h)) mod 12`` (the 3rd
    harmonic of C sounds a G, the 5th an E), because the chroma of a real instrument holds them
    too :cite:`Gomez2006thesis,Papadopoulos2007chords`. Each template is scaled to unit L2
    norm. The ``N`` template (``nonchord=True``) is flat: equal energy in every class.

    Parameters
    ----------
    kind : {"binary", "harmonics"}
    n_harmonics : int >= 1
        Harmonics per note (``harmonics`` only; 1 gives the binary templates).
    decay : float > 0
        Amplitude ratio between consecutive harmonics.
    nonchord : bool
        Append the ``N`` template as a 25th column.

    Returns
    -------
    np.ndarray, shape (12, 24) or (12, 25)
        Column ``k`` is the template of ``LABELS[k]``. The binary templates are
        ``libfmp.c5.generate_chord_templates()`` scaled to unit norm.

    Examples
    --------
    >>> T = chord_templates()
    >>> [int(c) for c in np.flatnonzero(T[:, 0])]  # C major: C, E, G
    [0, 4, 7]
    """
    if kind not in ("binary", "harmonics"):
        raise ValueError(f"kind must be 'binary' or 'harmonics'; got {kind!r}")
    n_harmonics = check_positive_int(n_harmonics, "n_harmonics")
    decay = check_positive(decay, "decay")
    h = np.arange(1, (n_harmonics if kind == "harmonics" else 1) + 1)
    shifts = np.round(12 * np.log2(h)).astype(int) % 12
    T = np.zeros((12, N_CHORDS + nonchord))
    for k in range(N_CHORDS):
        for pc in chord_pitch_classes(k):
            np.add.at(T[:, k], (pc + shifts) % 12, decay ** (h - 1.0))
    if nonchord:
        T[:, N_CHORDS] = 1.0
    return T / np.linalg.norm(T, axis=0, keepdims=True)
