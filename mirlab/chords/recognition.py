"""Chord recognition from audio: chroma, template similarity, emissions, HMM decoding, segments.

A :class:`ChordRecognizer` chains the steps the chapter teaches one by one:

1. a chromagram (:func:`chord_chroma`: STFT, CQT or log-compressed CQT chroma);
2. optionally, smoothing over time (:func:`smooth_chroma`) or one chroma vector per beat
   (:func:`beat_sync`);
3. the similarity of every frame to every chord template (:func:`template_similarity`);
4. emission probabilities from the similarities (:func:`emission_log_probabilities`);
5. decoding: the best template per frame, or the Viterbi path of an HMM
   (:func:`mirlab.chords.viterbi_fast`);
6. chord segments in seconds with mir_eval labels (:func:`states_to_segments`).

Taught in ``notebooks/02_chord_recognition.ipynb``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.ndimage
import scipy.special

from mirlab import features
from mirlab.chords.vocabulary import LABELS, N_CHORDS, chord_templates
from mirlab.core.checks import (
    check_audio,
    check_choice,
    check_matrix,
    check_positive,
    check_positive_int,
    check_real,
    check_sr,
)
from mirlab.sequence import viterbi_fast

__all__ = [
    "HOP_LENGTH",
    "CHROMA_VARIANTS",
    "chord_chroma",
    "smooth_chroma",
    "beat_sync",
    "estimate_beats",
    "frame_edges",
    "template_similarity",
    "emission_log_probabilities",
    "states_to_segments",
    "ChordRecognizer",
]

CHROMA_VARIANTS = ("stft", "cqt", "cqt_log")
HOP_LENGTH = 1024  # chroma hop in samples (46 ms at 22,050 Hz), the chapter's


def chord_chroma(y, sr: int = 22050, hop_length: int = HOP_LENGTH, variant: str = "cqt_log",
                 gamma: float = 10.0) -> np.ndarray:
    """A chromagram for chord recognition (not normalised: the similarity normalises).

    - ``stft``: :func:`mirlab.features.chroma_stft` with ``n_fft = 2 * hop_length``;
    - ``cqt``: the CQT magnitude (C1 to B7, 36 bins per octave) summed per pitch class;
    - ``cqt_log``: the same CQT magnitude compressed as ``log(1 + gamma * |C| / max |C|)``
      before summing, which lifts quiet notes (a soft inner voice) closer to loud ones.

    Parameters
    ----------
    y : np.ndarray
        Mono signal.
    sr : int
    hop_length : int
        Samples between frames (default :data:`HOP_LENGTH`).
    variant : {"stft", "cqt", "cqt_log"}
    gamma : float > 0
        Compression strength (``cqt_log`` only).

    Returns
    -------
    np.ndarray, shape (12, n_frames)
        Frame ``n`` is centred at ``n * hop_length / sr`` seconds.

    Examples
    --------
    >>> t = np.arange(22050) / 22050
    >>> y = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 261.63, 329.63))  # A minor
    >>> X = chord_chroma(y, 22050, hop_length=2048)
    >>> [int(c) for c in np.sort(np.argsort(X[:, 5])[-3:])]
    [0, 4, 9]

    References
    ----------
    :cite:`Fujishima1999chroma`, :cite:`Bartsch2005chroma`, :cite:`Mueller2021FMP` (sec. 3.1.2,
    5.2), :cite:`Cho2014relative` (log compression helps chord recognition).
    """
    y = check_audio(y)
    sr = check_sr(sr)
    hop_length = check_positive_int(hop_length, "hop_length")
    check_choice(variant, "variant", CHROMA_VARIANTS)
    gamma = check_positive(gamma, "gamma")
    if variant == "stft":
        return features.chroma_stft(y=y, sr=sr, n_fft=2 * hop_length, hop_length=hop_length,
                                    norm=None)
    C = np.abs(features.cqt(y, sr=sr, hop_length=hop_length, n_bins=7 * 36,
                            bins_per_octave=36))
    if variant == "cqt_log":
        C = np.log1p(gamma * C / max(float(C.max()), np.finfo(float).tiny))
    return features.chroma_cqt(C=C, bins_per_octave=36, norm=None)


def smooth_chroma(chroma, length: int = 9, kind: str = "median") -> np.ndarray:
    """Smooth every pitch class over time with a median or mean filter of ``length`` frames.

    Parameters
    ----------
    chroma : np.ndarray, shape (12, n_frames)
    length : int >= 1
        Filter length in frames (1: no smoothing).
    kind : {"median", "mean"}

    Returns
    -------
    np.ndarray, shape (12, n_frames)

    Examples
    --------
    >>> smooth_chroma(np.array([[0.0, 1.0, 0.0, 0.0]] * 12), 3)[0].tolist()
    [0.0, 0.0, 0.0, 0.0]
    """
    chroma = check_matrix(chroma, "chroma", nonnegative=True)
    length = check_positive_int(length, "length")
    check_choice(kind, "kind", ("median", "mean"))
    if kind == "median":
        return scipy.ndimage.median_filter(chroma, size=(1, length), mode="nearest")
    return scipy.ndimage.uniform_filter1d(chroma.astype(float), length, axis=1, mode="nearest")


def frame_edges(n_frames: int, sr: int, hop_length: int) -> np.ndarray:
    """Start and end times of centred frames: frame ``n`` covers ``[(n - 1/2), (n + 1/2)]``
    times ``hop_length / sr`` seconds.

    The first frame starts at 0 (not at ``-hop_length / (2 sr)``).

    Parameters
    ----------
    n_frames : int > 0
    sr : int
    hop_length : int
        Samples between frames.

    Returns
    -------
    np.ndarray, shape (n_frames + 1,)

    Examples
    --------
    >>> frame_edges(3, sr=10, hop_length=2).tolist()
    [0.0, 0.1, 0.3, 0.5]
    """
    n_frames = check_positive_int(n_frames, "n_frames")
    edges = (np.arange(n_frames + 1) - 0.5) * check_positive_int(hop_length, "hop_length")
    return np.maximum(edges / check_sr(sr), 0.0)


def beat_sync(chroma, sr: int, hop_length: int, beats, duration: float | None = None):
    """One chroma vector per beat: the mean of the frames whose centre falls in the beat.

    Parameters
    ----------
    chroma : np.ndarray, shape (12, n_frames)
    sr, hop_length : int
    beats : array_like of float
        Increasing beat times in seconds.
    duration : float, optional
        End of the last segment (default: the end of the last frame).

    Returns
    -------
    synced : np.ndarray, shape (12, n_segments)
        Segment ``k`` spans ``edges[k]`` to ``edges[k + 1]``.
    edges : np.ndarray, shape (n_segments + 1,)
        Segment boundaries in seconds: 0, the beats, the end. Segments without a frame
        centre are dropped.

    Examples
    --------
    >>> X = np.arange(12 * 6, dtype=float).reshape(12, 6)
    >>> synced, edges = beat_sync(X, sr=10, hop_length=5, beats=[1.0])
    >>> synced[0].tolist(), edges.tolist()
    ([0.5, 3.5], [0.0, 1.0, 2.75])
    """
    chroma = check_matrix(chroma, "chroma", nonnegative=True)
    sr, hop_length = check_sr(sr), check_positive_int(hop_length, "hop_length")
    beats = check_real(beats, "beats").astype(float).ravel()
    if np.any(np.diff(beats) <= 0):
        raise ValueError("beats must be strictly increasing times in seconds")
    n = chroma.shape[1]
    if duration is None:
        end = frame_edges(n, sr, hop_length)[-1]
    else:
        end = check_positive(duration, "duration")
    edges = np.unique(np.concatenate([[0.0], beats[(beats > 0) & (beats < end)], [end]]))
    centres = np.arange(n) * hop_length / sr
    seg = np.clip(np.searchsorted(edges, centres, side="right") - 1, 0, len(edges) - 2)
    counts = np.bincount(seg, minlength=len(edges) - 1)
    sums = np.zeros((chroma.shape[0], len(edges) - 1))
    np.add.at(sums.T, seg, chroma.T)
    keep = counts > 0
    synced = sums[:, keep] / counts[keep]
    kept_edges = np.concatenate([edges[:-1][keep], [edges[-1]]])
    return synced, kept_edges


BEAT_LAG = 0.048  # s: median lag of librosa's beats behind the score's, piano, training split


def estimate_beats(y, sr: int = 22050, lag: float = BEAT_LAG) -> np.ndarray:
    """Beat times estimated from the audio (no score needed), for beat-synchronous chroma.

    librosa's dynamic-programming beat tracker :cite:`Ellis2007beat,McFee2015librosa` (hop 512, no
    trimming); the regular beat grid is extended to the start and the end of the recording
    with the median beat period (the tracker skips the first and last beats), and every beat
    is moved ``lag`` seconds earlier: the tracker places a beat where the onset strength
    peaks, a few tens of milliseconds after the notes start: on 25 piano chorales of the
    training split the median lag was 48 ms (:data:`BEAT_LAG`); the chapter re-measures it.

    Parameters
    ----------
    y : np.ndarray
    sr : int
    lag : float
        Seconds subtracted from every beat (0 keeps librosa's beats).

    Returns
    -------
    np.ndarray
        Increasing beat times in seconds, within ``[0, len(y) / sr)``.
    """
    import librosa

    y = check_audio(y)
    sr = check_sr(sr)
    if not np.isfinite(lag):
        raise ValueError(f"lag must be a finite number of seconds; got {lag!r}")
    _, beats = librosa.beat.beat_track(y=y, sr=sr, hop_length=512, units="time", trim=False)
    duration = len(y) / sr
    if len(beats) < 2:
        return np.asarray(beats, dtype=float)
    period = float(np.median(np.diff(beats)))
    before = beats[0] - period * np.arange(1, int(beats[0] / period) + 1)
    after = beats[-1] + period * np.arange(1, int((duration - beats[-1]) / period) + 1)
    beats = np.sort(np.concatenate([before, beats, after])) - float(lag)
    return beats[(beats >= 0) & (beats < duration)]


def template_similarity(chroma, templates=None, metric: str = "cosine") -> np.ndarray:
    """Similarity of every chroma frame to every chord template.

    ``cosine``: ``<t_k, x_n> / (|t_k| |x_n|)`` (silent frames get 0);
    ``inner``: ``<t_k, x_n>`` with the raw chroma (louder frames get larger values).

    Parameters
    ----------
    chroma : np.ndarray, shape (12, n_frames)
    templates : np.ndarray, shape (12, n_chords), optional
        Default: :func:`~mirlab.chords.chord_templates` (binary).
    metric : {"cosine", "inner"}

    Returns
    -------
    np.ndarray, shape (n_chords, n_frames)

    Examples
    --------
    >>> x = np.zeros((12, 1)); x[[0, 4, 7]] = 1.0  # C, E, G
    >>> S = template_similarity(x)
    >>> int(S[:, 0].argmax()), round(float(S[0, 0]), 3)
    (0, 1.0)
    """
    chroma = check_matrix(chroma, "chroma", nonnegative=True)
    if chroma.shape[0] != 12:
        raise ValueError(f"chroma must have shape (12, n_frames); got shape {chroma.shape}")
    T = chord_templates() if templates is None else check_matrix(templates, "templates")
    if T.shape[0] != 12:
        raise ValueError(f"templates must have shape (12, n_chords); got shape {T.shape}")
    check_choice(metric, "metric", ("cosine", "inner"))
    if metric == "inner":
        return T.T @ chroma
    Tn = features.normalize(T.astype(float), norm=2)
    return Tn.T @ features.normalize(chroma.astype(float), norm=2)


def emission_log_probabilities(similarity, kind: str = "softmax", beta: float = 20.0):
    """Turn template similarities into log emission probabilities for the HMM.

    - ``libfmp``: each frame's similarities scaled to sum 1 (as libfmp's chord recogniser):
      a chroma vector is similar to every triad that shares notes with it, so the best chord
      gets only a few times the probability of a typical one (on rendered chorales, a median
      ratio of about 3): the emission is nearly flat and a sticky transition model overrides it;
    - ``softmax``: ``exp(beta * s_k) / sum_j exp(beta * s_j)``: ``beta`` sets how confident
      the emission is (0 is flat, large values approach template matching).

    Parameters
    ----------
    similarity : np.ndarray, shape (n_chords, n_frames)
    kind : {"softmax", "libfmp"}
    beta : float > 0
        Inverse temperature of the softmax.

    Returns
    -------
    np.ndarray, shape (n_chords, n_frames)
        Log-probabilities; ``exp`` of every column sums to 1.

    Examples
    --------
    >>> S = np.array([[0.9], [0.5]])
    >>> np.exp(emission_log_probabilities(S, "libfmp")).round(3).ravel().tolist()
    [0.643, 0.357]
    """
    S = check_matrix(similarity, "similarity")
    check_choice(kind, "kind", ("softmax", "libfmp"))
    beta = check_positive(beta, "beta")
    if kind == "libfmp":
        if np.any(S < 0):
            raise ValueError("similarity must be non-negative for kind='libfmp'")
        P = features.normalize(S.astype(float), norm=1)
        return np.log(P + np.finfo(float).tiny)
    return scipy.special.log_softmax(beta * S, axis=0)


def states_to_segments(states, edges):
    """Merge consecutive equal states into chord segments with mir_eval labels.

    Parameters
    ----------
    states : array_like of int, shape (n,)
        One state (0..24) per frame or beat.
    edges : array_like of float, shape (n + 1,)
        Boundaries in seconds (:func:`frame_edges` or :func:`beat_sync`).

    Returns
    -------
    intervals : np.ndarray, shape (n_segments, 2)
    labels : list of str

    Examples
    --------
    >>> iv, lab = states_to_segments([0, 0, 21], [0.0, 0.5, 1.0, 1.5])
    >>> iv.tolist(), lab
    ([[0.0, 1.0], [1.0, 1.5]], ['C:maj', 'A:min'])
    """
    states = np.asarray(states)
    edges = check_real(edges, "edges").astype(float)
    if states.ndim != 1 or len(states) == 0 or not np.issubdtype(states.dtype, np.integer):
        raise ValueError(f"states must be a non-empty 1-D integer array; got {states!r:.60}")
    if edges.shape != (len(states) + 1,):
        raise ValueError(f"edges must have shape ({len(states) + 1},) for {len(states)} "
                         f"states; got shape {edges.shape}")
    if states.min() < 0 or states.max() > N_CHORDS:
        raise ValueError(f"states must lie in 0..{N_CHORDS}; got {states.min()}..{states.max()}")
    change = np.flatnonzero(np.diff(states)) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [len(states)]])
    intervals = np.stack([edges[starts], edges[ends]], axis=1)
    return intervals, [LABELS[int(s)] for s in states[starts]]


@dataclass(frozen=True, eq=False)
class ChordRecognizer:
    """A chord recogniser: chroma -> (smoothing / beats) -> templates -> emission -> decoding.

    Parameters
    ----------
    chroma : {"stft", "cqt", "cqt_log"}
        Chroma variant (:func:`chord_chroma`).
    gamma : float
        Log-compression strength for ``cqt_log``.
    templates : {"binary", "harmonics"}
        Chord templates (:func:`~mirlab.chords.chord_templates`).
    emission : {"softmax", "libfmp"}
        Emission model (:func:`emission_log_probabilities`).
    beta : float
        Softmax inverse temperature.
    transitions : np.ndarray, shape (24, 24), or None
        HMM transition matrix; None decodes each frame alone (template matching).
    median_filter : int
        Median-filter length in frames applied to the chroma (1: none).
    hop_length : int
        Chroma hop in samples (default :data:`HOP_LENGTH`, as :func:`chord_chroma`).

    Examples
    --------
    >>> from mirlab.chords import uniform_transitions
    >>> rec = ChordRecognizer(transitions=uniform_transitions(self_prob=0.9))
    >>> intervals, labels = rec.predict(y, sr)  # doctest: +SKIP

    References
    ----------
    :cite:`Sheh2003chords`, :cite:`Bello2005chords`, :cite:`Cho2014relative`.
    """

    chroma: str = "cqt_log"
    gamma: float = 10.0
    templates: str = "harmonics"
    emission: str = "softmax"
    beta: float = 20.0
    transitions: np.ndarray | None = None
    median_filter: int = 1
    hop_length: int = HOP_LENGTH

    def __post_init__(self):
        check_choice(self.chroma, "chroma", CHROMA_VARIANTS)
        check_choice(self.templates, "templates", ("binary", "harmonics"))
        check_choice(self.emission, "emission", ("softmax", "libfmp"))
        check_positive(self.beta, "beta")
        check_positive_int(self.median_filter, "median_filter")
        if self.transitions is not None:
            A = check_matrix(self.transitions, "transitions", nonnegative=True)
            if A.shape != (N_CHORDS, N_CHORDS) or not np.allclose(A.sum(axis=1), 1.0):
                raise ValueError(f"transitions must be a (24, 24) matrix whose rows sum to 1; "
                                 f"got shape {A.shape}")

    def chromagram(self, y, sr: int) -> np.ndarray:
        """The raw chromagram of :func:`chord_chroma`, shape (12, n_frames)."""
        return chord_chroma(y, sr, self.hop_length, self.chroma, self.gamma)

    def log_emissions(self, chroma) -> np.ndarray:
        """Log emission probabilities, shape (24, n_frames)."""
        S = template_similarity(chroma, chord_templates(self.templates))
        return emission_log_probabilities(S, self.emission, self.beta)

    def decode(self, chroma) -> np.ndarray:
        """One state (0..23) per column of ``chroma``."""
        log_B = self.log_emissions(chroma)
        if self.transitions is None:
            return np.argmax(log_B, axis=0)
        with np.errstate(divide="ignore"):
            log_A = np.log(self.transitions)
        return viterbi_fast(log_B, log_A)

    def predict(self, y, sr: int, beats=None, chroma=None):
        """Chord segments of a recording.

        Parameters
        ----------
        y : np.ndarray
        sr : int
        beats : array_like, optional
            Beat times (s): decode one chord per beat from beat-averaged chroma.
        chroma : np.ndarray, optional
            The raw chromagram of ``y`` if already computed (:meth:`chromagram`).

        Returns
        -------
        intervals : np.ndarray, shape (n_segments, 2)
        labels : list of str
        """
        y = check_audio(y)
        X = self.chromagram(y, sr) if chroma is None else check_matrix(chroma, "chroma")
        expected = 1 + len(y) // self.hop_length
        if X.shape != (12, expected):
            raise ValueError(f"chroma must have shape (12, {expected}) for y and hop_length="
                             f"{self.hop_length}; got shape {X.shape}")
        if self.median_filter > 1:
            X = smooth_chroma(X, self.median_filter)
        duration = len(y) / sr
        if beats is None:
            edges = np.minimum(frame_edges(X.shape[1], sr, self.hop_length), duration)
        else:
            X, edges = beat_sync(X, sr, self.hop_length, beats, duration=duration)
        return states_to_segments(self.decode(X), edges)
