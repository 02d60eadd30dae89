"""Tests of the retrieval metrics of mirlab.metrics: against scikit-learn's
``average_precision_score`` (query by query), pytorch-metric-learning's ``AccuracyCalculator``
(precision@1, MAP@R), brute-force loops written out here, exact expectations over all
orderings of tied items, hand-derived values, and the validation.

Tolerance: 1e-12 against the loops and sklearn (same float64 arithmetic); 1e-6 against pml,
which computes in float32.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score

from mirlab import metrics


def distance_data(seed: int, n: int = 24, n_db: int | None = None, ties: bool = False):
    """Random labels and distances (integers with many ties when ``ties``)."""
    rng = np.random.default_rng(seed)
    n_db = n if n_db is None else n_db
    labels_q = rng.integers(0, 4, n)
    labels_db = labels_q if n_db == n else rng.integers(0, 4, n_db)
    D = rng.integers(0, 4, (n, n_db)).astype(float) if ties else rng.random((n, n_db))
    return D, labels_q, labels_db


def brute_lists(D, labels_q, labels_db, exclude_self):
    """Each query's (distance, index, relevant) list, sorted by distance then index."""
    lists = []
    for i in range(len(D)):
        items = [(D[i, j], j, labels_db[j] == labels_q[i]) for j in range(D.shape[1])
                 if not (exclude_self and j == i)]
        lists.append(sorted(items))
    return lists


