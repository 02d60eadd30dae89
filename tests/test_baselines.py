"""The MFCC + logistic-regression baseline (mirlab.tagging.baselines) on random and rendered
audio."""

import librosa
import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from mirlab.datasets import tagging
from mirlab.tagging.baselines import MFCCBaseline, evaluate_tagging, mfcc_features, mfcc_statistics


@pytest.fixture(scope="module")
def small():
    return tagging.load_tagging_dataset(n_clips=120, clip_seconds=3.0, progress=False)


def test_mfcc_statistics_match_librosa(small, rng):
    for y in (small.audio[0], rng.standard_normal(8000).astype(np.float32)):
        stats = mfcc_statistics(y, 16000, n_mfcc=13)
        M = librosa.feature.mfcc(y=y, sr=16000, n_mfcc=13, n_fft=1024, hop_length=512)
        D = librosa.feature.delta(M)
        assert stats.shape == (52,)
        np.testing.assert_allclose(stats[:13], M.mean(axis=1), rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(stats[13:26], M.std(axis=1), rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(stats[39:], D.std(axis=1), rtol=1e-4, atol=1e-4)


def test_features_shape_and_errors(small):
    F = mfcc_features(small.audio[:3], small.sr)
    assert F.shape == (3, 80) and np.all(np.isfinite(F))
    with pytest.raises(ValueError, match="audio"):
        mfcc_features(small.audio[0], small.sr)
    with pytest.raises(ValueError, match="y"):
        mfcc_statistics(np.array([np.nan, 1.0]), 16000)
    with pytest.raises(ValueError, match="n_mfcc"):
        MFCCBaseline(n_mfcc=0)
    with pytest.raises(ValueError, match="C"):
        MFCCBaseline(C=-1.0)


def test_evaluate_tagging_matches_sklearn(rng):
    y = (rng.random((50, 6)) < 0.3).astype(float)
    y[:, 5] = 0  # a tag without positives is left out
    s = rng.random((50, 6)) + 0.5 * y
    got = evaluate_tagging(y, s)
    assert got["n_tags"] == 5
    assert got["roc_auc"] == pytest.approx(roc_auc_score(y[:, :5], s[:, :5], average="macro"))
    assert got["pr_auc"] == pytest.approx(average_precision_score(y[:, :5], s[:, :5]))
    with pytest.raises(ValueError, match="shape"):
        evaluate_tagging(y, s[:, :3])


def test_baseline_beats_chance_but_leaves_room(small):
    train, test = small.subset(["train", "valid"]), small.subset("test")
    keep = (train.labels.sum(0) > 0) & (train.labels.sum(0) < len(train))
    model = MFCCBaseline().fit(train.audio, train.labels[:, keep])
    scores = model.predict_proba(test.audio)
    assert scores.shape == (len(test), int(keep.sum()))
    assert np.all((scores >= 0) & (scores <= 1))
    result = evaluate_tagging(test.labels[:, keep], scores)
    assert 0.6 < result["roc_auc"] < 0.95
    chance = evaluate_tagging(test.labels[:, keep],
                              np.random.default_rng(0).random(scores.shape))
    assert result["pr_auc"] > chance["pr_auc"] + 0.1
    with pytest.raises(ValueError, match="positive and negative"):
        MFCCBaseline().fit(None, np.zeros((4, 2)), features=np.ones((4, 80)))


def test_single_label_mode(rng):
    X = np.concatenate([rng.normal(0, 1, (20, 8)), rng.normal(3, 1, (20, 8))])
    y = np.repeat([0, 1], 20)
    model = MFCCBaseline().fit(None, y, features=X)
    proba = model.predict_proba(None, features=X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.mean(model.predict(None, features=X) == y) > 0.9
    with pytest.raises(ValueError, match="y must"):
        MFCCBaseline().fit(None, y[:5], features=X)


def test_batched_features_equal_the_clip_by_clip_statistics(small, rng):
    real = small.audio[:6]
    loop = np.stack([mfcc_statistics(y, small.sr) for y in real])
    np.testing.assert_allclose(mfcc_features(real, small.sr, batch_size=4), loop,
                               rtol=1e-5, atol=1e-4)
    noise = (rng.standard_normal((3, 5000)) * np.array([[1e-3], [1.0], [30.0]])).astype(
        np.float32)
    loop = np.stack([mfcc_statistics(y, 16000, n_mfcc=13) for y in noise])
    np.testing.assert_allclose(mfcc_features(noise, 16000, n_mfcc=13), loop,
                               rtol=1e-5, atol=1e-4)
    with pytest.raises(ValueError, match="batch_size"):
        mfcc_features(noise, 16000, batch_size=0)


def test_mfcc_benchmark_runs_and_agrees():
    from benchmarks import baselines as bench

    rows = bench.run(rounds=1, n_clips=3, progress=False)
    assert rows[0]["ratio"] == 1.0 and rows[1]["max_abs_diff"] < 1e-3
    assert "| baselines.mfcc_features (batches of 64) |" in bench.markdown(rows)
