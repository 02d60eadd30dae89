"""Theme-based audio retrieval by subsequence DTW, and its evaluation (top-1, top-10).

A query is a theme from the score (:func:`mirlab.datasets.themes.theme`), turned into a binary
chroma sequence (:func:`query_chroma`); the database holds a chroma sequence per recording. The
cost of a recording is the cost of the best match of the query inside it: the minimum of the
matching function of subsequence DTW (:func:`mirlab.sequence.subsequence_dtw`, cosine cost,
steps (1, 1), (2, 1), (1, 2), so a match may run at half to twice the query's tempo).
Recordings are ranked by cost; a hit counts when the recording belongs to a piece of the
query's melody group (:func:`mirlab.datasets.themes.melody_groups`). This is the evaluation of
Zalkow & Müller :cite:`Zalkow2021ctc` on the MTD :cite:`Zalkow2020mtd`, on our corpus.

Chroma variants of a recording (the rows of the chapter's table):

- ``chroma``: standard CQT chroma (:func:`mirlab.datasets.themes.standard_chroma`);
- ``cens``: CENS with light smoothing (:func:`mirlab.features.chroma_cens`);
- ``top_note``: a melody-emphasising chroma, the highest salient pitch per frame of the
  harmonic CQT (:func:`top_note_chroma`), our enhanced-chroma baseline;
- the networks of :mod:`mirlab.alignment.enhancement` (:func:`enhanced_chroma`).

All are pooled to :data:`RETRIEVAL_RATE` frames per second and normalised.

Taught in ``notebooks/07_alignment.ipynb``.
"""

from __future__ import annotations

import numpy as np

from mirlab.alignment.enhancement import enhanced_chroma, pool_chroma
from mirlab.datasets.themes import (
    FRAME_RATE,
    SR,
    Theme,
    hcqt,
    load_recording,
    melody_groups,
    notes_chroma,
    standard_chroma,
    theme,
)
from mirlab.features import chroma_cens
from mirlab.sequence.dtw import cost_matrix, dtw_fast

__all__ = ["POOL", "RETRIEVAL_RATE", "STEP_SIZES", "BASELINES", "query_chroma", "match_cost",
           "cost_table", "rank_metrics", "top_note_chroma", "baseline_chroma", "Database",
           "load_database", "evaluate", "PUBLISHED", "retrieval_table"]

POOL = 2
RETRIEVAL_RATE = FRAME_RATE / POOL  # 10.8 frames per second
STEP_SIZES = np.array([[1, 1], [2, 1], [1, 2]])
BASELINES = ("chroma", "cens", "top_note")
# Zalkow & Müller (2021), theme retrieval on the MTD: (top-1, top-10) per chroma variant
PUBLISHED = {"chroma": (0.561, 0.723), "enhanced baseline": (0.824, 0.861),
             "ctc": (0.867, 0.942), "linear": (0.829, 0.914), "strong": (0.882, 0.939)}
ROW_NAMES = {"chroma": "standard chroma", "cens": "CENS", "top_note": "top-note chroma",
             "ctc": "network, CTC", "linear": "network, linear scaling",
             "strong": "network, strong alignment", "softdtw": "network, soft-DTW"}


def query_chroma(t: Theme, frame_rate: float = RETRIEVAL_RATE) -> np.ndarray:
    """Binary chroma of a theme at score tempo: each note's pitch class until the next onset
    (the last note for its written duration), shape ``(12, n_frames)``."""
    if not isinstance(t, Theme):
        raise ValueError(f"t must be a Theme (mirlab.datasets.themes.theme); got "
                         f"{type(t).__name__}")
    onset = t.onset - t.onset[0]
    end = float(t.offset[-1] - t.onset[0])
    n = max(int(np.ceil(end * frame_rate)), 1)
    return notes_chroma(onset, t.pitch, n, frame_rate, legato_end=end)


