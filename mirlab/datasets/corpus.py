"""The embedded corpus: real scores shipped with music21, rendered to audio with exact ground truth.

Taught in ``book/datasets.ipynb``; used by every chapter. The scores and their ground truth
come from :mod:`mirlab.datasets.scores` (collections, ids, parsing); this module re-times,
transposes and re-orchestrates them (:class:`Version`) and renders them
(:mod:`mirlab.datasets.synth`).

How a score becomes a :class:`Recording`
----------------------------------------
1. :func:`mirlab.datasets.scores.ground_truth`: notes, beats and (chorales) chord labels of
   the original version, in seconds.
2. A :class:`Version` changes these notes *before* synthesis: note and beat times go through
   the version's time map, pitches are transposed, parts get new programs. The ground truth
   of every version is therefore exact by construction.
3. The notes are synthesised with FluidSynth and the General-MIDI soundfont ``TimGM6mb.sf2``
   shipped with pretty_midi, one MIDI channel per part, **reverb and chorus switched off**
   so that a note's sound ends near its offset (:func:`mirlab.datasets.synth.render_tracks`:
   events at the exact sample of their time; FluidSynth renders in blocks of 64 samples, so
   a sound may start up to 64 samples, 2.9 ms at 22,050 Hz, after its note's onset). Without
   FluidSynth, the fallback :func:`mirlab.datasets.synth.synthesize_notes` renders the same
   notes (a warning says so, and ``Recording.renderer`` is ``"fallback"``).
4. The mix (stereo averaged to mono) is peak-normalised to 0.9, a tail of 1 s follows the
   last offset (for the releases), and the signal is quantised to 16 bits, which is what
   the cache stores losslessly (FLAC): a cached recording is bit-identical to a fresh one.

Default orchestration: chorales on the acoustic grand piano (program 0) in every part, the
setting of the reference numbers in the book; folk tunes on the flute (program 73), a
sustained melodic instrument. A :class:`Version` re-orchestrates with any programs.

Cache
-----
The audio lives in ``mirlab.cache_dir("corpus", "audio")``, one entry of the one cache
(:mod:`mirlab.core.cache`: keyed, checksummed, atomic, the manifest as commit point) per
rendering. Its key holds what is rendered: the sample rate, the programs, a sha256 of the note
arrays actually synthesised (so tempo, tempo curve, transposition and orchestration are
covered, and two versions that render the same notes share one entry) and the renderer with
its data and code (:func:`mirlab.datasets.synth.renderer_fingerprint`: FluidSynth's version,
the soundfont's sha256, a hash of the rendering code). A partial or corrupt entry is reported
with a :class:`~mirlab.core.cache.CacheWarning` and rendered anew, never used silently.
"""

from __future__ import annotations

import hashlib
import numbers
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np

from mirlab.core import env
from mirlab.core.cache import Cache, CacheWarning, Entry
from mirlab.core.checks import check_choice, check_positive_int, check_sr
from mirlab.core.music import Chords, Notes
from mirlab.datasets.chord_labels import transpose_label
from mirlab.datasets.scores import COLLECTIONS, ground_truth, list_pieces
from mirlab.datasets.synth import (
    Track,
    render_tracks,
    renderer_fingerprint,
    soundfont_path,
)

__all__ = ["COLLECTIONS", "RENDERERS", "DEFAULT_PROGRAMS", "CacheWarning", "Chords", "Notes",
           "Recording", "TempoCurve", "Version", "apply_version", "list_pieces",
           "load_collection", "load_piece", "soundfont_path"]

RENDERERS = ("auto", "fluidsynth", "fallback")
DEFAULT_PROGRAMS = {"chorales": 0, "folk": 73}
TAIL = 1.0
PEAK = 0.9
AUDIO = Cache("corpus", "audio", what="audio")
_AUDIO_FILE = "FLAC, 16-bit PCM, mono"  # how the audio cache stores samples


