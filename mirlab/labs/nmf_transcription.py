"""Checks for lab 3, NMF transcription (``labs/lab03_nmf_transcription``).

Each ``check_*`` function calls a student's function on a few inputs (seeded random matrices
with a silent frame, and small hand-made activations), compares the result with
:mod:`mirlab.transcription.nmf` and :mod:`mirlab.transcription`, and raises
:class:`~mirlab.labs.LabCheckError` naming the input, what differs and, when the result equals
the output of a typical mistake (a missing epsilon, the Euclidean update instead of the KL one,
templates updated although they are fixed, a decay applied the wrong way, a threshold taken
per row or absolute, times one hop off ...), that mistake.

Use it in the lab as ``from mirlab.labs import nmf_transcription as checks``.
"""

from __future__ import annotations

import numpy as np

from mirlab import transcription as tr
from mirlab.labs.core import LabCheckError, Mistake, compare, exercise
from mirlab.transcription import nmf

__all__ = [
    "EPS",
    "hann_lobe",
    "check_update_H",
    "check_update_W",
    "check_fixed_templates",
    "check_harmonic_templates",
    "check_note_extraction",
]

LAB = "lab03"
EPS = nmf.EPS


def hann_lobe(x):
    """The main lobe of the Hann window's magnitude spectrum at ``x`` bins from its centre.

    Equal to 1 at ``x = 0``, 0.5 at ``|x| = 1`` and 0 for ``|x| >= 2``: the shape a sinusoid
    takes in a spectrogram computed with a Hann window. Given to students for exercise 4.

    Examples
    --------
    >>> hann_lobe(np.array([0.0, 1.0, 2.5])).tolist()
    [1.0, 0.5, 0.0]
    """
    return tr.hann_lobe(np.asarray(x, dtype=float))


# --- exercises 1 and 2: the multiplicative updates ------------------------------------------

def _factors():
    """``(case, V, W, H)``: random factors, one silent frame whose activations are zero."""
    rng = np.random.default_rng(3)
    W = rng.random((12, 3)) + 0.05
    H = rng.random((3, 8)) + 0.05
    V = (W @ rng.random((3, 8))) * rng.uniform(0.8, 1.2, (12, 8))
    V[:, 5], H[:, 5] = 0.0, 0.0
    return [("a 12 x 8 random V whose frame 5 is silent (and H[:, 5] = 0)", V, W, H)]


def _call(fn, *args):
    return fn(*(np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in args))


def _euclidean_H(V, W, H):
    return H * (W.T @ V) / (W.T @ W @ H + EPS)


def _euclidean_W(V, W, H):
    return W * (V @ H.T) / (W @ H @ H.T + EPS)


@exercise(LAB, "update_H")
def check_update_H(update_H_fn):
    """Check ``update_H_fn(V, W, H, eps) -> H_new``, the KL update of the activations.

    The reference is :func:`mirlab.transcription.nmf.update_H` with ``beta=1``:
    ``H * (W.T @ (V / (W @ H + eps))) / (W.T @ ones + eps)``.
    """
    for case, V, W, H in _factors():
        ref = nmf.update_H(V, W, H, beta=1.0, eps=EPS)
        ratio = V / (W @ H + EPS)
        mistakes = [
            Mistake(_euclidean_H(V, W, H), "this is the Euclidean update (W.T @ V over "
                    "W.T @ W @ H). The Kullback-Leibler update divides V by W @ H entry by "
                    "entry: W.T @ (V / (W @ H + eps)), over the column sums of W."),
            Mistake((W.T @ ratio) / (W.sum(axis=0)[:, None] + EPS), "you returned the ratio "
                    "only: multiply the current H by it (H * numerator / denominator)."),
            Mistake(H * (W.T @ ratio) / (W.sum() + EPS), "the denominator must hold one sum "
                    "per component, the column sums of W: W.sum(axis=0)[:, None] (or "
                    "W.T @ np.ones_like(V)), not the sum of all of W."),
            Mistake(H * (W.T @ ratio) / (W.sum(axis=1).mean() + EPS), "the denominator "
                    "must be the column sums of W, W.sum(axis=0)[:, None]."),
            Mistake(H * (W.sum(axis=0)[:, None] + EPS) / (W.T @ ratio + EPS), "the ratio is "
                    "upside down: numerator W.T @ (V / WH), denominator the column sums of W."),
        ]
        compare(_call(update_H_fn, V, W, H, EPS), ref, what="update_H(V, W, H, eps)",
                case=case, mistakes=mistakes,
                layout="H is shaped (n_components, n_frames), like the reference")


