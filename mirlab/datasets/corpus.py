"""The embedded corpus: real scores shipped with music21, rendered to audio with exact ground truth.

Two collections (sizes measured with music21 9.9):

- ``"chorales"``: J. S. Bach's four-part chorales, every chorale of music21's corpus whose
  metadata lists four parts and a time signature: 364 pieces, 3.4 hours as rendered (repeats
  expanded, the scores' tempi or 120 quarter notes per minute). Ids like ``"bach/bwv66.6"``.
- ``"folk"``: 400 monophonic folk tunes, 2.6 hours: 300 from the Essen folksong collection and
  100 from O'Neill's *Music of Ireland* (1850), drawn at a fixed stride from the tunes with 16
  to 120 notes, skipping (deterministically) those that fail to convert or are not
  monophonic. Ids like ``"folk/essenFolksong/han1.abc#3"`` (the file inside music21's corpus,
  then ``#`` and the tune's number); any tune of those files can be loaded by its id.

How a score becomes a :class:`Recording`
----------------------------------------
1. The score is parsed; a chorale has its repeats *expanded* (as a performance plays them);
   a folk tune has its repeats *stripped* (first-time endings dropped, the theme played once).
2. Tied notes are merged; every note gets its onset and offset in quarter notes, converted
   to seconds with the score's metronome marks (120 quarter notes per minute without one,
   music21's own default). Beats come from the time signatures (pickups included), and for
   the chorales beat-level chord labels from :mod:`mirlab.datasets.chord_labels`.
3. A :class:`Version` changes these notes *before* synthesis: note and beat times go through
   the version's time map, pitches are transposed, parts get new programs. The ground truth
   of every version is therefore exact by construction.
4. The notes are synthesised with FluidSynth and the General-MIDI soundfont ``TimGM6mb.sf2``
   shipped with pretty_midi, one MIDI channel per part, **reverb and chorus switched off**
   (``synth.reverb.active = synth.chorus.active = 0``) so that a note's sound ends near its
   offset. Events are applied at the exact sample of their time; FluidSynth renders in
   blocks of 64 samples, so a sound may start up to 64 samples (2.9 ms at 22,050 Hz) after
   its note's onset. Without FluidSynth, :func:`mirlab.audio.synthesize_notes` renders the
   same notes (a warning says so, and ``Recording.renderer`` is ``"fallback"``).
5. The mix (stereo averaged to mono) is peak-normalised to 0.9, a tail of 1 s follows the
   last offset (for the releases), and the signal is quantised to 16 bits, which is what
   the cache stores losslessly (FLAC): a cached recording is bit-identical to a fresh one.

Default orchestration: chorales on the acoustic grand piano (program 0) in every part, the
setting of the reference numbers in the book; folk tunes on the flute (program 73), a
sustained melodic instrument. A :class:`Version` re-orchestrates with any programs.

Cache
-----
Everything generated lives in ``mirlab.cache_dir("corpus")``: the collection indexes
(JSON), the ground truth of each piece (JSON) and the audio (FLAC), each written atomically
(temporary file, then rename) with a sha256 checksum and the parameters that made it.

- Ground truth, indexes and the expert comparison are keyed on the piece, the mirlab and
  music21 versions and ``_FORMAT``, the version of the code that derives them from the scores
  (bump it whenever that code changes what it returns).
- Audio is keyed on what is rendered: the sample rate, the programs, a sha256 of the note
  arrays actually synthesised (so tempo, tempo curve, transposition and orchestration are
  covered, and two versions that render the same notes share one file), the renderer with
  its data and code (FluidSynth's library version, the soundfont's sha256 and a hash of the
  rendering code; or, for the fallback, a hash of :data:`mirlab.audio._FAMILY_SOUND`, of the
  synthesiser's code and the mirlab version). A change to any of them renders anew.
- Each audio entry is two files: ``<piece>-<key>-<sha8>.flac``, named by its content, and the
  manifest ``<piece>-<key>.json`` that names it. The FLAC is written first, the manifest
  last: the manifest is the commit point, so a process (pytest workers, notebook kernels)
  that looks while another writes sees either no entry or a complete one. A FLAC without a
  manifest is ignored, and deleted once it is older than a minute (a crashed writer's).

On loading, a partial or corrupt file (unreadable, wrong checksum, other parameters, the
FLAC a manifest names missing) is reported with a :class:`CacheWarning` and rebuilt, never
used silently; a missing entry is simply rendered.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import inspect
import io
import json
import numbers
import os
import re
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from mirlab.core import env
from mirlab.core.checks import check_choice, check_positive_int, check_sr
from mirlab.core.files import atomic_write_bytes, sha256_file

COLLECTIONS = ("chorales", "folk")
RENDERERS = ("auto", "fluidsynth", "fallback")
DEFAULT_PROGRAMS = {"chorales": 0, "folk": 73}
DEFAULT_QPM = 120.0
TAIL = 1.0
PEAK = 0.9
SOUNDFONT_NAME = "TimGM6mb.sf2"
FOLK_SOURCES = (("essenFolksong", 300), ("oneills1850", 100))
FOLK_NOTE_RANGE = (16, 120)
# Version of the code that derives the ground truth from a score (_truth_from_entry and its
# helpers, the chord-label rule), of the collection indexes and of the expert comparison.
# Bump it whenever that code changes what it returns: cached truth, indexes and comparisons
# made with another value are rebuilt. (The audio cache needs no such constant: its key
# holds a hash of the notes rendered and of the rendering code, see _synth_fingerprint.)
_FORMAT = 2
_AUDIO_FILE = "FLAC, 16-bit PCM, mono"  # how the audio cache stores samples
_ORPHAN_AGE = 60.0  # seconds: an uncommitted FLAC older than this is removed


class CacheWarning(UserWarning):
    """A cached corpus file was partial, corrupt or made with other parameters: rebuilding it."""


# --- data classes --------------------------------------------------------------------------------

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
class Notes:
    """Notes as equal-length arrays (times in seconds), sorted by onset then pitch."""

    onset: np.ndarray
    offset: np.ndarray
    pitch: np.ndarray
    velocity: np.ndarray
    program: np.ndarray
    part: np.ndarray

    def __len__(self) -> int:
        return len(self.onset)

    @property
    def intervals(self) -> np.ndarray:
        """(n, 2) array of [onset, offset], the shape mir_eval expects."""
        return np.stack([self.onset, self.offset], axis=1).reshape(-1, 2)


@dataclass
class Chords:
    """Chord segments: ``intervals`` (n, 2) in seconds and mir_eval ``labels``."""

    intervals: np.ndarray
    labels: list[str]


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


# --- small cache helpers -------------------------------------------------------------------------

def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _canonical(data) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def _plain(x):
    """``x`` as it reads back from JSON (tuples become lists), for comparisons."""
    return json.loads(json.dumps(x))


def _write_json_checked(path: Path, params: dict, data) -> None:
    payload = {"params": params, "sha256": _sha256_bytes(_canonical(data)), "data": data}
    atomic_write_bytes(path, json.dumps(payload).encode())


def _read_json_checked(path: Path, params: dict, what: str):
    """Return the data of a checked JSON file, or None (with a warning if it was bad)."""
    if not path.exists():
        return None
    try:
        payload = json.loads(path.read_text())
        problem = None
        if payload.get("params") != _plain(params):
            problem = "it was made with other parameters"
        elif _sha256_bytes(_canonical(payload["data"])) != payload["sha256"]:
            problem = "its checksum does not match"
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        problem = f"it is unreadable ({type(err).__name__})"
    if problem:
        warnings.warn(f"cached {what} {path} is not usable: {problem}; rebuilding it",
                      CacheWarning, stacklevel=3)
        return None
    return payload["data"]


def _versions() -> dict:
    """Versions the ground truth depends on (read from the metadata: music21 not imported)."""
    from mirlab import __version__

    return {"mirlab": __version__, "music21": importlib.metadata.version("music21"),
            "format": _FORMAT}


# --- collection indexes --------------------------------------------------------------------------

def _corpus_root() -> Path:
    """music21's corpus folder, found without importing music21 (slow to import)."""
    spec = importlib.util.find_spec("music21")
    return Path(spec.origin).resolve().parent / "corpus"