def match_cost(Q: np.ndarray, X: np.ndarray) -> float:
    """Cost of the best match of query ``Q`` inside ``X`` (both ``(12, n)``): the minimum of
    subsequence DTW's matching function ``D[N-1, :] / N`` (cosine cost, :data:`STEP_SIZES`).

    Examples
    --------
    >>> Q = np.eye(12)[:, [0, 0, 4, 7]]
    >>> X = np.eye(12)[:, [2, 2, 0, 0, 0, 4, 4, 7, 7, 9]]
    >>> round(match_cost(Q, X), 6)
    0.0
    """
    Q, X = np.asarray(Q, dtype=float), np.asarray(X, dtype=float)
    if Q.ndim != 2 or X.ndim != 2 or Q.shape[0] != X.shape[0]:
        raise ValueError(f"Q and X must be feature sequences with the same number of rows; got "
                         f"shapes {Q.shape} and {X.shape}")
    C = cost_matrix(Q, X, "cosine")
    need = Q.shape[1] // 2 + 1  # columns a path through all rows needs at least
    if X.shape[1] < need:  # too short for any path: pad with "no match"
        C = np.pad(C, ((0, 0), (0, need - X.shape[1])), constant_values=1.0)
    D, _ = dtw_fast(C, step_sizes=STEP_SIZES, subsequence=True)
    return float(np.min(D[-1]) / Q.shape[0])


def cost_table(queries, database) -> np.ndarray:
    """Costs of every query in every database sequence, shape ``(n_queries, n_database)``."""
    return np.array([[match_cost(Q, X) for X in database] for Q in queries])


def rank_metrics(costs: np.ndarray, query_groups, database_groups) -> dict:
    """Top-1, top-10 and mean reciprocal rank of a cost table.

    A query's rank is the position of its first correct recording (one of its melody group)
    when the database is sorted by increasing cost (ties count against the query).

    Parameters
    ----------
    costs : np.ndarray, shape (n_queries, n_database)
    query_groups, database_groups : sequence of int
        Melody group of each query and of each recording.

    Returns
    -------
    dict
        ``top1``, ``top10``, ``mrr``, ``n_queries`` and the ``ranks`` (1 = first).

    Examples
    --------
    >>> costs = np.array([[0.1, 0.5], [0.2, 0.3]])
    >>> m = rank_metrics(costs, [0, 1], [0, 1])
    >>> m["top1"], m["ranks"]
    (0.5, [1, 2])
    """
    costs = np.asarray(costs, dtype=float)
    qg, dg = np.asarray(query_groups), np.asarray(database_groups)
    if costs.ndim != 2 or costs.shape != (len(qg), len(dg)):
        raise ValueError(f"costs must be shaped (n_queries, n_database) = ({len(qg)}, "
                         f"{len(dg)}); got {costs.shape}")
    ranks = []
    for i, g in enumerate(qg):
        right = dg == g
        if not right.any():
            raise ValueError(f"query {i} (group {g}) has no correct recording in the database")
        best = costs[i, right].min()
        ranks.append(int(np.sum(costs[i, ~right] <= best)) + 1)
    r = np.array(ranks)
    return {"top1": float(np.mean(r == 1)), "top10": float(np.mean(r <= 10)),
            "mrr": float(np.mean(1.0 / r)), "n_queries": len(r), "ranks": ranks}


# --- chroma variants ------------------------------------------------------------------------------

def top_note_chroma(H: np.ndarray, threshold: float = 0.8) -> np.ndarray:
    """A melody-emphasising chroma: per frame, the pitch class of the highest salient pitch.

    The salience of a pitch is the geometric mean of its first three harmonics in the harmonic
    CQT ``H`` (a partial of a lower note is rarely backed by its own "harmonics"); the highest
    pitch whose salience reaches ``threshold`` times the frame's maximum gives the frame's pitch
    class (the melody of a chorale or a song is its top voice). Shape ``(12, n_frames)``,
    weighted by that salience. The default ``threshold`` was chosen on the validation pieces
    (0.6: top-1 0.16, 0.8: 0.58, 0.9: 0.53; standard chroma 0.49).
    """
    H = np.asarray(H, dtype=float)
    if H.ndim != 3 or H.shape[0] < 3:
        raise ValueError(f"H must be a harmonic CQT (n_harmonics >= 3, n_bins, n_frames); got "
                         f"shape {H.shape}")
    S = np.cbrt(H[0] * H[1] * H[2])
    peak = S.max(axis=0)
    above = S >= threshold * np.maximum(peak, 1e-9)
    top = S.shape[0] - 1 - np.argmax(above[::-1], axis=0)
    out = np.zeros((12, S.shape[1]))
    out[top % 12, np.arange(S.shape[1])] = peak
    return out


