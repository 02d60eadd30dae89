"""The MFCC + logistic-regression baseline (mirlab.tagging.baselines): its MFCC statistics
against librosa (which the module does not call), its estimators against scikit-learn's
contract, and the baseline on rendered audio."""

import ast
import inspect
import warnings

import librosa
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import estimator_checks

from mirlab import metrics
from mirlab.features import delta
from mirlab.tagging import baselines
from mirlab.tagging.baselines import (
    LogisticClassifier,
    MFCCStatistics,
    mfcc_baseline,
    mfcc_features,
    mfcc_statistics,
)


@pytest.fixture(scope="module")
def small():
    from mirlab.datasets import tagging

    return tagging.load_tagging_dataset(n_clips=120, clip_seconds=3.0, progress=False)


def librosa_statistics(y, sr, n_mfcc, n_fft=1024, hop_length=512):
    """The statistics written out with librosa: MFCCs, deltas over 9 frames, mean and std."""
    M = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=n_mfcc, n_fft=n_fft, hop_length=hop_length)
    D = librosa.feature.delta(M, width=9)
    return np.concatenate([M.mean(1), M.std(1), D.mean(1), D.std(1)])


def test_the_module_does_not_call_librosa():
    tree = ast.parse(inspect.getsource(baselines))
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)
             for alias in node.names}
    names |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not any(n and n.split(".")[0] == "librosa" for n in names)


@pytest.mark.parametrize("width", [3, 5, 9])
def test_delta_equals_librosa(rng, width):
    M = rng.standard_normal((2, 7, 40)).cumsum(axis=-1)
    np.testing.assert_allclose(delta(M, width=width), librosa.feature.delta(M, width=width),
                               rtol=1e-12, atol=1e-12)
    # hand-derived: the slope of a line is its slope everywhere, including the edges
    np.testing.assert_allclose(delta(3.0 * np.arange(12.0) + 1.0, width=width), 3.0)
    with pytest.raises(ValueError, match="width must be odd"):
        delta(M, width=4)
    with pytest.raises(ValueError, match="width must be odd and at most the number of frames"):
        delta(M[..., :5], width=9)


def test_mfcc_statistics_equal_librosa(small, rng):
    clips = [small.audio[0], small.audio[1],
             rng.standard_normal(8000).astype(np.float32),
             (1e-3 * rng.standard_normal(8000)).astype(np.float32),  # quiet: the 80 dB floor
             (30.0 * rng.standard_normal(8000)).astype(np.float32)]
    for n_mfcc in (13, 20):
        expected = np.stack([librosa_statistics(y, 16000, n_mfcc) for y in clips[2:]])
        got = mfcc_features(np.stack(clips[2:]), 16000, n_mfcc=n_mfcc, batch_size=2)
        assert got.shape == (3, 4 * n_mfcc) and got.dtype == np.float64
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=2e-3)
    real = np.stack(clips[:2])
    expected = np.stack([librosa_statistics(y, small.sr, 20) for y in real])
    np.testing.assert_allclose(mfcc_features(real, small.sr), expected, rtol=1e-4, atol=2e-3)
    np.testing.assert_allclose(mfcc_statistics(real[0], small.sr), expected[0],
                               rtol=1e-4, atol=2e-3)


def test_short_clips_use_a_narrower_delta_window(rng):
    y = rng.standard_normal(2048).astype(np.float32)  # 5 frames: deltas over 5 frames
    M = librosa.feature.mfcc(y=y, sr=16000, n_mfcc=13, n_fft=1024, hop_length=512)
    D = librosa.feature.delta(M, width=5)
    np.testing.assert_allclose(mfcc_statistics(y, 16000, n_mfcc=13)[39:], D.std(axis=1),
                               rtol=1e-4, atol=1e-3)
    two_frames = mfcc_statistics(rng.standard_normal(600), 16000, n_mfcc=13)
    assert np.all(two_frames[26:] == 0.0)  # no delta window fits in 2 frames


def test_features_errors():
    with pytest.raises(ValueError, match=r"audio must have shape \(n_clips, n_samples\)"):
        mfcc_features(np.zeros(16000), 16000)
    with pytest.raises(ValueError, match="audio must be finite"):
        mfcc_features(np.full((2, 4000), np.nan), 16000)
    with pytest.raises(ValueError, match="y must be finite"):
        mfcc_statistics(np.array([np.nan, 1.0]), 16000)
    with pytest.raises(ValueError, match="batch_size"):
        mfcc_features(np.zeros((2, 4000)), 16000, batch_size=0)