def _metadata_entries():
    from music21 import corpus

    bundle = corpus.corpora.CoreCorpus().metadataBundle
    # the bundle's own iteration is quadratic (15,000 entries: 40 s); its dict is not
    entries = getattr(bundle, "_metadataEntries", None)
    out = []
    for entry in (entries.values() if isinstance(entries, dict) else bundle):
        path = str(entry.sourcePath).replace(os.sep, "/")
        out.append((path, entry.number, entry.metadata))
    return sorted(out, key=lambda e: (e[0], int(e[1] or 0)))


def _chorale_index() -> dict:
    pieces = {}
    for path, _, md in _metadata_entries():
        if not (path.startswith("bach/") and path.endswith(".mxl")) or "/" in path[5:]:
            continue
        if md.numberOfParts != 4 or not md.timeSignatureFirst:
            continue
        stem = path[: -len(".mxl")]
        pieces[stem] = {"path": path, "number": None, "title": md.title,
                        "composer": "J. S. Bach"}
    return dict(sorted(pieces.items()))


def _folk_index(progress: bool) -> dict:
    from tqdm.auto import tqdm

    pieces = {}
    entries = _metadata_entries()
    for source, quota in FOLK_SOURCES:
        lo, hi = FOLK_NOTE_RANGE
        cands = [(p, n, md) for p, n, md in entries
                 if p.startswith(source + "/") and n is not None and md.numberOfParts == 1
                 and md.timeSignatureFirst and lo <= (md.noteCount or 0) <= hi]
        step = max(len(cands) // quota, 1)
        kept = 0
        bar = tqdm(total=quota, desc=f"indexing {source}", disable=env.progress_disabled(progress))
        for start in range(step):
            for path, number, md in cands[start::step]:
                if kept >= quota:
                    break
                piece_id = f"folk/{path}#{int(number)}"
                entry = {"path": path, "number": int(number), "title": md.title,
                         "composer": md.composer or "traditional"}
                try:
                    _truth_from_entry(piece_id, "folk", entry)
                except _Unusable:
                    continue
                pieces[piece_id] = entry
                kept += 1
                bar.update()
            if kept >= quota:
                break
        bar.close()
    return pieces


def _index(collection: str, progress: bool = True) -> dict:
    check_choice(collection, "collection", COLLECTIONS)
    path = _cache("corpus") / f"index-{collection}.json"
    params = {"collection": collection, **_versions(),
              "folk": [list(FOLK_SOURCES), list(FOLK_NOTE_RANGE)]}
    data = _read_json_checked(path, params, "index")
    if data is None:
        data = _chorale_index() if collection == "chorales" else _folk_index(progress)
        _write_json_checked(path, params, data)
    return data


def _cache(*parts) -> Path:
    return env.cache_dir(*parts)


def list_pieces(collection: str) -> list[str]:
    """Ids of the pieces of a collection, in a fixed order.

    The first call builds the collection's index (chorales: about 3 s from music21's
    metadata; folk: 10 to 40 s, since every candidate tune is converted once to keep only
    those that work) and caches it as JSON; later calls take about a millisecond.

    Parameters
    ----------
    collection : {"chorales", "folk"}

    Returns
    -------
    list of str

    Examples
    --------
    >>> ids = list_pieces("chorales")  # doctest: +SKIP
    >>> "bach/bwv66.6" in ids  # doctest: +SKIP
    True
    """
    return list(_index(collection))


# --- score -> ground truth (original version) ----------------------------------------------------

class _Unusable(Exception):
    """A score that cannot be turned into a recording (parse failure, not monophonic ...)."""


def _collection_of(piece_id) -> str:
    if not isinstance(piece_id, str):
        raise ValueError(f"piece_id must be a string like 'bach/bwv66.6'; got {piece_id!r}")
    if piece_id.startswith("bach/"):
        return "chorales"
    if piece_id.startswith("folk/"):
        return "folk"
    raise ValueError(f"piece_id must start with 'bach/' (chorales) or 'folk/' (folk tunes); "
                     f"got {piece_id!r}; see list_pieces(collection)")


def _entry_for(piece_id: str) -> tuple[str, dict]:
    collection = _collection_of(piece_id)
    if collection == "chorales":
        index = _index("chorales")
        if piece_id not in index:
            raise ValueError(f"piece_id {piece_id!r} is not one of the {len(index)} four-part "
                             "chorales; see list_pieces('chorales')")
        return collection, index[piece_id]
    rest = piece_id[len("folk/"):]
    path, _, number = rest.partition("#")
    if not number.isdigit() or not (_corpus_root() / path).is_file():
        raise ValueError(f"piece_id {piece_id!r} must name a tune 'folk/<file>#<number>' of "
                         "music21's corpus; see list_pieces('folk')")
    return collection, {"path": path, "number": int(number), "title": None,
                        "composer": "traditional"}


def _strip_repeats(score):
    """Drop first-time endings so that the written tune is played once (repeats ignored)."""
    from music21 import spanner, stream

    brackets = list(score.recurse().getElementsByClass(spanner.RepeatBracket))
    if not brackets:
        return score
    last = max(max(rb.numberRange or [1]) for rb in brackets)
    for part in score.parts:
        measures = list(part.getElementsByClass(stream.Measure))
        drop = set()
        for rb in brackets:
            if last in (rb.numberRange or [1]):
                continue
            spanned = [i for i, m in enumerate(measures)
                       if any(m is e for e in rb.getSpannedElements())]
            if spanned:  # a bracket may list only its first and last measures
                drop.update(range(min(spanned), max(spanned) + 1))
        for i in sorted(drop, reverse=True):
            part.remove(measures[i], shiftOffsets=True)
    return score


def _parse(collection: str, entry: dict):
    from music21 import converter, corpus

    if collection == "chorales":
        return corpus.parse(entry["path"]).expandRepeats()
    score = converter.parse(_corpus_root() / entry["path"], number=entry["number"])
    return _strip_repeats(score)


def _seconds_map(score):
    """(knots in quarter notes, knots in seconds) of the score's piecewise-constant tempo."""
    part = score.parts[0] if score.parts else score
    ql, sec = [0.0], [0.0]
    for start, end, mark in part.metronomeMarkBoundaries():
        if end - start <= 1e-9:
            continue
        bpm = mark.getQuarterBPM() if mark is not None else None
        spq = 60.0 / (bpm if bpm else DEFAULT_QPM)
        if start > ql[-1] + 1e-9:  # a gap: default tempo
            sec.append(sec[-1] + (float(start) - ql[-1]) * 60.0 / DEFAULT_QPM)
            ql.append(float(start))
        sec.append(sec[-1] + (float(end) - ql[-1]) * spq)
        ql.append(float(end))
    return np.array(ql), np.array(sec)


def _to_seconds(q, knots):
    ql, sec = knots
    q = np.asarray(q, dtype=float)
    if len(ql) < 2:
        return q * 60.0 / DEFAULT_QPM
    rate = (sec[-1] - sec[-2]) / (ql[-1] - ql[-2])
    return np.where(q <= ql[-1], np.interp(q, ql, sec), sec[-1] + (q - ql[-1]) * rate)


def _score_notes(score) -> list[tuple[float, float, int, int, int]]:
    """(onset, offset in quarter notes, pitch, velocity, part) of every sounding note."""
    rows = []
    stripped = score.stripTies()
    for part_index, part in enumerate(stripped.parts):
        for n in part.flatten().notes:
            if n.duration.isGrace or n.quarterLength <= 0:
                continue
            on = float(n.offset)
            off = on + float(n.quarterLength)
            vel = n.volume.velocity or 90
            for p in n.pitches:
                rows.append((on, off, int(round(p.ps)), int(vel), part_index))
    return sorted(rows, key=lambda r: (r[0], r[2], r[4]))


def _truth_from_entry(piece_id: str, collection: str, entry: dict) -> dict:
    """Ground truth of the original version (times in seconds), as plain data."""
    from mirlab.datasets.chord_labels import _beat_grid, beat_chord_labels

    try:
        score = _parse(collection, entry)
        if not score.parts:
            raise _Unusable("no parts")
        rows = _score_notes(score)
        knots = _seconds_map(score)
        grid = _beat_grid(score.parts[0])
    except _Unusable:
        raise
    except Exception as err:  # broken scores in the corpus fail in many ways
        raise _Unusable(f"{type(err).__name__}: {err}") from err
    if len(rows) < 2 or not grid:
        raise _Unusable("too few notes or no time signature")
    n_parts = len(score.parts)
    arr = np.array(rows, dtype=float)
    onset, offset = _to_seconds(arr[:, 0], knots), _to_seconds(arr[:, 1], knots)
    if collection == "folk":
        if n_parts != 1 or np.any(onset[1:] < offset[:-1] - 1e-6):
            raise _Unusable("not monophonic")
    chords = None
    if collection == "chorales":
        beats_rows = beat_chord_labels(score)
        starts = _to_seconds([b["start"] for b in beats_rows], knots)
        ends = _to_seconds([b["end"] for b in beats_rows], knots)
        chords = {"intervals": np.c_[starts, ends].tolist(),
                  "labels": [b["label"] for b in beats_rows]}
        beats = starts
    else:
        beats = _to_seconds([g[2] for g in grid], knots)
    md = score.metadata
    title = (md.title if md is not None and md.title else None) or entry.get("title")
    if not title:
        title = piece_id.split("/")[-1].replace("bwv", "BWV ")
    composer = (md.composer if md is not None and md.composer else None) or entry["composer"]
    return {
        "piece_id": piece_id, "collection": collection, "title": str(title),
        "composer": str(composer), "n_parts": n_parts,
        "part_names": [str(p.partName or f"part {i}") for i, p in enumerate(score.parts)],
        "onset": onset.tolist(), "offset": offset.tolist(),
        "pitch": arr[:, 2].astype(int).tolist(), "velocity": arr[:, 3].astype(int).tolist(),
        "part": arr[:, 4].astype(int).tolist(),
        "beats": np.asarray(beats, dtype=float).tolist(), "chords": chords,
    }


def _safe_name(piece_id: str) -> str:
    return piece_id.replace("/", "__").replace("#", "_n")


def _ground_truth(piece_id: str) -> dict:
    collection, entry = _entry_for(piece_id)
    path = _cache("corpus", "truth") / f"{_safe_name(piece_id)}.json"
    params = {"piece_id": piece_id, **_versions()}
    data = _read_json_checked(path, params, "ground truth")
    if data is None:
        try:
            data = _truth_from_entry(piece_id, collection, entry)
        except _Unusable as err:
            raise ValueError(f"piece_id {piece_id!r} cannot be converted ({err}); "
                             f"see list_pieces({collection!r})") from err
        _write_json_checked(path, params, data)
    return data


# --- versions ------------------------------------------------------------------------------------

def _apply_version(truth: dict, version: Version) -> tuple[Notes, np.ndarray, Chords | None,
                                                           list[int]]:
    from mirlab.datasets.chord_labels import transpose_label

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

def soundfont_path() -> Path:
    """Path of the General-MIDI soundfont shipped with pretty_midi (``TimGM6mb.sf2``)."""
    spec = importlib.util.find_spec("pretty_midi")  # found without importing pretty_midi
    return Path(spec.origin).resolve().parent / SOUNDFONT_NAME


def _channel(part: int) -> int:
    """MIDI channel of a part (channel 9 is reserved for drums in General MIDI)."""
    return part if part < 9 else part + 1


def _render_fluidsynth(notes: Notes, programs: list[int], n_samples: int, sr: int) -> np.ndarray:
    fluidsynth = env.import_fluidsynth()

    synth = fluidsynth.Synth(gain=0.2, samplerate=float(sr),
                             **{"synth.reverb.active": 0, "synth.chorus.active": 0})
    try:
        sfid = synth.sfload(str(soundfont_path()))
        for part, program in enumerate(programs):
            synth.program_select(_channel(part), sfid, 0, int(program))
        cols = (notes.onset, notes.part, notes.pitch, notes.velocity)
        events = [(int(round(t * sr)), 1, _channel(int(p)), int(k), int(v))
                  for t, p, k, v in zip(*cols, strict=True)]
        events += [(int(round(t * sr)), 0, _channel(int(p)), int(k), 0)
                   for t, p, k in zip(notes.offset, notes.part, notes.pitch, strict=True)]
        chunks, now = [], 0
        for sample, is_on, ch, key, vel in sorted(events):  # note-offs first at equal times
            sample = min(sample, n_samples)
            if sample > now:
                chunks.append(synth.get_samples(sample - now))
                now = sample
            if is_on:
                synth.noteon(ch, key, vel)
            else:
                synth.noteoff(ch, key)
        if n_samples > now:
            chunks.append(synth.get_samples(n_samples - now))
    finally:
        synth.delete()
    stereo = np.concatenate(chunks).astype(np.float64).reshape(-1, 2)
    return stereo.mean(axis=1) / 32768.0


def _render_fallback(notes: Notes, n_samples: int, sr: int) -> np.ndarray:
    from mirlab.audio import synthesize_notes

    y = synthesize_notes(notes.onset, notes.offset, notes.pitch, notes.velocity, notes.program,
                         sr=sr, duration=n_samples / sr)
    out = np.zeros(n_samples)
    out[: min(len(y), n_samples)] = y[:n_samples]
    return out


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
                          "fallback synthesiser (mirlab.audio.synthesize_notes), which keeps "
                          "notes and chords exact but does not sound like real instruments",
                          UserWarning, stacklevel=3)
    return renderer