@exercise(LAB, "update_W")
def check_update_W(update_W_fn):
    """Check ``update_W_fn(V, W, H, eps) -> W_new``, the KL update of the templates.

    The reference is :func:`mirlab.transcription.nmf.update_W` with ``beta=1``:
    ``W * ((V / (W @ H + eps)) @ H.T) / (ones @ H.T + eps)``.
    """
    for case, V, W, H in _factors():
        ref = nmf.update_W(V, W, H, beta=1.0, eps=EPS)
        ratio = V / (W @ H + EPS)
        mistakes = [
            Mistake(_euclidean_W(V, W, H), "this is the Euclidean update (V @ H.T over "
                    "W @ H @ H.T). The Kullback-Leibler update uses (V / (W @ H + eps)) @ H.T, "
                    "over the row sums of H."),
            Mistake((ratio @ H.T) / (H.sum(axis=1)[None, :] + EPS), "you returned the ratio "
                    "only: multiply the current W by it."),
            Mistake(W * (ratio @ H.T) / (H.sum() + EPS), "the denominator must hold one sum "
                    "per component, the row sums of H: H.sum(axis=1)[None, :] (or "
                    "np.ones_like(V) @ H.T), not the sum of all of H."),
        ]
        compare(_call(update_W_fn, V, W, H, EPS), ref, what="update_W(V, W, H, eps)",
                case=case, mistakes=mistakes,
                layout="W is shaped (n_bins, n_components), like the reference")


# --- exercise 3: activations with fixed templates -------------------------------------------

def _run(V, W, n_iter, update_W=False):
    H0 = np.full((W.shape[1], V.shape[1]), V.mean())
    return nmf.nmf(V, W=W, H=H0, beta="kl", n_iter=n_iter, update_W=update_W, method="plain",
                   dtype=np.float64, cost_every=max(n_iter, 1)).H


@exercise(LAB, "fixed_templates")
def check_fixed_templates(activations_fn):
    """Check ``activations_fn(V, W, n_iter, eps) -> H``: ``n_iter`` KL updates of ``H`` only,
    from ``H`` filled with the mean of ``V``; ``W`` stays as it is."""
    for case, V, W, _ in _factors():
        n_iter = 20
        W_before = W.copy()
        got = activations_fn(V, W, n_iter, EPS)
        if not np.array_equal(W, W_before):
            raise LabCheckError(f"activations(V, W, n_iter={n_iter}) on {case}: your function "
                                "changed W in place. With fixed templates only H is updated; "
                                "never assign to W (or W[...]) inside the loop.")
        mistakes = [
            Mistake(_run(V, W, n_iter, update_W=True), "you also updated W. The templates are "
                    "fixed here: call only the H update in the loop."),
            Mistake(_run(V, W, n_iter - 1), f"you ran {n_iter - 1} updates instead of "
                    f"n_iter = {n_iter}: check the range of your loop."),
            Mistake(_run(V, W, n_iter + 1), f"you ran {n_iter + 1} updates instead of "
                    f"n_iter = {n_iter}: check the range of your loop."),
        ]
        compare(got, _run(V, W, n_iter), what=f"activations(V, W, n_iter={n_iter})", case=case,
                mistakes=mistakes, rtol=1e-6,
                layout="H is shaped (n_components, n_frames)")


# --- exercise 4: harmonic templates ---------------------------------------------------------