def baseline_chroma(name: str, y: np.ndarray, H: np.ndarray | None = None) -> np.ndarray:
    """One of :data:`BASELINES` for a recording ``y`` (at ``SR``), pooled and normalised."""
    if name == "chroma":
        X = standard_chroma(y)
    elif name == "cens":
        X = chroma_cens(np.asarray(y, dtype=float), SR, hop_length=int(SR / FRAME_RATE),
                        win_len_smooth=5, n_octaves=6, fmin=32.703, norm=2)
    elif name == "top_note":
        X = top_note_chroma(hcqt(y) if H is None else H)
    else:
        raise ValueError(f"name must be one of {BASELINES}; got {name!r}")
    return pool_chroma(X, POOL)


class Database:
    """Recordings of pieces with their harmonic CQTs and melody groups.

    Attributes
    ----------
    piece_ids : list of str
    y : list of np.ndarray
        The audio (at ``SR``).
    H : list of np.ndarray
        Harmonic CQTs.
    groups : dict
        piece id -> melody group (computed over the database's pieces).
    """

    def __init__(self, piece_ids, seed: int = 0):
        self.piece_ids = list(piece_ids)
        if not self.piece_ids:
            raise ValueError("piece_ids must not be empty")
        recs = [load_recording(pid, seed) for pid in self.piece_ids]
        self.y = [r.y for r in recs]
        self.H = [hcqt(r.y) for r in recs]
        self.themes = [theme(pid) for pid in self.piece_ids]
        self.groups = melody_groups(self.themes)
        self.queries = [query_chroma(t) for t in self.themes]
        self._features: dict = {}

    def features(self, variant) -> list[np.ndarray]:
        """Chroma of every recording: a baseline name or a trained :class:`ChromaNet`."""
        if isinstance(variant, str):
            if variant not in self._features:
                self._features[variant] = [baseline_chroma(variant, y, H)
                                           for y, H in zip(self.y, self.H, strict=True)]
            return self._features[variant]
        return [enhanced_chroma(variant, H, POOL) for H in self.H]

    def evaluate(self, variant) -> dict:
        """:func:`rank_metrics` of all themes against all recordings with one chroma variant."""
        g = [self.groups[p] for p in self.piece_ids]
        return rank_metrics(cost_table(self.queries, self.features(variant)), g, g)


def load_database(split: str, collections=("chorales", "folk")) -> Database:
    """The :class:`Database` of a split's pieces (``"valid"`` or ``"test"``)."""
    from mirlab.datasets.themes import split_pieces

    return Database(split_pieces(split, collections))


def evaluate(database: Database, variant) -> dict:
    """Shorthand for ``database.evaluate(variant)``."""
    return database.evaluate(variant)


def retrieval_table(database: Database, networks: dict | None = None) -> list[dict]:
    """The table of the chapter: a row per chroma variant with ours beside the published numbers.

    Parameters
    ----------
    database : Database
    networks : dict, optional
        name -> trained :class:`~mirlab.alignment.enhancement.ChromaNet` (names ``ctc``,
        ``strong``, ``linear``, ``softdtw``).

    Returns
    -------
    list of dict
        ``variant``, ``name``, ``top1``, ``top10``, ``mrr`` and ``published_top1`` /
        ``published_top10`` (None where the paper has no such row; the top-note chroma stands
        in for the paper's enhanced baseline).
    """
    rows = []
    variants = [*BASELINES, *(networks or {})]
    for v in variants:
        m = database.evaluate(v if v in BASELINES else networks[v])
        pub = PUBLISHED.get("enhanced baseline" if v == "top_note" else v, (None, None))
        rows.append({"variant": v, "name": ROW_NAMES.get(v, v), "top1": m["top1"],
                     "top10": m["top10"], "mrr": m["mrr"], "published_top1": pub[0],
                     "published_top10": pub[1]})
    return rows
