"""Shallow baselines for music tagging and classification: MFCC statistics + a linear model.

Before deep tagging models, clips were described by summary statistics of frame-level features
(the mean and spread of MFCCs and their deltas over the clip) fed to a shallow classifier
[1]_ [2]_. This is the reference a learned model must beat: it is fast, needs little data, and
captures the average timbre of a clip, but not which sounds occur together or when.

The MFCCs are those of :func:`mirlab.features.mfcc` (tested against librosa, which this module
does not call). The model follows scikit-learn's estimator contract and is built as a
:class:`~sklearn.pipeline.Pipeline` of two steps (see :func:`mfcc_baseline`):

- ``"mfcc"``: :class:`MFCCStatistics`, audio ``(n_clips, n_samples)`` to statistics
  ``(n_clips, 4 * n_mfcc)``; it learns nothing;
- ``"classifier"``: :class:`LogisticClassifier`, standardised statistics to tag (or class)
  probabilities.

So a chapter can compute the statistics once, cache them, and fit or score the classifier
step alone on them; the whole pipeline then takes audio.

Taught in ``notebooks/04_music_tagging.ipynb`` (tagging) and
``notebooks/05_transfer_learning.ipynb`` (the MFCC features of the transfer tasks).

References
----------
.. [1] G. Tzanetakis and P. Cook, "Musical genre classification of audio signals", IEEE
   Transactions on Speech and Audio Processing, 2002.
.. [2] K. Choi, G. Fazekas, M. Sandler, K. Cho, "Transfer learning for music classification
   and regression tasks", ISMIR 2017 (MFCC baseline for transfer tasks).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.pipeline import Pipeline

from mirlab.core import env
from mirlab.core.checks import (
    check_audio,
    check_matrix,
    check_positive,
    check_positive_int,
    check_sr,
    describe,
)
from mirlab.features import delta, mfcc

__all__ = ["mfcc_statistics", "mfcc_features", "MFCCStatistics", "LogisticClassifier",
           "mfcc_baseline"]


def _statistics(M) -> np.ndarray:
    """[mean(M), std(M), mean(delta), std(delta)] over frames of a batch ``(n, n_mfcc, T)``."""
    n_frames = M.shape[-1]
    if n_frames >= 3:  # the widest odd window up to 9 frames that fits
        D = delta(M, width=min(9, n_frames - (1 - n_frames % 2)))
    else:
        D = np.zeros_like(M)
    return np.concatenate([M.mean(-1), M.std(-1), D.mean(-1), D.std(-1)], axis=-1)


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
        Number of MFCCs (:func:`mirlab.features.mfcc`, 128 mel bands).
    n_fft, hop_length : int
        STFT frame and hop in samples.

    Returns
    -------
    np.ndarray
        float64, shape ``(4 * n_mfcc,)``: [mean(MFCC), std(MFCC), mean(delta), std(delta)],
        the deltas of :func:`delta` over 9 frames (fewer for clips of fewer frames).

    Examples
    --------
    >>> y = np.random.default_rng(0).standard_normal(16000)
    >>> mfcc_statistics(y, 16000).shape
    (80,)
    """
    y = check_audio(y, "y")
    M = mfcc(y=y, sr=check_sr(sr), n_mfcc=check_positive_int(n_mfcc, "n_mfcc"), n_fft=n_fft,
             hop_length=hop_length)
    return _statistics(M).astype(np.float64)


def mfcc_features(audio, sr: int = 16000, n_mfcc: int = 20, progress: bool = False, *,
                  n_fft: int = 1024, hop_length: int = 512,
                  batch_size: int = 64) -> np.ndarray:
    """:func:`mfcc_statistics` of every clip, shape ``(n_clips, 4 * n_mfcc)``.

    The MFCCs of each clip come from :func:`mirlab.features.mfcc` on float32 audio (one BLAS
    thread, the fastest on a shared machine); the deltas and statistics are computed for a
    batch of clips at once.

    Parameters
    ----------
    audio : np.ndarray
        Clips of equal length, shape ``(n_clips, n_samples)``.
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

    Examples
    --------
    >>> mfcc_features(np.zeros((3, 16000)), 16000, n_mfcc=13).shape
    (3, 52)
    """
    from threadpoolctl import threadpool_limits
    from tqdm.auto import tqdm

    audio = np.asarray(audio)
    if audio.ndim != 2 or audio.shape[0] == 0:
        raise ValueError(f"audio must have shape (n_clips, n_samples) with n_clips >= 1; got "
                         f"{describe(audio)}")
    audio = check_matrix(audio, "audio")
    sr, n_mfcc = check_sr(sr), check_positive_int(n_mfcc, "n_mfcc")
    n_fft, hop_length = check_positive_int(n_fft, "n_fft"), check_positive_int(hop_length,
                                                                               "hop_length")
    batch_size = check_positive_int(batch_size, "batch_size")
    rows = []
    with threadpool_limits(1):
        for begin in tqdm(range(0, len(audio), batch_size), desc="MFCC statistics",
                          disable=env.progress_disabled(progress)):
            clips = np.asarray(audio[begin:begin + batch_size], dtype=np.float32)
            M = np.stack([mfcc(y=y, sr=sr, n_mfcc=n_mfcc, n_fft=n_fft, hop_length=hop_length)
                          for y in clips])
            rows.append(_statistics(M))
    return np.concatenate(rows).astype(np.float64)


