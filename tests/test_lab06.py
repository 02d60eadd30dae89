"""Lab 6 (metric learning): the checks pass the lab's solutions and name each typical mistake;
their references agree with pytorch-metric-learning, scikit-learn and mirlab's own losses and
metrics.

The solutions below are the lab's (``labs/lab06_metric_learning.ipynb``), written with options
that turn on one typical mistake at a time.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from pytorch_metric_learning import losses as pml_losses
from pytorch_metric_learning import miners as pml_miners
from pytorch_metric_learning import reducers as pml_reducers
from pytorch_metric_learning.distances import LpDistance
from sklearn.metrics import average_precision_score

from mirlab import labs
from mirlab.labs import metric_learning as checks
from mirlab.labs.core import LabCheckError

# --- the lab's solutions, with switches for the typical mistakes ----------------------------

def pairwise_distances(x, squared=False, clamp=True, eps=1e-12):
    sq = (x ** 2).sum(dim=1)[:, None] + (x ** 2).sum(dim=1)[None, :] - 2 * x @ x.T
    if squared:
        return sq
    return sq.clamp_min(eps).sqrt() if clamp else sq.sqrt()


def triplet_loss(embeddings, labels, margin, distances=pairwise_distances, self_positive=False,
                 negatives_of_any_class=False, reduction="mean"):
    D = distances(embeddings)
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool)
    positive = same if self_positive else same & ~eye
    negative = ~eye if negatives_of_any_class else ~same
    hardest_positive = torch.where(positive, D, torch.zeros_like(D)).amax(dim=1)
    hardest_negative = torch.where(negative, D, torch.full_like(D, float("inf"))).amin(dim=1)
    valid = positive.any(dim=1) & negative.any(dim=1)
    terms = torch.relu(hardest_positive - hardest_negative + margin)[valid]
    return terms.sum() if reduction == "sum" else terms.mean()


def info_nce(queries, keys, temperature, normalise=True, dim=1, multiply=False, sign=1.0):
    if normalise:
        queries, keys = F.normalize(queries, dim=1), F.normalize(keys, dim=1)
    sim = queries @ keys.T
    logits = sim * temperature if multiply else sim / temperature
    return sign * -logits.log_softmax(dim=dim).diagonal().mean()


def info_nce_cross_entropy(queries, keys, temperature):
    logits = F.normalize(queries, dim=1) @ F.normalize(keys, dim=1).T / temperature
    return F.cross_entropy(logits, torch.arange(len(queries)))


def recall_at_k(distances, labels, k, include_self=False, descending=False, precision=False):
    D = np.array(distances, dtype=float)
    if not include_self:
        np.fill_diagonal(D, -np.inf if descending else np.inf)
    same = labels[:, None] == labels[None, :]
    np.fill_diagonal(same, include_self)
    has_relevant = same.any(axis=1)
    order = np.argsort(-D if descending else D, axis=1)[:, :k]
    found = np.take_along_axis(same, order, axis=1)
    per_query = found.mean(axis=1) if precision else found.any(axis=1)
    return float(per_query[has_relevant].mean())


def mean_average_precision(distances, labels, include_self=False, ties=True):
    n = len(labels)
    aps = []
    for i in range(n):
        others = np.arange(n) if include_self else np.flatnonzero(np.arange(n) != i)
        relevant = labels[others] == labels[i]
        if not relevant.any():
            continue
        d = distances[i, others]
        order = np.argsort(d, kind="stable")
        rel, d = relevant[order], d[order]
        if ties:  # precision after the last item of each run of equal distances
            last = np.r_[np.flatnonzero(np.diff(d)), len(d) - 1]
            hits = np.cumsum(rel)[last]
            precision = hits / (last + 1)
            aps.append(np.sum(np.diff(np.r_[0, hits]) * precision) / rel.sum())
        else:
            precision = np.cumsum(rel) / np.arange(1, len(rel) + 1)
            aps.append(precision[rel].mean())
    return float(np.mean(aps))


# --- the solutions pass ---------------------------------------------------------------------

def test_solutions_pass(capsys):
    checks.check_pairwise_distances(pairwise_distances)
    checks.check_pairwise_distances(lambda x: torch.cdist(x, x))
    checks.check_triplet_loss(triplet_loss)
    checks.check_info_nce(info_nce)
    checks.check_info_nce(info_nce_cross_entropy)
    checks.check_recall_at_k(recall_at_k)
    checks.check_mean_average_precision(mean_average_precision)
    checks.check_embedding({"recall@1": 0.8, "mAP": 0.6}, {"recall@1": 0.5, "mAP": 0.3})
    assert capsys.readouterr().out.count("passed") == 8


def test_retrieval_checks_take_real_distances():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(6), 4)
    x = rng.normal(size=(6, 3))[labels] + rng.normal(size=(24, 3))
    D = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    checks.check_recall_at_k(recall_at_k, real=(D, labels), verbose=False)
    checks.check_mean_average_precision(mean_average_precision, real=(D, labels),
                                        verbose=False)
    with pytest.raises(LabCheckError, match="real distances"):
        checks.check_recall_at_k(lambda D, y, k: recall_at_k(D, y, k) if len(y) != 24 else 0.0,
                                 real=(D, labels))


def no_sqrt_guard(x):
    return pairwise_distances(x, clamp=False)


MISTAKES = [
    (checks.check_pairwise_distances, lambda x: pairwise_distances(x, squared=True),
     ["squared distances"]),
    (checks.check_pairwise_distances, lambda x: (x[:, None] - x[None]).pow(2).sum(-1).sqrt(),
     ["gradient holds", "NaN", "clamp"]),
    (checks.check_pairwise_distances, no_sqrt_guard, ["NaN", "lamp"]),
    (checks.check_pairwise_distances, lambda x: torch.cdist(x, x, p=1), ["L1"]),
    (checks.check_pairwise_distances,
     lambda x: 1 - F.normalize(x, dim=1) @ F.normalize(x, dim=1).T, ["cosine distance"]),
    (checks.check_pairwise_distances, lambda x: torch.cdist(x, x).detach().numpy(),
     ["torch tensor"]),
    (checks.check_triplet_loss,
     lambda e, y, m: triplet_loss(e, y, m, distances=lambda x: pairwise_distances(x, True)),
     ["squared distances", "Mixing"]),
    (checks.check_triplet_loss, lambda e, y, m: triplet_loss(e, y, m, self_positive=True),
     ["its own positive"]),
    (checks.check_triplet_loss,
     lambda e, y, m: triplet_loss(e, y, m, negatives_of_any_class=True),
     ["negatives include items of the anchor's own class"]),
    (checks.check_triplet_loss, lambda e, y, m: triplet_loss(e, y, m, reduction="sum"),
     ["summed over the anchors"]),
    (checks.check_triplet_loss,
     lambda e, y, m: triplet_loss(e, y, m, distances=lambda x: (x[:, None] - x[None]).pow(2)
                                  .sum(-1).sqrt()),
     ["gradient holds", "NaN"]),
    (checks.check_triplet_loss, lambda e, y, m: triplet_loss(e, y, m).item(),
     ["torch tensor", ".item()"]),
    (checks.check_triplet_loss, lambda e, y, m: triplet_loss(e.detach(), y, m),
     ["no gradient"]),
    (checks.check_triplet_loss,
     lambda e, y, m: pml_losses.TripletMarginLoss(
         margin=m, distance=LpDistance(normalize_embeddings=False))(
         e, y, pml_miners.BatchHardMiner(distance=LpDistance(normalize_embeddings=False))(e, y)),
     ["non-zero loss only"]),
    (checks.check_info_nce, lambda q, k, t: info_nce(q, k, t, normalise=False),
     ["unnormalised"]),
    (checks.check_info_nce, lambda q, k, t: info_nce(q, k, t, dim=0), ["wrong axis"]),
    (checks.check_info_nce, lambda q, k, t: info_nce(q, k, t, multiply=True),
     ["multiplied by the temperature"]),
    (checks.check_info_nce, lambda q, k, t: info_nce(q, k, 1.0), ["temperature is missing"]),
    (checks.check_info_nce, lambda q, k, t: info_nce(q, k, t, sign=-1.0), ["sign"]),
    (checks.check_info_nce,
     lambda q, k, t: 0.5 * (info_nce(q, k, t) + info_nce(k, q, t)), ["both directions"]),
    (checks.check_info_nce,
     lambda q, k, t: F.cross_entropy(F.normalize(q, dim=1) @ F.normalize(k, dim=1).T / t,
                                     torch.arange(len(q)), reduction="none"),
     ["scalar tensor"]),
    (checks.check_recall_at_k, lambda D, y, k: recall_at_k(D, y, k, include_self=True),
     ["retrieved itself"]),
    (checks.check_recall_at_k, lambda D, y, k: recall_at_k(D, y, k, descending=True),
     ["farthest"]),
    (checks.check_recall_at_k, lambda D, y, k: recall_at_k(D, y, k, precision=True),
     ["precision@k"]),
    (checks.check_recall_at_k, lambda D, y, k: recall_at_k(D, y, k + 1), ["off by one"]),
    (checks.check_recall_at_k, lambda D, y, k: None, ["returned None"]),
    (checks.check_mean_average_precision,
     lambda D, y: mean_average_precision(D, y, include_self=True), ["its own ranking"]),
    (checks.check_mean_average_precision,
     lambda D, y: mean_average_precision(D, y, ties=False), ["ties in the ranking"]),
    (checks.check_mean_average_precision, lambda D, y: mean_average_precision(-D, y),
     ["farthest"]),
    (checks.check_embedding, lambda: ({"recall@1": 0.5, "mAP": 0.3},
                                      {"recall@1": 0.5, "mAP": 0.3}), ["not above"]),
    (checks.check_embedding, lambda: ({"recall@1": 1.5, "mAP": 0.3},
                                      {"recall@1": 0.5, "mAP": 0.3}), ["in [0, 1]"]),
]


@pytest.mark.parametrize("check, wrong, phrases", MISTAKES,
                         ids=[f"{c.exercise}-{i}" for i, (c, _, _) in enumerate(MISTAKES)])
def test_checks_name_typical_mistakes(check, wrong, phrases):
    with pytest.raises(LabCheckError) as info:
        if check is checks.check_embedding:
            check(*wrong())
        else:
            check(wrong)
    message = str(info.value)
    for phrase in phrases:
        assert phrase in message, f"{phrase!r} not in:\n{message}"


def test_every_mistake_of_the_references_is_caught_by_its_check():
    """Each option of a reference, turned into a student function, fails its check."""
    for option in ({"squared": True}, {"self_positive": True}, {"negatives": "all others"},
                   {"negative": "farthest"}, {"positive": "nearest"}, {"reduction": "sum"},
                   {"reduction": "nonzero"}, {"hinge": False}):
        with pytest.raises(LabCheckError):
            checks.check_triplet_loss(
                lambda e, y, m, o=option: checks.reference_triplet_loss(e, y, m, **o))
    for option in ({"normalise": False}, {"dim": 0}, {"temperature_as": "multiply"},
                   {"temperature_as": "none"}, {"exclude_positive": True},
                   {"reduction": "sum"}, {"symmetric": True}):
        with pytest.raises(LabCheckError):
            checks.check_info_nce(
                lambda q, k, t, o=option: checks.reference_info_nce(q, k, t, **o))
    for option in ({"include_self": True}, {"farthest": True}, {"kind": "precision"},
                   {"kind": "fraction"}, {"skip_lonely": False}):
        with pytest.raises(LabCheckError):
            checks.check_recall_at_k(
                lambda D, y, k, o=option: checks.reference_recall_at_k(D, y, k, **o))
    for option in ({"include_self": True}, {"farthest": True}, {"lonely_as_zero": True},
                   {"ties": "by position"}):
        with pytest.raises(LabCheckError):
            checks.check_mean_average_precision(
                lambda D, y, o=option: checks.reference_average_precision(D, y, **o))


def test_checks_stay_quiet_in_quick_mode_and_report_a_stub_as_to_do(capsys):
    checks.check_embedding({"recall@1": 0.1, "mAP": 0.1}, {"recall@1": 0.5, "mAP": 0.5},
                           quick=True, verbose=False)
    lab = labs.Lab("lab06")

    def stub(x):
        raise NotImplementedError()

    lab.check("pairwise_distances", checks.check_pairwise_distances, stub)
    lab.check("embedding", checks.check_embedding, None, None)
    assert lab.status()["pairwise_distances"] == "todo"
    assert lab.status()["embedding"] == "todo"
    assert "not done yet" in capsys.readouterr().out


def test_lab06_registers_six_exercises():
    assert labs.exercises_of("lab06") == ["pairwise_distances", "triplet_loss", "info_nce",
                                          "recall_at_k", "mean_average_precision", "embedding"]


# --- the references against independent implementations -------------------------------------

def _batch(seed, n_per_class=(3, 4, 2, 1, 3), dim=6):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(n_per_class)), n_per_class)
    x = rng.normal(size=(len(n_per_class), dim))[labels] + 0.7 * rng.normal(size=(len(labels),
                                                                                   dim))
    return torch.tensor(x), torch.tensor(labels)


@pytest.mark.parametrize("seed", range(4))
def test_reference_distances_match_cdist_value_and_gradient(seed):
    x, _ = _batch(seed)
    x[3] = x[0]
    a, b = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    w = torch.tensor(np.random.default_rng(seed).random((len(x), len(x))))
    da = checks.reference_distances(a)
    db = torch.cdist(b, b, compute_mode="donot_use_mm_for_euclid_dist")
    assert torch.allclose(da, db, atol=1e-12)
    (da * w).sum().backward()
    (db * w).sum().backward()
    assert torch.allclose(a.grad, b.grad, atol=1e-10)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("margin", [0.1, 0.5, 2.0])
def test_reference_triplet_loss_matches_pytorch_metric_learning(seed, margin):
    """pml's batch-hard miner + triplet margin loss, averaged over the mined triplets."""
    x, y = _batch(seed)
    a, b = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    ours = checks.reference_triplet_loss(a, y, margin)
    distance = LpDistance(normalize_embeddings=False)
    pml = pml_losses.TripletMarginLoss(margin=margin, distance=distance,
                                       reducer=pml_reducers.MeanReducer())
    theirs = pml(b, y, pml_miners.BatchHardMiner(distance=distance)(b, y))
    assert float(ours.detach()) == pytest.approx(float(theirs.detach()), abs=1e-10)
    ours.backward()
    theirs.backward()
    assert torch.allclose(a.grad, b.grad, atol=1e-8)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("tau", [0.05, 0.3, 1.0])
