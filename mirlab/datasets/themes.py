"""Musical themes from the scores and a database of recordings to find them in.

The data of theme-based audio retrieval :cite:`Zalkow2020mtd` :cite:`Zalkow2021ctc`, built from
the embedded corpus (:mod:`mirlab.datasets.scores`, :mod:`mirlab.datasets.corpus`). Taught in
``notebooks/07_alignment.ipynb``.

Themes
------
The *melody* of a piece is the soprano of a chorale (part 0; where the soprano sounds two notes
at once, the higher one) or the tune of a folk song (repeats stripped by
:mod:`mirlab.datasets.scores`; a chorale's repeats are expanded there, which leaves its opening
unchanged). A piece's *theme* is the opening of its melody: its first :data:`THEME_NOTES`
notes (ties merged), about the first phrase of a chorale (most first phrases, up to the first
fermata, hold 7 to 10 notes) and the first one or two bars of a folk tune. A fixed number of
notes is a rule that needs no fermata or phrase analysis and gives every query the same amount of
information; a themes dictionary such as Barlow & Morgenstern's :cite:`Barlow1949themes` (the
source of the MTD) lists openings of similar length.

Shared melodies
---------------
Several chorales harmonise the same tune, and a folk collection may hold variants. Two pieces
are in the same *melody group* when the pitch-class sequences of their themes are equal up to a
transposition (:func:`melody_groups`). In the retrieval task a hit is **correct when the
retrieved recording belongs to any piece of the query's group** (the query cannot tell these
pieces apart: their openings are the same melody); :func:`group_statistics` reports how often
that happens.

Recordings
----------
Every piece has one database recording (:func:`database_version`): each part on an instrument
drawn from several families, a global tempo factor in [0.8, 1.25] and a smooth tempo curve,
in the written key (the query is in the key of the recording, as in a themes dictionary that
gives themes in their played key). Training recordings of the same pieces use other draws
(``seed``). Splits are by piece (:func:`mirlab.datasets.clips.piece_split`).

Features (:func:`hcqt`): a harmonic CQT with 12 bins per octave, made from one CQT by shifting
it by the harmonics' intervals in semitones (0, 12, 19, 24 for harmonics 1 to 4), log-compressed,
at :data:`FRAME_RATE` frames per second.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from mirlab.core.checks import check_positive_int
from mirlab.core.music import Notes
from mirlab.datasets.clips import FAMILIES, piece_split, pieces_by_split
from mirlab.datasets.corpus import TempoCurve, Version, apply_version, load_piece
from mirlab.datasets.scores import ground_truth
from mirlab.features import chroma_cqt, cqt, log_compress

__all__ = ["THEME_NOTES", "SR", "HOP_LENGTH", "FRAME_RATE", "PITCH_RANGE", "HARMONIC_SHIFTS",
           "Theme", "melody", "theme", "themes", "melody_groups", "group_statistics",
           "database_version", "load_recording", "hcqt", "split_pieces", "notes_chroma",
           "frame_labels", "DESIGN"]

THEME_NOTES = 10
SR = 22050
HOP_LENGTH = 1024
FRAME_RATE = SR / HOP_LENGTH  # 21.5 frames per second
PITCH_RANGE = (36, 96)  # MIDI pitches of the network's input (C2 .. B6), 60 bins
HARMONIC_SHIFTS = (0, 12, 19, 24)  # semitones of harmonics 1, 2, 3, 4
VERSION_FAMILIES = ("piano", "organ", "strings", "brass", "reeds", "flutes", "voices")
DESIGN = {"theme_notes": THEME_NOTES, "sr": SR, "hop_length": HOP_LENGTH,
          "pitch_range": list(PITCH_RANGE), "harmonics": list(HARMONIC_SHIFTS),
          "families": list(VERSION_FAMILIES), "tempo": [0.8, 1.25], "curve": [0.15, 10.0],
          "format": 1}


@dataclass(frozen=True)
class Theme:
    """The opening of a piece's melody (times in seconds of the original score).

    Attributes
    ----------
    piece_id, title : str
    onset, offset : np.ndarray
        Note times of the original version (score tempo).
    pitch : np.ndarray of int
        MIDI pitches.
    """

    piece_id: str
    title: str
    onset: np.ndarray
    offset: np.ndarray
    pitch: np.ndarray

    @property
    def pitch_class(self) -> np.ndarray:
        """Pitch classes (0 = C)."""
        return self.pitch % 12

    def __len__(self) -> int:
        return len(self.pitch)


def _melody_of(notes_onset, notes_offset, pitch, part, collection):
    """(onset, offset, pitch) of the melody: part 0 of a chorale (top note), a folk tune."""
    onset, offset, pitch = (np.asarray(notes_onset, float), np.asarray(notes_offset, float),
                            np.asarray(pitch, int))
    if collection == "chorales":
        sel = np.asarray(part) == 0
        onset, offset, pitch = onset[sel], offset[sel], pitch[sel]
    order = np.lexsort((-pitch, onset))  # by onset, highest pitch first
    onset, offset, pitch = onset[order], offset[order], pitch[order]
    keep = np.r_[True, np.diff(onset) > 1e-6]
    return onset[keep], offset[keep], pitch[keep]


def melody(piece_id: str, version: Version | None = None) -> Notes:
    """The melody notes of a piece (soprano of a chorale, tune of a folk song).

    Parameters
    ----------
    piece_id : str
        An id of :func:`mirlab.datasets.list_pieces`.
    version : Version, optional
        Times and pitches of this version (default: the original score).

    Returns
    -------
    Notes
        Monophonic: one note per onset, part 0.
    """
    truth = ground_truth(piece_id)
    notes, *_ = apply_version(truth, version or Version())
    on, off, p = _melody_of(notes.onset, notes.offset, notes.pitch, notes.part,
                            truth["collection"])
    z = np.zeros(len(p), dtype=int)
    return Notes(onset=on, offset=off, pitch=p, velocity=z + 90, program=z, part=z)


def theme(piece_id: str, n_notes: int = THEME_NOTES) -> Theme:
    """The theme of a piece: the first ``n_notes`` notes of its melody (see the module notes).

    Examples
    --------
    >>> t = theme("bach/bwv66.6")  # doctest: +SKIP
    >>> t.pitch_class.tolist()  # doctest: +SKIP
    """
    n_notes = check_positive_int(n_notes, "n_notes")
    mel = melody(piece_id)
    return Theme(piece_id=piece_id, title=ground_truth(piece_id)["title"],
                 onset=mel.onset[:n_notes], offset=mel.offset[:n_notes],
                 pitch=mel.pitch[:n_notes])


def themes(piece_ids, n_notes: int = THEME_NOTES) -> list[Theme]:
    """:func:`theme` of every piece."""
    return [theme(pid, n_notes) for pid in piece_ids]


def _signature(t: Theme) -> tuple:
    """Transposition-invariant signature: pitch classes relative to the first note."""
    pc = t.pitch_class
    return tuple(int(x) for x in (pc - pc[0]) % 12)


def melody_groups(theme_list) -> dict[str, int]:
    """Group pieces whose themes are the same pitch-class sequence up to a transposition.

    Parameters
    ----------
    theme_list : sequence of Theme

    Returns
    -------
    dict
        piece id -> group number (0, 1, ... in order of first appearance); pieces alone in
        their group get a number of their own.

    Examples
    --------
    >>> a = Theme("a", "", np.zeros(3), np.ones(3), np.array([60, 62, 64]))
    >>> b = Theme("b", "", np.zeros(3), np.ones(3), np.array([67, 69, 71]))
    >>> c = Theme("c", "", np.zeros(3), np.ones(3), np.array([60, 64, 62]))
    >>> melody_groups([a, b, c])
    {'a': 0, 'b': 0, 'c': 1}
    """
    groups, out = {}, {}
    for t in theme_list:
        if not isinstance(t, Theme):
            raise ValueError(f"theme_list must hold Theme objects; got {type(t).__name__}")
        out[t.piece_id] = groups.setdefault(_signature(t), len(groups))
    return out


def group_statistics(groups: dict[str, int]) -> dict:
    """How often pieces share a melody: ``n_pieces``, ``n_groups``, ``n_shared_groups`` (groups
    of two or more), ``n_pieces_shared`` (pieces in such groups), ``largest``."""
    sizes = np.bincount(list(groups.values())) if groups else np.zeros(0, int)
    return {"n_pieces": len(groups), "n_groups": int(np.sum(sizes > 0)),
            "n_shared_groups": int(np.sum(sizes > 1)),
            "n_pieces_shared": int(sizes[sizes > 1].sum()),
            "largest": int(sizes.max()) if len(sizes) else 0}


# --- recordings -----------------------------------------------------------------------------------

def _rng(piece_id: str, seed: int) -> np.random.Generator:
    digest = hashlib.sha256(f"{piece_id}|themes|{seed}".encode()).hexdigest()
    return np.random.default_rng(int(digest[:16], 16))


def database_version(piece_id: str, seed: int = 0) -> Version:
    """The version of a piece in the database (``seed=0``) or in training (other seeds).

    Every part on an instrument of a family drawn from :data:`VERSION_FAMILIES` (a chorale:
    the soprano on one family, the lower parts on another), a tempo factor drawn from
    [0.8, 1.25] and a tempo curve (amplitude 0.15, period 10 s). Fixed by the piece and seed.
    """
    rng = _rng(piece_id, seed)
    n_parts = ground_truth(piece_id)["n_parts"]
    fam = rng.choice(VERSION_FAMILIES, size=2)
    top = int(rng.choice(FAMILIES[fam[0]]))
    rest = [int(rng.choice(FAMILIES[fam[1]])) for _ in range(n_parts - 1)]
    tempo = float(np.exp(rng.uniform(np.log(0.8), np.log(1.25))))
    return Version(tempo=round(tempo, 4), tempo_curve=TempoCurve(0.15, 10.0),
                   programs=(top, *rest))


def load_recording(piece_id: str, seed: int = 0):
    """The rendered :class:`~mirlab.datasets.Recording` of :func:`database_version`."""
    return load_piece(piece_id, database_version(piece_id, seed), sr=SR)


def split_pieces(split: str, collections=("chorales", "folk")) -> list[str]:
    """Piece ids of a split (by piece, :func:`mirlab.datasets.clips.piece_split`)."""
    if split not in ("train", "valid", "test"):
        raise ValueError(f"split must be 'train', 'valid' or 'test'; got {split!r}")
    table = pieces_by_split()
    return [pid for c in collections for pid in table.get((split, c), [])
            if piece_split(pid) == split]


# --- features -------------------------------------------------------------------------------------

def hcqt(y, sr: int = SR, hop_length: int = HOP_LENGTH) -> np.ndarray:
    """Harmonic CQT by bin shifting: shape ``(len(HARMONIC_SHIFTS), 60, n_frames)``, float32.

    Channel ``h`` at bin ``k`` holds the log-compressed CQT magnitude (``log(1 + 10 |C|)``)
    at MIDI pitch ``PITCH_RANGE[0] + k + HARMONIC_SHIFTS[h]``: a pitch's harmonics line up
    across the channels :cite:`Bittner2017salience`.
    """
    lo, hi = PITCH_RANGE
    n_bins = hi - lo + max(HARMONIC_SHIFTS)
    fmin = 440.0 * 2 ** ((lo - 69) / 12)
    C = np.abs(cqt(np.asarray(y, dtype=float), sr, hop_length=hop_length, fmin=fmin,
                   n_bins=n_bins, bins_per_octave=12))
    C = log_compress(C / max(float(C.max()), 1e-9), gamma=10.0)
    return np.stack([C[s:s + hi - lo] for s in HARMONIC_SHIFTS]).astype(np.float32)


def standard_chroma(y, sr: int = SR, hop_length: int = HOP_LENGTH) -> np.ndarray:
    """CQT chroma of a recording (:func:`mirlab.features.chroma_cqt`), shape (12, n_frames)."""
    return chroma_cqt(np.asarray(y, dtype=float), sr, hop_length=hop_length, n_octaves=6,
                      bins_per_octave=36, fmin=32.703, norm=2)


def notes_chroma(onset, pitch, n_frames: int, frame_rate: float = FRAME_RATE,
                 legato_end: float | None = None) -> np.ndarray:
    """Binary chroma of a melody: each note's pitch class from its onset to the next onset.

    Parameters
    ----------
    onset : array, seconds
    pitch : array of int
    n_frames : int
    frame_rate : float
    legato_end : float, optional
        Where the last note ends (default: its onset plus the median inter-onset interval).

    Returns
    -------
    np.ndarray, shape (12, n_frames)
    """
    return _one_hot(frame_labels(onset, pitch, n_frames, frame_rate, legato_end), 12)


def frame_labels(onset, pitch, n_frames: int, frame_rate: float = FRAME_RATE,
                 legato_end: float | None = None, offset=None, none: int = -1) -> np.ndarray:
    """Pitch class per frame (frame ``n`` centred at ``n / frame_rate``); ``none`` elsewhere.

    Notes last until the next onset (legato) unless ``offset`` is given.
    """
    onset, pitch = np.asarray(onset, float), np.asarray(pitch, int)
    if len(onset) != len(pitch) or len(onset) == 0:
        raise ValueError(f"onset and pitch must be non-empty and of equal length; got "
                         f"{len(onset)} and {len(pitch)}")
    if offset is None:
        gap = float(np.median(np.diff(onset))) if len(onset) > 1 else 0.5
        end = onset[-1] + gap if legato_end is None else legato_end
        offset = np.r_[onset[1:], end]
    t = np.arange(n_frames) / frame_rate
    out = np.full(n_frames, none, dtype=np.int64)
    for a, b, p in zip(onset, np.asarray(offset, float), pitch, strict=True):
        out[(t >= a) & (t < b)] = p % 12
    return out


def _one_hot(labels, n: int) -> np.ndarray:
    out = np.zeros((n, len(labels)), dtype=np.float32)
    ok = labels >= 0
    out[labels[ok], np.flatnonzero(ok)] = 1.0
    return out


# --- training excerpts ----------------------------------------------------------------------------

def training_excerpts(piece_ids, seed: int = 1, n_notes: int = 8, progress: bool = False):
    """Harmonic CQTs of recordings and their melody excerpts, for training the enhancement.

    Each recording (:func:`load_recording` with ``seed``) is cut into runs of ``n_notes``
    consecutive melody notes (the last shorter run dropped); an excerpt's frames run from its
    first onset to its last offset in the recording: the start and end are known, the timing
    inside is not (what a weakly aligned pair gives).

    Returns
    -------
    features : list of np.ndarray
        :func:`hcqt` of each recording, float32.
    excerpts : list of dict
        ``piece_id``, ``recording`` (index into ``features``), ``start`` and ``n_frames``
        (frames), ``frame_rate``, ``pitch``, ``onset``/``offset`` (seconds from the excerpt's
        first frame, in the recording), ``score_onset``/``score_offset`` (seconds in the
        original score).
    """
    from tqdm.auto import tqdm

    from mirlab.core import env

    n_notes = check_positive_int(n_notes, "n_notes")
    features, excerpts = [], []
    for pid in tqdm(list(piece_ids), desc="excerpts", disable=env.progress_disabled(progress)):
        rec = load_recording(pid, seed)
        H = hcqt(rec.y, rec.sr)
        mel, score = melody(pid, rec.version), melody(pid)
        for i in range(0, len(mel.pitch) - n_notes + 1, n_notes):
            sl = slice(i, i + n_notes)
            start = int(np.floor(mel.onset[i] * FRAME_RATE))
            stop = min(int(np.ceil(mel.offset[i + n_notes - 1] * FRAME_RATE)) + 1, H.shape[2])
            t0 = start / FRAME_RATE
            excerpts.append({
                "piece_id": pid, "recording": len(features), "start": start,
                "n_frames": stop - start, "frame_rate": FRAME_RATE,
                "pitch": mel.pitch[sl], "onset": mel.onset[sl] - t0,
                "offset": mel.offset[sl] - t0, "score_onset": score.onset[sl] - score.onset[i],
                "score_offset": score.offset[sl] - score.onset[i]})
        features.append(H)
    return features, excerpts
