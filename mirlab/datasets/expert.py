"""Expert Roman-numeral analyses of the chorales, aligned with the scores beat by beat.

music21 ships RomanText analyses of Bach chorales (``bach/choraleAnalyses``, by Andrew Jones,
proofread by Dmitri Tymoczko and Hamish Robb). This module matches each to its chorale, aligns
it with the beats of the score (:func:`align_expert_labels`, the one alignment), measures the
agreement of the rule-derived labels of :mod:`mirlab.datasets.chord_labels` with it
(:func:`compare_with_expert_analyses`) and times it on the rendering
(:func:`expert_segments`, the second reference of the chord-recognition chapter).

Taught in ``book/datasets.ipynb`` and ``notebooks/02_chord_recognition.ipynb``.
"""

from __future__ import annotations

import functools
import re

import numpy as np

from mirlab.core import env
from mirlab.core.cache import Cache, Entry
from mirlab.core.pitch import PITCH_NAMES
from mirlab.datasets.chord_labels import beat_chord_labels, transpose_label
from mirlab.datasets.scores import (
    entry_for,
    list_pieces,
    parse_score,
    seconds_map,
    to_seconds,
    versions,
)

__all__ = ["expert_events", "analysis_piece_id", "analysis_transposition",
           "align_expert_labels", "analysis_paths", "expert_segments",
           "compare_with_expert_analyses"]

COMPARISONS = Cache("corpus", what="expert comparison")


_QUALITY = {"major": "maj", "minor": "min", "diminished": "dim", "augmented": "aug"}


def expert_events(analysis) -> list[tuple[int, float, str]]:
    """(measure, beat, label) of every Roman numeral of a RomanText analysis, in order."""
    from music21 import roman

    events = []
    for rn in analysis.recurse().getElementsByClass(roman.RomanNumeral):
        if rn.measureNumber is None:
            continue
        quality = _QUALITY.get(rn.quality, None)
        label = f"{PITCH_NAMES[rn.root().pitchClass]}:{quality}" if quality else "X"
        events.append((int(rn.measureNumber), float(rn.beat), label))
    return sorted(events, key=lambda e: (e[0], e[1]))