def test_reference_info_nce_matches_cross_entropy_and_pml_ntxent(seed, tau):
    rng = np.random.default_rng(seed)
    q = torch.tensor(rng.normal(size=(7, 5)) * rng.uniform(0.5, 2, (7, 1)))
    k = torch.tensor(q.numpy() + rng.normal(size=(7, 5)))
    ours = float(checks.reference_info_nce(q, k, tau))
    logits = F.normalize(q, dim=1) @ F.normalize(k, dim=1).T / tau
    assert ours == pytest.approx(float(F.cross_entropy(logits, torch.arange(7))), abs=1e-10)
    # pml's NT-Xent with queries as the reference set: each query's positive is its key,
    # its negatives the other keys, exactly our one-directional InfoNCE
    labels = torch.arange(7)
    pml = pml_losses.NTXentLoss(temperature=tau)
    theirs = pml(q, labels, ref_emb=k, ref_labels=labels.clone())  # a clone: not one set
    assert ours == pytest.approx(float(theirs), abs=1e-8)


def _distance_matrix(seed, n=15, n_labels=4, rounding=None):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_labels, size=n)
    x = rng.normal(size=(n_labels, 3))[labels] + rng.normal(size=(n, 3))
    D = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    if rounding:
        D = np.round(D / rounding) * rounding
    return D, labels


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("rounding", [None, 0.5])
def test_reference_average_precision_matches_sklearn_per_query(seed, rounding):
    D, labels = _distance_matrix(seed, rounding=rounding)
    aps = checks.reference_average_precision(D, labels, per_query=True)
    for i in range(len(D)):
        mask = np.arange(len(D)) != i
        rel = labels[mask] == labels[i]
        if rel.any():
            assert aps[i] == pytest.approx(average_precision_score(rel, -D[i, mask]))
        else:
            assert np.isnan(aps[i])
    assert checks.reference_average_precision(D, labels) == pytest.approx(
        mean_average_precision(D, labels))


