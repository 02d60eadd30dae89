"""Tests of mirlab.nn.metric: each loss against pytorch-metric-learning (pml, a test-only
dependency that mirlab does not import), value and gradient, on random batches where the
definitions match; the mining rules triplet by triplet; the statistics; the class batch sampler.

Tolerance policy: float64 batches, values and gradients equal to pml within 1e-10 relative
(the same formula computed in a different order); pml is configured explicitly so that the
reduction is the same (its distances normalise embeddings by default: switched off here).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from pytorch_metric_learning import losses as pml_losses
from pytorch_metric_learning import miners as pml_miners
from pytorch_metric_learning import reducers as pml_reducers
from pytorch_metric_learning.distances import CosineSimilarity, LpDistance

from mirlab.nn import metric

TOL = dict(rtol=1e-10, atol=1e-12)


def batch(seed: int, n_classes: int = 4, per_class: int = 3, dim: int = 5):
    """A random float64 batch (requires grad) with ``per_class`` items of each class."""
    g = torch.Generator().manual_seed(seed)
    emb = torch.randn(n_classes * per_class, dim, generator=g, dtype=torch.float64)
    labels = torch.arange(n_classes).repeat_interleave(per_class)
    perm = torch.randperm(len(labels), generator=g)
    return emb[perm].clone().requires_grad_(True), labels[perm]


def grad_of(loss_fn, *tensors):
    tensors = [t.detach().clone().requires_grad_(True) for t in tensors]
    value = loss_fn(*tensors)
    grads = torch.autograd.grad(value, tensors)
    return value.detach(), grads


def assert_close(a, b):
    torch.testing.assert_close(torch.as_tensor(a, dtype=torch.float64),
                               torch.as_tensor(b, dtype=torch.float64), **TOL)


def lp(power: int = 1):
    return LpDistance(normalize_embeddings=False, power=power)


def test_module_does_not_import_pml():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(metric))
    names = {a.name for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)
             for a in node.names} | {node.module or "" for node in ast.walk(tree)
                                     if isinstance(node, ast.ImportFrom)}
    assert not any(n.startswith("pytorch_metric_learning") for n in names)


# ----------------------------------------------------------------------------- distances
@pytest.mark.parametrize("seed", range(3))
def test_distances_match_torch(seed):
    x, _ = batch(seed)
    y = torch.randn(7, x.shape[1], dtype=torch.float64)
    assert_close(metric.pairwise_distances(x, y), torch.cdist(x, y))
    assert_close(metric.pairwise_distances(x, y, squared=True), torch.cdist(x, y) ** 2)
    assert_close(metric.pairwise_distances(x, y, metric="squared"), torch.cdist(x, y) ** 2)
    cos = F.cosine_similarity(x[:, None, :], y[None, :, :], dim=-1)
    assert_close(metric.pairwise_distances(x, y, metric="cosine"), 1 - cos)
    assert_close(metric.l2_normalize(x), F.normalize(x, dim=1))


def test_distance_gradient_is_finite_where_rows_coincide():
    x = torch.tensor([[1.0, 2.0], [1.0, 2.0], [0.0, 0.0]], requires_grad=True)
    metric.pairwise_distances(x).sum().backward()
    assert torch.isfinite(x.grad).all()
    assert metric.pairwise_distances(x)[0, 1] == 0


def test_unit_vectors_rank_alike_in_both_geometries():
    x = metric.l2_normalize(torch.randn(10, 4, dtype=torch.float64))
    assert_close(metric.pairwise_distances(x, squared=True),
                 2 * metric.pairwise_distances(x, metric="cosine"))


# ---------------------------------------------------------------------------- contrastive
def _pml_pair_matrix(loss_dict, n):
    """pml's per-pair losses (DoNothingReducer) as an (n, n) matrix."""
    M = torch.full((n, n), float("nan"), dtype=torch.float64)
    for key in ("pos_loss", "neg_loss"):
        i, j = loss_dict[key]["indices"]
        M[i, j] = loss_dict[key]["losses"].detach()
    return M


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("margin", [0.5, 3.0])
def test_contrastive_matches_pml(seed, margin):
    emb, labels = batch(seed)
    n = len(labels)
    pml = pml_losses.ContrastiveLoss(pos_margin=0, neg_margin=margin, distance=lp(),
                                     reducer=pml_reducers.DoNothingReducer())
    M = _pml_pair_matrix(pml(emb, labels), n)
    ours = metric.contrastive_loss(emb, labels, margin, squared=False, reduction="none")
    i, j = torch.triu_indices(n, n, 1)
    assert_close(ours, M[i, j])
    assert_close(M[i, j], M[j, i])  # pml counts every pair in both orders
    # pml's default reducer: the mean of the non-zero positive terms plus that of the
    # non-zero negative terms; the same from our terms, value and gradient
    same = labels[i] == labels[j]

    def nonzero_mean(t):
        return t.sum() / (t > 0).sum().clamp(min=1)

    def ours_pml_style(e):
        terms = metric.contrastive_loss(e, labels, margin, squared=False, reduction="none")
        return nonzero_mean(terms[same]) + nonzero_mean(terms[~same])

    def theirs(e):
        return pml_losses.ContrastiveLoss(pos_margin=0, neg_margin=margin, distance=lp())(
            e, labels)

    v1, g1 = grad_of(ours_pml_style, emb)
    v2, g2 = grad_of(theirs, emb)
    assert_close(v1, v2)
    assert_close(g1[0], g2[0])


