"""Similarity embeddings: retrieval metrics, triplet mining, masks, sampler, shipped networks.

Parity: retrieval mAP against scikit-learn's average_precision_score per query; the batch-hard
triplet loss against pytorch-metric-learning (test-only references, never called by mirlab).
Shipped networks are re-scored on their test data and compared with their cards (tolerance
0.01 mAP / precision@1: the same weights and data give the same ranking up to float ties).
"""

import json

import numpy as np
import pytest
import torch

from mirlab.datasets.similarity import NOTIONS, load_similarity_data
from mirlab.similarity import embedding, evaluation, models, triplet
from mirlab.similarity.embedding import ConditionalEncoder, Encoder, LogPitch, NotionSampler


@pytest.fixture(scope="module")
def quick_data():
    return load_similarity_data("quick", progress=False)


# --- retrieval ---------------------------------------------------------------------------------

def test_retrieval_scores_match_sklearn():
    from sklearn.metrics import average_precision_score

    rng = np.random.default_rng(0)
    E = rng.standard_normal((30, 5))
    labels = rng.integers(0, 6, 30)
    got = evaluation.retrieval_scores(E, labels)
    unit = E / np.linalg.norm(E, axis=1, keepdims=True)
    S = unit @ unit.T
    aps, p1 = [], []
    for q in range(30):
        others = np.arange(30) != q
        rel = labels[others] == labels[q]
        if rel.any():
            aps.append(average_precision_score(rel, S[q, others]))
            p1.append(rel[np.argmax(S[q, others])])
    assert got["map"] == pytest.approx(np.mean(aps), abs=1e-12)
    assert got["p_at_1"] == pytest.approx(np.mean(p1))


def test_retrieval_scores_validate():
    with pytest.raises(ValueError, match="labels must have shape"):
        evaluation.retrieval_scores(np.zeros((3, 2)), [0, 1])
    with pytest.raises(ValueError, match="E must be finite"):
        evaluation.retrieval_scores(np.full((3, 2), np.nan), [0, 1, 1])


def test_distance_statistics_see_a_collapse():
    labels = np.array([0, 0, 1, 1])
    collapsed = evaluation.distance_statistics(np.ones((4, 3)) / np.sqrt(3), labels)
    assert collapsed["d_pos"] == pytest.approx(0, abs=1e-6)
    assert collapsed["d_neg"] == pytest.approx(0, abs=1e-6) and collapsed["spread"] < 1e-6
    good = evaluation.distance_statistics(np.array([[1, 0], [1, 0], [0, 1], [0, 1.0]]), labels)
    assert good["d_pos"] == 0 and good["d_neg"] == pytest.approx(np.sqrt(2))


# --- losses --------------------------------------------------------------------------------------

def test_batch_hard_matches_pytorch_metric_learning():
    from pytorch_metric_learning import distances, losses, miners

    g = torch.Generator().manual_seed(0)
    e = torch.nn.functional.normalize(torch.randn(24, 8, generator=g), dim=1)
    y = torch.arange(24) // 4
    ours = triplet.batch_hard_triplet_loss(e, y, margin=0.3)
    miner = miners.BatchHardMiner(distance=distances.LpDistance())
    ref = losses.TripletMarginLoss(margin=0.3, distance=distances.LpDistance(),
                                   reducer=None)
    from pytorch_metric_learning.reducers import MeanReducer

    ref = losses.TripletMarginLoss(margin=0.3, reducer=MeanReducer())
    expected = ref(e, y, miner(e, y))
    assert float(ours) == pytest.approx(float(expected), abs=1e-5)


def test_semi_hard_is_zero_when_classes_are_apart():
    e = torch.tensor([[1.0, 0], [1.0, 0], [0, 1.0], [0, 1.0]])
    y = torch.tensor([0, 0, 1, 1])
    assert float(triplet.semi_hard_triplet_loss(e, y, margin=0.5)) == 0.0
    assert float(triplet.batch_hard_triplet_loss(e, y, margin=0.5)) == 0.0
    swapped = torch.tensor([0, 1, 0, 1])  # positives far, negatives near: margin + sqrt(2)
    assert float(triplet.batch_hard_triplet_loss(e, swapped, margin=0.5)) == pytest.approx(
        0.5 + np.sqrt(2), abs=1e-5)


# --- networks ----------------------------------------------------------------------------------

def test_log_pitch_turns_a_transposition_into_a_shift():
    sr, t = 16000, np.arange(16000) / 16000
    front = LogPitch(sr)
    peaks = []
    for midi in (60, 64):
        y = np.sin(2 * np.pi * 440 * 2 ** ((midi - 69) / 12) * t).astype(np.float32)
        peaks.append(int(front(torch.from_numpy(y)[None])[0, :, 10].argmax()) + 36)
    assert peaks == [60, 64]