@pytest.mark.parametrize("seed", range(5))
def test_reference_recall_matches_pml_precision_at_1_and_a_brute_force(seed):
    from pytorch_metric_learning.utils.accuracy_calculator import AccuracyCalculator
    from pytorch_metric_learning.utils.inference import CustomKNN

    D, labels = _distance_matrix(seed, n=20)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(20, 4))
    D = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    knn = CustomKNN(LpDistance(normalize_embeddings=False))  # faiss is not installed
    calc = AccuracyCalculator(include=("precision_at_1",), k=5, device=torch.device("cpu"),
                              knn_func=knn)
    acc = calc.get_accuracy(torch.tensor(x), torch.tensor(labels), torch.tensor(x),
                            torch.tensor(labels), ref_includes_query=True)
    assert checks.reference_recall_at_k(D, labels, 1) == pytest.approx(acc["precision_at_1"])
    for k in (1, 3, 6):
        hits = []
        for i in range(20):
            others = [j for j in range(20) if j != i]
            if not any(labels[j] == labels[i] for j in others):
                continue
            nearest = sorted(others, key=lambda j: D[i, j])[:k]
            hits.append(any(labels[j] == labels[i] for j in nearest))
        assert checks.reference_recall_at_k(D, labels, k) == pytest.approx(np.mean(hits))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("rounding", [None, 0.5])