@pytest.mark.parametrize("seed", range(3))
def test_contrastive_mean_and_sum_gradients_match_pml_mean_reducer(seed):
    """pml's MeanReducer averages positive and negative pairs separately: rebuilt from our
    per-pair terms, value and gradient agree."""
    emb, labels = batch(seed)
    n = len(labels)
    i, j = torch.triu_indices(n, n, 1)
    same = labels[i] == labels[j]

    def ours(e):
        t = metric.contrastive_loss(e, labels, 1.0, squared=False, reduction="none")
        return t[same].mean() + t[~same].mean()

    def theirs(e):
        return pml_losses.ContrastiveLoss(pos_margin=0, neg_margin=1.0, distance=lp(),
                                          reducer=pml_reducers.MeanReducer())(e, labels)

    v1, g1 = grad_of(ours, emb)
    v2, g2 = grad_of(theirs, emb)
    assert_close(v1, v2)
    assert_close(g1[0], g2[0])


def test_contrastive_squared_is_hadsell():
    emb, labels = batch(0)
    emb = emb.detach()
    plain = metric.contrastive_loss(emb, labels, 1.5, squared=False, reduction="none")
    hadsell = metric.contrastive_loss(emb, labels, 1.5, reduction="none")
    assert_close(hadsell, plain ** 2 / 2)
    # by hand: a positive pair at distance 2 costs 2^2 / 2; a negative pair at 0.5 with
    # margin 1.5 costs (1.5 - 0.5)^2 / 2; a negative beyond the margin costs 0
    d = torch.tensor([2.0, 0.5, 1.7])
    assert metric.pair_contrastive_loss(d, [True, False, False], 1.5,
                                        reduction="none").tolist() == [2.0, 0.5, 0.0]
    assert float(metric.pair_contrastive_loss(d, [True, False, False], 1.5)) == \
        pytest.approx(2.5 / 3)
    assert float(metric.contrastive_loss(emb, labels, 1.5, reduction="sum")) == \
        pytest.approx(float(hadsell.sum()))


# ------------------------------------------------------------------------------- mining
def _triplet_set(a, p, n):
    return sorted(zip(a.tolist(), p.tolist(), n.tolist(), strict=True))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("power", [1, 2])
