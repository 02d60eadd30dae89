"""The chroma-enhancement network, its four kinds of targets and its shipped weights.

Tolerances: the CTC loss of a batch equals our own :func:`mirlab.sequence.ctc.ctc_loss` (per
item, divided by the target length) to 1e-4 relative (float32 network outputs); a shipped
network re-scored on the check pieces must reproduce its card's scores within one query
(1 / n_check) for top-1 and top-10 and 0.02 for the mean reciprocal rank: on the same machine
they agree exactly; another BLAS may break a near-tie differently.
"""

import numpy as np
import pytest
import torch

from mirlab.alignment import enhancement as E
from mirlab.alignment import train as TR
from mirlab.alignment.themes import Database
from mirlab.nn.shipping import CheckpointError
from mirlab.sequence.ctc import ctc_loss as our_ctc_loss

RATE = 10.0


def excerpt(tempo_curve=False):
    """Four notes (the third a repeat of the second); the recording 1.5x slower than the score,
    optionally with a non-linear time map."""
    s_on = np.array([0.0, 0.5, 1.0, 2.0])
    s_off = np.array([0.5, 1.0, 2.0, 2.5])
    warp = (lambda t: 1.5 * t + 0.4 * np.sin(np.pi * t / 2.5)) if tempo_curve else (
        lambda t: 1.5 * t)
    return {"n_frames": int(np.ceil(warp(2.5) * RATE)) + 1, "frame_rate": RATE,
            "pitch": np.array([60, 62, 62, 67]), "onset": warp(s_on), "offset": warp(s_off),
            "score_onset": s_on, "score_offset": s_off, "start": 0, "recording": 0}


def test_network_gives_log_probabilities_over_13_classes():
    net = E.ChromaNet(width=4)
    out = net(torch.randn(3, 4, 60, 25))
    assert out.shape == (3, E.N_CLASSES, 25)
    assert torch.allclose(out.exp().sum(dim=1), torch.ones(3, 25), atol=1e-5)
    with pytest.raises(ValueError, match="x must be shaped"):
        net(torch.zeros(3, 4, 48, 25))
    with pytest.raises(ValueError, match="n_bins must be a multiple of 12"):
        E.ChromaNet(n_bins=50)


def test_targets_of_each_kind():
    e = excerpt()
    assert E.excerpt_targets(e, "ctc").tolist() == [0, 2, 2, 7]
    onehot = E.excerpt_targets(e, "softdtw")
    assert onehot.shape == (13, 4) and (onehot.sum(axis=0) == 1).all() and onehot[12].sum() == 0
    strong = E.excerpt_targets(e, "strong")
    assert strong.shape == (e["n_frames"],)
    assert strong[0] == 0 and strong[-1] == E.BLANK  # the last frame lies after the last offset
    assert set(np.unique(strong)) <= {0, 2, 7, E.BLANK}
    # a constant tempo: linear stretching gives the exact targets
    assert E.excerpt_targets(e, "linear").tolist() == strong.tolist()
    # a tempo curve: linear stretching is right at both ends and wrong in between
    c = excerpt(tempo_curve=True)
    s, lin = E.excerpt_targets(c, "strong"), E.excerpt_targets(c, "linear")
    assert s[0] == lin[0] and np.mean(s != lin) > 0.05
    with pytest.raises(ValueError, match="kind must be one of"):
        E.excerpt_targets(e, "weak")


def test_sampler_batches_and_losses():
    rng = np.random.default_rng(0)
    feats = [rng.random((4, 60, 60)).astype(np.float32)]
    ex = [excerpt(), {**excerpt(True), "start": 5}]
    net = E.ChromaNet(width=4)
    for kind in E.TARGETS:
        sampler = E.ExcerptSampler(feats, ex, kind, batch_size=2)
        assert len(sampler) == 1
        x, y = next(sampler.batches(rng))
        assert x.shape == (2, 4, 60, max(e["n_frames"] for e in ex))
        assert sorted(y[1].tolist()) == sorted(e["n_frames"] for e in ex)
        loss = E.make_loss(kind)(net(x), y)
        assert torch.isfinite(loss) and loss.ndim == 0
        loss.backward()
    with pytest.raises(ValueError, match="kind must be one of"):
        E.make_loss("frames")
    with pytest.raises(ValueError, match="excerpts must not be empty"):
        E.ExcerptSampler(feats, [], "ctc")


def test_ctc_loss_equals_our_ctc():
    rng = np.random.default_rng(1)
    feats = [rng.random((4, 60, 60)).astype(np.float32)]
    ex = [excerpt(), {**excerpt(True), "start": 5}]
    sampler = E.ExcerptSampler(feats, ex, "ctc", batch_size=2)
    x, y = sampler.batch([0, 1])
    logp = E.ChromaNet(width=4)(x).detach()
    ours = np.mean([our_ctc_loss(logp[j, :, :e["n_frames"]].double().numpy(), E.excerpt_targets(
        e, "ctc"), blank=E.BLANK) / 4 for j, e in enumerate(ex)])
    assert E.make_loss("ctc")(logp, y).item() == pytest.approx(ours, rel=1e-4)


def test_enhanced_chroma_is_pooled_and_normalised():
    net = E.ChromaNet(width=4)
    H = np.random.default_rng(2).random((4, 60, 41)).astype(np.float32)
    X = E.enhanced_chroma(net, H)
    assert X.shape == (12, 20)
    assert np.allclose(np.linalg.norm(X, axis=0), 1.0)
    with pytest.raises(ValueError, match="harmonic CQT"):
        E.log_probabilities(net, H[0])


@pytest.fixture(scope="module")
def check_database():
    return Database(TR.check_pieces())


@pytest.mark.parametrize("name", sorted(TR.RECIPES))
def test_shipped_network_scores_what_its_card_says(name, check_database):
    model, card = TR.load(name)
    assert card["weights"]["n_bytes"] <= 1_000_000
    assert card["retrain"] == f"python -m mirlab.alignment.train {name}"
    got, want = check_database.evaluate(model), card["scores"]["check"]
    one = 1.0 / card["scores"]["n_check"] + 1e-9
    assert abs(got["top1"] - want["top1"]) <= one
    assert abs(got["top10"] - want["top10"]) <= one
    assert abs(got["mrr"] - want["mrr"]) <= 0.02


def test_load_refuses_another_recipe(monkeypatch):
    monkeypatch.setitem(TR.RECIPES, "ctc", {**TR.RECIPES["ctc"], "lr": 1.0})
    with pytest.raises(CheckpointError, match="python -m mirlab.alignment.train ctc"):
        TR.load("ctc")
    with pytest.raises(ValueError, match="name must be one of"):
        TR.load("hmm")