# --- audio cache ---------------------------------------------------------------------------------

@functools.cache
def _soundfont_sha256(path: str) -> str:
    """sha256 of the soundfont file (6 MB: hashed once per process)."""
    return sha256_file(path)


@functools.cache
def _fluidsynth_version() -> str:
    """Version of the FluidSynth library that pyfluidsynth loaded, e.g. ``"2.3.1"``."""
    import ctypes

    fluidsynth = env.import_fluidsynth()
    parts = [ctypes.c_int(), ctypes.c_int(), ctypes.c_int()]
    fluidsynth.fluid_version(*parts)
    return ".".join(str(p.value) for p in parts)


@functools.cache
def _code_sha256(*functions) -> str:
    """sha256 of the source code of ``functions`` (their bytecode if the source is missing)."""
    h = hashlib.sha256()
    for func in functions:
        try:
            h.update(inspect.getsource(func).encode())
        except (OSError, TypeError):
            h.update(func.__code__.co_code)
    return h.hexdigest()


def _synth_fingerprint(renderer: str) -> dict:
    """What decides the sound besides the notes: the synthesiser, its data and its code."""
    from mirlab import __version__, audio

    if renderer == "fluidsynth":
        sf2 = soundfont_path()
        return {"fluidsynth": _fluidsynth_version(), "soundfont": sf2.name,
                "soundfont_sha256": _soundfont_sha256(str(sf2)),
                "code": _code_sha256(_render_fluidsynth, _channel, _quantise)}
    family = repr(sorted(audio._FAMILY_SOUND.items())).encode()
    return {"mirlab": __version__, "family_sound_sha256": _sha256_bytes(family),
            "code": _code_sha256(_render_fallback, audio.synthesize_notes, _quantise)}