def test_batch_hard_mining_and_loss_match_pml(seed, power):
    emb, labels = batch(seed)
    dist = metric.pairwise_distances(emb, squared=power == 2)
    miner = pml_miners.BatchHardMiner(distance=lp(power))
    assert _triplet_set(*metric.mine_triplets(dist, labels, "batch_hard")) == \
        _triplet_set(*miner(emb, labels))
    for reduction, reducer in [("mean", pml_reducers.MeanReducer()),
                               ("nonzero", pml_reducers.AvgNonZeroReducer())]:
        def ours(e, reduction=reduction):
            return metric.batch_triplet_loss(e, labels, 0.3, mining="batch_hard",
                                             squared=power == 2, reduction=reduction)

        def theirs(e, reducer=reducer):
            indices = pml_miners.BatchHardMiner(distance=lp(power))(e, labels)
            return pml_losses.TripletMarginLoss(margin=0.3, distance=lp(power),
                                                reducer=reducer)(e, labels, indices)

        v1, g1 = grad_of(ours, emb)
        v2, g2 = grad_of(theirs, emb)
        assert_close(v1, v2)
        assert_close(g1[0], g2[0])


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("strategy", ["semihard", "hard"])
@pytest.mark.parametrize("cosine", [False, True])
def test_semihard_and_hard_mining_and_loss_match_pml(seed, strategy, cosine):
    emb, labels = batch(seed, n_classes=3, per_class=4)
    margin = 0.1 if cosine else 0.8  # cosine distances live in [0, 2]
    distance = CosineSimilarity() if cosine else lp()
    kind = "cosine" if cosine else "euclidean"
    dist = metric.pairwise_distances(emb, metric=kind)
    ours_set = _triplet_set(*metric.mine_triplets(dist, labels, strategy, margin=margin))
    miner = pml_miners.TripletMarginMiner(margin=margin, type_of_triplets=strategy,
                                          distance=distance)
    assert ours_set == _triplet_set(*miner(emb, labels))
    assert len(ours_set) > 0

    def ours(e):
        return metric.batch_triplet_loss(e, labels, margin, mining=strategy, metric=kind,
                                         reduction="nonzero")

    def theirs(e):
        indices = pml_miners.TripletMarginMiner(margin=margin, type_of_triplets=strategy,
                                                distance=distance)(e, labels)
        return pml_losses.TripletMarginLoss(margin=margin, distance=distance)(e, labels,
                                                                              indices)

    v1, g1 = grad_of(ours, emb)
    v2, g2 = grad_of(theirs, emb)
    assert_close(v1, v2)
    assert_close(g1[0], g2[0])


@pytest.mark.parametrize("seed", range(3))
def test_all_triplets_match_pml(seed):
    emb, labels = batch(seed)

    def ours(e):
        return metric.batch_triplet_loss(e, labels, 0.5, mining="all", reduction="nonzero")

    def theirs(e):
        return pml_losses.TripletMarginLoss(margin=0.5, distance=lp(),
                                            triplets_per_anchor="all")(e, labels)

    v1, g1 = grad_of(ours, emb)
    v2, g2 = grad_of(theirs, emb)
    assert_close(v1, v2)
    assert_close(g1[0], g2[0])
    n_triplets = 4 * 3 * 2 * 9  # anchors x positives x negatives
    assert len(metric.mine_triplets(metric.pairwise_distances(emb), labels, "all")[0]) == \
        n_triplets


def test_mining_rules_by_hand():
    # 1-D points: class 0 at 0 and 1, class 1 at 1.5 and 5
    emb = torch.tensor([[0.0], [1.0], [1.5], [5.0]])
    labels = torch.tensor([0, 0, 1, 1])
    d = metric.pairwise_distances(emb)
    # anchor 0: positive 1 (d=1); negatives 2 (1.5: gap .5), 3 (5: gap 4)
    # anchor 1: positive 0 (1); negatives 2 (.5: gap -.5), 3 (4: gap 3)
    # anchor 2: positive 3 (3.5); negatives 0 (1.5: gap -2), 1 (.5: gap -3)
    # anchor 3: positive 2 (3.5); negatives 0 (5: gap 1.5), 1 (4: gap .5)
    assert _triplet_set(*metric.mine_triplets(d, labels, "semihard", margin=1.0)) == \
        [(0, 1, 2), (3, 2, 1)]
    assert _triplet_set(*metric.mine_triplets(d, labels, "hard", margin=1.0)) == \
        [(1, 0, 2), (2, 3, 0), (2, 3, 1)]
    assert _triplet_set(*metric.mine_triplets(d, labels, "batch_hard")) == \
        [(0, 1, 2), (1, 0, 2), (2, 3, 1), (3, 2, 1)]


@pytest.mark.parametrize("seed", range(3))
def test_semihard_nearest_against_a_loop(seed):
    emb, labels = batch(seed, n_classes=3, per_class=4)
    d = metric.pairwise_distances(emb).detach()
    expected = []
    for a in range(len(labels)):
        for p in range(len(labels)):
            if p == a or labels[p] != labels[a]:
                continue
            negatives = [n for n in range(len(labels)) if labels[n] != labels[a]]
            farther = [n for n in negatives if d[a, n] > d[a, p]]
            n = (min(farther, key=lambda n: d[a, n]) if farther
                 else max(negatives, key=lambda n: d[a, n]))
            expected.append((a, p, n))
    assert _triplet_set(*metric.mine_triplets(d, labels, "semihard_nearest")) == sorted(expected)
    d[0, :] = 0  # anchor 0: no negative is farther than a positive -> the farthest one
    a, p, n = metric.mine_triplets(d, labels, "semihard_nearest")
    assert (n[a == 0] == torch.where(labels != labels[0], d[0], -1).argmax()).all()


