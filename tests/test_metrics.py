"""Tests of mirlab.metrics: hand-derived values, the pairwise definition of ROC-AUC written out
here, and scikit-learn (which mirlab.metrics does not call) on random scores with and without
ties; then the validation and the one-class behaviour."""

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from mirlab import metrics


@pytest.fixture
def data(rng):
    y_true = (rng.random((60, 6)) < [0.1, 0.3, 0.5, 0.5, 0.7, 0.2]).astype(float)
    y_score = rng.random((60, 6)) + 0.5 * y_true * rng.random((60, 6))
    return y_true, y_score


def test_metrics_do_not_call_sklearn():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(metrics))
    imported = {alias.name for node in ast.walk(tree)
                if isinstance(node, ast.Import | ast.ImportFrom)
                for alias in node.names} | {node.module for node in ast.walk(tree)
                                             if isinstance(node, ast.ImportFrom)}
    assert not any(name and name.startswith("sklearn") for name in imported)


def test_hand_derived_values():
    # scores 0.9 (+), 0.8 (-), 0.7 (+), 0.1 (-): of the 4 (positive, negative) pairs the
    # positive wins 3 (0.9 > 0.8, 0.9 > 0.1, 0.7 > 0.1) -> 3/4; precision at the positives
    # 1/1 and 2/3 -> AP = (1 + 2/3) / 2 = 5/6
    assert metrics.binary_roc_auc([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1]) == 0.75
    assert metrics.binary_average_precision([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1]) == \
        pytest.approx(5 / 6)
    # a tie between a positive and a negative counts one half: pairs (0.9, 0.5) 1,
    # (0.9, 0.1) 1, (0.5, 0.5) 1/2, (0.5, 0.1) 1 -> 3.5 / 4
    assert metrics.binary_roc_auc([1, 0, 1, 0], [0.9, 0.5, 0.5, 0.1]) == 0.875
    # tied scores are one threshold: the positive at 0.5 gets the precision of the whole
    # group (2 positives among 3 clips), not 2/2 -> AP = (1 + 2/3) / 2
    assert metrics.binary_average_precision([1, 0, 1, 0], [0.9, 0.5, 0.5, 0.1]) == \
        pytest.approx(5 / 6)
    assert metrics.binary_average_precision([1, 1, 0, 0], [0.5, 0.5, 0.5, 0.5]) == 0.5
    assert metrics.binary_roc_auc([1, 1, 0, 0], [0.5, 0.5, 0.5, 0.5]) == 0.5
    # a matrix: tag 0 as above (3/4, 5/6), tag 1 perfectly ranked (1, 1)
    y_true = [[1, 0], [0, 0], [1, 1], [0, 1]]
    y_score = [[0.9, 0.1], [0.8, 0.2], [0.7, 0.8], [0.1, 0.9]]
    np.testing.assert_allclose(metrics.roc_auc(y_true, y_score, average=None), [0.75, 1.0])
    assert metrics.pr_auc(y_true, y_score) == pytest.approx((5 / 6 + 1) / 2)


def _pairwise_roc_auc(y, s):
    """The definition: P(score of a positive > score of a negative), ties counting 1/2."""
    pos, neg = s[y == 1][:, None], s[y == 0][None, :]
    return np.mean((pos > neg) + 0.5 * (pos == neg))


@pytest.mark.parametrize("decimals", [None, 1])  # 1 decimal: many tied scores
def test_equal_sklearn_and_the_pairwise_definition(rng, decimals):
    y_true = (rng.random((80, 6)) < [0.05, 0.3, 0.5, 0.5, 0.7, 0.95]).astype(float)
    y_true[:2] = [[0] * 6, [1] * 6]  # both classes in every tag
    y_score = rng.random((80, 6)) + 0.4 * y_true * rng.random((80, 6))
    if decimals is not None:
        y_score = np.round(y_score, decimals)
    roc = metrics.roc_auc(y_true, y_score, average=None)
    pr = metrics.pr_auc(y_true, y_score, average=None)
    for j in range(6):
        assert roc[j] == pytest.approx(roc_auc_score(y_true[:, j], y_score[:, j]), abs=1e-12)
        assert roc[j] == pytest.approx(_pairwise_roc_auc(y_true[:, j], y_score[:, j]),
                                       abs=1e-12)
        assert pr[j] == pytest.approx(average_precision_score(y_true[:, j], y_score[:, j]),
                                      abs=1e-12)


def test_binary_functions_validate_their_inputs():
    with pytest.raises(ValueError, match=r"shape \(n_clips,\)"):
        metrics.binary_roc_auc([[1, 0]], [[0.3, 0.2]])
    with pytest.raises(ValueError, match="both classes"):
        metrics.binary_average_precision([1, 1, 1], [0.3, 0.2, 0.1])
    with pytest.raises(ValueError, match="same shape"):
        metrics.binary_roc_auc([1, 0, 1], [0.3, 0.2])
    with pytest.raises(ValueError, match="0/1"):
        metrics.binary_roc_auc([2, 0], [0.3, 0.2])


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
