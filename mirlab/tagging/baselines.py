"""Shallow baselines for music tagging and classification: MFCC statistics + a linear model.

Before deep tagging models, clips were described by summary statistics of frame-level features
(the mean and spread of MFCCs and their deltas over the clip) fed to a shallow classifier
[1]_ [2]_. This is the reference a learned model must beat: it is fast, needs little data, and
captures the average timbre of a clip, but not which sounds occur together or when.

References
----------
.. [1] G. Tzanetakis and P. Cook, "Musical genre classification of audio signals", IEEE
   Transactions on Speech and Audio Processing, 2002.
.. [2] K. Choi, G. Fazekas, M. Sandler, K. Cho, "Transfer learning for music classification
   and regression tasks", ISMIR 2017 (MFCC baseline for transfer tasks).
"""

from __future__ import annotations

import numpy as np

from mirlab.core import env
from mirlab.core.checks import check_audio, check_positive, check_positive_int, check_sr


def mfcc_statistics(y, sr: int = 16000, n_mfcc: int = 20, n_fft: int = 1024,
                    hop_length: int = 512) -> np.ndarray:
    """Mean and standard deviation of MFCCs and their deltas over a clip.

    Parameters
    ----------
    y : np.ndarray
        Mono audio.
    sr : int
        Sample rate in Hz.
    n_mfcc : int
        Number of MFCCs (librosa's ``n_mfcc``).
    n_fft, hop_length : int
        STFT frame and hop in samples.

    Returns
    -------
    np.ndarray
        float64, shape ``(4 * n_mfcc,)``: [mean(MFCC), std(MFCC), mean(delta), std(delta)].

    Examples
    --------
    >>> y = np.random.default_rng(0).standard_normal(16000)
    >>> mfcc_statistics(y, 16000).shape
    (80,)
    """
    import librosa

    y = check_audio(y, "y")
    sr = check_sr(sr)
    n_mfcc = check_positive_int(n_mfcc, "n_mfcc")
    M = librosa.feature.mfcc(y=y.astype(np.float32), sr=sr, n_mfcc=n_mfcc, n_fft=n_fft,
                             hop_length=hop_length)
    width = min(9, M.shape[1] - (1 - M.shape[1] % 2))
    D = librosa.feature.delta(M, width=max(3, width)) if M.shape[1] >= 3 else np.zeros_like(M)
    return np.concatenate([M.mean(1), M.std(1), D.mean(1), D.std(1)]).astype(np.float64)


def mfcc_features(audio, sr: int = 16000, n_mfcc: int = 20, progress: bool = False, *,
                  n_fft: int = 1024, hop_length: int = 512,
                  batch_size: int = 64) -> np.ndarray:
    """:func:`mfcc_statistics` of every clip, shape ``(n_clips, 4 * n_mfcc)``.

    The same numbers as calling :func:`mfcc_statistics` clip by clip (tested), computed for a
    batch of clips at once: one STFT, one product with the mel filterbank, then the decibel
    scaling (each clip keeps its own 80 dB floor), DCT and deltas on the whole batch, several
    times faster than the loop.

    Parameters
    ----------
    audio : np.ndarray
        Clips, shape ``(n_clips, n_samples)``.
    sr : int
        Sample rate in Hz.
    n_mfcc : int
        Number of MFCCs.
    progress : bool
        Show a progress bar.
    n_fft, hop_length : int
        STFT frame and hop in samples.
    batch_size : int
        Clips per batch.

    Returns
    -------
    np.ndarray
        float64, shape ``(n_clips, 4 * n_mfcc)``.
    """
    import librosa
    from threadpoolctl import threadpool_limits
    from tqdm.auto import tqdm

    audio = np.asarray(audio)
    if audio.ndim != 2 or audio.shape[0] == 0:
        raise ValueError(f"audio must have shape (n_clips, n_samples) with n_clips >= 1; got "
                         f"shape {audio.shape}")
    sr, n_mfcc = check_sr(sr), check_positive_int(n_mfcc, "n_mfcc")
    batch_size = check_positive_int(batch_size, "batch_size")
    basis = librosa.filters.mel(sr=sr, n_fft=n_fft).astype(np.float32)
    rows = []
    with threadpool_limits(1):  # one BLAS thread: much faster on shared 2-core machines
        for begin in tqdm(range(0, len(audio), batch_size), desc="MFCC statistics",
                          disable=env.progress_disabled(progress)):
            clips = np.asarray(audio[begin:begin + batch_size], dtype=np.float32)
            rows.append(_mfcc_batch(clips, basis, n_mfcc, n_fft, hop_length))
    return np.concatenate(rows).astype(np.float64)