def _notes_sha256(notes: Notes) -> str:
    """sha256 of the note arrays (times as float64, the rest as int64, little-endian)."""
    h = hashlib.sha256()
    for name in ("onset", "offset", "pitch", "velocity", "program", "part"):
        dtype = "<f8" if name in ("onset", "offset") else "<i8"
        h.update(name.encode())
        h.update(np.ascontiguousarray(getattr(notes, name), dtype=dtype).tobytes())
    return h.hexdigest()


def _audio_params(piece_id, notes, programs, sr, renderer, n_samples) -> dict:
    """Everything that decides the rendered samples (the cache key), as plain data."""
    return {"piece_id": piece_id, "sr": sr, "renderer": renderer,
            "programs": [int(p) for p in programs], "n_notes": len(notes),
            "notes_sha256": _notes_sha256(notes), "n_samples": n_samples, "tail": TAIL,
            "peak": PEAK, "file": _AUDIO_FILE, "synth": _synth_fingerprint(renderer)}


def _with(stem: Path, suffix: str) -> Path:
    """``stem`` plus a suffix (ids hold dots, so ``Path.with_suffix`` would cut them)."""
    return stem.parent / (stem.name + suffix)


def _read_cached_audio(stem: Path, params: dict) -> np.ndarray | None:
    """The samples of the entry ``stem`` (16-bit integers), or None when it is not cached.

    The manifest ``<stem>.json`` is the commit point: without it the entry does not exist
    (a FLAC without a manifest may be one another process has not committed yet). A manifest
    that is unreadable, made with other parameters, or names a missing, partial or corrupt
    FLAC is reported with a :class:`CacheWarning`. The FLAC is read once, checked, and
    decoded from memory.
    """
    import soundfile as sf

    manifest = _with(stem, ".json")
    try:
        text = manifest.read_text()
    except FileNotFoundError:
        return None
    problem, audio = None, manifest
    try:
        man = json.loads(text)
        audio = stem.parent / Path(man["file"]).name
        if man["params"] != _plain(params):
            problem = "it was made with other parameters"
        else:
            data = audio.read_bytes()
            if _sha256_bytes(data) != man["sha256"]:
                problem = "its checksum does not match (partial or corrupt file)"
            else:
                q, file_sr = sf.read(io.BytesIO(data), dtype="int16")
                if file_sr != params["sr"] or len(q) != man["n_samples"] or q.ndim != 1:
                    problem = "its length or sample rate is wrong"
    except FileNotFoundError:
        problem = "the audio file its manifest names is missing"
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, sf.LibsndfileError) as err:
        problem = f"it is unreadable ({type(err).__name__})"
    if problem:
        warnings.warn(f"cached audio {audio} is not usable: {problem}; re-rendering it",
                      CacheWarning, stacklevel=3)
        return None
    return q


