"""Versions of a piece with exact time maps: the ground truth of music synchronisation.

A *version pair* is a reference rendering of a piece (the original score on the piano) and a
second rendering of the same notes that differs in tempo, tempo curve, key, orchestration or
soundfont. Because both are rendered from the same notes, the *time map* from the reference to
the version is known exactly (:meth:`mirlab.datasets.Version.time_map`), so an alignment
computed from the audio can be scored note by note in milliseconds: what public
synchronisation data sets only have through manual annotation.

The named kinds (:data:`KINDS`), from easy to hard:

========================== ===============================================================
``"tempo"``                 the whole piece 25 % faster (tempo factor 1.25)
``"tempo_curve"``           a smooth tempo modulation (:class:`~mirlab.datasets.TempoCurve`,
                            amplitude 0.25, period 8 s: tempi from 0.8 to 1.33)
``"transposition"``         two semitones up (same timing)
``"orchestration"``         a string quartet (violins, viola, cello) instead of the piano
``"soundfont"``             the same piano from another soundfont (MuseScore General, the
                            file :func:`mirlab.datasets.clips.soundfont_file` finds)
``"orchestration_curve"``   the string quartet with the tempo curve: the hardest
========================== ===============================================================

Rendered audio goes through the corpus cache (:func:`mirlab.datasets.load_piece`; the
``"soundfont"`` kind through an entry of the same cache keyed by the soundfont's sha256).

Taught in ``notebooks/07_alignment.ipynb``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

import numpy as np

from mirlab.core.cache import Cache, Entry
from mirlab.core.checks import check_choice, check_sr
from mirlab.core.music import Notes
from mirlab.datasets.clips import has_soundfont, soundfont_file
from mirlab.datasets.corpus import PEAK, TAIL, Recording, TempoCurve, Version, load_piece
from mirlab.datasets.scores import ground_truth
from mirlab.datasets.synth import Track, render_tracks, renderer_fingerprint

__all__ = ["KINDS", "STRING_QUARTET", "VersionPair", "version_for", "load_version", "load_pair",
           "has_kind"]

KINDS = ("tempo", "tempo_curve", "transposition", "orchestration", "soundfont",
         "orchestration_curve")
STRING_QUARTET = (40, 40, 41, 42)  # violin, violin, viola, cello (soprano to bass)
CURVE = TempoCurve(amplitude=0.25, period=8.0)
VERSIONS = Cache("corpus", "versions", what="audio")


def version_for(kind: str, n_parts: int = 4) -> Version:
    """The :class:`~mirlab.datasets.Version` of a named kind (see :data:`KINDS`).

    Parameters
    ----------
    kind : str
        One of :data:`KINDS`. ``"soundfont"`` returns the original version (the soundfont is
        not part of a :class:`Version`; :func:`load_version` handles it).
    n_parts : int
        Number of parts of the piece (the string quartet's programs repeat for more parts;
        the bass instrument, the cello, always takes the lowest part).

    Returns
    -------
    Version
    """
    check_choice(kind, "kind", KINDS)
    programs = tuple(STRING_QUARTET[min(i, 2)] for i in range(n_parts - 1)) + (STRING_QUARTET[3],)
    return {"tempo": Version(tempo=1.25),
            "tempo_curve": Version(tempo_curve=CURVE),
            "transposition": Version(transpose=2),
            "orchestration": Version(programs=programs),
            "soundfont": Version(),
            "orchestration_curve": Version(tempo_curve=CURVE, programs=programs)}[kind]


def has_kind(kind: str) -> bool:
    """True when ``kind`` can be rendered here (``"soundfont"`` needs the MuseScore soundfont)."""
    check_choice(kind, "kind", KINDS)
    return kind != "soundfont" or has_soundfont("musescore")


def _render_with_soundfont(piece_id: str, sr: int, soundfont: str) -> Recording:
    """The original version rendered by FluidSynth with another soundfont (cached)."""
    path = soundfont_file(soundfont)
    rec = load_piece(piece_id, sr=sr, renderer="fluidsynth")  # notes, programs, metadata
    notes = rec.notes
    h = hashlib.sha256()
    for name in ("onset", "offset", "pitch", "velocity", "program", "part"):
        h.update(np.ascontiguousarray(getattr(notes, name), dtype=float).tobytes())
    n_samples = int(np.ceil((float(np.max(notes.offset)) + TAIL) * sr))
    params = {"piece_id": piece_id, "sr": sr, "notes_sha256": h.hexdigest(),
              "programs": [int(p) for p in rec.programs], "n_samples": n_samples, "peak": PEAK,
              "synth": renderer_fingerprint("fluidsynth", path)}

    def build():
        tracks = [Track(onset=notes.onset[notes.part == p], offset=notes.offset[notes.part == p],
                        pitch=notes.pitch[notes.part == p],
                        velocity=notes.velocity[notes.part == p], program=int(prog))
                  for p, prog in enumerate(rec.programs)]
        x = render_tracks(tracks, n_samples, sr, "fluidsynth", soundfont=path)
        peak = float(np.max(np.abs(x))) or 1.0
        q = np.clip(np.round(x * (PEAK / peak) * 32767.0), -32768, 32767).astype(np.int16)
        return Entry(audio={"y": q}, sr=sr)

    q = VERSIONS.get_or_build(piece_id.replace("/", "_") + "-" + soundfont, params, build)
    y = q.audio["y"].astype(np.float32) / np.float32(32768.0)
    return replace(rec, y=y, renderer=f"fluidsynth ({path.name})")


def load_version(piece_id: str, kind: str | None, sr: int = 22050) -> Recording:
    """Render (or load from the cache) one version of a piece.

    Parameters
    ----------
    piece_id : str
        A corpus id, e.g. ``"bach/bwv66.6"``.
    kind : str or None
        One of :data:`KINDS`, or None for the reference (the original on the piano).
    sr : int
        Sample rate in Hz.

    Returns
    -------
    Recording
        ``recording.time_map(t)`` maps reference times to this version's times.
    """
    sr = check_sr(sr)
    if kind is None:
        return load_piece(piece_id, sr=sr)
    check_choice(kind, "kind", KINDS)
    if kind == "soundfont":
        if not has_kind(kind):
            soundfont_file("musescore")  # raises the ValueError that says how to install it
            raise ValueError("kind='soundfont' needs FluidSynth, which is not available")
        return _render_with_soundfont(piece_id, sr, "musescore")
    n_parts = int(ground_truth(piece_id)["n_parts"])
    return load_piece(piece_id, version=version_for(kind, n_parts), sr=sr)


@dataclass
class VersionPair:
    """A reference rendering and a version of the same piece, with the exact time map.

    Attributes
    ----------
    piece_id, kind : str
    reference, version : Recording
        The reference (original tempo, key and orchestration) and the version.
    seconds : float or None
        Length of the excerpt of the reference (None: the whole piece).
    """

    piece_id: str
    kind: str
    reference: Recording
    version: Recording
    seconds: float | None = None

    def time_map(self, t):
        """Exact map from reference times (s) to version times (s), vectorised."""
        return self.version.version.time_map(t)

    def onsets(self) -> tuple[np.ndarray, np.ndarray]:
        """The distinct note onsets of the reference and the same instants in the version.

        Returns
        -------
        reference_times, version_times : np.ndarray
            Sorted distinct onsets (s) of the reference's notes (within the excerpt) and
            their exact times in the version.
        """
        t = np.unique(np.round(self.reference.notes.onset, 6))
        return t, self.time_map(t)

    @property
    def sr(self) -> int:
        return self.reference.sr


def _crop(rec: Recording, end: float) -> Recording:
    n = rec.notes
    keep = n.onset < end
    notes = Notes(onset=n.onset[keep], offset=np.minimum(n.offset[keep], end),
                  pitch=n.pitch[keep], velocity=n.velocity[keep], program=n.program[keep],
                  part=n.part[keep])
    return replace(rec, y=rec.y[: int(round(end * rec.sr))], notes=notes,
                   beats=rec.beats[rec.beats < end])


def load_pair(piece_id: str, kind: str, sr: int = 22050, seconds: float | None = None
              ) -> VersionPair:
    """A reference rendering and one version of a piece, optionally cut to an excerpt.

    Parameters
    ----------
    piece_id : str
        A corpus id, e.g. ``"bach/bwv66.6"``.
    kind : str
        One of :data:`KINDS`.
    sr : int
        Sample rate in Hz.
    seconds : float, optional
        Keep the first ``seconds`` of the reference and the matching span
        ``[0, time_map(seconds))`` of the version (notes that start inside it), so that the
        excerpts hold the same music.

    Returns
    -------
    VersionPair

    Examples
    --------
    >>> pair = load_pair("bach/bwv66.6", "tempo", seconds=10.0)  # doctest: +SKIP
    >>> pair.time_map(8.0)  # doctest: +SKIP
    6.4
    """
    reference = load_version(piece_id, None, sr)
    version = load_version(piece_id, kind, sr)
    if seconds is not None:
        if not (isinstance(seconds, (int, float)) and not isinstance(seconds, bool)
                and 0 < seconds):
            raise ValueError(f"seconds must be a positive number or None; got {seconds!r}")
        seconds = float(min(seconds, reference.duration))
        reference = _crop(reference, seconds)
        version = _crop(version, float(version.version.time_map(seconds)))
    return VersionPair(piece_id=piece_id, kind=kind, reference=reference, version=version,
                       seconds=seconds)