def test_anchor_is_never_its_own_positive_and_lonely_anchors_are_skipped():
    emb = torch.randn(5, 3)
    labels = torch.tensor([0, 0, 1, 1, 2])  # item 4 has no positive
    d = metric.pairwise_distances(emb)
    for strategy in metric.MINING:
        a, p, n = metric.mine_triplets(d, labels, strategy, margin=10.0, random_state=0)
        assert (a != p).all() and (labels[a] == labels[p]).all()
        assert (labels[a] != labels[n]).all() and 4 not in a.tolist()


def test_random_mining_one_negative_per_pair_reproducible():
    emb, labels = batch(1)
    d = metric.pairwise_distances(emb)
    a, p, n = metric.mine_triplets(d, labels, "random", random_state=3)
    pos, _ = metric.pair_masks(labels)
    assert len(a) == int(pos.sum())
    assert (labels[a] != labels[n]).all()
    assert _triplet_set(a, p, n) == _triplet_set(*metric.mine_triplets(d, labels, "random",
                                                                       random_state=3))
    draws = {tuple(metric.mine_triplets(d, labels, "random", random_state=s)[2].tolist())
             for s in range(5)}
    assert len(draws) > 1
    torch.manual_seed(7)  # None: torch's global generator
    first = metric.mine_triplets(d, labels, "random")[2]
    torch.manual_seed(7)
    assert torch.equal(first, metric.mine_triplets(d, labels, "random")[2])


def test_triplet_loss_by_hand_and_empty_batch():
    assert metric.triplet_loss(torch.tensor([1.0, 1.0, 2.0]), torch.tensor([1.1, 2.0, 1.0]),
                               0.2, reduction="none").tolist() == pytest.approx([0.1, 0, 1.2])
    emb = torch.randn(3, 2, requires_grad=True)
    loss = metric.batch_triplet_loss(emb, [0, 1, 2])  # no positives: no triplet
    loss.backward()
    assert float(loss.detach()) == 0 and emb.grad is not None


# ------------------------------------------------------------------------------ InfoNCE
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("tau", [0.05, 0.5])
def test_info_nce_matches_pml_ntxent_on_query_key_pairs(seed, tau):
    g = torch.Generator().manual_seed(seed)
    q, k = torch.randn(2, 9, 6, generator=g, dtype=torch.float64)
    ids = torch.arange(9)  # ref_labels must be another tensor: pml drops (i, i) pairs when
    # `ref_labels is labels`

    def theirs(q, k):
        return pml_losses.NTXentLoss(temperature=tau)(q, ids, ref_emb=k,
                                                      ref_labels=ids.clone())

    v1, g1 = grad_of(lambda q, k: metric.info_nce(q, k, tau), q, k)
    v2, g2 = grad_of(theirs, q, k)
    assert_close(v1, v2)
    for a, b in zip(g1, g2, strict=True):
        assert_close(a, b)


@pytest.mark.parametrize("seed", range(2))
def test_info_nce_euclidean_matches_pml_with_negated_distances(seed):
    g = torch.Generator().manual_seed(seed)
    q, k = torch.randn(2, 7, 4, generator=g, dtype=torch.float64)
    ids = torch.arange(7)

    def theirs(q, k):
        return pml_losses.NTXentLoss(temperature=0.7, distance=lp())(q, ids, ref_emb=k,
                                                                     ref_labels=ids.clone())

    v1, g1 = grad_of(lambda q, k: metric.info_nce(q, k, 0.7, metric="euclidean"), q, k)
    v2, g2 = grad_of(theirs, q, k)
    assert_close(v1, v2)
    for a, b in zip(g1, g2, strict=True):
        assert_close(a, b)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("tau", [0.1, 0.5])