def _templates(sr, n_fft, pitches, n_partials, decay, *, amp=None, f0=None, to_bin=None,
               norm="sum", drop=True):
    """Harmonic templates with the pieces a student may get wrong replaced."""
    k = np.arange(1, n_partials + 1)[:, None]
    pitches = np.asarray(pitches, dtype=float)
    f = (f0 or (lambda p: 440.0 * 2 ** ((p - 69) / 12)))(pitches)[None, :] * k
    a = (amp or (lambda k: k ** -decay))(k.astype(float)) * np.ones_like(f)
    if drop:
        a = np.where(f < sr / 2, a, 0.0)
    centre = (to_bin or (lambda f: f * n_fft / sr))(f)
    bins = np.arange(1 + n_fft // 2)[:, None, None]
    W = np.einsum("bkp,kp->bp", hann_lobe(bins - centre[None]), a)
    scale = W.sum(axis=0) if norm == "sum" else W.max(axis=0) if norm == "max" else 1.0
    return W / np.where(scale > 0, scale, 1.0)


def _template_cases():
    return [("22050 Hz, n_fft 4096, pitches [45, 60, 69, 100], 10 partials, decay 1.5",
             (22050, 4096, [45, 60, 69, 100], 10, 1.5)),
            ("16000 Hz, n_fft 2048, pitches [40, 52], 12 partials, decay 0.5",
             (16000, 2048, [40, 52], 12, 0.5)),
            ("8796 Hz, n_fft 1024, pitch [69], 12 partials, decay 1 (the 10th partial, 4400 Hz, "
             "lies just above the Nyquist frequency 4398 Hz)", (8796, 1024, [69], 12, 1.0))]


def _template_mistakes(sr, n_fft, pitches, n_partials, decay):
    args = (sr, n_fft, pitches, n_partials, decay)
    return [
        Mistake(_templates(*args, amp=lambda k: k ** decay), "the partials grow with k: the "
                "amplitude of partial k is k ** -decay (a negative exponent)."),
        Mistake(_templates(*args, amp=lambda k: np.exp(-decay * k)), "your amplitudes decay "
                "exponentially; the model is the power law k ** -decay."),
        Mistake(_templates(*args, amp=lambda k: decay ** -k), "your amplitudes are "
                "decay ** -k; the model is k ** -decay."),
        Mistake(_templates(*args, norm=None), "your templates are not normalised: divide each "
                "column by its sum, so that every template sums to 1."),
        Mistake(_templates(*args, norm="max"), "you normalised each template by its maximum; "
                "normalise by its sum (each column sums to 1)."),
        Mistake(_templates(*args, drop=False), "partials at or above the Nyquist frequency "
                "sr / 2 must be dropped (their lobes leak into the top bins)."),
        Mistake(_templates(*args, to_bin=lambda f: f * sr / n_fft), "the bin of frequency f "
                "is f * n_fft / sr (bins are sr / n_fft Hz apart)."),
        Mistake(_templates(*args, to_bin=lambda f: np.round(f * n_fft / sr)), "you rounded "
                "the partials to the nearest bin: keep the fractional bin position, the lobe "
                "falls between bins."),
        Mistake(_templates(*args, f0=lambda p: 440.0 * 2 ** ((p - 57) / 12)), "your pitches "
                "are an octave too high: MIDI 69 (A4) is 440 Hz."),
        Mistake(_templates(*args, f0=lambda p: 440.0 * 2 ** ((p - 81) / 12)), "your pitches "
                "are an octave too low: MIDI 69 (A4) is 440 Hz."),
        Mistake(_templates(*args, f0=lambda p: 440.0 * 2 ** ((p - 60) / 12)), "your "
                "reference pitch is wrong: f0 = 440 * 2 ** ((p - 69) / 12)."),
    ]


@exercise(LAB, "harmonic_templates")
def check_harmonic_templates(templates_fn):
    """Check ``templates_fn(sr, n_fft, pitches, n_partials, decay)`` against
    :func:`mirlab.transcription.harmonic_templates` (ideal harmonics, Hann main lobes,
    amplitudes ``k ** -decay``, partials at or above ``sr / 2`` dropped, columns summing to 1).
    """
    for case, args in _template_cases():
        ref = tr.harmonic_templates(*args).astype(np.float64)
        got = templates_fn(args[0], args[1], list(args[2]), args[3], args[4])
        compare(got, ref, what="harmonic_templates(sr, n_fft, pitches, n_partials, decay)",
                case=case, mistakes=_template_mistakes(*args),
                layout="templates are shaped (1 + n_fft // 2, n_pitches): one per column")


# --- exercise 5: note extraction ------------------------------------------------------------

def _activation_cases():
    H = np.zeros((3, 30))
    H[0, 2:8] = 1.0        # a note from frame 2 to 7
    H[1, 10:12] = 0.9      # too short for the minimum duration
    H[2, 14:24] = np.linspace(0.5, 0.25, 10)
    H[2, 26] = 0.05        # below the threshold
    H2 = np.zeros((3, 40))
    H2[0, 5:30] = 0.4      # on with an absolute threshold or one per row
    H2[1, 8:16] = 4.0
    H2[1, 20:36] = 2.0
    H2[2, 3:12] = 0.15     # on only with a threshold per row
    return [("a hand-made 3 x 30 activation (sr 100, hop 10: 0.1 s per frame)",
             H, 100, 10, [60, 62, 64], 0.1, 0.25),
            ("a hand-made 3 x 40 activation (sr 22050, hop 512)",
             H2, 22050, 512, [48, 72, 76], 0.2, 0.1)]


def _as_table(notes) -> np.ndarray:
    return np.column_stack([notes.onset, notes.offset, notes.pitch]).reshape(-1, 3)


def _extract(H, sr, hop_length, pitches, threshold, min_duration, relative=True, per_row=False):
    if per_row:
        rows = [_extract(h[None], sr, hop_length, [p], threshold, min_duration) for h, p in
                zip(H, pitches, strict=True)]
        table = np.concatenate(rows)
        return table[np.lexsort((table[:, 2], table[:, 0]))]
    return _as_table(tr.activations_to_notes(H, sr, hop_length, pitches, threshold=threshold,
                                             min_duration=min_duration, rise=0.0,
                                             relative=relative))


def _student_table(got, what) -> np.ndarray:
    pair = ("return a pair (intervals, pitches): intervals shaped (n_notes, 2) holding onset "
            "and offset in seconds, pitches shaped (n_notes,)")
    if got is None:
        raise LabCheckError(f"{what}: your function returned None; {pair}.")
    if not isinstance(got, tuple | list) or len(got) != 2:
        raise LabCheckError(f"{what}: got a {type(got).__name__}; {pair}.")
    try:
        intervals = np.asarray(got[0], dtype=float)
        pitches = np.asarray(got[1], dtype=float).reshape(-1)
    except (TypeError, ValueError) as err:
        raise LabCheckError(f"{what}: {pair} ({err}).") from None
    if intervals.size == 0:
        intervals = intervals.reshape(0, 2)
    if intervals.ndim != 2 or intervals.shape[1] != 2:
        raise LabCheckError(f"{what}: intervals has shape {intervals.shape}; {pair}.")
    if len(intervals) != len(pitches):
        raise LabCheckError(f"{what}: {len(intervals)} intervals but {len(pitches)} pitches; "
                            f"{pair}.")
    return np.column_stack([intervals, pitches])


@exercise(LAB, "note_extraction")
def check_note_extraction(extract_fn):
    """Check ``extract_fn(H, sr, hop_length, pitches, threshold, min_duration)``, which returns
    ``(intervals, pitches)`` sorted by onset then pitch, against
    :func:`mirlab.transcription.activations_to_notes` (relative threshold, no re-onsets)."""
    for case, H, sr, hop_length, pitches, threshold, min_duration in _activation_cases():
        what = (f"activations_to_notes(H, sr={sr}, hop_length={hop_length}, pitches={pitches}, "
                f"threshold={threshold}, min_duration={min_duration})")
        args = (H, sr, hop_length, pitches, threshold, min_duration)
        ref = _extract(*args)
        step = hop_length / sr
        shift = np.array([step, step, 0.0])
        mistakes = [
            Mistake(_extract(*args, relative=False), "your threshold is absolute; it is "
                    "relative to the largest activation: a pitch is on where "
                    "H > threshold * H.max()."),
            Mistake(_extract(*args, per_row=True), "you compared each row with its own "
                    "maximum; use the largest activation of the whole H, so that a quiet "
                    "pitch is not promoted to a note."),
            Mistake(_extract(H, sr, hop_length, pitches, threshold, 0.0), "notes shorter than "
                    "min_duration seconds must be dropped."),
            Mistake(ref + shift, "your times are one hop late. Frames are centred: frame n "
                    "is at n * hop_length / sr seconds, so a note starting at frame n "
                    "starts at that time."),
            Mistake(ref - shift, "your times are one hop early: frame n is at "
                    "n * hop_length / sr seconds."),
            Mistake(ref - np.array([0.0, step, 0.0]), "your offsets are one hop early: a "
                    "run of frames a, ..., b - 1 ends at frame b, i.e. at b * hop_length / sr."),
            Mistake(ref * np.array([(sr / hop_length) ** 2, (sr / hop_length) ** 2, 1.0]),
                    "frames to seconds is n * hop_length / sr (you used n * sr / hop_length)."),
            Mistake(ref * np.array([sr / hop_length, sr / hop_length, 1.0]),
                    "your times are frame indices: "
                    "convert them to seconds with n * hop_length / sr."),
        ]
        got = _student_table(extract_fn(H.copy(), sr, hop_length, list(pitches), threshold,
                                        min_duration), what)
        compare(got, ref, what=what, case=case, mistakes=mistakes, rtol=1e-6,
                layout="one row per note: onset, offset (s) and pitch, sorted by onset",
                shape_hint=_count_hint(len(ref)))


def _count_hint(n_notes: int):
    return lambda shape: f"the reference finds {n_notes} notes (one row each)."