def test_fixed_masks_are_disjoint_and_learned_masks_train():
    fixed = ConditionalEncoder(NOTIONS, dim=9, mask="fixed", width=4)
    m = fixed.masks()
    assert torch.all(m.sum(dim=0) == 1) and torch.all(m.sum(dim=1) == 3)
    learned = ConditionalEncoder(NOTIONS, dim=9, mask="learned", width=4)
    assert learned.mask_weights.requires_grad
    out = learned(torch.randn(4, 16000))
    assert out.shape == (4, 3, 9)
    torch.testing.assert_close(out.norm(dim=2), torch.ones(4, 3))
    loss = embedding.NotionTripletLoss(0.2)(out, (torch.tensor([0, 0, 1, 1]), torch.tensor(2)))
    loss.backward()
    grad = learned.mask_weights.grad
    assert grad[2].abs().sum() > 0 and grad[:2].abs().sum() == 0  # only notion 2's mask
    with pytest.raises(ValueError, match="mask must be one of"):
        ConditionalEncoder(NOTIONS, mask="soft")


def test_notion_sampler_draws_m_per_class():
    labels = {"a": np.arange(40) % 5, "b": np.arange(40) % 2}
    s = NotionSampler(np.zeros((40, 300), np.float32), labels, chunk=200, p={"a": 3, "b": 2},
                      m={"a": 4, "b": 6}, steps=4)
    seen = []
    for x, (y, k) in s.batches(np.random.default_rng(0)):
        counts = np.bincount(y.numpy())
        seen.append(int(k))
        assert sorted(counts[counts > 0].tolist()) == ([4, 4, 4] if int(k) == 0 else [6, 6])
        assert x.shape[1] == 200
    assert seen == [0, 1, 0, 1]
    with pytest.raises(ValueError, match="p must be at most"):
        NotionSampler(np.zeros((40, 300), np.float32), labels, chunk=200, p=6, m=4)


def test_quick_training_records_dynamics(quick_data):
    train = quick_data.subset("train")
    model = Encoder(dim=8, width=4)
    from mirlab.nn.training import fit

    sampler = NotionSampler(train.audio, train.notion("passage"), chunk=16000, p=3, m=3,
                            steps=2)
    h = fit(model, sampler, embedding.NotionTripletLoss(0.2), epochs=2, lr=1e-3,
            validate=evaluation.distance_monitor(train.audio[:18], train.notion("passage")[:18]),
            monitor="map", progress=False)
    dyn = evaluation.training_dynamics(h)
    assert len(dyn["d_pos"]) == 2 and np.all(dyn["d_neg"] > 0) and np.all(dyn["loss"] > 0)


def test_quick_recipe_trains_every_notion(quick_data):
    model, h = models.train_recipe("masked", quick_data, quick=True, progress=False)
    assert {"map_passage", "map_instrumentation", "map_collection", "mean_map",
            "d_pos_passage", "d_neg_collection"} <= set(h.valid[0])
    assert set(evaluation.training_dynamics(h)) >= {"epoch", "loss", "d_pos_passage"}
    scores = models.score_model(model, quick_data)
    assert all(0 < s["map"] <= 1 for s in scores.values())


# --- shipped networks --------------------------------------------------------------------------

SHIPPED = sorted(p.stem for p in models.WEIGHTS.glob("*.json") if p.stem in models.RECIPES)


@pytest.fixture(scope="module")
def full_data():
    return load_similarity_data(progress=False)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_network_scores_what_its_card_says(name, full_data):
    model, card = models.pretrained(name)
    assert card["weights"]["n_bytes"] <= 1_000_000
    assert card["retrain"] == f"python -m mirlab.similarity.train {name}"
    scores = models.score_model(model, full_data)
    for notion, s in card["scores"]["test"].items():
        assert scores[notion]["map"] == pytest.approx(s["map"], abs=0.01), notion
        assert scores[notion]["p_at_1"] == pytest.approx(s["p_at_1"], abs=0.01), notion


def test_tampered_card_is_refused(tmp_path):
    if not SHIPPED:
        pytest.skip("no shipped network")
    name = SHIPPED[0]
    for suffix in (".pt", ".json"):
        (tmp_path / f"{name}{suffix}").write_bytes((models.WEIGHTS / f"{name}{suffix}")
                                                   .read_bytes())
    card = json.loads((tmp_path / f"{name}.json").read_text())
    card["recipe"]["lr"] = 1.0
    (tmp_path / f"{name}.json").write_text(json.dumps(card))
    with pytest.raises(ValueError, match="python -m mirlab.similarity.train"):
        models.pretrained(name, folder=tmp_path)


def test_agrees_with_the_chapter_losses_and_metrics():
    """The shipped networks' loss and scoring equal mirlab.nn.metric's and mirlab.metrics'."""
    from mirlab import metrics
    from mirlab.nn import metric

    g = torch.Generator().manual_seed(1)
    e = torch.nn.functional.normalize(torch.randn(32, 6, generator=g), dim=1)
    y = torch.arange(32) % 8
    assert float(triplet.batch_hard_triplet_loss(e, y, 0.2)) == pytest.approx(
        float(metric.batch_triplet_loss(e, y, 0.2, mining="batch_hard")), abs=1e-6)
    rng = np.random.default_rng(2)
    E, labels = rng.standard_normal((40, 4)), rng.integers(0, 8, 40)
    ours = evaluation.retrieval_scores(E, labels)
    unit = E / np.linalg.norm(E, axis=1, keepdims=True)
    D = 1 - unit @ unit.T
    assert ours["map"] == pytest.approx(metrics.mean_average_precision(D, labels), abs=1e-9)
    assert ours["p_at_1"] == pytest.approx(metrics.precision_at_k(D, labels, k=1), abs=1e-9)
