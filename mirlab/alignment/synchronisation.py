"""Music synchronisation: align two versions of a piece with DTW and score the alignment in ms.

The pipeline :cite:`Mueller2021FMP` (sec. 3.3): compute a *synchronisation feature* for both
recordings (a chroma variant that ignores timbre and keeps harmony), a cost matrix between
their frames, the optimal DTW path (:func:`mirlab.sequence.dtw_fast`), and turn the path into
a monotone *time map* from the reference to the version. Versions rendered from the same
notes (:mod:`mirlab.datasets.versions`) know the exact time map, so the error of an alignment
is measured at every note onset, in milliseconds (:func:`alignment_error`).

Features (:data:`FEATURES`, all at the same frame rate ``sr / hop_length``):

- ``"chroma_stft"``: STFT chroma (:func:`mirlab.features.chroma_stft`);
- ``"chroma_cqt"``: CQT chroma (:func:`mirlab.features.chroma_cqt`);
- ``"cens"``: CENS, quantised and smoothed chroma (:func:`mirlab.features.chroma_cens`, a short
  smoothing window of 9 frames: synchronisation needs a finer resolution than retrieval);
- ``"log_chroma"``: chroma of a log-compressed CQT (``log(1 + 100 |X| / max |X|)``), which
  lifts the weak partials and quiet voices :cite:`Mueller2021FMP` (sec. 3.1.2; the constant
  100 was chosen on chorales the evaluation table leaves out, from 10, 100 and 1000);
- ``"chroma_onset"``: ``log_chroma`` stacked with a decaying, locally normalised chroma-onset
  feature in the spirit of DLNCO :cite:`Ewert2009sync` (pitch-wise energy increases folded
  to 12 pitch classes, normalised by the local maximum, with a decaying tail of 10 frames);
  the cost adds to the cosine distance of the chroma a tenth of the Euclidean distance of
  the onsets, so that note onsets pin the path where the harmony stands still.

Where ``synctoolbox`` imports, :func:`synctoolbox_time_map` runs the AudioLabs Sync Toolbox
(its MrMsDTW on quantised chroma and DLNCO features, as its audio-audio tutorial does)
:cite:`Mueller2021synctoolbox`, :cite:`Praetzlich2016mrmsdtw` as the reference system on the
same pairs.

Taught in ``notebooks/07_alignment.ipynb``.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import scipy.ndimage

from mirlab import features as F
from mirlab import sequence
from mirlab.core.checks import check_choice, check_positive_int
from mirlab.datasets.versions import VersionPair, load_pair

__all__ = ["FEATURES", "STEP_WEIGHTS", "sync_features", "estimate_transposition", "sync_cost",
           "align", "path_to_time_map", "apply_time_map", "alignment_error", "evaluate_pair",
           "evaluate", "summarise", "has_synctoolbox", "synctoolbox_time_map"]

FEATURES = ("chroma_stft", "chroma_cqt", "cens", "log_chroma", "chroma_onset")
HOP_LENGTH = 512
STEP_WEIGHTS = (2.0, 1.5, 1.5)  # diagonal, horizontal, vertical (Sync Toolbox's 2 : 1.5 : 1.5)
TOLERANCES = (0.05, 0.1, 0.2)
ONSET_WEIGHT = 0.1
LOG_GAMMA = 100.0
_FMIN = 32.70319566257483  # C1 (MIDI 24): seven octaves of CQT from here


# --- features ----------------------------------------------------------------------------------

def _log_cqt(y, sr, hop_length, gamma=LOG_GAMMA):
    """``log(1 + gamma * |X| / max |X|)`` of a 7-octave semitone CQT from C1."""
    Xc = np.abs(F.cqt(y, sr=sr, hop_length=hop_length, fmin=_FMIN, n_bins=84))
    return F.log_compress(Xc / max(float(Xc.max()), 1e-10), gamma=gamma)


def _onset_chroma(L, frames_per_second):
    """Decaying, locally normalised chroma onsets from a log-compressed semitone CQT ``L``."""
    rise = np.maximum(np.diff(L, axis=1, prepend=L[:, :1]), 0.0)
    onsets = rise.reshape(-1, 12, rise.shape[1]).sum(axis=0)  # fold octaves (CQT from C1)
    energy = np.linalg.norm(onsets, axis=0)
    size = max(1, int(round(3.0 * frames_per_second)))  # local maximum over about 3 s
    local = scipy.ndimage.maximum_filter1d(energy, size=size, mode="nearest")
    onsets = onsets / np.maximum(local, 1e-6)
    decay = np.sqrt(np.linspace(1.0, 0.0, 11)[:-1])  # a tail of 10 frames
    out = onsets.copy()
    for k in range(1, len(decay)):
        out[:, k:] = np.maximum(out[:, k:], decay[k] * onsets[:, :-k])
    return out


def sync_features(y, sr: int = 22050, feature: str = "chroma_onset",
                  hop_length: int = HOP_LENGTH) -> np.ndarray:
    """A synchronisation feature of a recording (see :data:`FEATURES`).

    Parameters
    ----------
    y : np.ndarray, shape (n_samples,)
        Mono signal.
    sr : int
        Sample rate in Hz.
    feature : str
        One of :data:`FEATURES`.
    hop_length : int
        Hop in samples (frame ``n`` is centred at ``n * hop_length / sr`` s).

    Returns
    -------
    np.ndarray, shape (12, n_frames) or (24, n_frames)
        Chroma columns with unit L2 norm (zero for silence); ``"chroma_onset"`` stacks the 12
        chroma rows over 12 onset rows in [0, 1].

    Examples
    --------
    >>> y = np.random.default_rng(0).standard_normal(22050)
    >>> sync_features(y, 22050, "chroma_stft").shape
    (12, 44)
    """
    check_choice(feature, "feature", FEATURES)
    hop_length = check_positive_int(hop_length, "hop_length")
    y = np.asarray(y, dtype=np.float32)
    if feature == "chroma_stft":
        return F.chroma_stft(y=y, sr=sr, hop_length=hop_length, n_fft=4096, tuning=0.0)
    if feature == "chroma_cqt":
        return F.chroma_cqt(y=y, sr=sr, hop_length=hop_length, fmin=_FMIN)
    if feature == "cens":
        return F.chroma_cens(y=y, sr=sr, hop_length=hop_length, fmin=_FMIN, win_len_smooth=9)
    L = _log_cqt(y, sr, hop_length)
    chroma = F.normalize(F.cq_to_chroma(L.shape[0], 12, _FMIN) @ L, norm=2, axis=0)
    if feature == "log_chroma":
        return chroma
    return np.vstack([chroma, _onset_chroma(L, sr / hop_length)])


def estimate_transposition(X, Y) -> int:
    """The cyclic chroma shift ``k`` that best maps ``Y`` onto ``X``: ``np.roll(Y, -k, axis=0)``.

    The optimal transposition index :cite:`Serra2008oti`: the shift that maximises the
    correlation of the two average chroma vectors (the first 12 rows of each feature), each
    minus its mean.

    Parameters
    ----------
    X, Y : np.ndarray, shape (12 or 24, n_frames)
        Features of the reference and the version.

    Returns
    -------
    int
        ``k`` in 0..11: the version sounds ``k`` semitones above the reference.
    """
    x, y = np.asarray(X)[:12].mean(axis=1), np.asarray(Y)[:12].mean(axis=1)
    x, y = x - x.mean(), y - y.mean()  # a flat part (noise floor) would favour no shift
    return int(np.argmax([x @ np.roll(y, -k) for k in range(12)]))


def _shift(Y, k):
    Y = np.asarray(Y)
    parts = [np.roll(Y[i:i + 12], -k, axis=0) for i in range(0, Y.shape[0], 12)]
    return np.vstack(parts)


def sync_cost(X, Y, onset_weight: float = ONSET_WEIGHT) -> np.ndarray:
    """The cost matrix of two synchronisation features.

    The cosine distance of the chroma rows; for ``"chroma_onset"`` features (24 rows) plus
    ``onset_weight`` times the Euclidean distance of the onset rows.

    Parameters
    ----------
    X, Y : np.ndarray, shape (12 or 24, N) and (12 or 24, M)
    onset_weight : float
        Weight of the onset distance (default 0.1, chosen on the 7th to 10th chorales of
        ``list_pieces("chorales")``, which the evaluation table leaves out: larger weights
        let the piano's sharp and the strings' soft onsets disagree, and the path jumps).

    Returns
    -------
    np.ndarray, shape (N, M)
    """
    X, Y = np.asarray(X, dtype=float), np.asarray(Y, dtype=float)
    if X.ndim != 2 or Y.ndim != 2 or X.shape[0] != Y.shape[0] or X.shape[0] not in (12, 24):
        raise ValueError(f"X and Y must be synchronisation features with 12 or 24 rows each; got "
                         f"shapes {X.shape} and {Y.shape}")
    C = sequence.cost_matrix(X[:12], Y[:12], "cosine")
    if X.shape[0] == 24:
        C = C + onset_weight * sequence.cost_matrix(X[12:], Y[12:], "euclidean")
    return C


# --- paths and time maps -----------------------------------------------------------------------

def path_to_time_map(path, sr: int = 22050, hop_length: int = HOP_LENGTH):
    """Turn a DTW path into a strictly increasing time map (knots for interpolation).

    Frame indices become times (``n * hop_length / sr``); where the path stays on one
    reference frame for several version frames (a vertical run), the knot takes their mean,
    so the knots' reference times increase strictly and their version times never decrease.

    Parameters
    ----------
    path : np.ndarray of int, shape (L, 2)
        A warping path from :func:`mirlab.sequence.dtw` (reference frames in column 0).
    sr, hop_length : int

    Returns
    -------
    t_ref, t_ver : np.ndarray, shape (n_knots,)
        Knots of the piecewise-linear time map (see :func:`apply_time_map`).
    """
    path = np.asarray(path)
    if path.ndim != 2 or path.shape[1] != 2 or len(path) == 0:
        raise ValueError(f"path must be an array of (n, m) pairs shaped (L, 2); got shape "
                         f"{path.shape}")
    if np.any(np.diff(path, axis=0) < 0):
        raise ValueError("path must run forward (from the first cell to the last); got a path "
                         "whose indices decrease: did you pass librosa's reversed path?")
    n, first = np.unique(path[:, 0], return_index=True)
    sums = np.add.reduceat(path[:, 1].astype(float), first)
    counts = np.diff(np.append(first, len(path)))
    return n * hop_length / sr, sums / counts * hop_length / sr


def apply_time_map(knots, t) -> np.ndarray:
    """Map reference times through a piecewise-linear time map (linear beyond the ends).

    Parameters
    ----------
    knots : tuple (t_ref, t_ver)
        From :func:`path_to_time_map` (``t_ref`` strictly increasing).
    t : array_like
        Reference times in seconds.

    Returns
    -------
    np.ndarray
        The estimated version times (monotone in ``t``).
    """
    t_ref, t_ver = (np.asarray(k, dtype=float) for k in knots)
    t = np.asarray(t, dtype=float)
    out = np.interp(t, t_ref, t_ver)
    if len(t_ref) >= 2:  # extend with the slope of the outer segments
        lo, hi = t < t_ref[0], t > t_ref[-1]
        s0 = (t_ver[1] - t_ver[0]) / (t_ref[1] - t_ref[0])
        s1 = (t_ver[-1] - t_ver[-2]) / (t_ref[-1] - t_ref[-2])
        out[lo] = t_ver[0] + s0 * (t[lo] - t_ref[0])
        out[hi] = t_ver[-1] + s1 * (t[hi] - t_ref[-1])
    return out


def alignment_error(estimated, exact, tolerances=TOLERANCES) -> dict:
    """The error of estimated times against exact ones (e.g. at every note onset).

    Parameters
    ----------
    estimated, exact : array_like, shape (n,)
        Times in seconds.
    tolerances : sequence of float
        Thresholds in seconds for the shares of notes within them.

    Returns
    -------
    dict
        ``mean_ms``, ``median_ms``, ``max_ms`` (absolute error in ms), ``n`` and, for each
        tolerance ``t``, ``within_<t in ms>`` (share of notes with error <= t), e.g.
        ``within_50``, ``within_100``, ``within_200``.
    """
    a, b = np.asarray(estimated, dtype=float), np.asarray(exact, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or len(a) == 0:
        raise ValueError(f"estimated and exact must be 1-d arrays of equal, non-zero length; "
                         f"got shapes {a.shape} and {b.shape}")
    err = np.abs(a - b)
    out = {"mean_ms": 1000 * float(err.mean()), "median_ms": 1000 * float(np.median(err)),
           "max_ms": 1000 * float(err.max()), "n": int(len(err))}
    for t in tolerances:
        out[f"within_{round(1000 * t)}"] = float(np.mean(err <= t + 1e-9))
    return out


def align(y_ref, y_ver, sr: int = 22050, feature: str = "chroma_onset",
          hop_length: int = HOP_LENGTH, weights=STEP_WEIGHTS, transpose="auto",
          onset_weight: float = ONSET_WEIGHT):
    """Synchronise two recordings: the time map from the reference to the version.

    Parameters
    ----------
    y_ref, y_ver : np.ndarray
        The two signals (same sample rate).
    sr : int
    feature : str
        One of :data:`FEATURES`.
    hop_length : int
    weights : sequence of 3 floats
        DTW weights of the steps (diagonal, horizontal, vertical); the default ``(2, 1.5,
        1.5)`` (the Sync Toolbox's) slightly favours the diagonal; ``(1, 1, 1)`` is librosa's.
    transpose : "auto", int or None
        Shift the version's chroma down by this many semitones before aligning ("auto":
        :func:`estimate_transposition`, from CQT chroma for the log-compressed features, whose
        average over a piece is nearly flat; None or 0: no shift).
    onset_weight : float
        Weight of the onset distance for ``"chroma_onset"`` (:func:`sync_cost`).

    Returns
    -------
    knots : tuple (t_ref, t_ver)
        The time map (:func:`apply_time_map`).
    path : np.ndarray of int, shape (L, 2)
        The DTW path in frames.
    """
    X = sync_features(y_ref, sr, feature, hop_length)
    Y = sync_features(y_ver, sr, feature, hop_length)
    if transpose != "auto":
        k = int(transpose or 0)
    elif feature in ("log_chroma", "chroma_onset"):  # nearly flat on average: use plain chroma
        k = estimate_transposition(sync_features(y_ref, sr, "chroma_cqt", hop_length),
                                   sync_features(y_ver, sr, "chroma_cqt", hop_length))
    else:
        k = estimate_transposition(X, Y)
    C = sync_cost(X, _shift(Y, k) if k else Y, onset_weight)
    _, path = sequence.dtw_fast(C, weights=weights)
    return path_to_time_map(path, sr, hop_length), path


# --- the Sync Toolbox as a reference -----------------------------------------------------------

def has_synctoolbox() -> bool:
    """True when the AudioLabs Sync Toolbox (``synctoolbox``) imports."""
    try:
        import synctoolbox.dtw.mrmsdtw  # noqa: F401
        import synctoolbox.feature.dlnco  # noqa: F401
    except Exception:  # any failure (missing, broken dependency) means: not available
        return False
    return True


def _synctoolbox_features(y, sr, feature_rate):
    from synctoolbox.feature.chroma import pitch_to_chroma, quantize_chroma
    from synctoolbox.feature.dlnco import pitch_onset_features_to_DLNCO
    from synctoolbox.feature.pitch import audio_to_pitch_features
    from synctoolbox.feature.pitch_onset import audio_to_pitch_onset_features

    y = np.asarray(y, dtype=float)
    f_pitch = audio_to_pitch_features(f_audio=y, Fs=sr, feature_rate=feature_rate, verbose=False)
    chroma = quantize_chroma(f_chroma=pitch_to_chroma(f_pitch=f_pitch))
    peaks = audio_to_pitch_onset_features(f_audio=y, Fs=sr, verbose=False)
    dlnco = pitch_onset_features_to_DLNCO(f_peaks=peaks, feature_rate=feature_rate,
                                          feature_sequence_length=chroma.shape[1],
                                          visualize=False)
    return chroma, dlnco


def synctoolbox_time_map(y_ref, y_ver, sr: int = 22050, feature_rate: int = 50):
    """The Sync Toolbox's time map (MrMsDTW on quantised chroma + DLNCO), as its tutorial.

    Parameters
    ----------
    y_ref, y_ver : np.ndarray
    sr : int
    feature_rate : int
        Frames per second of its features (its default, 50).

    Returns
    -------
    tuple (t_ref, t_ver)
        Knots for :func:`apply_time_map`.
    """
    if not has_synctoolbox():
        raise ValueError("synctoolbox_time_map needs the AudioLabs Sync Toolbox: "
                         "pip install synctoolbox")
    from synctoolbox.dtw.mrmsdtw import sync_via_mrmsdtw
    from synctoolbox.dtw.utils import (
        compute_optimal_chroma_shift,
        make_path_strictly_monotonic,
        shift_chroma_vectors,
    )
    from synctoolbox.feature.chroma import quantized_chroma_to_CENS

    with contextlib.redirect_stdout(io.StringIO()):  # it prints progress dots
        c1, o1 = _synctoolbox_features(y_ref, sr, feature_rate)
        c2, o2 = _synctoolbox_features(y_ver, sr, feature_rate)
    cens1 = quantized_chroma_to_CENS(c1, 201, 50, feature_rate)[0]
    cens2 = quantized_chroma_to_CENS(c2, 201, 50, feature_rate)[0]
    shift = compute_optimal_chroma_shift(cens1, cens2)
    c2, o2 = shift_chroma_vectors(c2, shift), shift_chroma_vectors(o2, shift)
    wp = sync_via_mrmsdtw(f_chroma1=c1, f_onset1=o1, f_chroma2=c2, f_onset2=o2,
                          input_feature_rate=feature_rate,
                          step_weights=np.array([1.5, 1.5, 2.0]), threshold_rec=10 ** 6,
                          verbose=False)
    wp = make_path_strictly_monotonic(wp)
    return wp[0] / feature_rate, wp[1] / feature_rate


# --- evaluation --------------------------------------------------------------------------------

def evaluate_pair(pair: VersionPair, feature: str = "chroma_onset", **kwargs) -> dict:
    """The error of one configuration on one version pair, at the reference's note onsets.

    Parameters
    ----------
    pair : VersionPair
        From :func:`mirlab.datasets.versions.load_pair`.
    feature : str
        One of :data:`FEATURES`, or ``"synctoolbox"`` (:func:`synctoolbox_time_map`).
    **kwargs
        Passed to :func:`align` (``hop_length``, ``weights``, ``transpose``).

    Returns
    -------
    dict
        ``piece_id``, ``kind``, ``feature`` and the keys of :func:`alignment_error`, plus
        ``errors`` (the absolute error in seconds of every onset).
    """
    sr = pair.sr
    if feature == "synctoolbox":
        knots = synctoolbox_time_map(pair.reference.y, pair.version.y, sr)
    else:
        knots, _ = align(pair.reference.y, pair.version.y, sr, feature, **kwargs)
    t_ref, t_ver = pair.onsets()
    est = apply_time_map(knots, t_ref)
    return {"piece_id": pair.piece_id, "kind": pair.kind, "feature": feature,
            **alignment_error(est, t_ver), "errors": np.abs(est - t_ver)}


def evaluate(piece_ids, kinds, features=FEATURES, seconds: float | None = 30.0, sr: int = 22050,
             progress: bool = True, **kwargs) -> list[dict]:
    """Evaluate every configuration (feature x version kind) on several pieces.

    Parameters
    ----------
    piece_ids : sequence of str
        Corpus ids (e.g. the first chorales of :func:`mirlab.datasets.list_pieces`).
    kinds : sequence of str
        Version kinds (:data:`mirlab.datasets.versions.KINDS`).
    features : sequence of str
        Entries of :data:`FEATURES`, and ``"synctoolbox"`` for the Sync Toolbox.
    seconds : float or None
        Length of the excerpts (None: whole pieces).
    sr : int
    progress : bool
        Show a progress bar.
    **kwargs
        Passed to :func:`align`.

    Returns
    -------
    list of dict
        One row per (piece, kind, feature), as :func:`evaluate_pair`; :func:`summarise`
        pools them into one row per (kind, feature).
    """
    from tqdm.auto import tqdm

    from mirlab.core import env

    rows = []
    jobs = [(p, k) for k in kinds for p in piece_ids]
    for piece_id, kind in tqdm(jobs, desc="synchronising", disable=env.progress_disabled(progress)):
        pair = load_pair(piece_id, kind, sr=sr, seconds=seconds)
        for feature in features:
            rows.append(evaluate_pair(pair, feature, **kwargs))
    return rows


def summarise(rows: list[dict]) -> list[dict]:
    """Pool the rows of :func:`evaluate` over pieces: one row per (kind, feature).

    The errors of all notes of all pieces are pooled before the statistics are taken.

    Returns
    -------
    list of dict
        ``kind``, ``feature``, ``pieces``, and the keys of :func:`alignment_error`.
    """
    groups: dict = {}
    for r in rows:
        groups.setdefault((r["kind"], r["feature"]), []).append(r)
    out = []
    for (kind, feature), group in groups.items():
        err = np.concatenate([g["errors"] for g in group])
        out.append({"kind": kind, "feature": feature, "pieces": len(group),
                    **alignment_error(err, np.zeros_like(err))})
    return out