def test_nt_xent_matches_pml(seed, tau):
    g = torch.Generator().manual_seed(seed)
    z1, z2 = torch.randn(2, 8, 6, generator=g, dtype=torch.float64)
    ids = torch.arange(8)

    def theirs(z1, z2):
        return pml_losses.NTXentLoss(temperature=tau)(torch.cat([z1, z2]), torch.cat([ids, ids]))

    v1, g1 = grad_of(lambda a, b: metric.nt_xent(a, b, tau), z1, z2)
    v2, g2 = grad_of(theirs, z1, z2)
    assert_close(v1, v2)
    for a, b in zip(g1, g2, strict=True):
        assert_close(a, b)


def test_temperature_divides_and_symmetric_option():
    q, k = torch.randn(2, 6, 3, dtype=torch.float64)
    cos = F.normalize(q, dim=1) @ F.normalize(k, dim=1).T
    expected = F.cross_entropy(cos / 0.2, torch.arange(6))
    assert_close(metric.info_nce(q, k, 0.2), expected)
    assert not torch.allclose(metric.info_nce(q, k, 0.2), F.cross_entropy(cos * 0.2,
                                                                          torch.arange(6)))
    back = F.cross_entropy(cos.T / 0.2, torch.arange(6))
    assert_close(metric.info_nce(q, k, 0.2, symmetric=True), (expected + back) / 2)
    # perfectly aligned pairs: the loss falls towards 0 as tau falls
    e = torch.eye(4, dtype=torch.float64)
    assert float(metric.info_nce(e, e, 0.01)) < 1e-6 < float(metric.info_nce(e, e, 1.0))


def test_nt_xent_equals_info_nce_of_both_views_with_self_excluded():
    z1, z2 = torch.randn(2, 5, 3, dtype=torch.float64)
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    logits = (z @ z.T / 0.3).fill_diagonal_(-torch.inf)
    partner = torch.cat([torch.arange(5, 10), torch.arange(5)])
    assert_close(metric.nt_xent(z1, z2, 0.3), F.cross_entropy(logits, partner))
    assert metric.nt_xent(z1, z2, 0.3, reduction="none").shape == (10,)


# ------------------------------------------------------------------------------- stats
def test_statistics_and_collapse():
    emb, labels = batch(2)
    loss, stats = metric.batch_triplet_loss(emb, labels, 0.2, return_stats=True)
    d = torch.cdist(emb, emb).detach()
    pos, neg = metric.pair_masks(labels)
    assert stats["pos_distance"] == pytest.approx(float(d[pos].mean()))
    assert stats["neg_distance"] == pytest.approx(float(d[neg].mean()))
    assert stats["n_terms"] == len(labels)
    terms = metric.batch_triplet_loss(emb, labels, 0.2, reduction="none")
    assert stats["active"] == pytest.approx(float((terms > 0).float().mean()))
    # a collapsed embedding: every distance 0, every triplet active, the loss is the margin
    flat = torch.ones(12, 5, requires_grad=True)
    loss, stats = metric.batch_triplet_loss(flat, labels, 0.2, return_stats=True)
    assert loss.item() == pytest.approx(0.2) and stats["active"] == 1.0
    assert stats["pos_distance"] == stats["neg_distance"] == 0.0
    _, stats = metric.contrastive_loss(emb, labels, return_stats=True)
    assert stats["n_terms"] == 12 * 11 // 2
    e = torch.eye(4)
    _, stats = metric.nt_xent(e, e, return_stats=True)
    assert stats == {"pos_similarity": 1.0, "neg_similarity": 0.0, "accuracy": 1.0}
    _, stats = metric.info_nce(e, -e, return_stats=True)
    assert stats["pos_similarity"] == -1.0 and stats["accuracy"] == 0.0


def test_loss_modules_keep_last_stats():
    emb, labels = batch(0)
    emb = emb.detach()
    loss = metric.TripletLoss(0.2, mining="semihard")
    assert_close(loss(emb, labels), metric.batch_triplet_loss(emb, labels, 0.2,
                                                              mining="semihard"))
    assert set(loss.last_stats) == {"pos_distance", "neg_distance", "active", "n_terms"}
    z1, z2 = torch.randn(2, 4, 3)
    assert float(metric.NTXentLoss(0.5)((z1, z2), None)) == pytest.approx(
        float(metric.nt_xent(z1, z2, 0.5)))
    assert float(metric.InfoNCELoss(0.1)((z1, z2))) == pytest.approx(
        float(metric.info_nce(z1, z2, 0.1)))
    assert float(metric.ContrastiveLoss(1.0)(emb, labels)) == pytest.approx(
        float(metric.contrastive_loss(emb, labels, 1.0)))