def analysis_piece_id(path) -> str | None:
    """Chorale id named by the ``BWV:`` line of an analysis (``248(2).12`` -> bwv248.12-2)."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            match = re.match(r"\s*BWV:\s*(\d+)(?:\((\d+)\))?(\.\d+)?", line)
            if match:
                work, part, number = match.groups()
                return f"bach/bwv{work}{number or ''}" + (f"-{part}" if part else "")
    return None


def analysis_transposition(score, analysis) -> int:
    """Semitones from the analysed edition to music21's score, from their keys.

    A few analyses describe an edition in another key (e.g. BWV 184.5 in G, music21's score
    in D). The key of the score (music21's Krumhansl-Schmuckler estimate) is compared with the
    first key of the analysis; when their modes differ, the relative key of the analysis is
    used.
    """
    from music21 import roman

    rns = list(analysis.recurse().getElementsByClass(roman.RomanNumeral))
    if not rns or rns[0].key is None:
        return 0
    ours, theirs = score.analyze("key"), rns[0].key
    if ours.mode != theirs.mode:
        theirs = theirs.relative
    return (ours.tonic.pitchClass - theirs.tonic.pitchClass) % 12


def align_expert_labels(events, beat_rows, transposition: int = 0) -> list[tuple[dict, str]]:
    """The expert label of every beat: the last numeral at or before its (measure, beat).

    Parameters
    ----------
    events : list of (int, float, str)
        ``(measure, beat, label)`` of the analysis, sorted (:func:`expert_events`).
    beat_rows : list of dict
        Beats of the score with ``measure`` and ``beat``
        (:func:`mirlab.datasets.chord_labels.beat_chord_labels`).
    transposition : int
        Semitones from the analysed edition to the score (:func:`analysis_transposition`).

    Returns
    -------
    list of (dict, str)
        ``(beat row, expert label)``; beats before the first numeral are left out.

    Examples
    --------
    >>> events = [(1, 1.0, "C:maj"), (1, 3.0, "G:maj")]
    >>> rows = [{"measure": 0, "beat": 4.0}, {"measure": 1, "beat": 1.0},
    ...         {"measure": 1, "beat": 2.0}, {"measure": 1, "beat": 3.0}]
    >>> [label for _, label in align_expert_labels(events, rows, transposition=2)]
    ['D:maj', 'D:maj', 'A:maj']
    """
    keys = np.array([(m, b) for m, b, _ in events], dtype=[("m", int), ("b", float)])
    out = []
    for row in beat_rows:
        probe = np.array((row["measure"], row["beat"]), dtype=keys.dtype)
        idx = int(np.searchsorted(keys, probe, side="right")) - 1
        if idx >= 0:
            out.append((row, transpose_label(events[idx][2], transposition)))
    return out


def _compare_one(path, chorale_ids) -> dict | None:
    import mir_eval
    from music21 import converter, corpus

    piece_id = analysis_piece_id(path)
    if piece_id not in chorale_ids:
        return None
    analysis = converter.parse(path, format="romantext")
    score = corpus.parse(piece_id)
    shift = analysis_transposition(score, analysis)
    pairs = [(row["label"], label) for row, label in
             align_expert_labels(expert_events(analysis), beat_chord_labels(score), shift)
             if row["label"] != "N"]
    est = [e for e, _ in pairs]
    ref = [r for _, r in pairs]
    root = mir_eval.chord.root(ref, est)
    majmin = mir_eval.chord.majmin(ref, est)
    return {
        "piece_id": piece_id,
        "analysis": str(path).rsplit("/", 1)[-1],
        "transposition": shift,
        "n_beats": len(ref),
        "root_hits": int(np.sum(root == 1)),
        "root_n": int(np.sum(root >= 0)),
        "majmin_hits": int(np.sum(majmin == 1)),
        "majmin_n": int(np.sum(majmin >= 0)),
    }


@functools.lru_cache(maxsize=1)
def analysis_paths() -> dict:
    """Chorale id -> path of its expert analysis, for the chorales of the collection."""
    from music21 import corpus

    ids = set(list_pieces("chorales"))
    found = {}
    for path in sorted(str(p) for p in corpus.getCorePaths()
                       if "choraleAnalyses" in str(p) and str(p).endswith(".rntxt")):
        pid = analysis_piece_id(path)
        if pid in ids:
            found.setdefault(pid, path)
    return found


@functools.lru_cache(maxsize=64)
def expert_segments(piece_id: str):
    """The expert analysis of a chorale as chord segments in seconds of its rendering.

    The numerals are placed on the beats of the score with its repeats expanded, in seconds
    of the original version (:func:`align_expert_labels`). An analysis whose last measure
    number differs from the score's (another edition, e.g. BWV 277) gives None.

    Returns
    -------
    (intervals, labels) or None
        ``intervals`` (n_beats, 2) in seconds, ``labels`` a tuple of mir_eval labels.
    """
    from music21 import converter, corpus

    path = analysis_paths().get(piece_id)
    if path is None:
        return None
    collection, entry = entry_for(piece_id)
    analysis = converter.parse(path, format="romantext")
    events = expert_events(analysis)
    written = corpus.parse(entry["path"])
    last = max(m.number for m in written.parts[0].getElementsByClass("Measure"))
    if not events or events[-1][0] != last:
        return None
    shift = analysis_transposition(written, analysis)
    score = parse_score(collection, entry)
    knots = seconds_map(score)
    aligned = align_expert_labels(events, beat_chord_labels(score), shift)
    starts = [row["start"] for row, _ in aligned]
    ends = [row["end"] for row, _ in aligned]
    intervals = np.stack([to_seconds(starts, knots), to_seconds(ends, knots)], axis=1)
    return intervals, tuple(label for _, label in aligned)


def compare_with_expert_analyses(progress: bool = True) -> dict:
    """Agreement of the rule-derived labels with music21's expert Roman-numeral analyses.

    music21 ships RomanText analyses of Bach chorales (``bach/choraleAnalyses``, by
    Andrew Jones, proofread by Dmitri Tymoczko and Hamish Robb). Each is matched to its
    chorale through the ``BWV:`` line of the file, aligned beat by beat through
    (measure number, beat number) on the written score (no repeat expansion, pickups kept
    as measure 0), and compared with mir_eval's ``root`` and ``majmin`` comparisons, the
    expert label (root and triad quality of the Roman numeral) serving as reference.

    Parameters
    ----------
    progress : bool
        Show a progress bar.

    Returns
    -------
    dict
        ``{"pieces": [per-piece dicts with root and majmin agreement], "root": overall
        beat-weighted root agreement, "majmin": overall majmin agreement (over the beats the
        comparison scores), "n_beats", "n_pieces", "unmatched" (analyses of chorales
        outside the collection, e.g. BWV 41.6 with its nine instrumental parts)}``.
        The result is cached (JSON, checksummed) in ``mirlab.cache_dir("corpus")``; the
        first call takes about 10 s.
    """
    params = {"what": "compare_with_expert_analyses", **versions()}
    return COMPARISONS.get_or_build("expert-comparison", params,
                                    lambda: Entry(data=_compare_all(progress))).data


def _compare_all(progress: bool) -> dict:
    from music21 import corpus
    from tqdm.auto import tqdm

    chorale_ids = set(list_pieces("chorales"))
    paths = sorted(str(p) for p in corpus.getCorePaths()
                   if "choraleAnalyses" in str(p) and str(p).endswith(".rntxt"))
    pieces, unmatched = [], []
    for path in tqdm(paths, desc="expert analyses", disable=env.progress_disabled(progress)):
        row = _compare_one(path, chorale_ids)
        if row is None:
            unmatched.append(path.rsplit("/", 1)[-1])
            continue
        row["root"] = row["root_hits"] / max(row["root_n"], 1)
        row["majmin"] = row["majmin_hits"] / max(row["majmin_n"], 1)
        pieces.append(row)
    root_n = sum(r["root_n"] for r in pieces)
    majmin_n = sum(r["majmin_n"] for r in pieces)
    return {
        "pieces": pieces,
        "root": sum(r["root_hits"] for r in pieces) / max(root_n, 1),
        "majmin": sum(r["majmin_hits"] for r in pieces) / max(majmin_n, 1),
        "n_beats": sum(r["n_beats"] for r in pieces),
        "n_pieces": len(pieces),
        "unmatched": unmatched,
    }
