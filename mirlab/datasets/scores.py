"""Scores and ground truth: music21's chorales and folk tunes, indexed and read exactly.

The first half of the corpus (:mod:`mirlab.datasets.corpus` renders what this module reads).
Taught in ``book/datasets.ipynb``.

Two collections (sizes measured with music21 9.9):

- ``"chorales"``: J. S. Bach's four-part chorales, every chorale of music21's corpus whose
  metadata lists four parts and a time signature: 364 pieces, 3.4 hours as rendered (repeats
  expanded, the scores' tempi or 120 quarter notes per minute). Ids like ``"bach/bwv66.6"``.
- ``"folk"``: 400 monophonic folk tunes, 2.6 hours: 300 from the Essen folksong collection and
  100 from O'Neill's *Music of Ireland* (1850), drawn at a fixed stride from the tunes with 16
  to 120 notes, skipping (deterministically) those that fail to convert or are not
  monophonic. Ids like ``"folk/essenFolksong/han1.abc#3"`` (the file inside music21's corpus,
  then ``#`` and the tune's number); any tune of those files can be loaded by its id.

From a score to its ground truth
--------------------------------
1. The score is parsed (:func:`parse_score`); a chorale has its repeats *expanded* (as a
   performance plays them); a folk tune has its repeats *stripped* (first-time endings
   dropped, the theme played once).
2. Tied notes are merged; every note gets its onset and offset in quarter notes, converted
   to seconds with the score's metronome marks (:func:`seconds_map`, :func:`to_seconds`;
   120 quarter notes per minute without one, music21's own default). Beats come from the time
   signatures (pickups included), and for the chorales beat-level chord labels from
   :mod:`mirlab.datasets.chord_labels`.

:func:`ground_truth` returns this as plain data, cached as JSON (:mod:`mirlab.core.cache`)
and keyed on the piece, the mirlab and music21 versions and :data:`FORMAT`, the version of the
code that derives it from the scores (bump it whenever that code changes what it returns).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from mirlab.core import env
from mirlab.core.cache import Cache, Entry
from mirlab.core.checks import check_choice
from mirlab.datasets.chord_labels import (
    CATEGORIES,
    beat_chord_labels,
    beat_grid,
    label_category,
)

__all__ = ["COLLECTIONS", "FORMAT", "list_pieces", "ground_truth", "entry_for", "parse_score",
           "seconds_map", "to_seconds", "chord_label_coverage", "UnusableScore"]

COLLECTIONS = ("chorales", "folk")
DEFAULT_QPM = 120.0
FOLK_SOURCES = (("essenFolksong", 300), ("oneills1850", 100))
FOLK_NOTE_RANGE = (16, 120)
# Version of the code that derives the ground truth from a score (truth_from_entry and its
# helpers, the chord-label rule), of the collection indexes and of the expert comparison.
# Bump it whenever that code changes what it returns: cached truth, indexes and comparisons
# made with another value are rebuilt.
FORMAT = 2

INDEXES = Cache("corpus", what="index")
TRUTH = Cache("corpus", "truth", what="ground truth")


def versions() -> dict:
    """Versions the ground truth depends on (read from the metadata: music21 not imported)."""
    from mirlab import __version__

    return {"mirlab": __version__, "music21": importlib.metadata.version("music21"),
            "format": FORMAT}


# --- collection indexes --------------------------------------------------------------------------
def corpus_root() -> Path:
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
                    truth_from_entry(piece_id, "folk", entry)
                except UnusableScore:
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
    params = {"collection": collection, **versions(),
              "folk": [list(FOLK_SOURCES), list(FOLK_NOTE_RANGE)]}
    return INDEXES.get_or_build(f"index-{collection}", params, lambda: Entry(
        data=_chorale_index() if collection == "chorales" else _folk_index(progress))).data




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

class UnusableScore(Exception):
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


def entry_for(piece_id: str) -> tuple[str, dict]:
    collection = _collection_of(piece_id)
    if collection == "chorales":
        index = _index("chorales")
        if piece_id not in index:
            raise ValueError(f"piece_id {piece_id!r} is not one of the {len(index)} four-part "
                             "chorales; see list_pieces('chorales')")
        return collection, index[piece_id]
    rest = piece_id[len("folk/"):]
    path, _, number = rest.partition("#")
    if not number.isdigit() or not (corpus_root() / path).is_file():
        raise ValueError(f"piece_id {piece_id!r} must name a tune 'folk/<file>#<number>' of "
                         "music21's corpus; see list_pieces('folk')")
    return collection, {"path": path, "number": int(number), "title": None,
                        "composer": "traditional"}


def strip_repeats(score):
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


def parse_score(collection: str, entry: dict):
    from music21 import converter, corpus

    if collection == "chorales":
        return corpus.parse(entry["path"]).expandRepeats()
    score = converter.parse(corpus_root() / entry["path"], number=entry["number"])
    return strip_repeats(score)


def seconds_map(score):
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


def to_seconds(q, knots):
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


def truth_from_entry(piece_id: str, collection: str, entry: dict) -> dict:
    """Ground truth of the original version (times in seconds), as plain data."""
    try:
        score = parse_score(collection, entry)
        if not score.parts:
            raise UnusableScore("no parts")
        rows = _score_notes(score)
        knots = seconds_map(score)
        grid = beat_grid(score.parts[0])
    except UnusableScore:
        raise
    except Exception as err:  # broken scores in the corpus fail in many ways
        raise UnusableScore(f"{type(err).__name__}: {err}") from err
    if len(rows) < 2 or not grid:
        raise UnusableScore("too few notes or no time signature")
    n_parts = len(score.parts)
    arr = np.array(rows, dtype=float)
    onset, offset = to_seconds(arr[:, 0], knots), to_seconds(arr[:, 1], knots)
    if collection == "folk":
        if n_parts != 1 or np.any(onset[1:] < offset[:-1] - 1e-6):
            raise UnusableScore("not monophonic")
    chords = None
    if collection == "chorales":
        beats_rows = beat_chord_labels(score)
        starts = to_seconds([b["start"] for b in beats_rows], knots)
        ends = to_seconds([b["end"] for b in beats_rows], knots)
        chords = {"intervals": np.c_[starts, ends].tolist(),
                  "labels": [b["label"] for b in beats_rows]}
        beats = starts
    else:
        beats = to_seconds([g[2] for g in grid], knots)
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


def ground_truth(piece_id: str) -> dict:
    """The ground truth of a piece's original version, as plain data (cached JSON).

    Parameters
    ----------
    piece_id : str
        An id of :func:`list_pieces` (or any folk tune ``"folk/<file>#<number>"``).

    Returns
    -------
    dict
        ``piece_id``, ``collection``, ``title``, ``composer``, ``n_parts``, ``part_names``,
        note columns ``onset``, ``offset`` (seconds), ``pitch``, ``velocity``, ``part``,
        ``beats`` (seconds) and ``chords`` (``{"intervals", "labels"}`` for a chorale, else
        None). Reading a cached entry imports neither music21 nor mir_eval.
    """
    collection, entry = entry_for(piece_id)

    def build():
        try:
            return Entry(data=truth_from_entry(piece_id, collection, entry))
        except UnusableScore as err:
            raise ValueError(f"piece_id {piece_id!r} cannot be converted ({err}); "
                             f"see list_pieces({collection!r})") from err

    return TRUTH.get_or_build(piece_id, {"piece_id": piece_id, **versions()}, build).data


# --- chord-label coverage ------------------------------------------------------------------------

def _chord_segments(item):
    """(durations, labels) of a Recording's chords or of a piece id's ground truth, or None.

    For an id, only the ground truth (cached JSON) is read: no audio is rendered.
    """
    if isinstance(item, str):
        chords = ground_truth(item)["chords"]
        if chords is None:
            return None
        intervals, labels = np.asarray(chords["intervals"], dtype=float), chords["labels"]
    else:
        if item.chords is None:
            return None
        intervals, labels = item.chords.intervals, item.chords.labels
    return np.diff(intervals.reshape(-1, 2), axis=1)[:, 0], labels


def chord_label_coverage(recordings_or_ids: Iterable) -> dict:
    """Fraction of the labelled duration in each label category.

    Parameters
    ----------
    recordings_or_ids : iterable of Recording or str
        Recordings (with chords) or piece ids of the ``"chorales"`` collection (for ids, the
        labels come from the ground truth alone: nothing is rendered).

    Returns
    -------
    dict
        ``{"triad", "seventh", "dim", "aug", "X", "N"}`` -> fraction of the duration,
        ``"majmin_scorable"`` (fraction mir_eval's majmin comparison scores: triads and
        sevenths), ``"duration"`` (seconds) and ``"n_pieces"``.

    Examples
    --------
    >>> cov = chord_label_coverage(["bach/bwv66.6"])  # doctest: +SKIP
    """
    totals = dict.fromkeys(CATEGORIES, 0.0)
    n = 0
    for item in recordings_or_ids:
        segments = _chord_segments(item)
        if segments is None:
            continue
        n += 1
        for d, label in zip(*segments, strict=True):
            totals[label_category(label)] += float(d)
    total = sum(totals.values())
    if total == 0:
        raise ValueError("recordings_or_ids must contain at least one piece with chord labels")
    out = {k: v / total for k, v in totals.items()}
    out["majmin_scorable"] = out["triad"] + out["seventh"]
    out["duration"] = total
    out["n_pieces"] = n
    return out