# --- versions ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TempoCurve:
    """A smooth tempo modulation with an exact time map.

    The *local time stretch* (seconds of the version per second of the original, the inverse
    of the relative tempo) varies as a sinusoid of the original time ``t``::

        s(t) = 1 + amplitude * sin(2 * pi * t / period)

    so the relative tempo ``1 / s(t)`` swings between ``1 / (1 + amplitude)`` (slower) and
    ``1 / (1 - amplitude)`` (faster) once per ``period`` seconds, and the time map, the
    integral of the inverse tempo, has the closed form::

        tau(t) = t + amplitude * period / (2 pi) * (1 - cos(2 pi t / period))

    Parameters
    ----------
    amplitude : float
        Depth of the modulation, 0 <= amplitude < 1 (0.2 gives tempi from 0.83 to 1.25).
    period : float
        Period of the modulation in seconds of the original rendering.
    """

    amplitude: float = 0.2
    period: float = 8.0

    def __post_init__(self):
        a, p = self.amplitude, self.period
        if isinstance(a, bool) or not isinstance(a, numbers.Real) or not 0 <= a < 1:
            raise ValueError(f"tempo_curve.amplitude must be a number in [0, 1); got {a!r}")
        if isinstance(p, bool) or not isinstance(p, numbers.Real) or not p > 0:
            raise ValueError(f"tempo_curve.period must be a positive number of seconds; got {p!r}")
        object.__setattr__(self, "amplitude", float(a))
        object.__setattr__(self, "period", float(p))

    def stretch(self, t):
        """Local time stretch ``s(t)`` (inverse relative tempo) at original times ``t``."""
        t = np.asarray(t, dtype=float)
        return 1.0 + self.amplitude * np.sin(2 * np.pi * t / self.period)

    def integral(self, t):
        """The time map ``tau(t)``, the integral of :meth:`stretch` from 0 to ``t``."""
        t = np.asarray(t, dtype=float)
        w = 2 * np.pi / self.period
        return t + self.amplitude / w * (1.0 - np.cos(w * t))


@dataclass(frozen=True)
class Version:
    """A re-rendering of a piece: tempo, tempo curve, transposition, orchestration.

    Parameters
    ----------
    tempo : float
        Global tempo factor (2.0 plays twice as fast: every time is halved).
    tempo_curve : TempoCurve or (amplitude, period), optional
        A smooth tempo modulation on top of ``tempo`` (see :class:`TempoCurve`).
    transpose : int
        Transposition in semitones (all pitches and chord roots move).
    programs : sequence of int, optional
        General-MIDI programs (0..127), one per part; default: the collection's orchestration.

    Examples
    --------
    >>> v = Version(tempo=2.0)
    >>> float(v.time_map(3.0))
    1.5
    """

    tempo: float = 1.0
    tempo_curve: TempoCurve | None = None
    transpose: int = 0
    programs: tuple[int, ...] | None = None

    def __post_init__(self):
        t = self.tempo
        if isinstance(t, bool) or not isinstance(t, numbers.Real) or not np.isfinite(t) or t <= 0:
            raise ValueError(f"tempo must be a positive number (a tempo factor); got {t!r}")
        object.__setattr__(self, "tempo", float(t))
        curve = self.tempo_curve
        if curve is not None and not isinstance(curve, TempoCurve):
            try:
                curve = TempoCurve(*curve)
            except TypeError as err:
                raise ValueError("tempo_curve must be a TempoCurve or an (amplitude, period) "
                                 f"pair; got {self.tempo_curve!r}") from err
            object.__setattr__(self, "tempo_curve", curve)
        tr = self.transpose
        if isinstance(tr, bool) or not isinstance(tr, numbers.Integral):
            raise ValueError(f"transpose must be an integer number of semitones; got {tr!r}")
        object.__setattr__(self, "transpose", int(tr))
        if self.programs is not None:
            progs = tuple(self.programs) if np.iterable(self.programs) else (self.programs,)
            for p in progs:
                if isinstance(p, bool) or not isinstance(p, numbers.Integral) or not 0 <= p <= 127:
                    raise ValueError("programs must hold General-MIDI programs, integers in "
                                     f"0..127; got {self.programs!r}")
            object.__setattr__(self, "programs", tuple(int(p) for p in progs))

    def time_map(self, t):
        """Map times (s) of the original rendering to times of this version (vectorised)."""
        t = np.asarray(t, dtype=float)
        warped = self.tempo_curve.integral(t) if self.tempo_curve is not None else t
        return warped / self.tempo

    def as_dict(self) -> dict:
        """Plain-data description (JSON-ready)."""
        d = asdict(self)
        d["programs"] = list(self.programs) if self.programs is not None else None
        return d