# ---------------------------------------------------------------- AP against sklearn
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("leave_one_out", [True, False])
def test_average_precision_matches_sklearn_per_query(seed, ties, leave_one_out):
    D, lq, ldb = distance_data(seed, n_db=None if leave_one_out else 30, ties=ties)
    if leave_one_out:
        ap = metrics.average_precision(D, lq)
    else:
        ap = metrics.average_precision(D, lq, ldb)
    for i in range(len(D)):
        keep = np.arange(D.shape[1]) != i if leave_one_out else np.ones(D.shape[1], bool)
        relevant = (ldb[keep] == lq[i]).astype(int)
        if relevant.any():
            assert ap[i] == pytest.approx(average_precision_score(relevant, -D[i, keep]),
                                          abs=1e-12)
        else:
            assert np.isnan(ap[i])
    assert metrics.mean_average_precision(D, lq, None if leave_one_out else ldb) == \
        pytest.approx(np.nanmean(ap), abs=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_stable_average_precision_and_map_at_r_against_loops(seed):
    D, lq, _ = distance_data(seed, ties=True)
    ap = metrics.average_precision(D, lq, ties="stable")
    mapr = metrics.map_at_r(D, lq, average=False)
    for i, items in enumerate(brute_lists(D, lq, lq, exclude_self=True)):
        rel = np.array([r for _, _, r in items])
        if not rel.any():
            assert np.isnan(ap[i]) and np.isnan(mapr[i])
            continue
        precision = np.cumsum(rel) / np.arange(1, len(rel) + 1)
        assert ap[i] == pytest.approx(precision[rel].mean(), abs=1e-12)
        R = rel.sum()
        assert mapr[i] == pytest.approx((precision[:R] * rel[:R]).sum() / R, abs=1e-12)


# ---------------------------------------------------------------- p@k, r@k by loops
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("k", [1, 3, 7])
def test_precision_and_recall_at_k_stable_against_loops(seed, k):
    D, lq, ldb = distance_data(seed, n_db=30, ties=True)
    lists = brute_lists(D, lq, ldb, exclude_self=False)
    expected_p, expected_hit, expected_frac = [], [], []
    for items in lists:
        rel = np.array([r for _, _, r in items])
        if rel.any():
            expected_p.append(rel[:k].mean())
            expected_hit.append(rel[:k].any())
            expected_frac.append(rel[:k].sum() / rel.sum())
    assert metrics.precision_at_k(D, lq, ldb, k) == pytest.approx(np.mean(expected_p))
    assert metrics.recall_at_k(D, lq, ldb, k) == pytest.approx(np.mean(expected_hit))
    assert metrics.recall_at_k(D, lq, ldb, k, kind="fraction") == \
        pytest.approx(np.mean(expected_frac))


def test_average_ties_are_the_expectation_over_all_orderings():
    rng = np.random.default_rng(5)
    n_db = 6
    D = rng.integers(0, 3, (4, n_db)).astype(float)
    lq, ldb = rng.integers(0, 2, 4), np.array([0, 1, 0, 0, 1, 1])
    for k in (1, 2, 4):
        p, hit, frac = [], [], []
        for perm in itertools.permutations(range(n_db)):  # every order of the database
            perm = list(perm)
            p.append(metrics.precision_at_k(D[:, perm], lq, ldb[perm], k, average=False))
            hit.append(metrics.recall_at_k(D[:, perm], lq, ldb[perm], k, average=False))
            frac.append(metrics.recall_at_k(D[:, perm], lq, ldb[perm], k, kind="fraction",
                                            average=False))
        np.testing.assert_allclose(
            metrics.precision_at_k(D, lq, ldb, k, ties="average", average=False),
            np.mean(p, axis=0), atol=1e-12)
        np.testing.assert_allclose(
            metrics.recall_at_k(D, lq, ldb, k, ties="average", average=False),
            np.mean(hit, axis=0), atol=1e-12)
        np.testing.assert_allclose(
            metrics.recall_at_k(D, lq, ldb, k, ties="average", kind="fraction",
                                average=False), np.mean(frac, axis=0), atol=1e-12)


def test_constant_distances_score_chance_with_averaged_ties():
    labels = np.repeat([0, 1, 2], 4)
    D = np.zeros((12, 12))
    # each query: 3 relevant among 11 others
    assert metrics.precision_at_k(D, labels, k=1, ties="average") == pytest.approx(3 / 11)
    assert metrics.precision_at_k(D, labels, k=1, ties="stable") != pytest.approx(3 / 11)
    assert metrics.mean_average_precision(D, labels) == pytest.approx(3 / 11)  # grouped


# ---------------------------------------------------------------- against pml
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("leave_one_out", [True, False])
def test_precision_at_1_and_map_at_r_match_pml(seed, leave_one_out):
    from pytorch_metric_learning.distances import LpDistance
    from pytorch_metric_learning.utils.accuracy_calculator import AccuracyCalculator
    from pytorch_metric_learning.utils.inference import CustomKNN

    rng = np.random.default_rng(seed)
    q = rng.normal(size=(30, 4))
    lq = rng.integers(0, 4, 30)
    if leave_one_out:
        db, ldb = q, lq
    else:
        db, ldb = rng.normal(size=(40, 4)), rng.integers(0, 4, 40)
    D = np.sqrt(((q[:, None] - db[None]) ** 2).sum(-1))
    calc = AccuracyCalculator(include=("precision_at_1", "mean_average_precision_at_r"),
                              k="max_bin_count", device=torch.device("cpu"),
                              knn_func=CustomKNN(LpDistance(normalize_embeddings=False)))
    acc = calc.get_accuracy(torch.tensor(q), torch.tensor(lq), torch.tensor(db),
                            torch.tensor(ldb), ref_includes_query=leave_one_out)
    args = (D, lq) if leave_one_out else (D, lq, ldb)
    assert metrics.precision_at_k(*args, k=1) == pytest.approx(acc["precision_at_1"], abs=1e-6)
    assert metrics.map_at_r(*args) == pytest.approx(acc["mean_average_precision_at_r"],
                                                    abs=1e-6)


# ---------------------------------------------------------------- by hand
def test_hand_derived_values():
    # one query, database labels ranked 1, 0, 1, 0 by distance; the query's label is 1:
    # relevant at ranks 1 and 3 -> AP = (1/1 + 2/3) / 2; R = 2: MAP@R = (1/1) / 2
    D, lq, ldb = [[0.1, 0.2, 0.3, 0.4]], [1], [1, 0, 1, 0]
    assert metrics.average_precision(D, lq, ldb)[0] == pytest.approx(5 / 6)
    assert metrics.map_at_r(D, lq, ldb) == pytest.approx(0.5)
    assert metrics.precision_at_k(D, lq, ldb, k=2) == 0.5
    assert metrics.recall_at_k(D, lq, ldb, k=2) == 1.0
    assert metrics.recall_at_k(D, lq, ldb, k=2, kind="fraction") == 0.5
    # a tie between the relevant item and an irrelevant one at the top: grouped AP gives the
    # relevant one the precision at the group's end (1/2); stable (index order) gives 1
    D, ldb = [[0.1, 0.1, 0.5]], [1, 0, 0]
    assert metrics.average_precision(D, lq, ldb)[0] == 0.5
    assert metrics.average_precision(D, lq, ldb, ties="stable")[0] == 1.0
    assert metrics.precision_at_k(D, lq, ldb, k=1, ties="average") == 0.5


def test_query_is_left_out_of_its_own_list():
    labels = np.array([0, 0, 1, 1])
    D = np.array([[0, 1, 2, 3], [1, 0, 2, 3], [2, 2, 0, 1], [3, 3, 1, 0]], float)
    assert metrics.precision_at_k(D, labels, k=1) == 1.0
    rel, d = metrics.ranked_relevance(D, labels)
    assert rel.shape == (4, 3) and d[:, 0].tolist() == [1, 1, 1, 1]
    # the same square matrix as query-vs-database keeps the query in its list
    rel, d = metrics.ranked_relevance(D, labels, labels)
    assert rel.shape == (4, 4) and d[:, 0].tolist() == [0, 0, 0, 0]
    assert metrics.precision_at_k(D, labels, labels, k=2, exclude_self=True) == 0.5
    # a lonely query (no other item of its label) is left out of the averages
    lonely = np.array([0, 0, 1, 2])
    assert np.isnan(metrics.precision_at_k(D, lonely, k=1, average=False)[3])
    assert np.isnan(metrics.average_precision(D, lonely)[2])
    assert metrics.mean_average_precision(D, lonely) == 1.0


@pytest.mark.parametrize("call, message", [
    (lambda: metrics.precision_at_k([[0.0, np.nan]], [0], [0, 1]), "NaN"),
    (lambda: metrics.precision_at_k([[0.0, 1.0]], [0, 1], [0, 1]), "query_labels must"),
    (lambda: metrics.precision_at_k([[0.0, 1.0]], [0], [0, 1, 1]), "database_labels must"),
    (lambda: metrics.precision_at_k([[0.0, 1.0]], [0], [0, 1], k=3), "k must be"),
    (lambda: metrics.precision_at_k([[0.0, 1.0]], [0], [0, 1], k=0), "k must be"),
    (lambda: metrics.precision_at_k([[0.0, 1.0]], [0], [0, 1], exclude_self=True), "square"),
    (lambda: metrics.precision_at_k([[0.0, 1.0]], [0], [0, 1], ties="random"), "ties must"),
    (lambda: metrics.average_precision([[0.0, 1.0]], [0], [0, 1], ties="average"),
     "ties must"),
    (lambda: metrics.recall_at_k([[0.0, 1.0]], [0], [0, 1], kind="all"), "kind must"),
    (lambda: metrics.mean_average_precision([[0.0, 1.0]], [2], [0, 1]), "no query"),
    (lambda: metrics.map_at_r([[0.0, 1.0]], [2], [0, 1]), "no query"),
    (lambda: metrics.precision_at_k([0.0, 1.0], [0], [0, 1]), "distances"),
])
def test_errors_name_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()
