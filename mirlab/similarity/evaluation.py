"""Judging embeddings by retrieval: rankings, precision@1, mAP, baselines, training dynamics.

Every excerpt of the held-out pieces is a query; all other excerpts, ranked by distance, are
the answers; the relevant ones share the query's label in a notion (the same passage, the same
instrumentation, the same collection). Precision@1 asks whether the nearest answer is relevant,
mean average precision (mAP) how high all relevant answers rank :cite:`Manning2008ir`.

Baselines a learned embedding must beat: MFCC statistics (timbre), chroma statistics (pitch
classes), the pooled layers of the chapter-4 tagger :cite:`Choi2017transfer` and the same
network as ours with random weights. Taught in ``notebooks/06_metric_learning.ipynb``.
"""

from __future__ import annotations

import numpy as np
import torch

from mirlab.core.checks import check_choice, check_sr
from mirlab.features import chroma_stft
from mirlab.similarity.embedding import ConditionalEncoder, Encoder, embed

__all__ = ["BASELINES", "rank_lists", "retrieval_scores", "standardise", "chroma_statistics",
           "baseline_embeddings", "distance_statistics", "distance_monitor",
           "training_dynamics"]

BASELINES = ("mfcc", "chroma", "tagger", "random")


def _cosine_distances(E: np.ndarray) -> np.ndarray:
    E = np.asarray(E, dtype=np.float64)
    if E.ndim != 2 or len(E) < 2:
        raise ValueError(f"E must have shape (n_items, dim) with n_items >= 2; got {E.shape}")
    if not np.all(np.isfinite(E)):
        raise ValueError("E must be finite; got NaN or inf")
    unit = E / np.maximum(np.linalg.norm(E, axis=1, keepdims=True), 1e-12)
    return 1.0 - unit @ unit.T


def rank_lists(E) -> np.ndarray:
    """For every item, the other items from nearest to farthest (cosine distance), ``(n, n-1)``.

    Ties are broken by index (a stable sort), so the result is deterministic.
    """
    D = _cosine_distances(E)
    np.fill_diagonal(D, np.inf)
    return np.argsort(D, axis=1, kind="stable")[:, :-1]


def retrieval_scores(E, labels) -> dict:
    """Precision@1 and mean average precision of leave-one-out retrieval by cosine distance.

    Parameters
    ----------
    E : np.ndarray, shape (n_items, dim)
        Embeddings (or any features).
    labels : np.ndarray, shape (n_items,)
        Items with equal labels are relevant to each other; a query with no relevant item is
        left out of the averages.

    Returns
    -------
    dict
        ``p_at_1``, ``map`` and ``n_queries``.

    Examples
    --------
    >>> E = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    >>> retrieval_scores(E, np.array([0, 0, 1, 1]))
    {'p_at_1': 1.0, 'map': 1.0, 'n_queries': 4}
    """
    labels = np.asarray(labels)
    if labels.shape != (len(E),):
        raise ValueError(f"labels must have shape ({len(E)},); got {labels.shape}")
    ranks = rank_lists(E)
    relevant = labels[ranks] == labels[:, None]             # (n, n-1), in rank order
    has = relevant.any(axis=1)
    hits = np.cumsum(relevant, axis=1)
    precision = hits / np.arange(1, relevant.shape[1] + 1)
    ap = (precision * relevant).sum(axis=1)[has] / relevant.sum(axis=1)[has]
    return {"p_at_1": float(relevant[has, 0].mean()), "map": float(ap.mean()),
            "n_queries": int(has.sum())}


def standardise(X_train, X) -> np.ndarray:
    """``X`` with the mean and standard deviation of ``X_train`` per column removed."""
    mu, sd = np.mean(X_train, axis=0), np.std(X_train, axis=0)
    return (np.asarray(X) - mu) / np.where(sd > 1e-9, sd, 1.0)


def chroma_statistics(audio, sr: int = 16000, n_fft: int = 2048,
                      hop_length: int = 512) -> np.ndarray:
    """Mean and standard deviation over time of each pitch class's STFT chroma, ``(n, 24)``."""
    sr = check_sr(sr)
    out = []
    for y in np.asarray(audio, dtype=np.float32):
        C = chroma_stft(y=y, sr=sr, n_fft=n_fft, hop_length=hop_length)
        out.append(np.concatenate([C.mean(axis=1), C.std(axis=1)]))
    return np.array(out)