def test_reference_retrieval_measures_match_mirlab_metrics(seed, rounding):
    from mirlab import metrics

    D, labels = _distance_matrix(seed, n=18, rounding=rounding)
    assert checks.reference_average_precision(D, labels) == pytest.approx(
        metrics.mean_average_precision(D, labels))
    if rounding is None:  # without ties, every rule of ordering agrees
        for k in (1, 2, 5):
            assert checks.reference_recall_at_k(D, labels, k) == pytest.approx(
                metrics.recall_at_k(D, labels, k=k))


@pytest.mark.parametrize("seed", range(4))
def test_reference_losses_match_mirlab_nn_metric(seed):
    from mirlab.nn import metric

    x, y = _batch(seed)
    for margin in (0.1, 0.5):
        a, b = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
        ours = checks.reference_triplet_loss(a, y, margin)
        theirs = metric.batch_triplet_loss(b, y, margin, mining="batch_hard")
        assert float(ours.detach()) == pytest.approx(float(theirs.detach()), abs=1e-10)
        ours.backward()
        theirs.backward()
        assert torch.allclose(a.grad, b.grad, atol=1e-10)
    rng = np.random.default_rng(seed)
    q, k = torch.tensor(rng.normal(size=(6, 4))), torch.tensor(rng.normal(size=(6, 4)))
    for tau in (0.07, 0.5):
        assert float(checks.reference_info_nce(q, k, tau)) == pytest.approx(
            float(metric.info_nce(q, k, tau)), abs=1e-10)
    assert torch.allclose(checks.reference_distances(x), metric.pairwise_distances(x))


def test_class_batches_draw_m_items_of_p_classes():
    X = np.arange(40, dtype=np.float32).reshape(20, 2)
    y = np.repeat(np.arange(5), 4)
    sampler = checks.class_batches(X, y, p=8, m=3, steps=2)   # only 5 classes: p lowered
    batches = list(sampler.batches(np.random.default_rng(0)))
    assert len(batches) == len(sampler) == 2
    xb, yb = batches[0]
    assert tuple(xb.shape) == (15, 2) and sorted(np.bincount(yb.numpy()).tolist()) == [3] * 5