# ------------------------------------------------------------------------------ sampler
def test_class_batch_sampler_structure_and_loader():
    rng = np.random.default_rng(0)
    labels = np.array(["a"] * 5 + ["b"] * 3 + ["c"] * 6 + ["d"] * 1)
    x = rng.normal(size=(len(labels), 4)).astype(np.float32)
    sampler = metric.ClassBatchSampler(x, labels, n_classes=3, n_per_class=4, steps=5)
    assert len(sampler) == 5
    assert sampler.names.tolist() == ["a", "b", "c", "d"]
    batches = list(sampler.batches(np.random.default_rng(1)))
    assert len(batches) == 5
    for xb, yb in batches:
        assert xb.shape == (12, 4) and xb.dtype == torch.float32 and yb.dtype == torch.int64
        counts = np.bincount(yb.numpy(), minlength=4)
        assert sorted(counts.tolist()) == [0, 4, 4, 4] and counts[3] == 0  # "d": 1 item
        for row, code in zip(xb.numpy(), yb.numpy(), strict=True):  # rows match labels
            assert labels[np.flatnonzero((x == row).all(axis=1))[0]] == sampler.names[code]
    loaded = metric.ClassBatchSampler(lambda i: x[i], labels, n_classes=3, n_per_class=4,
                                      steps=5)
    for (x1, y1), (x2, y2) in zip(batches, loaded.batches(np.random.default_rng(1)),
                                  strict=True):
        assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert len(metric.ClassBatchSampler(x, labels, 2, 2)) == len(labels) // 4


def test_class_batch_sampler_trains_with_fit():
    from mirlab.nn.training import fit

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 8)) * 3
    labels = np.repeat(np.arange(4), 10)
    x = (centres[labels] + rng.normal(size=(40, 8))).astype(np.float32)
    torch.manual_seed(0)
    model = torch.nn.Linear(8, 3)
    sampler = metric.ClassBatchSampler(x, labels, n_classes=4, n_per_class=4, steps=4)
    loss = metric.TripletLoss(0.5, mining="batch_hard")
    with torch.no_grad():
        before = float(metric.batch_triplet_loss(model(torch.from_numpy(x)), labels, 0.5))
    fit(model, sampler, loss, epochs=5, lr=1e-2, progress=False)
    with torch.no_grad():
        after = float(metric.batch_triplet_loss(model(torch.from_numpy(x)), labels, 0.5))
    assert after < before
    assert set(loss.last_stats) >= {"pos_distance", "neg_distance"}


# ------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("call, message", [
    (lambda: metric.pairwise_distances(torch.zeros(3)), "emb must be a tensor of shape"),
    (lambda: metric.pairwise_distances(torch.zeros(3, 2), torch.zeros(3, 4)), "same dim"),
    (lambda: metric.pairwise_distances(torch.zeros(3, 2), metric="manhattan"), "metric must"),
    (lambda: metric.contrastive_loss(torch.zeros(3, 2), [0, 1]), r"labels must have shape"),
    (lambda: metric.contrastive_loss(torch.zeros(3, 2), [0, 1, 1], -1.0), "margin must"),
    (lambda: metric.batch_triplet_loss(torch.zeros(3, 2), [0, 1, 1], mining="easy"),
     "strategy must"),
    (lambda: metric.batch_triplet_loss(torch.zeros(3, 2), [0, 1, 1], reduction="max"),
     "reduction must"),
    (lambda: metric.info_nce(torch.zeros(3, 2), torch.zeros(3, 2), 0.0), "temperature must"),
    (lambda: metric.info_nce(torch.zeros(3, 2), torch.zeros(4, 2)), "same shape"),
    (lambda: metric.nt_xent(torch.zeros(1, 2), torch.zeros(1, 2)), "N >= 2"),
    (lambda: metric.mine_triplets(torch.zeros(3, 2), [0, 1, 1]), "square"),
    (lambda: metric.ClassBatchSampler(np.zeros((4, 2)), [0, 0, 1, 1], n_classes=3),
     "n_classes must be at most"),
    (lambda: metric.ClassBatchSampler(np.zeros((3, 2)), [0, 0, 1, 1]), "one row per label"),
    (lambda: metric.ClassBatchSampler(np.zeros((4, 2)), [[0, 0], [1, 1]]), "labels must"),
])
def test_errors_name_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()