def _write_cached_audio(stem: Path, params: dict, q: np.ndarray) -> None:
    """Commit an entry: the FLAC (named by its content) first, then its manifest."""
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, q, params["sr"], format="FLAC", subtype="PCM_16")
    data = buf.getvalue()
    sha = _sha256_bytes(data)
    audio = _with(stem, f"-{sha[:8]}.flac")
    atomic_write_bytes(audio, data)
    manifest = {"params": params, "sha256": sha, "n_samples": int(len(q)), "file": audio.name}
    atomic_write_bytes(_with(stem, ".json"), json.dumps(manifest, indent=1).encode())
    _remove_orphans(stem, keep=audio.name)


def _remove_orphans(stem: Path, keep: str) -> None:
    """Delete FLACs of the entry ``stem`` that its manifest does not name.

    Only files older than ``_ORPHAN_AGE`` go, so a FLAC that another process has just
    written and is about to commit is left alone.
    """
    pattern = re.compile(re.escape(stem.name) + r"-[0-9a-f]{8}\.flac")
    now = time.time()
    for path in stem.parent.glob(stem.name + "-*.flac"):
        if path.name == keep or not pattern.fullmatch(path.name):
            continue
        try:
            if now - path.stat().st_mtime > _ORPHAN_AGE:
                path.unlink()
        except FileNotFoundError:  # another process cleaned it first
            pass


def _audio(piece_id, notes, programs, sr, renderer) -> np.ndarray:
    end = float(np.max(notes.offset)) if len(notes) else 0.0
    n_samples = int(np.ceil((end + TAIL) * sr))
    params = _audio_params(piece_id, notes, programs, sr, renderer, n_samples)
    key = _sha256_bytes(_canonical(params))[:16]
    stem = _cache("corpus", "audio") / f"{_safe_name(piece_id)}-{key}"
    q = _read_cached_audio(stem, params)
    if q is None:
        if renderer == "fluidsynth":
            x = _render_fluidsynth(notes, programs, n_samples, sr)
        else:
            x = _render_fallback(notes, n_samples, sr)
        q = _quantise(x)
        _write_cached_audio(stem, params, q)
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
    truth = _ground_truth(piece_id)
    notes, beats, chords, programs = _apply_version(truth, version)
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