@dataclass
class Recording:
    """A rendered piece with its ground truth (see the module docstring).

    ``time_map(t)`` maps times of the original rendering (``version=None``) to times of
    this recording; ``duration`` is the audio's length in seconds.
    """

    piece_id: str
    collection: str
    title: str
    composer: str
    y: np.ndarray
    sr: int
    notes: Notes
    chords: Chords | None
    beats: np.ndarray
    programs: list[int]
    version: Version
    renderer: str
    part_names: list[str] = field(default_factory=list)

    def time_map(self, t):
        """Map times (s) of the original rendering to times in this version (exact)."""
        return self.version.time_map(t)

    @property
    def duration(self) -> float:
        return len(self.y) / self.sr

    def to_midi(self, path=None):
        """The notes as a ``pretty_midi.PrettyMIDI`` (one instrument per part), optionally saved.

        Times are exact up to the MIDI tick (960 ticks per quarter note at 120 qpm: 0.5 ms).

        Parameters
        ----------
        path : str or Path, optional
            Where to write a standard MIDI file.

        Returns
        -------
        pretty_midi.PrettyMIDI
        """
        import pretty_midi

        pm = pretty_midi.PrettyMIDI(resolution=960, initial_tempo=120.0)
        n = self.notes
        for part, program in enumerate(self.programs):
            name = self.part_names[part] if part < len(self.part_names) else f"part {part}"
            inst = pretty_midi.Instrument(program=int(program), name=name)
            sel = n.part == part
            cols = (n.velocity[sel], n.pitch[sel], n.onset[sel], n.offset[sel])
            inst.notes = [pretty_midi.Note(int(v), int(p), float(a), float(b))
                          for v, p, a, b in zip(*cols, strict=True)]
            pm.instruments.append(inst)
        if path is not None:
            pm.write(str(path))
        return pm

    def __repr__(self) -> str:
        return (f"Recording({self.piece_id!r}, {self.title!r}, {self.duration:.1f} s, "
                f"{len(self.notes)} notes, programs={self.programs}, renderer={self.renderer!r})")



def apply_version(truth: dict, version: Version) -> tuple[Notes, np.ndarray, Chords | None,
                                                          list[int]]:
    """The notes, beats, chords and programs of a version of a piece.

    Parameters
    ----------
    truth : dict
        The original version's ground truth (:func:`mirlab.datasets.scores.ground_truth`).
    version : Version

    Returns
    -------
    notes : Notes
    beats : np.ndarray
        Beat times in seconds.
    chords : Chords or None
    programs : list of int
        One General-MIDI program per part.
    """
    n_parts = truth["n_parts"]
    if version.programs is None:
        programs = [DEFAULT_PROGRAMS[truth["collection"]]] * n_parts
    else:
        if len(version.programs) != n_parts:
            raise ValueError(f"version.programs must hold one program per part ({n_parts} for "
                             f"{truth['piece_id']!r}); got {len(version.programs)}")
        programs = list(version.programs)
    pitch = np.asarray(truth["pitch"], dtype=int) + version.transpose
    if pitch.min() < 0 or pitch.max() > 127:
        raise ValueError(f"transpose={version.transpose} moves pitches outside MIDI 0..127 "
                         f"(range {pitch.min()}..{pitch.max()})")
    part = np.asarray(truth["part"], dtype=int)
    notes = Notes(onset=version.time_map(truth["onset"]), offset=version.time_map(truth["offset"]),
                  pitch=pitch, velocity=np.asarray(truth["velocity"], dtype=int),
                  program=np.asarray(programs, dtype=int)[part], part=part)
    beats = version.time_map(truth["beats"])
    chords = None
    if truth["chords"] is not None:
        chords = Chords(intervals=version.time_map(np.asarray(truth["chords"]["intervals"],
                                                              dtype=float).reshape(-1, 2)),
                        labels=[transpose_label(lab, version.transpose)
                                for lab in truth["chords"]["labels"]])
    return notes, beats, chords, programs


# --- rendering -----------------------------------------------------------------------------------

def _quantise(x: np.ndarray) -> np.ndarray:
    """Peak-normalise to PEAK and quantise to 16-bit integers."""
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    if peak > 0:
        x = x * (PEAK / peak)
    return np.clip(np.round(x * 32767.0), -32768, 32767).astype(np.int16)


def _choose_renderer(renderer: str) -> str:
    check_choice(renderer, "renderer", RENDERERS)
    if renderer == "fluidsynth" and not env.has_fluidsynth():
        raise ValueError("renderer='fluidsynth' needs FluidSynth (libfluidsynth and pyfluidsynth); "
                         "install it or use renderer='auto'")
    if renderer == "auto":
        renderer = "fluidsynth" if env.has_fluidsynth() else "fallback"
        if renderer == "fallback":  # Python's default filter shows it once per calling line
            warnings.warn("FluidSynth is not available: the corpus is rendered with mirlab's "
                          "fallback synthesiser (mirlab.datasets.synth.synthesize_notes), which "
                          "keeps notes and chords exact but does not sound like real instruments",
                          UserWarning, stacklevel=3)
    return renderer


