"""Evaluating chord recognisers on the rendered chorales with mir_eval, and libfmp's recogniser.

- :func:`chorale_split`: the fixed train/test split of the chorales, by piece;
- :func:`reference_chords` / :func:`label_sequences`: ground-truth labels of a piece read from
  the score alone (no audio is rendered), e.g. to learn transitions from many pieces;
- :func:`score_piece` / :func:`aggregate_scores`: mir_eval's ``root``, ``majmin`` and ``mirex``
  comparisons, weighted by duration within a piece *and* across pieces;
- :func:`libfmp_recognize`: libfmp's HMM chord recogniser used as its documentation shows;
- :func:`expert_reference`: the expert Roman-numeral analysis of a chorale as timed chord
  segments of its rendering, a second reference besides the rule-derived labels.

Taught in ``notebooks/02_chord_recognition.ipynb``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mirlab.chords.recognition import HOP_LENGTH
from mirlab.chords.vocabulary import from_libfmp, label_to_index
from mirlab.core import env
from mirlab.core.checks import check_audio, check_positive_int, check_sr

__all__ = [
    "METRICS",
    "chorale_split",
    "reference_chords",
    "label_sequences",
    "score_piece",
    "aggregate_scores",
    "libfmp_recognize",
    "expert_pieces",
    "expert_reference",
    "Prepared",
    "prepare",
    "compare_recognizers",
    "confusion_matrix",
    "error_segments",
]

METRICS = ("root", "majmin", "mirex")
TEST_EVERY = 5


def chorale_split(test_every: int = TEST_EVERY) -> tuple[list[str], list[str]]:
    """The fixed train/test split of ``datasets.list_pieces("chorales")``, by piece.

    Every ``test_every``-th chorale in the sorted list of ids (the 1st, the 6th, ...) is a
    test piece; all others are training pieces. No piece is in both, so a recogniser tuned on
    the training pieces is measured on music it has never seen.

    Parameters
    ----------
    test_every : int >= 2

    Returns
    -------
    train, test : list of str
        Piece ids (364 chorales: 291 and 73 with the default).

    Examples
    --------
    >>> train, test = chorale_split()  # doctest: +SKIP
    >>> set(train) & set(test)  # doctest: +SKIP
    set()
    """
    from mirlab.datasets import list_pieces

    test_every = check_positive_int(test_every, "test_every", minimum=2)
    ids = sorted(list_pieces("chorales"))
    test = ids[::test_every]
    chosen = set(test)
    return [p for p in ids if p not in chosen], test


def reference_chords(piece_id: str):
    """Ground-truth chord segments of a chorale (original version), read from its score.

    Returns
    -------
    intervals : np.ndarray, shape (n_beats, 2)
        Seconds.
    labels : list of str
        mir_eval labels (one per beat).
    """
    from mirlab.datasets.scores import ground_truth

    chords = ground_truth(piece_id)["chords"]
    if chords is None:
        raise ValueError(f"piece_id {piece_id!r} has no chord labels (not a chorale?)")
    return np.asarray(chords["intervals"], dtype=float).reshape(-1, 2), list(chords["labels"])


def label_sequences(piece_ids, level: str = "beat", sr: int = 22050,
                    hop_length: int = HOP_LENGTH) -> list[np.ndarray]:
    """State sequences (0..23, -1 outside the vocabulary) of the ground truth of some pieces.

    Parameters
    ----------
    piece_ids : iterable of str
    level : {"beat", "frame"}
        One state per labelled beat, or one per frame centre (``n * hop_length / sr``).
    sr, hop_length : int
        Frame rate for ``level="frame"``.

    Returns
    -------
    list of np.ndarray of int
        For :func:`~mirlab.chords.learn_transitions`.
    """
    if level not in ("beat", "frame"):
        raise ValueError(f"level must be 'beat' or 'frame'; got {level!r}")
    out = []
    for pid in piece_ids:
        intervals, labels = reference_chords(pid)
        states = np.array([label_to_index(lab, strict=False) for lab in labels])
        states[states == 24] = -1
        if level == "frame":
            centres = np.arange(0.0, intervals[-1, 1], hop_length / sr)
            idx = np.searchsorted(intervals[:, 0], centres, side="right") - 1
            inside = (idx >= 0) & (centres < intervals[np.maximum(idx, 0), 1])
            states = np.where(inside, states[np.maximum(idx, 0)], -1)
        out.append(states.astype(int))
    return out


def score_piece(ref_intervals, ref_labels, est_intervals, est_labels,
                metrics=METRICS) -> dict:
    """mir_eval chord comparisons of one piece, as durations (to aggregate over pieces).

    As ``mir_eval.chord.evaluate``: the estimate is trimmed/padded with ``N`` to the span of
    the reference, both segmentations are merged, and each comparison is weighted by the
    duration of the merged segment.

    Returns
    -------
    dict
        ``{metric: (correct_seconds, scored_seconds)}``; the score of the piece is their
        ratio, equal to ``mir_eval.chord.evaluate(...)[metric]``.
    """
    import mir_eval

    ref_intervals = np.asarray(ref_intervals, dtype=float)
    est_intervals = np.asarray(est_intervals, dtype=float)
    for name, iv, labels in (("ref", ref_intervals, ref_labels),
                             ("est", est_intervals, est_labels)):
        if iv.ndim != 2 or iv.shape[1:] != (2,) or len(iv) != len(labels) or len(iv) == 0:
            raise ValueError(f"{name}_intervals must have shape (n, 2) with one label each "
                             f"in {name}_labels; got shape {iv.shape} and {len(labels)} labels")
        mir_eval.util.validate_intervals(iv)
    est_intervals, est_labels = mir_eval.util.adjust_intervals(
        est_intervals, est_labels, ref_intervals.min(), ref_intervals.max(),
        mir_eval.chord.NO_CHORD, mir_eval.chord.NO_CHORD)
    intervals, ref, est = mir_eval.util.merge_labeled_intervals(
        ref_intervals, ref_labels, est_intervals, est_labels)
    durations = mir_eval.util.intervals_to_durations(intervals)
    out = {}
    for metric in metrics:
        comp = np.asarray(getattr(mir_eval.chord, metric)(ref, est), dtype=float)
        scored = comp >= 0
        out[metric] = (float(np.sum(durations[scored] * comp[scored])),
                       float(np.sum(durations[scored])))
    return out


def aggregate_scores(piece_scores, metrics=METRICS) -> dict:
    """Duration-weighted chord scores over pieces (a long piece counts more than a short one).

    Parameters
    ----------
    piece_scores : iterable of dict
        Results of :func:`score_piece`.
    metrics : tuple of str
        mir_eval comparisons present in every ``piece_scores`` item.

    Returns
    -------
    dict
        ``{metric: sum of correct seconds / sum of scored seconds}``.
    """
    totals = {m: [0.0, 0.0] for m in metrics}
    for s in piece_scores:
        for m in metrics:
            totals[m][0] += s[m][0]
            totals[m][1] += s[m][1]
    if any(t[1] == 0 for t in totals.values()):
        raise ValueError("piece_scores must score a positive duration for every metric")
    return {m: c / d for m, (c, d) in totals.items()}


def libfmp_recognize(y, sr: int = 22050, hop_length: int = HOP_LENGTH,
                     self_prob: float = 0.15):
    """libfmp's HMM chord recogniser, used as the FMP notebooks show.

    CQT chroma from librosa (``librosa.feature.chroma_cqt(y=y, sr=sr, hop_length=H,
    norm=None)``, as ``libfmp.c5.compute_chromagram_from_filename(..., version='CQT')``), each
    frame scaled to unit L2 norm, binary templates with an l1-normalised similarity
    (``libfmp.c5.chord_recognition_template(X, norm_sim='1')``) as emission, a uniform
    transition matrix with self-transition ``self_prob`` (0.15, as
    ``libfmp.c5.chord_recognition_all``), a uniform initial distribution and
    ``libfmp.c5.viterbi_log_likelihood``.

    Returns
    -------
    intervals : np.ndarray, shape (n_segments, 2)
    labels : list of str
        mir_eval labels (converted from libfmp's ``C``, ``C#``, ``Cm``).

    References
    ----------
    :cite:`Mueller2021libfmp`, :cite:`Mueller2021FMP` (sec. 5.3).
    """
    import libfmp.c3
    import libfmp.c5
    import librosa

    from mirlab.chords.recognition import frame_edges, states_to_segments

    y = check_audio(y)
    sr = check_sr(sr)
    hop_length = check_positive_int(hop_length, "hop_length")
    X = librosa.feature.chroma_cqt(y=y, sr=sr, hop_length=hop_length, norm=None)
    X = libfmp.c3.normalize_feature_sequence(X, norm="2")
    chord_sim, _ = libfmp.c5.chord_recognition_template(X, norm_sim="1")
    A = libfmp.c5.uniform_transition_matrix(p=self_prob)
    C = np.full((1, 24), 1 / 24)
    _, path, _, _ = libfmp.c5.viterbi_log_likelihood(A, C, chord_sim)
    names = libfmp.c5.get_chord_labels()
    states = np.array([label_to_index(from_libfmp(names[s])) for s in path])
    edges = np.minimum(frame_edges(len(states), sr, hop_length), len(y) / sr)
    return states_to_segments(states, edges)


def _analysis_paths() -> dict:
    from mirlab.datasets.expert import analysis_paths

    return analysis_paths()


def expert_pieces() -> list[str]:
    """Chorales whose expert Roman-numeral analysis matches the rendered score.

    An analysis is kept when its last measure number equals that of the score that
    :func:`mirlab.datasets.load_piece` renders (for BWV 277 the analysis follows another
    edition, with other barlines, and is left out). The first call parses the ~20 analyses
    and scores (about 20 s); the result is kept for the session.
    """
    return [pid for pid in sorted(_analysis_paths()) if _expert_segments(pid) is not None]


def expert_reference(piece_id: str):
    """The expert analysis of a chorale as chord segments in seconds of its rendering.

    The Roman numerals of the analysis (music21's ``bach/choraleAnalyses``, see
    :func:`mirlab.datasets.compare_with_expert_analyses`) are reduced to root and triad
    quality and placed on the beats of the score with its repeats expanded, in seconds of
    the original version (``datasets.load_piece(piece_id)``): beat ``k`` carries the last
    numeral at or before its (measure, beat). Beats before the first numeral are left out.

    Returns
    -------
    intervals : np.ndarray, shape (n_beats, 2)
    labels : list of str
        mir_eval labels (``R:maj``, ``R:min``, ``R:dim``, ``R:aug`` or ``X``).
    """
    segments = _expert_segments(piece_id) if piece_id in _analysis_paths() else None
    if segments is None:
        raise ValueError(f"piece_id must be a chorale with a matching expert analysis (see "
                         f"expert_pieces()); got {piece_id!r}")
    intervals, labels = segments
    return intervals.copy(), list(labels)


def _expert_segments(piece_id: str):
    """(intervals, labels) of the expert analysis on the rendered score, or None."""
    from mirlab.datasets.expert import expert_segments

    return expert_segments(piece_id)


@dataclass
class Prepared:
    """A recording with what the recognisers share: chromagrams and estimated beats."""

    rec: object
    chroma: dict = field(default_factory=dict)
    est_beats: np.ndarray | None = None

    @property
    def y(self):
        return self.rec.y

    @property
    def sr(self):
        return self.rec.sr


def prepare(recordings, hop_length: int = HOP_LENGTH, variants=("stft", "cqt", "cqt_log"),
            beats: bool = True, lag: float | None = None, progress: bool = True):
    """Compute once per recording the chromagrams (each variant) and the estimated beats.

    Parameters
    ----------
    recordings : list of Recording
    hop_length : int
    variants : iterable of str
        Chroma variants (:data:`~mirlab.chords.CHROMA_VARIANTS`).
    beats : bool
        Also estimate beats (:func:`~mirlab.chords.estimate_beats`).
    lag : float, optional
        Beat lag in seconds (default :data:`mirlab.chords.recognition.BEAT_LAG`).
    progress : bool

    Returns
    -------
    list of Prepared
    """
    from tqdm.auto import tqdm

    from mirlab.chords.recognition import BEAT_LAG, chord_chroma, estimate_beats

    out = []
    for rec in tqdm(recordings, desc="chroma and beats", disable=env.progress_disabled(progress)):
        item = Prepared(rec, {v: chord_chroma(rec.y, rec.sr, hop_length, v) for v in variants})
        if beats:
            item.est_beats = estimate_beats(rec.y, rec.sr, BEAT_LAG if lag is None else lag)
        out.append(item)
    return out


def compare_recognizers(items, systems: dict, reference=None, progress: bool = True) -> dict:
    """Run every system on every prepared recording and score it with mir_eval.

    Parameters
    ----------
    items : list of Prepared
    systems : dict
        ``{name: function(item) -> (intervals, labels)}``.
    reference : callable, optional
        ``reference(rec) -> (intervals, labels)``; default: the rule labels ``rec.chords``.
    progress : bool

    Returns
    -------
    dict
        ``{"scores": {name: {metric: duration-weighted score}}, "pieces": {name: [score_piece
        results]}, "predictions": {name: [(intervals, labels) per item]}}``.
    """
    from tqdm.auto import tqdm

    if reference is None:
        def reference(rec):
            return rec.chords.intervals, rec.chords.labels

    refs = [reference(item.rec) for item in items]
    out = {"scores": {}, "pieces": {}, "predictions": {}}
    hidden = env.progress_disabled(progress)
    for name, system in tqdm(systems.items(), desc="recognisers", disable=hidden):
        preds = [system(item) for item in items]
        pieces = [score_piece(*ref, *pred) for ref, pred in zip(refs, preds, strict=True)]
        out["predictions"][name] = preds
        out["pieces"][name] = pieces
        out["scores"][name] = aggregate_scores(pieces)
    return out


def _merged(ref_intervals, ref_labels, est_intervals, est_labels):
    import mir_eval

    ref_intervals = np.asarray(ref_intervals, dtype=float)
    est_intervals, est_labels = mir_eval.util.adjust_intervals(
        np.asarray(est_intervals, dtype=float), est_labels, ref_intervals.min(),
        ref_intervals.max(), mir_eval.chord.NO_CHORD, mir_eval.chord.NO_CHORD)
    return mir_eval.util.merge_labeled_intervals(ref_intervals, ref_labels, est_intervals,
                                                 est_labels)


def confusion_matrix(pairs) -> np.ndarray:
    """Seconds of each (reference chord, estimated chord) pair, summed over pieces.

    Parameters
    ----------
    pairs : iterable of (ref_intervals, ref_labels, est_intervals, est_labels)

    Returns
    -------
    np.ndarray, shape (25, 25)
        Rows: reference state (the label reduced to its triad; references outside the
        vocabulary, e.g. diminished chords, are left out); columns: estimated state.
    """
    from mirlab.chords.vocabulary import N_CHORDS

    M = np.zeros((N_CHORDS + 1, N_CHORDS + 1))
    for ref_iv, ref_lab, est_iv, est_lab in pairs:
        intervals, ref, est = _merged(ref_iv, ref_lab, est_iv, est_lab)
        durations = np.diff(intervals, axis=1)[:, 0]
        for d, r, e in zip(durations, ref, est, strict=True):
            i, j = label_to_index(r, strict=False), label_to_index(e, strict=False)
            if i >= 0 and j >= 0:
                M[i, j] += d
    return M


def error_segments(ref_intervals, ref_labels, est_intervals, est_labels,
                   min_duration: float = 0.3) -> list[dict]:
    """Stretches where the estimate is wrong under mir_eval's majmin comparison, longest first.

    Returns
    -------
    list of dict
        ``{"start", "end", "reference", "estimate"}`` (seconds, labels), adjacent merged
        segments with the same pair of labels joined, at least ``min_duration`` long.
    """
    import mir_eval

    intervals, ref, est = _merged(ref_intervals, ref_labels, est_intervals, est_labels)
    wrong = mir_eval.chord.majmin(ref, est) == 0
    out = []
    for (start, end), r, e, bad in zip(intervals, ref, est, wrong, strict=True):
        if not bad:
            continue
        last = out[-1] if out else None
        if last and abs(last["end"] - start) < 1e-9 and (last["reference"], last["estimate"]) \
                == (r, e):
            last["end"] = float(end)
        else:
            out.append({"start": float(start), "end": float(end), "reference": r,
                        "estimate": e})
    out = [seg for seg in out if seg["end"] - seg["start"] >= min_duration]
    return sorted(out, key=lambda seg: seg["start"] - seg["end"])