def _mfcc_batch(clips, basis, n_mfcc, n_fft, hop_length) -> np.ndarray:
    """:func:`mfcc_statistics` of a batch ``(n, n_samples)``, as librosa computes them."""
    import librosa
    import scipy.fft

    S = np.abs(librosa.stft(clips, n_fft=n_fft, hop_length=hop_length)) ** 2
    db = 10.0 * np.log10(np.maximum(1e-10, basis @ S))            # power_to_db, ref = 1
    db = np.maximum(db, db.max(axis=(1, 2), keepdims=True) - 80.0)  # top_db per clip
    M = scipy.fft.dct(db, axis=1, type=2, norm="ortho")[:, :n_mfcc]
    n = M.shape[2]
    width = max(3, min(9, n - (1 - n % 2)))
    D = librosa.feature.delta(M, width=width, axis=-1) if n >= 3 else np.zeros_like(M)
    return np.concatenate([M.mean(2), M.std(2), D.mean(2), D.std(2)], axis=1)


class MFCCBaseline:
    """MFCC statistics, standardised, then logistic regression (one-vs-rest for tags).

    Follows scikit-learn's API: ``fit(audio, y)``, ``predict_proba(audio)``, ``predict``,
    ``transform``. With a 2-D ``y`` of 0/1 tags, one logistic regression per tag is fitted
    (multi-label tagging); with a 1-D ``y`` of class labels, one multinomial logistic
    regression (single-label classification, e.g. the transfer tasks).

    Parameters
    ----------
    sr : int
        Sample rate of the audio in Hz.
    n_mfcc : int
        Number of MFCCs (features: ``4 * n_mfcc``).
    C : float
        Inverse L2 regularisation strength of the logistic regressions.
    random_state : int, optional
        Seed of the solver.

    Examples
    --------
    >>> from mirlab.datasets.tagging import load_tagging_dataset
    >>> ds = load_tagging_dataset(n_clips=120)  # doctest: +SKIP
    >>> train, test = ds.subset("train"), ds.subset("test")  # doctest: +SKIP
    >>> model = MFCCBaseline().fit(train.audio, train.labels)  # doctest: +SKIP
    >>> scores = model.predict_proba(test.audio)  # doctest: +SKIP
    """

    def __init__(self, sr: int = 16000, n_mfcc: int = 20, C: float = 0.1,
                 random_state: int | None = 0):
        self.sr = check_sr(sr)
        self.n_mfcc = check_positive_int(n_mfcc, "n_mfcc")
        self.C = check_positive(C, "C")
        self.random_state = random_state

    def transform(self, audio) -> np.ndarray:
        """MFCC statistics of the clips (see :func:`mfcc_features`)."""
        return mfcc_features(audio, self.sr, self.n_mfcc)

    def fit(self, audio, y, features=None) -> MFCCBaseline:
        """Fit on clips ``audio`` (or precomputed ``features``) and labels ``y``.

        ``y`` is ``(n_clips, n_tags)`` in {0, 1} (tagging) or ``(n_clips,)`` (classes).
        """
        from sklearn.linear_model import LogisticRegression
        from sklearn.multiclass import OneVsRestClassifier
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        X = self.transform(audio) if features is None else np.asarray(features, dtype=float)
        y = np.asarray(y)
        if y.shape[0] != X.shape[0] or y.ndim not in (1, 2):
            raise ValueError(f"y must have shape (n_clips,) or (n_clips, n_tags) with n_clips "
                             f"= {X.shape[0]}; got shape {y.shape}")
        self.multilabel_ = y.ndim == 2
        clf = LogisticRegression(C=self.C, max_iter=2000, random_state=self.random_state)
        if self.multilabel_:
            if np.any((y.sum(axis=0) == 0) | (y.sum(axis=0) == len(y))):
                raise ValueError("y must hold positive and negative examples of every tag")
            clf = OneVsRestClassifier(clf)
        self.model_ = make_pipeline(StandardScaler(), clf).fit(X, y)
        return self

    def predict_proba(self, audio, features=None) -> np.ndarray:
        """Tag probabilities ``(n_clips, n_tags)`` (or class probabilities)."""
        X = self.transform(audio) if features is None else np.asarray(features, dtype=float)
        return self.model_.predict_proba(X)

    def predict(self, audio, features=None) -> np.ndarray:
        """0/1 tags (threshold 0.5) or class labels."""
        X = self.transform(audio) if features is None else np.asarray(features, dtype=float)
        return self.model_.predict(X)


def evaluate_tagging(y_true, y_score) -> dict:
    """Macro ROC-AUC and PR-AUC (average precision) of tag scores, with scikit-learn.

    Tags without a positive and a negative example in ``y_true`` are left out.

    Returns
    -------
    dict
        ``roc_auc``, ``pr_auc`` (macro) and ``n_tags`` (how many tags were scored).
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    y_true, y_score = np.asarray(y_true), np.asarray(y_score)
    if y_true.shape != y_score.shape or y_true.ndim != 2:
        raise ValueError(f"y_true and y_score must have the same shape (n_clips, n_tags); got "
                         f"{y_true.shape} and {y_score.shape}")
    ok = (y_true.sum(axis=0) > 0) & (y_true.sum(axis=0) < len(y_true))
    return {"roc_auc": float(roc_auc_score(y_true[:, ok], y_score[:, ok], average="macro")),
            "pr_auc": float(average_precision_score(y_true[:, ok], y_score[:, ok],
                                                    average="macro")),
            "n_tags": int(ok.sum())}
