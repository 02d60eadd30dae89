"""From NMF activations to notes, the whole transcription pipeline, its evaluation with
mir_eval, and template learning (steps 3-5 of :mod:`mirlab.transcription`).

Taught in ``notebooks/03_nmf_transcription.ipynb``.
"""

from __future__ import annotations

import numpy as np

from mirlab import features
from mirlab.core import env
from mirlab.core.checks import (
    check_nonnegative,
    check_positive,
    check_positive_int,
    check_spectrogram,
    check_sr,
)
from mirlab.core.music import Notes
from mirlab.transcription.nmf import nmf, normalize_templates
from mirlab.transcription.templates import (
    PIANO_PITCHES,
    check_pitches,
    harmonic_templates,
    onset_informed_activations,
    score_informed_activations,
    spectrogram,
)

__all__ = [
    "activations_to_notes",
    "transcribe",
    "learn_templates",
    "evaluate_notes",
    "evaluate_recordings",
    "error_intervals",
    "select_decay",
    "notes_to_hz",
    "excerpt",
    "plot_activations",
]


def _runs(active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and (exclusive) ends of the runs of True in a 1-D boolean array."""
    edges = np.diff(np.concatenate([[0], active.astype(np.int8), [0]]))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def _reonsets(h: np.ndarray, start: int, end: int, rise: float, floor: float) -> list[int]:
    """Frames in ``[start, end)`` where the activation jumps up ``rise`` times (a re-attack)."""
    seg = h[start:end]
    if rise <= 0 or len(seg) < 3:
        return []
    prev = np.maximum(seg[:-1], floor)
    jumps = np.flatnonzero(seg[1:] > rise * prev) + 1
    return [start + int(j) for j in jumps if j > 1 and seg[j] > seg[j - 1]]


def activations_to_notes(H, sr: int = 22050, hop_length: int = 512, pitches=PIANO_PITCHES,
                         threshold: float = 0.2, min_duration: float = 0.05,
                         rise: float = 2.0, relative: bool = True) -> Notes:
    """Notes from activations: thresholding, re-onset detection, minimum duration.

    A pitch is *on* in the frames where its activation exceeds ``threshold`` (times the
    largest activation of ``H`` when ``relative``). Each run of *on* frames is a note,
    split where the activation jumps up by a factor ``rise`` from one frame to the next (a
    repeated note struck while the previous one still sounds); notes shorter than
    ``min_duration`` are dropped. Frames are centred: frame ``n`` starts a note at
    ``frames_to_time(n)`` and a run ending before frame ``m`` ends it at ``frames_to_time(m)``.

    Parameters
    ----------
    H : np.ndarray, shape (len(pitches), n_frames)
    sr, hop_length : int
    pitches : array_like
        The MIDI pitch of each row of ``H``.
    threshold : float >= 0
    min_duration : float >= 0
        In seconds.
    rise : float
        Re-onset factor (0 disables the splitting).
    relative : bool
        ``threshold`` is relative to ``H.max()`` (True) or absolute (False).

    Returns
    -------
    mirlab.core.music.Notes
        Sorted by onset then pitch; ``velocity`` holds each note's peak activation (relative to
        ``H.max()``), scaled to 1..127.

    Examples
    --------
    >>> H = np.zeros((2, 10)); H[0, 2:6] = 1.0; H[1, 5:9] = 0.5
    >>> notes = activations_to_notes(H, sr=100, hop_length=10, pitches=[60, 64])
    >>> notes.onset.round(2).tolist(), notes.offset.round(2).tolist(), notes.pitch.tolist()
    ([0.2, 0.5], [0.6, 0.9], [60, 64])
    """
    H = check_spectrogram(H, "H")
    pitches = check_pitches(pitches)
    if len(pitches) != H.shape[0]:
        raise ValueError(f"pitches must give one pitch per row of H ({H.shape[0]}); got "
                         f"{len(pitches)}")
    sr, hop_length = check_sr(sr), check_positive_int(hop_length, "hop_length")
    threshold = check_nonnegative(threshold, "threshold")
    min_frames = check_nonnegative(min_duration, "min_duration") * sr / hop_length
    rise = check_nonnegative(rise, "rise")
    peak = float(H.max())
    level = threshold * peak if relative else threshold
    rows = []
    for i, h in enumerate(H):
        starts, ends = _runs(h > level)
        for a, b in zip(starts, ends, strict=True):
            cuts = [a] + _reonsets(h, a, b, rise, level) + [b]
            rows += [(s, e, pitches[i], h[s:e].max())
                     for s, e in zip(cuts[:-1], cuts[1:], strict=True)
                     if e - s >= max(min_frames, 1)]
    rows.sort(key=lambda r: (r[0], r[2]))
    return _notes_from_rows(rows, sr, hop_length, peak)


def _notes_from_rows(rows, sr, hop_length, peak) -> Notes:
    start, end, pitch, height = (np.array([r[j] for r in rows], dtype=float) for j in range(4))
    velocity = np.clip(np.round(127 * height / peak), 1, 127) if peak > 0 else height
    return Notes(onset=features.frames_to_time(start, sr=sr, hop_length=hop_length),
                 offset=features.frames_to_time(end, sr=sr, hop_length=hop_length),
                 pitch=pitch.astype(int), velocity=velocity.astype(int),
                 program=np.zeros(len(rows), dtype=int), part=np.zeros(len(rows), dtype=int))


def transcribe(y, sr: int = 22050, W=None, *, n_fft: int = 4096, hop_length: int = 512,
               pitches=PIANO_PITCHES, decay: float = 1.5, H=None, n_iter: int = 50,
               threshold: float = 0.2, min_duration: float = 0.05, rise: float = 2.0,
               beta="kl", sparsity: float = 0.0):
    """Transcribe a recording: spectrogram, NMF with fixed templates, note extraction.

    Parameters
    ----------
    y : np.ndarray
    sr : int
    W : np.ndarray, optional
        Templates (default: :func:`harmonic_templates` with ``decay``).
    n_fft, hop_length : int
    pitches : array_like
        The pitch of each template.
    decay : float
        Used only when ``W`` is None.
    H : np.ndarray, optional
        Initial activations (e.g. :func:`score_informed_activations`); default uniform.
    n_iter : int
    threshold, min_duration, rise : float
        Passed to :func:`activations_to_notes`.
    beta : str or float
        The divergence (see :func:`mirlab.transcription.nmf.nmf`).
    sparsity : float
        L1 weight on the activations.

    Returns
    -------
    notes : mirlab.core.music.Notes
    result : mirlab.transcription.nmf.NMFResult
        Templates, activations and the cost curve.
    """
    V = spectrogram(y, sr, n_fft=n_fft, hop_length=hop_length)
    if W is None:
        W = harmonic_templates(sr, n_fft, pitches, decay=decay)
    if H is None:
        H = np.full((W.shape[1], V.shape[1]), float(V.mean()) + 1e-6, dtype=np.float32)
    result = nmf(V, W=W, H=H, beta=beta, n_iter=n_iter, update_W=False, sparsity=sparsity,
                 cost_every=max(n_iter, 1))
    notes = activations_to_notes(result.H, sr, hop_length, pitches, threshold=threshold,
                                 min_duration=min_duration, rise=rise)
    return notes, result


def learn_templates(recordings, W, *, n_fft: int = 4096, hop_length: int = 512,
                    pitches=PIANO_PITCHES, n_iter: int = 30, tolerance: float = 0.1,
                    beta="kl") -> np.ndarray:
    """Adapt templates to an instrument with score-informed NMF on training recordings.

    The spectrograms of the recordings are concatenated in time; the activations start from
    :func:`score_informed_activations` (zero where the score has no note) and both factors are
    updated, so each template learns the spectrum its notes actually have. Templates of
    pitches absent from the training notes keep their initial values.

    Parameters
    ----------
    recordings : sequence of mirlab.datasets.Recording
    W : np.ndarray, shape (1 + n_fft // 2, len(pitches))
        Initial templates (e.g. :func:`harmonic_templates`).
    n_fft, hop_length : int
    pitches : array_like
    n_iter : int
    tolerance : float
        Seconds around each note (see :func:`score_informed_activations`).
    beta : str or float

    Returns
    -------
    np.ndarray, float32
        The learned templates, each column normalised to sum 1.
    """
    pitches = check_pitches(pitches)
    Vs, Hs = [], []
    for rec in recordings:
        V = spectrogram(rec.y, rec.sr, n_fft=n_fft, hop_length=hop_length)
        Vs.append(V)
        Hs.append(score_informed_activations(rec.notes, V.shape[1], rec.sr, hop_length,
                                             pitches, tolerance))
    if not Vs:
        raise ValueError("recordings must hold at least one recording; got none")
    V, H0 = np.concatenate(Vs, axis=1), np.concatenate(Hs, axis=1)
    result = nmf(V, W=W, H=H0 * float(V.mean()), beta=beta, n_iter=n_iter,
                 cost_every=max(n_iter, 1))
    learned, _ = normalize_templates(result.W, result.H, norm="sum")
    unused = H0.sum(axis=1) == 0
    learned[:, unused] = np.asarray(W)[:, unused]
    return learned.astype(np.float32)


def excerpt(recording, seconds: float | None):
    """The first ``seconds`` of a recording, with the notes that start in them.

    Notes are kept when their onset lies before ``seconds``; their offsets are cut at
    ``seconds``. ``None`` returns the recording unchanged.

    Parameters
    ----------
    recording : mirlab.datasets.Recording
    seconds : float or None

    Returns
    -------
    mirlab.datasets.Recording
        A new recording (the audio is a view of the original's).
    """
    import dataclasses

    if seconds is None:
        return recording
    seconds = check_positive(seconds, "seconds")
    n = recording.notes
    keep = np.asarray(n.onset) < seconds
    notes = Notes(onset=np.asarray(n.onset)[keep],
                  offset=np.minimum(np.asarray(n.offset)[keep], seconds),
                  pitch=np.asarray(n.pitch)[keep], velocity=np.asarray(n.velocity)[keep],
                  program=np.asarray(n.program)[keep], part=np.asarray(n.part)[keep])
    return dataclasses.replace(recording, y=recording.y[: int(round(seconds * recording.sr))],
                               notes=notes)


def notes_to_hz(notes: Notes) -> tuple[np.ndarray, np.ndarray]:
    """``(intervals, pitches_hz)`` of notes, the arrays mir_eval.transcription expects."""
    return (np.asarray(notes.intervals, dtype=float).reshape(-1, 2),
            features.midi_to_hz(np.asarray(notes.pitch, dtype=float)))


def evaluate_notes(reference: Notes, estimate: Notes, onset_tolerance: float = 0.05) -> dict:
    """Onset-only and onset-offset note transcription scores with ``mir_eval.transcription``.

    Parameters
    ----------
    reference, estimate : mirlab.core.music.Notes
    onset_tolerance : float
        Seconds (50 ms is the MIREX standard).

    Returns
    -------
    dict
        ``precision``, ``recall``, ``f_measure`` (onset only: a note is correct when its pitch
        is within 50 cents and its onset within ``onset_tolerance``), and ``offset_precision``,
        ``offset_recall``, ``offset_f_measure`` (also the offset within 20 % of the note's
        duration or 50 ms, mir_eval's defaults).

    References
    ----------
    C. Raffel et al., "mir_eval: a transparent implementation of common MIR metrics," ISMIR
    2014 {cite}`Raffel2014mireval`.
    """
    import mir_eval.transcription as mt

    check_positive(onset_tolerance, "onset_tolerance")
    ref_i, ref_p = notes_to_hz(reference)
    est_i, est_p = notes_to_hz(estimate)
    if len(ref_i) == 0:
        raise ValueError("reference must hold at least one note; got none")
    if len(est_i) == 0:
        zero = dict.fromkeys(["precision", "recall", "f_measure"], 0.0)
        return {**zero, **{f"offset_{k}": v for k, v in zero.items()}}
    on = mt.precision_recall_f1_overlap(ref_i, ref_p, est_i, est_p,
                                        onset_tolerance=onset_tolerance, offset_ratio=None)
    off = mt.precision_recall_f1_overlap(ref_i, ref_p, est_i, est_p,
                                         onset_tolerance=onset_tolerance)
    keys = ["precision", "recall", "f_measure"]
    return {**{k: float(v) for k, v in zip(keys, on[:3], strict=True)},
            **{f"offset_{k}": float(v) for k, v in zip(keys, off[:3], strict=True)}}


def error_intervals(reference: Notes, estimate: Notes, onset_tolerance: float = 0.05) -> dict:
    """What the wrong notes are: the interval from each extra note to the score.

    Notes are matched as in :func:`evaluate_notes` (onset-only, mir_eval). For each estimated note
    without a match, the interval in semitones to the nearest reference pitch sounding at its
    onset (``None`` when no reference note sounds: an extra note in silence). For each missed
    reference note, whether another estimated note started within the tolerance.

    Parameters
    ----------
    reference, estimate : mirlab.core.music.Notes
    onset_tolerance : float

    Returns
    -------
    dict
        ``extra``: ``{interval: count}`` for the unmatched estimated notes (positive: above
        the nearest sounding reference pitch); ``missed``: number of unmatched reference
        notes; ``matched``: number of matched notes.

    Examples
    --------
    >>> from mirlab.core.music import Notes
    >>> def notes(onset, pitch):
    ...     n = len(pitch)
    ...     return Notes(np.array(onset), np.array(onset) + 0.5, np.array(pitch),
    ...                  np.zeros(n), np.zeros(n, int), np.zeros(n, int))
    >>> error_intervals(notes([0.0], [48]), notes([0.0, 0.01], [48, 60]))
    {'extra': {12: 1}, 'missed': 0, 'matched': 1}
    """
    import mir_eval.transcription as mt

    ref_i, ref_hz = notes_to_hz(reference)
    est_i, est_hz = notes_to_hz(estimate)
    pairs = mt.match_notes(ref_i, ref_hz, est_i, est_hz, onset_tolerance=onset_tolerance,
                           offset_ratio=None) if len(ref_i) and len(est_i) else []
    matched_est = {j for _, j in pairs}
    extra: dict = {}
    ref_pitch = np.asarray(reference.pitch)
    for j in range(len(est_i)):
        if j in matched_est:
            continue
        t = est_i[j, 0]
        sounding = ref_pitch[(ref_i[:, 0] <= t + onset_tolerance) & (ref_i[:, 1] > t)]
        if len(sounding):
            diff = int(estimate.pitch[j]) - sounding.astype(int)
            key = int(diff[np.argmin(np.abs(diff))])
        else:
            key = None
        extra[key] = extra.get(key, 0) + 1
    return {"extra": extra, "missed": len(ref_i) - len(pairs), "matched": len(pairs)}


def _mean_scores(scores: list[dict]) -> dict:
    return {k: float(np.mean([s[k] for s in scores])) for k in scores[0]}


def evaluate_recordings(recordings, W=None, *, decay: float = 1.5, threshold: float = 0.2,
                        informed: str | None = None, n_iter: int = 50, progress: bool = False,
                        **kwargs) -> dict:
    """Transcribe several recordings and average their scores (see :func:`evaluate_notes`).

    Parameters
    ----------
    recordings : sequence of mirlab.datasets.Recording
    W : np.ndarray, optional
        Templates (default: :func:`harmonic_templates` with ``decay``).
    decay, threshold : float
    informed : {None, "score", "onset"}
        Start the activations from the recording's own notes
        (:func:`score_informed_activations`) or from their onsets and pitches only
        (:func:`onset_informed_activations`) instead of a constant.
    n_iter : int
    progress : bool
        Show a progress bar.
    **kwargs
        Passed to :func:`transcribe` (``n_fft``, ``hop_length``, ``min_duration`` ...).

    Returns
    -------
    dict
        The mean of every score over the recordings, and ``n_pieces``.
    """
    from tqdm.auto import tqdm

    if informed not in (None, "score", "onset"):
        raise ValueError(f"informed must be None, 'score' or 'onset'; got {informed!r}")
    n_fft, hop_length = kwargs.get("n_fft", 4096), kwargs.get("hop_length", 512)
    if W is None:
        W = harmonic_templates(recordings[0].sr, n_fft, kwargs.get("pitches", PIANO_PITCHES),
                               decay=decay)
    scores = []
    for rec in tqdm(recordings, desc="transcribing", disable=env.progress_disabled(progress)):
        H = None
        if informed is not None:
            n_frames = 1 + len(rec.y) // hop_length
            n = rec.notes
            H = (score_informed_activations(n, n_frames, rec.sr, hop_length)
                 if informed == "score"
                 else onset_informed_activations(n.onset, n.pitch, n_frames, rec.sr, hop_length))
        est, _ = transcribe(rec.y, rec.sr, W, H=H, threshold=threshold, n_iter=n_iter, **kwargs)
        scores.append(evaluate_notes(rec.notes, est))
    return {**_mean_scores(scores), "n_pieces": len(scores)}


def select_decay(recordings, decays=(1.0, 1.25, 1.5, 1.75, 2.0),
                 thresholds=(0.1, 0.15, 0.2, 0.25), *, n_iter: int = 50, n_fft: int = 4096,
                 hop_length: int = 512, progress: bool = False) -> list[dict]:
    """Grid search of the partials' decay and the note threshold on training recordings.

    The activations depend on the decay only, so each (decay, recording) pair is factorised
    once and every threshold is applied to the same activations.

    Parameters
    ----------
    recordings : sequence of mirlab.datasets.Recording
        The TRAINING pieces (report the chosen setting on other pieces).
    decays, thresholds : sequence of float
    n_iter, n_fft, hop_length : int
    progress : bool

    Returns
    -------
    list of dict
        One row per (decay, threshold): ``decay``, ``threshold``, ``f_measure`` and
        ``offset_f_measure`` averaged over the recordings; the best row (highest onset F) is
        the one with the largest ``f_measure``.
    """
    from tqdm.auto import tqdm

    rows = []
    for decay in tqdm(decays, desc="decays", disable=env.progress_disabled(progress)):
        W = harmonic_templates(recordings[0].sr, n_fft, decay=decay)
        Hs = []
        for rec in recordings:
            V = spectrogram(rec.y, rec.sr, n_fft, hop_length)
            H0 = np.full((W.shape[1], V.shape[1]), float(V.mean()) + 1e-6, dtype=np.float32)
            Hs.append(nmf(V, W=W, H=H0, n_iter=n_iter, update_W=False, cost_every=n_iter).H)
        for threshold in thresholds:
            scores = [evaluate_notes(rec.notes, activations_to_notes(H, rec.sr, hop_length,
                                                                     threshold=threshold))
                      for rec, H in zip(recordings, Hs, strict=True)]
            mean = _mean_scores(scores)
            rows.append({"decay": float(decay), "threshold": float(threshold),
                         "f_measure": mean["f_measure"],
                         "offset_f_measure": mean["offset_f_measure"]})
    return rows


def plot_activations(H, sr: int = 22050, hop_length: int = 512, pitches=PIANO_PITCHES,
                     reference: Notes | None = None, estimate: Notes | None = None, ax=None,
                     db_range: float = 60.0):
    """Draw activations as a piano roll (rows at their MIDI pitch), in dB, with notes on top.

    Parameters
    ----------
    H : np.ndarray, shape (len(pitches), n_frames)
    sr, hop_length : int
    pitches : array_like
        Consecutive MIDI pitches, one per row of ``H``.
    reference, estimate : mirlab.core.music.Notes, optional
        Drawn as outlines (reference, cyan) and filled boxes (estimate, white).
    ax : matplotlib.axes.Axes, optional
    db_range : float
        Activations more than this many dB below the maximum are shown as the floor.

    Returns
    -------
    matplotlib.axes.Axes
    """
    from mirlab import plotting

    H = check_spectrogram(H, "H")
    pitches = check_pitches(pitches).astype(int)
    rows = np.zeros((int(pitches.max()) + 1, H.shape[1]), dtype=np.float32)
    rows[pitches] = H
    db = features.amplitude_to_db(rows, ref=float(rows.max()) or 1.0, top_db=db_range)
    ax = plotting.specshow(db, sr=sr, hop_length=hop_length, y_axis="pitch", ax=ax,
                           cmap="gray_r")
    for notes, style in ((reference, dict(fill=False, color="tab:cyan")),
                         (estimate, dict(fill=True, color="tab:orange", alpha=0.45))):
        if notes is not None and len(notes):
            plotting.plot_notes(notes.onset, notes.offset, notes.pitch, ax=ax, label_axis=False,
                                **style)
    shown = np.concatenate([np.asarray(n.pitch) for n in (reference, estimate)
                            if n is not None and len(n)] or [pitches])
    ax.set_ylim(shown.min() - 3.5, shown.max() + 3.5)
    return ax