def _part_tracks(notes: Notes, programs: list[int]) -> list[Track]:
    """One track per part, at the default level."""
    tracks = []
    for part, program in enumerate(programs):
        sel = notes.part == part
        tracks.append(Track(onset=notes.onset[sel], offset=notes.offset[sel],
                            pitch=notes.pitch[sel], velocity=notes.velocity[sel],
                            program=int(program)))
    return tracks


def _notes_sha256(notes: Notes) -> str:
    """sha256 of the note arrays (times as float64, the rest as int64, little-endian)."""
    h = hashlib.sha256()
    for name in ("onset", "offset", "pitch", "velocity", "program", "part"):
        dtype = "<f8" if name in ("onset", "offset") else "<i8"
        h.update(name.encode())
        h.update(np.ascontiguousarray(getattr(notes, name), dtype=dtype).tobytes())
    return h.hexdigest()


def _audio(piece_id, notes, programs, sr, renderer) -> np.ndarray:
    end = float(np.max(notes.offset)) if len(notes) else 0.0
    n_samples = int(np.ceil((end + TAIL) * sr))
    params = {"piece_id": piece_id, "sr": sr, "renderer": renderer,
              "programs": [int(p) for p in programs], "n_notes": len(notes),
              "notes_sha256": _notes_sha256(notes), "n_samples": n_samples, "tail": TAIL,
              "peak": PEAK, "file": _AUDIO_FILE, "synth": renderer_fingerprint(renderer)}

    def build():
        x = render_tracks(_part_tracks(notes, programs), n_samples, sr, renderer)
        return Entry(audio={"y": _quantise(x)}, sr=sr)

    q = AUDIO.get_or_build(piece_id, params, build).audio["y"]
    return q.astype(np.float32) / np.float32(32768.0)


# --- public loaders ------------------------------------------------------------------------------

def load_piece(piece_id: str, version: Version | None = None, sr: int = 22050,
               renderer: str = "auto") -> Recording:
    """Render one piece of the corpus (or load it from the cache) with its ground truth.

    Parameters
    ----------
    piece_id : str
        An id from :func:`list_pieces`, e.g. ``"bach/bwv66.6"``.
    version : Version, optional
        Tempo, tempo curve, transposition and orchestration (default: the original).
    sr : int
        Sample rate in Hz.
    renderer : {"auto", "fluidsynth", "fallback"}
        ``"auto"`` uses FluidSynth when available, else the fallback synthesiser.

    Returns
    -------
    Recording

    Examples
    --------
    >>> rec = load_piece("bach/bwv66.6")  # doctest: +SKIP
    >>> rec.chords.labels[:4]  # doctest: +SKIP
    """
    sr = check_sr(sr)
    if version is None:
        version = Version()
    if not isinstance(version, Version):
        raise ValueError(f"version must be a mirlab.datasets.Version or None; got {version!r}")
    renderer = _choose_renderer(renderer)
    truth = ground_truth(piece_id)
    notes, beats, chords, programs = apply_version(truth, version)
    y = _audio(piece_id, notes, programs, sr, renderer)
    return Recording(piece_id=piece_id, collection=truth["collection"], title=truth["title"],
                     composer=truth["composer"], y=y, sr=sr, notes=notes, chords=chords,
                     beats=beats, programs=programs, version=version, renderer=renderer,
                     part_names=list(truth["part_names"]))


def load_collection(collection: str, n: int | None = None, version: Version | None = None,
                    sr: int = 22050, progress: bool = True) -> list[Recording]:
    """Load the first ``n`` pieces of a collection (all when ``n`` is None).

    The first call parses the scores and renders them: for the first 20 chorales (11.7
    minutes of audio) about 13 s, of which 3 s of synthesis; later calls read the cache
    (0.5 s for the same 20 chorales).

    Parameters
    ----------
    collection : {"chorales", "folk"}
    n : int, optional
        Number of pieces, the first ``n`` ids of :func:`list_pieces`.
    version : Version, optional
        The same version for every piece.
    sr : int
        Sample rate in Hz.
    progress : bool
        Show a progress bar (tqdm).

    Returns
    -------
    list of Recording
    """
    from tqdm.auto import tqdm

    check_choice(collection, "collection", COLLECTIONS)
    ids = list_pieces(collection)
    if n is not None:
        ids = ids[: check_positive_int(n, "n")]
    hidden = env.progress_disabled(progress)
    return [load_piece(pid, version=version, sr=sr)
            for pid in tqdm(ids, desc=f"loading {collection}", disable=hidden)]
