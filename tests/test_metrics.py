"""Tests of mirlab.metrics against scikit-learn, and properties of ROC-AUC / PR-AUC."""

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from mirlab import metrics


@pytest.fixture
def data(rng):
    y_true = (rng.random((60, 6)) < [0.1, 0.3, 0.5, 0.5, 0.7, 0.2]).astype(float)
    y_score = rng.random((60, 6)) + 0.5 * y_true * rng.random((60, 6))
    return y_true, y_score


def test_per_tag_and_macro_equal_sklearn(data):
    y_true, y_score = data
    roc = metrics.roc_auc(y_true, y_score, average=None)
    pr = metrics.pr_auc(y_true, y_score, average=None)
    for j in range(y_true.shape[1]):
        assert roc[j] == pytest.approx(roc_auc_score(y_true[:, j], y_score[:, j]))
        assert pr[j] == pytest.approx(average_precision_score(y_true[:, j], y_score[:, j]))
    assert metrics.roc_auc(y_true, y_score) == pytest.approx(
        roc_auc_score(y_true, y_score, average="macro"))
    assert metrics.pr_auc(y_true, y_score) == pytest.approx(
        average_precision_score(y_true, y_score, average="macro"))


def test_perfect_reversed_and_random_scores(rng):
    y_true = (rng.random((4000, 3)) < [0.1, 0.3, 0.6]).astype(float)
    assert metrics.roc_auc(y_true, y_true + 0.1) == 1.0
    assert metrics.pr_auc(y_true, y_true) == 1.0
    assert metrics.roc_auc(y_true, -y_true) == 0.0
    random_scores = rng.random(y_true.shape)
    assert metrics.roc_auc(y_true, random_scores) == pytest.approx(0.5, abs=0.03)
    np.testing.assert_allclose(metrics.pr_auc(y_true, random_scores, average=None),
                               y_true.mean(axis=0), atol=0.03)


def test_single_class_tags_are_skipped_with_a_warning(data):
    y_true, y_score = data
    y_true = y_true.copy()
    y_true[:, 1] = 0.0
    tags = [f"tag{j}" for j in range(6)]
    with pytest.warns(metrics.SingleClassWarning, match="tag1"):
        per_tag = metrics.roc_auc(y_true, y_score, average=None, tags=tags)
    assert np.isnan(per_tag[1]) and np.isfinite(np.delete(per_tag, 1)).all()
    with pytest.warns(metrics.SingleClassWarning):
        macro = metrics.pr_auc(y_true, y_score)
    assert macro == pytest.approx(np.mean([average_precision_score(y_true[:, j], y_score[:, j])
                                           for j in (0, 2, 3, 4, 5)]))
    with pytest.raises(ValueError, match="single class.*tag1.*single_class='skip'"):
        metrics.roc_auc(y_true, y_score, single_class="raise", tags=tags)


def test_bad_inputs(data):
    y_true, y_score = data
    with pytest.raises(ValueError, match="same shape"):
        metrics.roc_auc(y_true, y_score[:, :3])
    with pytest.raises(ValueError, match="0/1"):
        metrics.roc_auc(y_true * 2, y_score)
    with pytest.raises(ValueError, match="average"):
        metrics.pr_auc(y_true, y_score, average="micro")
    with pytest.raises(ValueError, match="y_score must be finite"):
        metrics.roc_auc(y_true, np.full_like(y_score, np.nan))
    with pytest.raises(ValueError, match="every column"):
        metrics.roc_auc(np.zeros_like(y_true), y_score)
    with pytest.raises(ValueError, match="tags must name"):
        metrics.tag_report(y_true, y_score, ["a"])


def test_tag_report_rows_and_table(data):
    y_true, y_score = data
    tags = list("abcdef")
    rows = metrics.tag_report(y_true, y_score, tags)
    assert sorted(r["tag"] for r in rows) == tags
    assert [r["roc_auc"] for r in rows] == sorted((r["roc_auc"] for r in rows), reverse=True)
    row = next(r for r in rows if r["tag"] == "c")
    assert row["positives"] == int(y_true[:, 2].sum())
    assert row["pr_auc"] == pytest.approx(average_precision_score(y_true[:, 2], y_score[:, 2]))
    table = metrics.format_report(rows)
    assert table.count("\n") == len(tags) + 2
    assert f"{metrics.roc_auc(y_true, y_score):.3f}" in table.splitlines()[-1]


def test_metrics_and_mirlab_import_without_torch():
    import subprocess
    import sys

    code = ("import sys, mirlab, mirlab.metrics, mirlab.datasets; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