def baseline_embeddings(name: str, audio, sr: int = 16000, *, train_audio=None,
                        random_state: int = 0, progress: bool = False) -> np.ndarray:
    """Features of a baseline of :data:`BASELINES` for clips ``audio``.

    ``"mfcc"``: MFCC statistics (:func:`mirlab.tagging.baselines.mfcc_features`);
    ``"chroma"``: :func:`chroma_statistics`; ``"tagger"``: the pooled layers of the shipped
    chapter-4 tagger (:func:`mirlab.transfer.extract_embeddings`); ``"random"``: an
    :class:`~mirlab.similarity.embedding.Encoder` with random weights. The first three are
    standardised with the statistics of ``train_audio`` (default: ``audio`` itself).
    """
    check_choice(name, "name", BASELINES)
    if name == "random":
        torch.manual_seed(random_state)
        return embed(Encoder(sr=sr), audio)
    if name == "tagger":
        from mirlab.transfer import extract_embeddings, pretrained_tagger

        tagger, _ = pretrained_tagger(progress=False)

        def features(a):
            return extract_embeddings(tagger, a, sr, progress=progress)
    elif name == "mfcc":
        from mirlab.tagging.baselines import mfcc_features

        def features(a):
            return mfcc_features(a, sr, progress=progress)
    else:
        def features(a):
            return chroma_statistics(a, sr)
    X = features(audio)
    X_train = X if train_audio is None else features(train_audio)
    return standardise(X_train, X)


# --- training dynamics -----------------------------------------------------------------------

def distance_statistics(E, labels) -> dict:
    """Mean Euclidean distance of positive pairs (same label) and of negative pairs, and the
    spread of the embedding (mean distance to the centroid).

    A collapsed embedding (every clip mapped to one point) shows both distances, and the spread,
    falling towards 0 while the triplet loss sticks at the margin.
    """
    E = np.asarray(E, dtype=np.float64)
    labels = np.asarray(labels)
    sq = (E * E).sum(axis=1)
    D = np.sqrt(np.maximum(sq[:, None] + sq[None] - 2 * E @ E.T, 0.0))
    same = labels[:, None] == labels[None]
    off = ~np.eye(len(E), dtype=bool)
    return {"d_pos": float(D[same & off].mean()), "d_neg": float(D[~same].mean()),
            "spread": float(np.linalg.norm(E - E.mean(axis=0), axis=1).mean())}


def distance_monitor(audio, labels, notion=None) -> callable:
    """A ``validate`` function for :func:`mirlab.nn.training.fit` that records, after every
    epoch, the mean positive and negative distances, the spread, precision@1 and mAP of the
    embedding of ``audio`` (``notion``'s for a conditional encoder).

    Examples
    --------
    >>> monitor = distance_monitor(np.zeros((4, 16000), np.float32), np.array([0, 0, 1, 1]))
    >>> sorted(monitor(Encoder(dim=4)))
    ['d_neg', 'd_pos', 'map', 'p_at_1', 'spread']
    """
    audio = np.asarray(audio, dtype=np.float32)
    labels = np.asarray(labels)

    def validate(model) -> dict:
        device = str(next(model.parameters()).device)
        use = notion if isinstance(model, ConditionalEncoder) else None
        E = embed(model, audio, use, device=device)
        scores = retrieval_scores(E, labels)
        return {**distance_statistics(E, labels), "p_at_1": scores["p_at_1"],
                "map": scores["map"]}

    return validate


def training_dynamics(history) -> dict:
    """Per epoch: training loss and the statistics :func:`distance_monitor` recorded.

    Parameters
    ----------
    history : mirlab.nn.training.History
        Of a :func:`~mirlab.nn.training.fit` run with ``validate=distance_monitor(...)``.

    Returns
    -------
    dict of str -> np.ndarray
        ``epoch``, ``loss``, ``d_pos``, ``d_neg``, ``spread``, ``p_at_1``, ``map``.
    """
    if not history.valid:
        raise ValueError("history must come from fit(..., validate=distance_monitor(...)); "
                         "it has no validation scores")
    out = {"epoch": np.asarray(history.epochs), "loss": np.asarray(history.train_loss)}
    for key in history.valid[0]:
        out[key] = np.array([v[key] for v in history.valid])
    return out