class MFCCStatistics(TransformerMixin, BaseEstimator):
    """A scikit-learn transformer: clips ``(n_clips, n_samples)`` to :func:`mfcc_features`.

    It learns nothing: ``fit`` only checks the parameters, and ``transform`` works without it.

    Parameters
    ----------
    sr : int
        Sample rate of the audio in Hz.
    n_mfcc : int
        Number of MFCCs (``4 * n_mfcc`` output columns).
    n_fft, hop_length : int
        STFT frame and hop in samples.
    batch_size : int
        Clips per batch.
    progress : bool
        Show a progress bar.

    Examples
    --------
    >>> MFCCStatistics(sr=16000, n_mfcc=13).fit_transform(np.zeros((2, 8000))).shape
    (2, 52)
    """

    def __init__(self, sr: int = 16000, n_mfcc: int = 20, n_fft: int = 1024,
                 hop_length: int = 512, batch_size: int = 64, progress: bool = False):
        self.sr = sr
        self.n_mfcc = n_mfcc
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.batch_size = batch_size
        self.progress = progress

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        return tags

    def _checked_params(self) -> dict:
        return {"sr": check_sr(self.sr), "n_mfcc": check_positive_int(self.n_mfcc, "n_mfcc"),
                "n_fft": check_positive_int(self.n_fft, "n_fft"),
                "hop_length": check_positive_int(self.hop_length, "hop_length"),
                "batch_size": check_positive_int(self.batch_size, "batch_size")}

    def fit(self, X, y=None) -> MFCCStatistics:
        """Check the parameters (there is nothing to learn); ``X`` and ``y`` are ignored."""
        self._checked_params()
        return self

    def transform(self, X) -> np.ndarray:
        """MFCC statistics ``(n_clips, 4 * n_mfcc)`` of the clips ``X`` ``(n_clips, n_samples)``."""
        return mfcc_features(X, progress=self.progress, **self._checked_params())

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Column names: ``mfcc0_mean`` … ``mfcc0_std`` … ``delta0_mean`` … ``delta0_std`` …"""
        n = check_positive_int(self.n_mfcc, "n_mfcc")
        return np.array([f"{what}{q}_{stat}" for what, stat in
                         (("mfcc", "mean"), ("mfcc", "std"), ("delta", "mean"), ("delta", "std"))
                         for q in range(n)], dtype=object)


class LogisticClassifier(ClassifierMixin, BaseEstimator):
    """Standardise the features, then logistic regression: one per tag, or multinomial.

    With a 2-D ``y`` of 0/1 tags, one logistic regression per tag (multi-label tagging); with
    a 1-D ``y`` of class labels, one multinomial logistic regression (single-label
    classification, e.g. the transfer tasks).

    Parameters
    ----------
    C : float > 0
        Inverse L2 regularisation strength.
    max_iter : int > 0
        Iterations of the solver.
    random_state : int or None
        Seed of the solver.

    Attributes
    ----------
    model_ : sklearn.pipeline.Pipeline
        ``StandardScaler`` then the logistic regression(s).
    multilabel_ : bool
        Whether ``y`` was a 0/1 tag matrix.
    classes_ : np.ndarray
        Class labels (tag indices in the multi-label case).

    Examples
    --------
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> LogisticClassifier(C=10.0).fit(X, [0, 0, 1, 1]).predict([[-1.0], [4.0]])
    array([0, 1])
    """

    def __init__(self, C: float = 0.1, max_iter: int = 2000, random_state: int | None = 0):
        self.C = C
        self.max_iter = max_iter
        self.random_state = random_state

    def fit(self, X, y) -> LogisticClassifier:
        """Fit on features ``X`` ``(n_clips, n_features)`` and labels ``y``.

        ``y`` is ``(n_clips, n_tags)`` in {0, 1} (tagging; every tag needs positive and
        negative clips) or ``(n_clips,)`` (classes; at least two).
        """
        from sklearn.linear_model import LogisticRegression
        from sklearn.multiclass import OneVsRestClassifier
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        C = check_positive(self.C, "C")
        max_iter = check_positive_int(self.max_iter, "max_iter")
        X = check_matrix(X, "X")
        y = np.asarray(y)
        if y.ndim not in (1, 2) or y.shape[0] != X.shape[0]:
            raise ValueError(f"y must have shape (n_clips,) or (n_clips, n_tags) with n_clips "
                             f"= {X.shape[0]} (the rows of X); got shape {y.shape}")
        self.multilabel_ = y.ndim == 2
        clf = LogisticRegression(C=C, max_iter=max_iter, random_state=self.random_state)
        if self.multilabel_:
            if not np.all((y == 0) | (y == 1)):
                raise ValueError(f"y must hold 0/1 tags; got values {np.unique(y)[:5]}")
            one_class = np.flatnonzero((y.sum(axis=0) == 0) | (y.sum(axis=0) == len(y)))
            if len(one_class):
                raise ValueError(f"y must hold positive and negative examples of every tag; "
                                 f"tag column(s) {one_class[:5].tolist()} have only one class "
                                 "(drop them or add clips)")
            clf = OneVsRestClassifier(clf)
        elif len(np.unique(y)) < 2:
            raise ValueError(f"y must hold at least two classes; got only {y[0]!r}")
        self.model_ = make_pipeline(StandardScaler(), clf).fit(X, y)
        self.classes_ = self.model_.classes_
        self.n_features_in_ = X.shape[1]
        return self

    def _checked_features(self, X) -> np.ndarray:
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "model_")
        X = check_matrix(X, "X")
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X must have {self.n_features_in_} columns (as in fit); got "
                             f"shape {X.shape}")
        return X

    def predict_proba(self, X) -> np.ndarray:
        """Tag probabilities ``(n_clips, n_tags)`` (or class probabilities)."""
        X = self._checked_features(X)
        return self.model_.predict_proba(X)

    def predict(self, X) -> np.ndarray:
        """0/1 tags (threshold 0.5) or class labels."""
        X = self._checked_features(X)
        return self.model_.predict(X)


def mfcc_baseline(sr: int = 16000, n_mfcc: int = 20, C: float = 0.1,
                  random_state: int | None = 0) -> Pipeline:
    """The MFCC baseline: :class:`MFCCStatistics` then :class:`LogisticClassifier`.

    A scikit-learn :class:`~sklearn.pipeline.Pipeline` with the steps ``"mfcc"`` and
    ``"classifier"``: ``fit(audio, y)``, ``predict_proba(audio)``, ``predict(audio)``;
    parameters are reached as ``mfcc__n_mfcc``, ``classifier__C`` (``get_params``,
    ``set_params``, ``sklearn.base.clone``). Nothing is checked here: invalid parameters
    raise at ``fit``.

    To reuse precomputed statistics, work with the steps: ``baseline["mfcc"].transform(audio)``
    computes them; ``baseline["classifier"].fit(X, y)`` fits the classifier on them, after
    which the whole pipeline is fitted (the MFCC step learns nothing) and predicts from audio.

    Parameters
    ----------
    sr : int
        Sample rate of the audio in Hz.
    n_mfcc : int
        Number of MFCCs (``4 * n_mfcc`` features).
    C : float
        Inverse L2 regularisation strength of the logistic regressions.
    random_state : int or None
        Seed of the solver.

    Returns
    -------
    sklearn.pipeline.Pipeline

    Examples
    --------
    >>> from mirlab.datasets.tagging import load_tagging_dataset  # doctest: +SKIP
    >>> ds = load_tagging_dataset(n_clips=120)  # doctest: +SKIP
    >>> train, test = ds.subset("train"), ds.subset("test")  # doctest: +SKIP
    >>> baseline = mfcc_baseline(sr=ds.sr).fit(train.audio, train.labels)  # doctest: +SKIP
    >>> scores = baseline.predict_proba(test.audio)  # doctest: +SKIP

    With cached statistics:

    >>> X_train = baseline["mfcc"].transform(train.audio)  # doctest: +SKIP
    >>> baseline["classifier"].fit(X_train, train.labels)  # doctest: +SKIP
    """
    return Pipeline([("mfcc", MFCCStatistics(sr=sr, n_mfcc=n_mfcc)),
                     ("classifier", LogisticClassifier(C=C, random_state=random_state))])