def test_estimators_follow_the_scikit_learn_contract(rng):
    # __init__ stores its arguments only: invalid values raise at fit, not before
    statistics, classifier = MFCCStatistics(n_mfcc=0), LogisticClassifier(C=-1.0)
    assert statistics.get_params()["n_mfcc"] == 0 and classifier.get_params()["C"] == -1.0
    with pytest.raises(ValueError, match="n_mfcc must be"):
        statistics.fit(np.zeros((2, 4000)))
    with pytest.raises(ValueError, match="C must be"):
        classifier.fit(rng.standard_normal((6, 3)), [0, 1] * 3)
    with pytest.raises(ValueError, match="C must be"):
        mfcc_baseline(C=0.0).fit(np.zeros((2, 4000)), [0, 1])
    for _name, check in [("check_no_attributes_set_in_init",
                         estimator_checks.check_no_attributes_set_in_init),
                        ("check_get_params_invariance",
                         estimator_checks.check_get_params_invariance),
                        ("check_set_params", estimator_checks.check_set_params),
                        ("check_parameters_default_constructible",
                         estimator_checks.check_parameters_default_constructible)]:
        for estimator in (MFCCStatistics(), LogisticClassifier()):
            check(type(estimator).__name__, estimator)

    baseline = mfcc_baseline(sr=22050, n_mfcc=13, C=2.0, random_state=3)
    params = baseline.get_params()
    assert (params["mfcc__sr"], params["mfcc__n_mfcc"], params["classifier__C"],
            params["classifier__random_state"]) == (22050, 13, 2.0, 3)
    copy = clone(baseline).set_params(mfcc__n_mfcc=5, classifier__C=0.5)
    assert copy["mfcc"] is not baseline["mfcc"]
    assert (copy.get_params()["mfcc__n_mfcc"], copy.get_params()["classifier__C"]) == (5, 0.5)
    assert baseline.get_params()["mfcc__n_mfcc"] == 13  # the original is untouched
    assert copy["mfcc"].transform(np.zeros((1, 4000))).shape == (1, 20)
    assert list(copy["mfcc"].get_feature_names_out()[[0, 5, 19]]) == [
        "mfcc0_mean", "mfcc0_std", "delta4_std"]
    with pytest.raises(NotFittedError):
        LogisticClassifier().predict_proba(np.zeros((2, 3)))


def test_classifier_single_label_and_multilabel(rng):
    X = np.concatenate([rng.normal(0, 1, (20, 8)), rng.normal(3, 1, (20, 8))])
    y = np.repeat([0, 1], 20)
    model = LogisticClassifier().fit(X, y)
    proba = model.predict_proba(X)
    assert proba.shape == (40, 2) and not model.multilabel_
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.mean(model.predict(X) == y) > 0.9
    tags = np.stack([y, 1 - y, rng.integers(0, 2, 40)], axis=1)
    tagger = LogisticClassifier().fit(X, tags)
    assert tagger.multilabel_ and tagger.predict_proba(X).shape == (40, 3)
    with pytest.raises(ValueError, match=r"y must have shape \(n_clips,\)"):
        LogisticClassifier().fit(X, y[:5])
    with pytest.raises(ValueError, match="positive and negative.*\\[2\\]"):
        LogisticClassifier().fit(X, np.column_stack([tags[:, :2], np.zeros(40)]))
    with pytest.raises(ValueError, match="at least two classes"):
        LogisticClassifier().fit(X, np.zeros(40))
    with pytest.raises(ValueError, match="X must have 8 columns"):
        model.predict(X[:, :3])


def test_cached_statistics_give_the_same_model_as_audio(small):
    train, test = small.subset(["train", "valid"]), small.subset("test")
    keep = (train.labels.sum(0) > 0) & (train.labels.sum(0) < len(train))
    from_audio = mfcc_baseline(sr=small.sr).fit(train.audio, train.labels[:, keep])
    cached = mfcc_baseline(sr=small.sr)
    X_train, X_test = cached["mfcc"].transform(train.audio), cached["mfcc"].transform(test.audio)
    cached["classifier"].fit(X_train, train.labels[:, keep])
    scores = cached.predict_proba(test.audio)  # the pipeline is fitted through its steps
    np.testing.assert_allclose(scores, cached["classifier"].predict_proba(X_test))
    np.testing.assert_allclose(scores, from_audio.predict_proba(test.audio), atol=1e-8)

    assert scores.shape == (len(test), int(keep.sum()))
    assert np.all((scores >= 0) & (scores <= 1))
    chance = np.random.default_rng(0).random(scores.shape)
    with warnings.catch_warnings():  # a small split: a tag may lack positives there
        warnings.simplefilter("ignore", metrics.SingleClassWarning)
        roc = metrics.roc_auc(test.labels[:, keep], scores)
        gain = metrics.pr_auc(test.labels[:, keep], scores) - metrics.pr_auc(
            test.labels[:, keep], chance)
    assert 0.6 < roc < 0.95 and gain > 0.1


def test_mfcc_benchmark_runs_and_agrees():
    from benchmarks import baselines as bench

    rows = bench.run(rounds=1, n_clips=3, progress=False)
    assert rows[0]["ratio"] == 1.0 and rows[1]["max_abs_diff"] < 2e-3
    assert "| baselines.mfcc_features (mirlab.features, batches of 64) |" in bench.markdown(rows)
